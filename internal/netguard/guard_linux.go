package netguard

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Priority is the forward chain's priority: before iptables' filter chains
// (priority 0), where Docker's rules are.
const Priority = -10

// Guard owns one nftables table; see the package documentation. Its methods
// are safe for concurrent use.
type Guard struct {
	conn  *nftables.Conn
	table *nftables.Table
	chain *nftables.Chain
	set   ruleset
}

// Open replaces the table named table (family inet) with an empty one whose
// forward chain drops nothing yet, and returns its Guard.
func Open(table string) (*Guard, error) {
	conn, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("netguard: %w", err)
	}
	g := &Guard{conn: conn, table: &nftables.Table{Family: nftables.TableFamilyINet, Name: table}}
	policy := nftables.ChainPolicyAccept
	g.chain = &nftables.Chain{
		Name: "forward", Table: g.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(Priority), Policy: &policy,
	}
	conn.AddTable(g.table) // so that the delete below finds one
	conn.DelTable(g.table)
	conn.AddTable(g.table)
	conn.AddChain(g.chain)
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("netguard: create table inet %s: %w", table, err)
	}
	return g, nil
}

// Protect adds r, effective when it returns: call it before the first
// container joins the bridge (the bridge need not exist yet).
func (g *Guard) Protect(r Rule) error {
	g.set.mu.Lock()
	defer g.set.mu.Unlock()
	rules, err := g.set.add(r)
	if err != nil {
		return err
	}
	return g.write(rules)
}

// Release removes r; call it once the bridge is gone.
func (g *Guard) Release(r Rule) error {
	g.set.mu.Lock()
	defer g.set.mu.Unlock()
	return g.write(g.set.remove(r))
}

// Close deletes the table and every rule in it.
func (g *Guard) Close() error {
	g.set.mu.Lock()
	defer g.set.mu.Unlock()
	g.conn.DelTable(g.table)
	if err := g.conn.Flush(); err != nil {
		return fmt.Errorf("netguard: delete table inet %s: %w", g.table.Name, err)
	}
	return nil
}

// write replaces the chain's rules with rules in one transaction, so that a
// protected bridge is never unprotected in between.
func (g *Guard) write(rules []Rule) error {
	g.conn.FlushChain(g.chain)
	for _, r := range rules {
		g.conn.AddRule(&nftables.Rule{Table: g.table, Chain: g.chain, Exprs: exprs(r)})
	}
	if err := g.conn.Flush(); err != nil {
		return fmt.Errorf("netguard: write %d rules to table inet %s: %w", len(rules), g.table.Name, err)
	}
	return nil
}

// exprs is r as nftables expressions:
//
//	oifname "Into" iifname != "Into" [iifname "From*"] ct state new drop
func exprs(r Rule) []expr.Any {
	into := append([]byte(r.Into), 0) // the NUL makes the match exact
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: into},
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: into},
	}
	if r.From != "" {
		e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte(r.From)}) // a prefix: no NUL
	}
	newBit := binary.NativeEndian.AppendUint32(nil, expr.CtStateBitNEW)
	return append(e,
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: newBit, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}

package netguard

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// open opens a guard on a table of the test's own, or reports what is
// missing (the tests need CAP_NET_ADMIN).
func open(t *testing.T) (*Guard, string) {
	t.Helper()
	name := fmt.Sprintf("narwhal_test_%d", os.Getpid())
	g, err := Open(name)
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("nftables with CAP_NET_ADMIN (run the tests as root): %v", err))
	}
	t.Cleanup(func() { _ = g.Close() })
	return g, name
}

// chainRules returns the rules in the forward chain of table as readable
// strings: the interface names they compare with, and their verdict.
func chainRules(t *testing.T, table string) []string {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := conn.GetRules(&nftables.Table{Family: nftables.TableFamilyINet, Name: table},
		&nftables.Chain{Name: "forward"})
	if err != nil {
		t.Fatalf("list rules of %s: %v", table, err)
	}
	var out []string
	for _, r := range rules {
		out = append(out, describe(r.Exprs))
	}
	return out
}

// describe writes a rule's expressions the way the tests expect them:
// oif==B for an exact interface name, iif^=P for a prefix, new for the
// connection-state test, drop for the verdict.
func describe(exprs []expr.Any) string {
	var words []string
	key := ""
	for _, e := range exprs {
		switch e := e.(type) {
		case *expr.Meta:
			key = map[expr.MetaKey]string{expr.MetaKeyOIFNAME: "oif", expr.MetaKeyIIFNAME: "iif"}[e.Key]
		case *expr.Ct:
			key = "ct"
		case *expr.Cmp:
			words = append(words, describeCmp(key, e))
		case *expr.Verdict:
			words = append(words, map[expr.VerdictKind]string{expr.VerdictDrop: "drop", expr.VerdictAccept: "accept"}[e.Kind])
		}
	}
	return strings.Join(words, " ")
}

func describeCmp(key string, c *expr.Cmp) string {
	if key == "ct" {
		return "new"
	}
	op := map[expr.CmpOp]string{expr.CmpOpEq: "==", expr.CmpOpNeq: "!="}[c.Op]
	name, exact := strings.CutSuffix(string(c.Data), "\x00")
	if !exact {
		op = "^="
	}
	return key + op + name
}

// tableExists reports whether table is in the kernel.
func tableExists(t *testing.T, table string) bool {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == table {
			return true
		}
	}
	return false
}

func TestProtectAndReleaseRewriteTheChain(t *testing.T) {
	g, table := open(t)
	if got := chainRules(t, table); len(got) != 0 {
		t.Fatalf("a new guard has rules %q", got)
	}
	if err := g.Protect(Rule{Into: "narwb"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Protect(Rule{Into: "docker0", From: "narw"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Protect(Rule{Into: "narwa"}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`oif==docker0 iif!=docker0 iif^=narw new drop`,
		`oif==narwa iif!=narwa new drop`,
		`oif==narwb iif!=narwb new drop`,
	}
	if got := chainRules(t, table); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := g.Release(Rule{Into: "narwa"}); err != nil {
		t.Fatal(err)
	}
	if got := chainRules(t, table); len(got) != 2 || got[1] != want[2] {
		t.Fatalf("after Release: %q", got)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if tableExists(t, table) {
		t.Fatal("Close left the table")
	}
}

// TestOpenReplacesALeftoverTable: a crashed runner's rules go when it starts
// again.
func TestOpenReplacesALeftoverTable(t *testing.T) {
	g, table := open(t)
	if err := g.Protect(Rule{Into: "narwold"}); err != nil {
		t.Fatal(err)
	}
	again, err := Open(table) // g is never closed: the runner crashed
	if err != nil {
		t.Fatal(err)
	}
	if got := chainRules(t, table); len(got) != 0 {
		t.Fatalf("the reopened table kept %q", got)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadNamesChangeNothing(t *testing.T) {
	g, table := open(t)
	for _, r := range []Rule{{}, {Into: "a-name-too-long-for-linux"}, {Into: "narwa", From: strings.Repeat("x", 16)}} {
		if err := g.Protect(r); err == nil {
			t.Errorf("Protect(%+v): no error", r)
		}
	}
	if got := chainRules(t, table); len(got) != 0 {
		t.Fatalf("rules after refused names: %q", got)
	}
	if err := g.Protect(Rule{Into: "narwa"}); err != nil {
		t.Fatal(err)
	}
	if err := g.Protect(Rule{Into: "narwa"}); err != nil {
		t.Fatal(err)
	}
	if got := chainRules(t, table); len(got) != 1 {
		t.Fatalf("a bridge protected twice has rules %q", got)
	}
}

// Package netguard keeps containers on different bridge networks from opening
// connections to each other, with rules of its own that the container engine
// never rewrites.
//
// Docker isolates bridge networks with rules in iptables' FORWARD chain, and
// every time it creates a network it deletes the chain's jump to those rules
// and inserts it again on top. For the milliseconds in between, a container on
// one network can connect to a container on any other: with networks created
// in a loop, a prober on one network reached a listener on another 53 times in
// 40 s (Docker 20.10, Debian's docker.io). A job with services makes the
// runner create a network, so a hostile job could open that window at will.
//
// A Guard owns one nftables table (family inet) with a forward chain that runs
// before iptables' filter chains. For each bridge it protects, one rule drops
// new connections forwarded into that bridge from any other interface:
//
//	oifname "B" iifname != "B" ct state new drop
//
// Replies to connections a container opened (the internet's answers) are not
// new and pass; traffic within a bridge (iif and oif both B) passes. A bridge
// may also be protected only from a prefix of interface names (the engine's
// default bridge, which other containers of the host may be reached on
// through published ports, is protected only from narwhal's own bridges).
//
// The table is replaced whole when the Guard opens (a crashed runner's rules
// go with it) and deleted by Close. It needs CAP_NET_ADMIN in the network
// namespace of the engine's bridges; Open fails otherwise, and on systems
// without nftables it returns ErrUnsupported.
package netguard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// ErrUnsupported is returned by Open where nftables does not exist.
var ErrUnsupported = errors.New("netguard: nftables is only available on Linux")

// MaxNameLen is the longest interface name the kernel accepts (IFNAMSIZ − 1).
const MaxNameLen = 15

// Rule protects the bridge Into: new connections forwarded into it from
// another interface whose name starts with From ("" for any) are dropped.
type Rule struct {
	Into string
	From string
}

// ruleset is the set of rules a Guard keeps, and what it writes each time one
// is added or removed. It is what the platform's table holds.
type ruleset struct {
	mu    sync.Mutex
	rules map[Rule]struct{}
}

// add adds r and returns the rules to write, or an error for a name the
// kernel would refuse.
func (s *ruleset) add(r Rule) ([]Rule, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if s.rules == nil {
		s.rules = make(map[Rule]struct{})
	}
	s.rules[r] = struct{}{}
	return s.sorted(), nil
}

// remove removes r and returns the rules to write.
func (s *ruleset) remove(r Rule) []Rule {
	delete(s.rules, r)
	return s.sorted()
}

// sorted returns the rules in a stable order.
func (s *ruleset) sorted() []Rule {
	out := make([]Rule, 0, len(s.rules))
	for r := range s.rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int {
		return strings.Compare(a.Into+"\x00"+a.From, b.Into+"\x00"+b.From)
	})
	return out
}

func (r Rule) check() error {
	switch {
	case r.Into == "" || len(r.Into) > MaxNameLen:
		return fmt.Errorf("netguard: bridge name %q: want 1 to %d characters", r.Into, MaxNameLen)
	case len(r.From) > MaxNameLen:
		return fmt.Errorf("netguard: interface prefix %q: want at most %d characters", r.From, MaxNameLen)
	}
	return nil
}

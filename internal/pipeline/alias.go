package pipeline

import (
	"gopkg.in/yaml.v3"
)

// maxExpanded is how many nodes a document may hold once its aliases are
// expanded. It bounds the parser's work on "billion laughs" documents, where
// a few lines of aliases of aliases stand for billions of values.
const maxExpanded = 1 << 20

// expansion walks the document with aliases expanded, without building
// anything, and reports an alias that refers to a node containing it, or a
// document too large once expanded. The parser walks the document only when
// this found nothing.
type expansion struct {
	p       *parser
	size    map[*yaml.Node]int
	walking map[*yaml.Node]bool
}

func (p *parser) checkAliases(root *yaml.Node) bool {
	x := &expansion{p: p, size: make(map[*yaml.Node]int), walking: make(map[*yaml.Node]bool)}
	if x.count(root) > maxExpanded && len(p.errs) == 0 {
		p.errorf(root, "the document holds more than %d values once its aliases are expanded", maxExpanded)
	}
	return len(p.errs) == 0
}

// count returns the expanded size of n, or more than maxExpanded once it
// is known to be too large or recursive.
func (x *expansion) count(n *yaml.Node) int {
	if s, ok := x.size[n]; ok {
		return s
	}
	if x.walking[n] {
		return maxExpanded + 1
	}
	x.walking[n] = true
	s := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		if x.walking[n.Alias] {
			x.p.errorf(n, "alias *%s is inside the node it refers to", n.Value)
		}
		s += x.count(n.Alias)
	}
	for _, c := range n.Content {
		if s += x.count(c); s > maxExpanded {
			break
		}
	}
	delete(x.walking, n)
	x.size[n] = min(s, maxExpanded+1)
	return x.size[n]
}

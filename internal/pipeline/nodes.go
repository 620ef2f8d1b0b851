package pipeline

import (
	"gopkg.in/yaml.v3"
)

// YAML tags the parser tells apart (yaml.v3 short forms).
const (
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagBool      = "!!bool"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
	tagMerge     = "!!merge"
)

// entry is one key/value pair of a mapping, after merge keys are expanded.
type entry struct {
	key *yaml.Node // always a scalar
	val *yaml.Node // aliases resolved
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// kindName describes what a node is, for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return scalarName(n.ShortTag())
	}
	return "nothing"
}

func scalarName(tag string) string {
	switch tag {
	case tagStr:
		return "a string"
	case tagInt, tagFloat:
		return "a number"
	case tagBool:
		return "a boolean"
	case tagNull:
		return "null"
	case tagTimestamp:
		return "a date"
	}
	return "a value tagged " + tag
}

// isText reports whether n is a scalar usable as text: a string, number,
// boolean or date, but not null and not a custom tag.
func isText(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	switch n.ShortTag() {
	case tagStr, tagInt, tagFloat, tagBool, tagTimestamp:
		return true
	}
	return false
}

// fields returns the entries of mapping n in file order, with merge keys (<<)
// expanded: explicit keys win over merged ones, and among merged mappings the
// first one listed wins. Duplicate and non-scalar keys are reported. Results
// are memoised, so a mapping merged many times is flattened once. It relies
// on checkAliases having ruled out a mapping that merges itself.
func (p *parser) fields(n *yaml.Node) []entry {
	if es, ok := p.flat[n]; ok {
		return es
	}
	own, merged := p.ownFields(n)
	seen := make(map[string]bool, len(own))
	for _, e := range own {
		seen[e.key.Value] = true
	}
	for _, e := range merged {
		if !seen[e.key.Value] {
			seen[e.key.Value] = true
			own = append(own, e)
		}
	}
	p.flat[n] = own
	return own
}

// ownFields splits the pairs of mapping n into its own keys (checked for
// duplicates) and the entries brought in by merge keys.
func (p *parser) ownFields(n *yaml.Node) (own, merged []entry) {
	first := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == tagMerge:
			merged = append(merged, p.merged(v)...)
		case k.Kind != yaml.ScalarNode || k.ShortTag() == tagNull:
			p.errorf(k, "keys must be strings, got %s", kindName(k))
		case first[k.Value] != nil:
			p.errorf(k, "duplicate key %q (first at line %d)", k.Value, first[k.Value].Line)
		default:
			first[k.Value] = k
			own = append(own, entry{key: k, val: v})
		}
	}
	return own, merged
}

// merged returns the entries a merge key's value brings in.
func (p *parser) merged(v *yaml.Node) []entry {
	switch v.Kind {
	case yaml.MappingNode:
		return p.fields(v)
	case yaml.SequenceNode:
		var out []entry
		for _, m := range v.Content {
			if m = deref(m); m.Kind != yaml.MappingNode {
				p.errorf(m, "<<: expected a mapping, got %s", kindName(m))
				continue
			}
			out = append(out, p.fields(m)...)
		}
		return out
	}
	p.errorf(v, "<<: expected a mapping or a list of mappings, got %s", kindName(v))
	return nil
}

// mapping checks that v is a mapping and returns its entries; ok is false
// (and an error reported) when it is not.
func (p *parser) mapping(v *yaml.Node, key string) ([]entry, bool) {
	if v.Kind != yaml.MappingNode {
		p.errorf(v, "%s: expected a mapping, got %s", key, kindName(v))
		return nil, false
	}
	return p.fields(v), true
}

// lookup returns the value of key among es, or nil.
func lookup(es []entry, key string) *yaml.Node {
	for _, e := range es {
		if e.key.Value == key {
			return e.val
		}
	}
	return nil
}

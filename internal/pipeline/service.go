package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// serviceName is a DNS label of at most maxServiceName bytes (checked
// apart: a counted repetition compiles to a program per count at every
// start): services are reached by name as host names.
var serviceName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

const maxServiceName = 63

var serviceKeys = []string{"command", "env", "image", "name"}

// services reads the services list.
func (p *parser) services(v *yaml.Node) []Service {
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "services: expected a list, got %s", kindName(v))
		return nil
	}
	var out []Service
	first := make(map[string]*yaml.Node)
	for i, n := range v.Content {
		s, nameNode := p.service(deref(n), i)
		if nameNode == nil {
			continue
		}
		if prev := first[s.Name]; prev != nil {
			p.errorf(nameNode, "duplicate service name %q (first at line %d)", s.Name, prev.Line)
		} else {
			first[s.Name] = nameNode
		}
		out = append(out, s)
	}
	return out
}

// service reads the i-th (0-based) service; nameNode is nil when it has no
// valid name.
func (p *parser) service(n *yaml.Node, i int) (s Service, nameNode *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "services[%d]: expected a mapping, got %s", i, kindName(n))
		return s, nil
	}
	fs := p.fields(n)
	label := "service #" + strconv.Itoa(i+1)
	if v := lookup(fs, "name"); v != nil && isText(v) && v.Value != "" {
		label = fmt.Sprintf("service %q", v.Value)
	}
	for _, e := range fs {
		switch e.key.Value {
		case "name":
			nameNode = p.serviceName(e.val)
			s.Name = e.val.Value
		case "image":
			s.Image = p.image(e.val)
		case "env":
			s.Env = p.env(e.val, "env")
		case "command":
			s.Command = p.argv(e.val)
		default:
			p.unknownKey(e.key, "in "+label, serviceKeys)
		}
	}
	for _, req := range []string{"name", "image"} {
		if lookup(fs, req) == nil {
			p.errorf(n, "missing required key %q in %s", req, label)
		}
	}
	return s, nameNode
}

// serviceName checks a service name and returns its node, or nil if invalid.
func (p *parser) serviceName(v *yaml.Node) *yaml.Node {
	name, ok := p.nonEmpty(v, "name")
	if !ok {
		return nil
	}
	if len(name) > maxServiceName || !serviceName.MatchString(name) {
		p.errorf(v, "name: service name %q must be a host name: lowercase letters, digits and '-', "+
			"at most 63, not starting or ending with '-'", name)
		return nil
	}
	return v
}

// argv reads a service command: a list of arguments (empty ones allowed), or
// a string split at white space (quotes are not interpreted, so a string with
// quotes is refused).
func (p *parser) argv(v *yaml.Node) []string {
	if isText(v) {
		if strings.ContainsAny(v.Value, `"'`) {
			p.errorf(v, "command: quotes are not interpreted in a one-line command; write it as a list of arguments")
			return nil
		}
		if args := strings.Fields(v.Value); len(args) > 0 {
			return args
		}
		p.errorf(v, "command: must not be empty")
		return nil
	}
	if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		p.errorf(v, "command: empty list; leave the key out to use the image's command")
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "command: expected a string or a list of arguments, got %s", kindName(v))
		return nil
	}
	args := make([]string, 0, len(v.Content))
	for i, item := range v.Content {
		if arg, ok := p.str(deref(item), "command["+strconv.Itoa(i)+"]"); ok {
			args = append(args, arg)
		}
	}
	return args
}

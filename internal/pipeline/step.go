package pipeline

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// draft is a step being parsed: the Step plus what validation needs to know
// about how it was written.
type draft struct {
	Step
	label    string       // `step "build"` or `step #2`, for messages
	node     *yaml.Node   // the step's mapping
	ref      *yaml.Node   // where the steps list names it: node, or an alias of it
	deps     *yaml.Node   // the depends_on/dependencies value; nil: after the previous step
	depsKey  string       // "depends_on" or "dependencies"
	depNodes []*yaml.Node // the items of deps, parallel to DependsOn
	nameAt   *yaml.Node   // the name's node when the name is valid
	cacheSet bool         // the cache key is present (a mapping or false)
}

var stepNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// stepField reads the value of one key of a step into d.
type stepField func(p *parser, d *draft, v *yaml.Node)

// stepFields are the keys a step accepts, v1 and legacy.
var stepFields = map[string]stepField{
	"name":          (*parser).stepName,
	"image":         func(p *parser, d *draft, v *yaml.Node) { d.Image = p.image(v) },
	"commands":      func(p *parser, d *draft, v *yaml.Node) { d.Commands = p.commands(v) },
	"command":       (*parser).legacyCommand,
	"env":           func(p *parser, d *draft, v *yaml.Node) { d.Env = p.env(v, "env") },
	"secrets":       func(p *parser, d *draft, v *yaml.Node) { d.Secrets = p.secrets(v) },
	"when":          func(p *parser, d *draft, v *yaml.Node) { d.When = p.when(v, d.label) },
	"depends_on":    func(p *parser, d *draft, v *yaml.Node) { p.dependsOn(d, v, "depends_on") },
	"dependencies":  func(p *parser, d *draft, v *yaml.Node) { p.dependsOn(d, v, "dependencies") },
	"timeout":       func(p *parser, d *draft, v *yaml.Node) { d.Timeout = p.duration(v, "timeout") },
	"retry":         func(p *parser, d *draft, v *yaml.Node) { d.Retry = p.integer(v, "retry", 0, maxRetry) },
	"allow_failure": func(p *parser, d *draft, v *yaml.Node) { d.AllowFailure = p.boolean(v, "allow_failure") },
	"working_dir":   func(p *parser, d *draft, v *yaml.Node) { d.WorkingDir = p.workingDir(v) },
	"cache":         func(p *parser, d *draft, v *yaml.Node) { d.Cache, d.cacheSet = p.stepCache(v, d.label), true },
	"artifacts":     func(p *parser, d *draft, v *yaml.Node) { d.Artifacts = p.artifacts(v, d.label) },
}

// stepKeys are the names of stepFields, sorted.
var stepKeys = keysOf(stepFields)

// legacyKeys are the keys of the original narwhal format, each with the v1
// key that replaces it.
var legacyKeys = [][2]string{{"command", "commands"}, {"dependencies", "depends_on"}}

// step parses the i-th (0-based) entry of steps, ref (possibly an alias).
func (p *parser) step(ref *yaml.Node, i int) *draft {
	n := deref(ref)
	d := &draft{node: n, ref: ref, label: "step #" + strconv.Itoa(i+1)}
	d.Pos = Pos{Line: ref.Line, Column: ref.Column}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "steps[%d]: expected a mapping, got %s", i, kindName(n))
		return d
	}
	fs := p.fields(n)
	if name := lookup(fs, "name"); name != nil && isText(name) && name.Value != "" {
		d.label = "step " + short(name.Value)
	}
	for _, e := range fs {
		if read, ok := stepFields[e.key.Value]; ok {
			read(p, d, e.val)
		} else {
			p.unknownKey(e.key, "in "+d.label, stepKeys)
		}
	}
	p.checkFormat(d, fs)
	return d
}

// checkFormat reports missing keys and a step mixing legacy and v1 keys.
func (p *parser) checkFormat(d *draft, fs []entry) {
	if lookup(fs, "name") == nil {
		p.errorf(d.node, "missing required key \"name\" in %s", d.label)
	}
	if lookup(fs, "commands") == nil && lookup(fs, "command") == nil {
		p.errorf(d.node, "missing required key \"commands\" in %s", d.label)
	}
	var legacy, v1 *entry
	for _, e := range fs {
		for _, pair := range legacyKeys {
			switch e.key.Value {
			case pair[0]:
				legacy = &e
			case pair[1]:
				v1 = &e
			}
		}
	}
	if legacy != nil && v1 != nil {
		p.errorf(legacy.key, "%s mixes the legacy key %q with the v1 key %q; use one format per step",
			d.label, legacy.key.Value, v1.key.Value)
	}
}

// stepName reads and checks a step name.
func (p *parser) stepName(d *draft, v *yaml.Node) {
	name, ok := p.nonEmpty(v, "name")
	if !ok {
		return
	}
	d.Name = name
	if p.longName(v, name) {
		return
	}
	if !stepNameRE.MatchString(name) {
		p.errorf(v, "name: step name %q may hold only letters, digits, '_', '.' and '-', and must start with a letter or digit", name)
		return
	}
	d.nameAt = v
}

// legacyCommand reads the original format's single-string command.
func (p *parser) legacyCommand(d *draft, v *yaml.Node) {
	if v.Kind == yaml.SequenceNode {
		p.errorf(v, "command: expected a string, got a list (use commands for a list)")
		return
	}
	if s, ok := p.nonEmpty(v, "command"); ok {
		d.Commands = []string{s}
	}
}

// dependsOn reads depends_on or the legacy dependencies. In the legacy format
// an empty list means the same as no key: after the previous step.
func (p *parser) dependsOn(d *draft, v *yaml.Node, key string) {
	d.depsKey = key
	if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
		if key == "depends_on" {
			d.deps = v
		}
		return
	}
	d.deps = v
	deps := p.list(v, key, "a step name")
	p.unique(deps, key)
	d.DependsOn = texts(deps)
	d.depNodes = deps
}

// commands reads a command or a list of commands; there must be at least one.
func (p *parser) commands(v *yaml.Node) []string {
	switch {
	case v.Kind != yaml.SequenceNode && !isText(v):
		p.errorf(v, "commands: expected a command or a list of commands, got %s", kindName(v))
		return nil
	case v.Kind == yaml.SequenceNode:
		if len(v.Content) == 0 {
			p.errorf(v, "commands: empty list; a step needs at least one command")
			return nil
		}
	default:
		if c, ok := p.nonEmpty(v, "commands"); ok {
			return []string{c}
		}
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for i, item := range v.Content {
		item, key := deref(item), "commands["+strconv.Itoa(i)+"]"
		if item.Kind == yaml.MappingNode {
			p.errorf(item, "%s: expected a string, got a mapping (quote a command that contains \": \")", key)
		} else if s, ok := p.nonEmpty(item, key); ok {
			out = append(out, s)
		}
	}
	return out
}

// secrets reads secret names; they become environment variables.
func (p *parser) secrets(v *yaml.Node) []string {
	names := p.list(v, "secrets", "a secret name")
	for _, n := range names {
		if !envName.MatchString(n.Value) {
			p.errorf(n, "secrets: %q is not a valid variable name (letters, digits and _, not starting with a digit)", n.Value)
		}
	}
	p.unique(names, "secrets")
	return texts(names)
}

// image reads an image reference.
func (p *parser) image(v *yaml.Node) string {
	s, ok := p.nonEmpty(v, "image")
	if ok && strings.ContainsAny(s, " \t\r\n") {
		p.errorf(v, "image: %q contains white space", s)
	}
	return s
}

// workingDir reads a relative path that stays inside the workspace. The
// result is cleaned; the workspace itself is "".
func (p *parser) workingDir(v *yaml.Node) string {
	s, ok := p.nonEmpty(v, "working_dir")
	if !ok {
		return ""
	}
	if strings.HasPrefix(s, "/") {
		p.errorf(v, "working_dir: %q must be relative to the workspace, not absolute", s)
		return ""
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." {
			p.errorf(v, "working_dir: %q must not contain \"..\"", s)
			return ""
		}
	}
	if s = path.Clean(s); s == "." {
		return ""
	}
	return s
}

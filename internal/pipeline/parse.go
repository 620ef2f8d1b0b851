package pipeline

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest narwhal.yml Parse and ReadFile accept, in bytes
// (1 MiB; ErrTooLarge says so).
const MaxSize = 1 << 20

// pipelineField reads the value of one top-level key into pl.
type pipelineField func(p *parser, pl *draftPipeline, v *yaml.Node)

// draftPipeline is a pipeline being parsed.
type draftPipeline struct {
	Pipeline
	steps    []*draft
	imageSet bool // the image key is present, valid or not
}

var pipelineFields = map[string]pipelineField{
	"name":     func(p *parser, d *draftPipeline, v *yaml.Node) { d.Name, _ = p.nonEmpty(v, "name") },
	"image":    func(p *parser, d *draftPipeline, v *yaml.Node) { d.Image, d.imageSet = p.image(v), true },
	"env":      func(p *parser, d *draftPipeline, v *yaml.Node) { d.Env = p.env(v, "env") },
	"timeout":  func(p *parser, d *draftPipeline, v *yaml.Node) { d.Timeout = p.duration(v, "timeout") },
	"labels":   func(p *parser, d *draftPipeline, v *yaml.Node) { d.Labels = p.labels(v) },
	"when":     func(p *parser, d *draftPipeline, v *yaml.Node) { d.When = p.when(v, "") },
	"services": func(p *parser, d *draftPipeline, v *yaml.Node) { d.Services = p.services(v) },
	"steps":    func(p *parser, d *draftPipeline, v *yaml.Node) { d.steps = p.steps(v) },
	"cache":    func(p *parser, d *draftPipeline, v *yaml.Node) { d.Cache = p.pipelineCache(v) },
	"cancel_superseded": func(p *parser, d *draftPipeline, v *yaml.Node) {
		b := p.boolean(v, "cancel_superseded")
		d.CancelSuperseded = &b
	},
}

var pipelineKeys = keysOf(pipelineFields)

// Parse parses and validates the narwhal.yml in data; filename is used only
// in messages. Both the v1 format and the original narwhal format are
// accepted.
//
// On success every step has an image (its own or the pipeline's), at least
// one command, and DependsOn resolved: the steps it names, or when it names
// none, the previous step in file order (the first step has none). The
// dependencies form no cycle, and Order succeeds.
//
// On failure the pipeline is nil and the error is an Errors listing every
// problem found, sorted by position.
func Parse(filename string, data []byte) (*Pipeline, error) {
	p := newParser(filename, data)
	root, err := document(data)
	if err != nil {
		return nil, Errors{documentError(filename, data, err)}
	}
	if root == nil || (root.Kind == yaml.ScalarNode && root.ShortTag() == tagNull) {
		p.errorf(root, "empty file: expected a pipeline with at least a list of steps")
		return nil, p.result()
	}
	if !p.checkAliases(root) {
		return nil, p.result()
	}
	pl := p.pipeline(root)
	if err := p.result(); err != nil {
		return nil, err
	}
	return pl, nil
}

// ParseFile reads (with ReadFile) and parses the file at path, which is also
// the file name in messages. An error reading the file is returned as
// ReadFile gives it (a *FileError for a symbolic link, a file that is not
// regular or one larger than MaxSize); a problem with its content is an
// Errors.
func ParseFile(path string) (*Pipeline, error) {
	data, err := ReadFile(path, path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// manyDocsError is returned by document for a stream of several documents.
type manyDocsError struct{ line int }

func (e *manyDocsError) Error() string {
	return "expected a single YAML document, found another here (remove the ---)"
}

// document returns the root node of the single YAML document in data, or nil
// if there is none.
func document(data []byte) (*yaml.Node, error) {
	if len(data) > MaxSize {
		return nil, ErrTooLarge
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &manyDocsError{line: extra.Line}
	} else if err != io.EOF {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return deref(doc.Content[0]), nil
}

// documentError turns an error of document about data into an Error.
func documentError(file string, data []byte, err error) *Error {
	var many *manyDocsError
	switch {
	case errors.As(err, &many):
		return &Error{File: file, Line: many.line, Msg: err.Error()}
	case errors.Is(err, ErrTooLarge):
		return &Error{File: file, Msg: "file " + err.Error()}
	}
	return syntaxError(file, data, err)
}

// pipeline reads the top-level mapping and validates the result.
func (p *parser) pipeline(root *yaml.Node) *Pipeline {
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "expected a mapping of pipeline keys (name, image, steps, ...) at the top level, got %s", kindName(root))
		return nil
	}
	fs := p.fields(root)
	d := &draftPipeline{}
	for _, e := range fs {
		if read, ok := pipelineFields[e.key.Value]; ok {
			read(p, d, e.val)
		} else {
			p.unknownKey(e.key, "at the top level", pipelineKeys)
		}
	}
	if lookup(fs, "steps") == nil {
		p.errorf(root, "missing required key \"steps\" at the top level")
	}
	p.validate(d)
	d.Steps = make([]Step, len(d.steps))
	for i, s := range d.steps {
		d.Steps[i] = s.Step
	}
	return &d.Pipeline
}

// steps reads the steps list.
func (p *parser) steps(v *yaml.Node) []*draft {
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, "steps: expected a list, got %s", kindName(v))
		return nil
	}
	if len(v.Content) == 0 {
		p.errorf(v, "steps: empty list; a pipeline needs at least one step")
		return nil
	}
	if p.tooManySteps(v.Content) {
		return nil
	}
	out := make([]*draft, len(v.Content))
	for i, n := range v.Content {
		out[i] = p.step(n, i)
	}
	return out
}

// labels reads the runner labels.
func (p *parser) labels(v *yaml.Node) []string {
	ls := p.list(v, "labels", "a label")
	p.unique(ls, "labels")
	return texts(ls)
}

package pipeline

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Error is one problem found in a narwhal.yml, at a place in the file.
type Error struct {
	File   string
	Line   int // 1-based; 0 when the YAML library gave no line
	Column int // 1-based; 0 when unknown
	Msg    string
}

// Error formats e as "file:line:column: message", leaving out the column,
// then the line, when they are unknown.
func (e *Error) Error() string {
	switch {
	case e.Line == 0:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	case e.Column == 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Errors is every problem found in a file, sorted by position. It is the
// type of every error Parse returns; its Error is one line per problem.
type Errors []*Error

// Error joins the errors, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// parser holds the state of one Parse call: the errors found so far and the
// memo of flattened mappings.
type parser struct {
	file string
	src  []byte // the file, for columns inside a value (see within)
	errs Errors
	flat map[*yaml.Node][]entry // memo of fields
	// suggestWork counts the step names compared for suggestions so far.
	suggestWork int
}

func newParser(file string, src []byte) *parser {
	return &parser{file: file, src: src, flat: make(map[*yaml.Node][]entry)}
}

// errorf records a problem at node n (nil: the start of the file).
func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	e := &Error{File: p.file, Line: 1, Column: 1, Msg: fmt.Sprintf(format, args...)}
	if n != nil && n.Line > 0 {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// errorWithin records a problem at byte off of the value of scalar n: at
// that character when n is written plainly (unquoted) on one line, where
// the file holds the value exactly as parsed; otherwise at n.
func (p *parser) errorWithin(n *yaml.Node, off int, format string, args ...any) {
	p.errorf(n, format, args...)
	if n.Style != 0 || n.Line < 1 || n.Column < 1 || off < 0 || off > len(n.Value) {
		return
	}
	line := p.sourceLine(n.Line)
	for range n.Column - 1 { // columns count characters
		_, size := utf8.DecodeRuneInString(line)
		if size == 0 {
			return
		}
		line = line[size:]
	}
	if strings.HasPrefix(line, n.Value) {
		p.errs[len(p.errs)-1].Column += utf8.RuneCountInString(n.Value[:off])
	}
}

// sourceLine is line k (1-based) of the file, without its line break; ""
// beyond its end.
func (p *parser) sourceLine(k int) string {
	rest := p.src
	for ; k > 1 && len(rest) > 0; k-- {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	return strings.TrimSuffix(string(line), "\r")
}

// result returns the errors sorted by position without repeats (a node
// reached through several aliases is reported once), or nil.
func (p *parser) result() error {
	if len(p.errs) == 0 {
		return nil
	}
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i], p.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	seen := make(map[Error]bool)
	out := p.errs[:0]
	for _, e := range p.errs {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	return out
}

package pipeline

import (
	"bytes"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yamlLine matches the "yaml: line N: " prefix of yaml.v3's syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: (line \d+: )?`)

// syntaxError turns a syntax error of the YAML library about data into an
// Error at the place of the problem.
//
// yaml.v3 gives no column, and its line is often not the problem's: for a
// parser error it is the 0-based line where the enclosing collection starts,
// or, when that is the first line, the line where parsing stopped. So the
// place is found with the library itself: the problem is at the shortest
// prefix of data that fails with the same message (a prefix that stops
// before it parses, or fails differently). The line is found first, then the
// character within it, each by binary search (the line's starting near the
// line yaml.v3 gave), so even a 1 MiB file costs a few parses of prefixes.
func syntaxError(file string, data []byte, err error) *Error {
	msg := problem(err)
	e := &Error{File: file, Msg: "YAML syntax error: " + msg}
	if problem(firstError(data)) != msg {
		return e // not reproducible on data: leave the place unknown
	}
	starts := lineStarts(data)
	k := gallop(len(starts), reportedLine(err)-2, func(k int) bool { return failsSame(data[:lineEnd(data, starts, k)], msg) })
	line := data[starts[k]:lineEnd(data, starts, k)]
	c := sort.Search(len(line), func(c int) bool { return failsSame(data[:starts[k]+c+1], msg) })
	c = min(c, max(len(line)-1, 0))
	e.Line, e.Column = k+1, utf8.RuneCount(line[:c])+1
	e.Column, e.Msg = explain(line, c, e.Column, msg)
	return e
}

// reportedLine is the line number in yaml.v3's error, 0 when it gives none.
func reportedLine(err error) int {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil || m[1] == "" {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(m[1], "line "), ": "))
	return n
}

// gallop is the smallest i < n for which pred holds, given pred(n-1), that
// pred is false before it and true from it on (mostly), and that it is
// likely near hint: it probes hint, hint+1, hint+3, hint+7, ... and then
// searches the last gap, or below hint when pred(hint) already holds.
func gallop(n, hint int, pred func(int) bool) int {
	lo := min(max(hint, 0), n-1)
	if pred(lo) {
		return sort.Search(lo, pred)
	}
	for step := 1; ; step *= 2 {
		hi := min(lo+step, n-1)
		if hi == n-1 || pred(hi) {
			return lo + 1 + sort.Search(hi-lo-1, func(i int) bool { return pred(lo + 1 + i) })
		}
		lo = hi
	}
}

// problem is the text of a YAML error without its "yaml: line N: " prefix;
// "" for nil.
func problem(err error) string {
	if err == nil {
		return ""
	}
	return yamlLine.ReplaceAllString(err.Error(), "")
}

// firstError decodes every document of data and returns the first error.
func firstError(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// failsSame reports whether prefix fails to parse with the message msg.
func failsSame(prefix []byte, msg string) bool {
	return problem(firstError(prefix)) == msg
}

// lineStarts are the offsets at which the lines of data start.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' && i+1 < len(data) {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// lineEnd is the offset just after line k (its newline included).
func lineEnd(data []byte, starts []int, k int) int {
	if k+1 < len(starts) {
		return starts[k+1]
	}
	return len(data)
}

// explain adjusts the place of the problem found at byte c of line (column
// col) and says what it most likely is. For a flow collection or a quoted
// string that is not closed, the shortest failing prefix may stop at an
// inner one that the rest of the line closes, so the place is the bracket or
// quote of the line that stays open.
func explain(line []byte, c, col int, msg string) (int, string) {
	text := "YAML syntax error: " + msg
	open, quote := scanLine(bytes.TrimRight(line, "\r\n"))
	switch {
	case strings.HasSuffix(msg, "',' or ']'") || strings.HasSuffix(msg, "',' or '}'"):
		bracket := msg[len(msg)-2] - 2 // ']' → '[', '}' → '{'
		kind := map[byte]string{'[': "flow sequence", '{': "flow mapping"}[bracket]
		for j := len(open) - 1; j >= 0; j-- {
			if line[open[j]] == bracket {
				return utf8.RuneCount(line[:open[j]]) + 1, text + " (the " + kind + " \"" + string(bracket) + "\" opened here is not closed)"
			}
		}
	case (msg == "found unexpected end of stream" || msg == "found unexpected document indicator") && quote >= 0:
		return utf8.RuneCount(line[:quote]) + 1, text + " (the quoted string opened here is not closed)"
	case c < len(line) && line[c] == '\t':
		return col, text + " (a tab: indent with spaces)"
	case msg == "mapping values are not allowed in this context":
		return col, text + " (check the indentation of this line)"
	}
	return col, text
}

// scanLine returns the offsets of the brackets of line that the line leaves
// open, innermost last, and of the quote that opens a string the line does
// not close (-1 for none). A quote opens a string only where a value starts:
// at the start of the line or after a space, '[', '{', ',' or ':'.
func scanLine(line []byte) (open []int, quote int) {
	quote = -1
	for i, b := range line {
		switch {
		case quote >= 0:
			if b == line[quote] {
				quote = -1
			}
		case (b == '"' || b == '\'') && (i == 0 || strings.IndexByte(" \t[{,:", line[i-1]) >= 0):
			quote = i
		case b == '#' && (i == 0 || line[i-1] == ' '):
			return open, quote
		case b == '[' || b == '{':
			open = append(open, i)
		case (b == ']' || b == '}') && len(open) > 0:
			open = open[:len(open)-1]
		}
	}
	return open, quote
}

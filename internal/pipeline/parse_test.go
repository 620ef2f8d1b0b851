package pipeline

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	errs := Errors{
		{File: "a.yml", Line: 3, Column: 7, Msg: "bad"},
		{File: "a.yml", Line: 4, Msg: "no column"},
		{File: "a.yml", Msg: "no line"},
	}
	want := "a.yml:3:7: bad\na.yml:4: no column\na.yml: no line"
	if got := errs.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var one *Error
	if !errors.As(error(errs), &one) || one.Msg != "bad" {
		t.Errorf("errors.As(*Error) = %v", one)
	}
}

func TestParseFileErrors(t *testing.T) {
	t.Parallel()
	_, err := ParseFile("testdata/does-not-exist.yml")
	var errs Errors
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &errs) {
		t.Errorf("missing file: got %v, want a wrapped fs.ErrNotExist", err)
	}
	p, err := ParseFile("testdata/bad_cycle.yml")
	if p != nil || !errors.As(err, &errs) || errs[0].File != "testdata/bad_cycle.yml" {
		t.Errorf("bad file: got %v, %v", p, err)
	}
}

func TestParseTooLarge(t *testing.T) {
	t.Parallel()
	data := []byte("image: x\nsteps: [{name: a, commands: [x]}]\n# " + strings.Repeat("x", MaxSize))
	_, err := Parse("big.yml", data)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v, want a size error", err)
	}
}

func TestParseStepPos(t *testing.T) {
	t.Parallel()
	p, err := Parse("f.yml", []byte("image: x\nsteps:\n  - name: a\n    commands: [x]\n  -   name: b\n      commands: [y]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps[0].Pos != (Pos{3, 5}) || p.Steps[1].Pos != (Pos{5, 7}) {
		t.Errorf("positions %v %v", p.Steps[0].Pos, p.Steps[1].Pos)
	}
}

// TestParseReportsAll checks that independent problems are all reported,
// sorted, and each only once even when reached through several aliases.
func TestParseReportsAll(t *testing.T) {
	t.Parallel()
	yml := "image: x\nsteps:\n" +
		"  - &s {name: a, commands: [x], timeout: nope}\n" +
		"  - *s\n" +
		"  - {name: b, commands: [], retry: 99}\n"
	_, err := Parse("f.yml", []byte(yml))
	want := "f.yml:3:42: timeout: bad duration \"nope\" (write it like 90s, 10m or 1h30m, or as a number of seconds)\n" +
		"f.yml:4:5: duplicate step name \"a\" (first at line 3)\n" +
		"f.yml:5:25: commands: empty list; a step needs at least one command\n" +
		"f.yml:5:36: retry: must be between 0 and 10, got 99"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	keys := keysOf(stepFields)
	tests := map[string]string{
		"comands":    ` (did you mean "commands"?)`,
		"dependson":  ` (did you mean "depends_on"?)`,
		"timeot":     ` (did you mean "timeout"?)`,
		"Image":      ` (did you mean "image"?)`,
		"on":         "",
		"frobnicate": "",
		"x":          "",
	}
	for word, want := range tests {
		if got := didYouMean(word, keys); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"comands", "commands", 1}, {"ab", "ba", 2}}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

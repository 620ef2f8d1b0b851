package cachekey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func env(files map[string]string) Env {
	return Env{Arch: "amd64", OS: "linux", Checksum: func(f string) ([sha256.Size]byte, error) {
		body, ok := files[f]
		if !ok {
			return [sha256.Size]byte{}, fmt.Errorf("open %s: no such file", f)
		}
		return sha256.Sum256([]byte(body)), nil
	}}
}

func hexSum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestRender(t *testing.T) {
	t.Parallel()
	files := map[string]string{"go.sum": "a b c", "go.mod": "module x"}
	two := sha256.New()
	for _, f := range []string{"go.sum", "go.mod"} {
		h := sha256.Sum256([]byte(files[f]))
		two.Write(h[:])
	}
	tests := []struct{ tmpl, want string }{
		{"go-{{ checksum \"go.sum\" }}-{{ arch }}", "go-" + hexSum("a b c") + "-amd64"},
		{"{{os}}_{{arch}}", "linux_amd64"},
		{"plain-key.v2", "plain-key.v2"},
		{`deps-{{ checksum "go.sum" "go.mod" }}`, "deps-" + hex.EncodeToString(two.Sum(nil))},
	}
	for _, tt := range tests {
		tmpl, err := Parse(tt.tmpl)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.tmpl, err)
		}
		got, err := tmpl.Render(env(files))
		if err != nil || got != tt.want {
			t.Errorf("Render(%q) = %q, %v; want %q", tt.tmpl, got, err, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl   string
		offset int
		msg    string
	}{
		{"", 0, "empty"},
		{"go/{{ arch }}", 2, `not "/"`},
		{"../x", 0, `".."`},
		{".hidden", 0, `start with "."`},
		{"go-{{ arch", 3, "unclosed"},
		{"go-}}", 3, `"}}" without`},
		{"go-{{ hostname }}", 3, `unknown cache key action "hostname"`},
		{"go-{{ checksum go.sum }}", 3, "bad cache key action"},
		{`go-{{ checksum }}`, 3, "checksum takes"},
		{`go-{{ checksum "/etc/passwd" }}`, 3, "absolute path"},
		{`go-{{ checksum "../../etc/passwd" }}`, 3, "escapes the workspace"},
		{`go-{{ checksum "a/../../b" }}`, 3, "escapes the workspace"},
		{`go-{{ arch "x" }}`, 3, "takes no arguments"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.tmpl)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want an *Error", tt.tmpl, err)
			continue
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("Parse(%q) = %d: %s; want %d: ...%s...", tt.tmpl, e.Offset, e.Msg, tt.offset, tt.msg)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	tmpl, _ := Parse(`go-{{ checksum "missing.sum" }}`)
	if _, err := tmpl.Render(env(nil)); err == nil || !strings.Contains(err.Error(), "missing.sum") {
		t.Errorf("Render with a missing file = %v, want an error naming it", err)
	}
	long, _ := Parse(strings.Repeat("k", 70) + `-{{ checksum "a" }}`)
	if _, err := long.Render(env(map[string]string{"a": ""})); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Render of a key past MaxLen = %v, want an error", err)
	}
	if got := long.Files(); len(got) != 1 || got[0] != "a" {
		t.Errorf("Files = %v", got)
	}
}

func TestCheckKey(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"go-", "a", "go-1.2_x"} {
		if err := CheckKey(ok); err != nil {
			t.Errorf("CheckKey(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".x", "a/b", "a..b", "a b", strings.Repeat("x", MaxLen+1)} {
		if CheckKey(bad) == nil {
			t.Errorf("CheckKey(%q) = nil, want an error", bad)
		}
	}
}

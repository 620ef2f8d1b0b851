// Package cachekey is the template language of narwhal.yml cache keys:
//
//	key: go-{{ checksum "go.sum" }}-{{ arch }}
//
// A template is literal text with actions between "{{" and "}}":
//
//	{{ checksum "FILE" ["FILE"...] }}  the sha256 (hex) of the workspace file,
//	                                   or of the files' sha256s in order
//	{{ arch }}                         the runner's GOARCH (amd64, arm64)
//	{{ os }}                           the runner's GOOS (linux)
//
// The package is pure: Parse checks a template without touching a file, and
// Render asks its Env for checksums, so narwhal validate and the runner share
// one grammar. What a template renders to is a valid cache key: one to
// MaxLen letters, digits, '.', '_' and '-', not starting with '.' and never
// holding "..", so a key can name a stored object and nothing else.
package cachekey

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// MaxLen bounds a rendered key.
const MaxLen = 128

// maxFiles bounds the files of one checksum action.
const maxFiles = 16

// Template is a parsed key template.
type Template struct {
	src   string
	parts []part
}

// part is literal text, or an action when fn is set.
type part struct {
	text  string
	fn    string   // "checksum", "arch", "os"
	files []string // of checksum
}

// Error is a template error at byte Offset of the template text.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func errAt(off int, format string, args ...any) error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

var literalRE = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)

// Parse parses s; errors are *Error.
func Parse(s string) (*Template, error) {
	t := &Template{src: s}
	if strings.TrimSpace(s) == "" {
		return nil, errAt(0, "empty cache key")
	}
	for off := 0; off < len(s); {
		open := strings.Index(s[off:], "{{")
		if open < 0 {
			open = len(s) - off
		}
		if err := t.literal(s[off:off+open], off); err != nil {
			return nil, err
		}
		off += open
		if off == len(s) {
			break
		}
		end := strings.Index(s[off:], "}}")
		if end < 0 {
			return nil, errAt(off, `unclosed "{{" in cache key`)
		}
		p, err := action(s[off+2:off+end], off)
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, p)
		off += end + 2
	}
	return t, nil
}

// literal adds text at off, which must hold only key characters.
func (t *Template) literal(text string, off int) error {
	if text == "" {
		return nil
	}
	if i := strings.Index(text, "}}"); i >= 0 {
		return errAt(off+i, `"}}" without "{{" in cache key`)
	}
	if i := strings.Index(text, ".."); i >= 0 {
		return errAt(off+i, `cache key may not hold ".."`)
	}
	if off == 0 && text[0] == '.' {
		return errAt(0, `cache key may not start with "."`)
	}
	if !literalRE.MatchString(text) {
		i := strings.IndexFunc(text, func(r rune) bool { return !literalRE.MatchString(string(r)) })
		return errAt(off+i, "cache key may hold only letters, digits, '.', '_', '-' and {{ }} actions, not %q", text[i:i+1])
	}
	t.parts = append(t.parts, part{text: text})
	return nil
}

// action parses the inside of "{{ }}" that starts at off.
func action(body string, off int) (part, error) {
	words, err := split(body)
	if err != nil || len(words) == 0 {
		return part{}, errAt(off, "bad cache key action {{%s}}: want checksum \"FILE\", arch or os", body)
	}
	switch fn, args := words[0], words[1:]; {
	case (fn == "arch" || fn == "os") && len(args) == 0:
		return part{fn: fn}, nil
	case fn == "checksum" && len(args) > 0 && len(args) <= maxFiles:
		for _, f := range args {
			if err := checkFile(f); err != nil {
				return part{}, errAt(off, "checksum %q: %v", f, err)
			}
		}
		return part{fn: fn, files: args}, nil
	case fn == "arch" || fn == "os":
		return part{}, errAt(off, "%s takes no arguments", fn)
	case fn == "checksum":
		return part{}, errAt(off, "checksum takes 1 to %d quoted workspace files", maxFiles)
	default:
		return part{}, errAt(off, "unknown cache key action %q: want checksum \"FILE\", arch or os", fn)
	}
}

// split splits an action into its function name and quoted arguments.
func split(body string) ([]string, error) {
	var words []string
	for s := strings.TrimSpace(body); s != ""; s = strings.TrimSpace(s) {
		if s[0] != '"' {
			w, rest, _ := strings.Cut(s, " ")
			if len(words) > 0 {
				return nil, fmt.Errorf("argument %q is not quoted", w)
			}
			words, s = append(words, w), rest
			continue
		}
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, err
		}
		w, _ := strconv.Unquote(q)
		words, s = append(words, w), s[len(q):]
	}
	return words, nil
}

// checkFile refuses a checksum file outside the workspace.
func checkFile(f string) error {
	switch {
	case f == "":
		return fmt.Errorf("empty file name")
	case strings.HasPrefix(f, "/"):
		return fmt.Errorf("absolute path: use a workspace-relative one")
	case strings.ContainsRune(f, '\\') || strings.ContainsRune(f, 0):
		return fmt.Errorf("bad character in file name")
	case path.Clean(f) == ".." || strings.HasPrefix(path.Clean(f), "../"):
		return fmt.Errorf("path escapes the workspace")
	}
	return nil
}

// String is the template's text.
func (t *Template) String() string { return t.src }

// Files are the workspace files the template checksums, in order.
func (t *Template) Files() []string {
	var out []string
	for _, p := range t.parts {
		out = append(out, p.files...)
	}
	return out
}

// Env is what Render asks of the runner.
type Env struct {
	// Checksum is the sha256 of a workspace file (as given, relative and
	// checked by Parse); the runner reads it confined to the workspace.
	Checksum func(file string) ([sha256.Size]byte, error)
	Arch, OS string
}

// Render is the key t names in env: a valid key (see the package doc) or
// an error.
func (t *Template) Render(env Env) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		s, err := p.render(env)
		if err != nil {
			return "", fmt.Errorf("cache key %q: %w", t.src, err)
		}
		b.WriteString(s)
	}
	key := b.String()
	if err := CheckKey(key); err != nil {
		return "", fmt.Errorf("cache key %q: %w", t.src, err)
	}
	return key, nil
}

func (p part) render(env Env) (string, error) {
	switch p.fn {
	case "":
		return p.text, nil
	case "arch":
		return env.Arch, nil
	case "os":
		return env.OS, nil
	}
	if env.Checksum == nil {
		return "", fmt.Errorf("no checksum")
	}
	h := sha256.New()
	for _, f := range p.files {
		sum, err := env.Checksum(f)
		if err != nil {
			return "", fmt.Errorf("checksum %s: %w", f, err)
		}
		if len(p.files) == 1 {
			return hex.EncodeToString(sum[:]), nil
		}
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*$`)

// CheckKey returns an error unless key is a valid rendered cache key or
// restore_keys prefix.
func CheckKey(key string) error {
	switch {
	case len(key) > MaxLen:
		return fmt.Errorf("longer than %d characters", MaxLen)
	case !keyRE.MatchString(key):
		return fmt.Errorf("%q is not a key: want letters, digits, '.', '_', '-', not starting with '.'", key)
	case strings.Contains(key, ".."):
		return fmt.Errorf("%q holds \"..\"", key)
	}
	return nil
}

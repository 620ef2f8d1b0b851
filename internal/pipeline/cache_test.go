package pipeline

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCacheErrors checks the place and text of each cache and artifacts
// problem, in the forms a key can be written in: the column of a key
// template's problem is its character only when the value is plain and on
// one line.
func TestCacheErrors(t *testing.T) {
	t.Parallel()
	const head = "image: x\nsteps:\n  - name: a\n    commands: [x]\n"
	tests := []struct {
		name, yml, want string
	}{{
		"key character, plain",
		head + "    cache:\n      key: go-{{ arch }}-x/y\n      paths: a\n",
		`f.yml:6:27: cache.key: cache key may hold only letters, digits, '.', '_', '-' and {{ }} actions, not "/"`,
	}, {
		"key character after multi-byte ones in the value",
		head + "    cache:\n      key: x-{{ checksum \"é\" }}-a..b\n      paths: a\n",
		`f.yml:6:34: cache.key: cache key may not hold ".."`,
	}, {
		"key character after a multi-byte one in the line",
		head + "    cache: {\"é\": 1, key: a..b, paths: p}\n",
		`f.yml:5:13: unknown key "é" in cache of step "a"` + "\n" +
			`f.yml:5:27: cache.key: cache key may not hold ".."`,
	}, {
		"key with CRLF line ends",
		strings.ReplaceAll(head, "\n", "\r\n") + "    cache:\r\n      key: k-{{ nope }}\r\n      paths: a\r\n",
		`f.yml:6:14: cache.key: unknown cache key action "nope": want checksum "FILE", arch or os`,
	}, {
		"key quoted: at the value",
		head + "    cache: {key: \"k-{{ nope }}\", paths: [a]}\n",
		`f.yml:5:18: cache.key: unknown cache key action "nope": want checksum "FILE", arch or os`,
	}, {
		"key tagged: at the value",
		head + "    cache: {key: !!str k..x, paths: [a]}\n",
		`f.yml:5:18: cache.key: cache key may not hold ".."`,
	}, {
		"key multi-line: at the value",
		head + "    cache:\n      key: k-{{ arch }}\n        x..y\n      paths: a\n",
		`f.yml:6:12: cache.key: cache key may not hold ".."`,
	}, {
		"restore key in a block list",
		head + "    cache:\n      key: k\n      paths: a\n      restore_keys:\n        - ok-\n        - bad-{{ checksum go.sum }}\n",
		`f.yml:10:15: cache.restore_keys[1]: bad cache key action {{ checksum go.sum }}: want checksum "FILE", arch or os`,
	}, {
		"key not a string",
		head + "    cache: {key: [a], paths: [a]}\n",
		`f.yml:5:18: cache.key: expected a string, got a list`,
	}, {
		"cache paths that escape",
		head + "    cache: {key: k, paths: [/tmp, a/../.., ./../b]}\n",
		`f.yml:5:29: cache.paths[0]: path "/tmp" escapes the workspace: it is absolute; write it relative to the workspace` + "\n" +
			`f.yml:5:35: cache.paths[1]: path "a/../.." escapes the workspace: it goes through ".."` + "\n" +
			`f.yml:5:44: cache.paths[2]: path "./../b" escapes the workspace: it goes through ".."`,
	}, {
		"cache path as one string",
		head + "    cache: {key: k, paths: ../up}\n",
		`f.yml:5:28: cache.paths: path "../up" escapes the workspace: it goes through ".."`,
	}, {
		"cache path with NUL",
		head + "    cache: {key: k, paths: \"a\\0b\"}\n",
		`f.yml:5:28: cache.paths: "a\x00b" holds a NUL character`,
	}, {
		"cache paths that name the workspace",
		head + "    cache: {key: k, paths: [., a/.., ./]}\n",
		`f.yml:5:29: cache.paths[0]: "." is the whole workspace; name the directories or files in it instead` + "\n" +
			`f.yml:5:32: cache.paths[1]: path "a/.." escapes the workspace: it goes through ".."` + "\n" +
			`f.yml:5:38: cache.paths[2]: "./" is the whole workspace; name the directories or files in it instead`,
	}, {
		"cache false at the top",
		"image: x\ncache: false\n" + head[9:],
		`f.yml:2:8: cache: false is only for steps (it turns the pipeline's cache off in one step); at the top level leave the key out for no cache`,
	}, {
		"cache true at the top",
		"image: x\ncache: true\n" + head[9:],
		`f.yml:2:8: cache: true is not a cache: write a mapping with key and paths`,
	}, {
		"cache true in a step",
		head + "    cache: true\n",
		`f.yml:5:12: cache: true is not a cache: write a mapping with key and paths, or leave the key out to use the pipeline's cache (cache: false turns it off)`,
	}, {
		"cache missing keys",
		head + "    cache: {}\n",
		`f.yml:5:12: missing required key "key" in cache of step "a"` + "\n" +
			`f.yml:5:12: missing required key "paths" in cache of step "a"`,
	}, {
		"cache unknown key",
		"image: x\ncache: {key: k, paths: p, path: q}\n" + head[9:],
		`f.yml:2:27: unknown key "path" in cache (did you mean "paths"?)`,
	}, {
		// [.][.] may pass: patterns only match files found in the workspace.
		"artifacts that escape",
		head + "    artifacts: {paths: [/etc/*, \"**/../x\", \"{..,a}/x\", '[.][.]/x', a\\b]}\n",
		`f.yml:5:25: artifacts.paths[0]: path "/etc/*" escapes the workspace: it is absolute; write it relative to the workspace` + "\n" +
			`f.yml:5:33: artifacts.paths[1]: path "**/../x" escapes the workspace: it goes through ".."` + "\n" +
			`f.yml:5:44: artifacts.paths[2]: pattern "{..,a}/x" holds "..", which artifact patterns may not hold anywhere` + "\n" +
			`f.yml:5:68: artifacts.paths[4]: "a\\b" holds a backslash; write paths with "/"`,
	}, {
		"artifacts expire_in",
		head + "    artifacts: {paths: a, expire_in: 3mo}\n",
		`f.yml:5:38: expire_in: bad duration "3mo" (write it like 30m, 12h, 7d or 2w)`,
	}, {
		"artifacts not a mapping",
		head + "    artifacts: dist/*\n",
		`f.yml:5:16: artifacts: expected a mapping with paths (and expire_in), got a string`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.yml", []byte(tt.yml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

// TestCacheDefault checks that steps without a cache key get a copy of the
// pipeline's cache, and that cache: false and a step's own cache win.
func TestCacheDefault(t *testing.T) {
	t.Parallel()
	yml := "image: x\ncache: {key: k, paths: [a, ./b/], restore_keys: [k-]}\nsteps:\n" +
		"  - {name: one, commands: [x]}\n" +
		"  - {name: two, commands: [x]}\n" +
		"  - {name: off, commands: [x], cache: false}\n" +
		"  - {name: own, commands: [x], cache: {key: o, paths: o}}\n"
	p, err := Parse("f.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	one, two, off, own := p.Steps[0].Cache, p.Steps[1].Cache, p.Steps[2].Cache, p.Steps[3].Cache
	if one == nil || one.Key != "k" || fmt.Sprint(one.Paths) != "[a b]" || fmt.Sprint(one.RestoreKeys) != "[k-]" {
		t.Fatalf("step one: cache %+v, want the pipeline's", one)
	}
	one.Paths[0] = "changed"
	if two.Paths[0] != "a" || p.Cache.Paths[0] != "a" {
		t.Errorf("steps share the pipeline's cache: %v %v", two.Paths, p.Cache.Paths)
	}
	if off != nil {
		t.Errorf("cache: false: got %+v", off)
	}
	if own == nil || own.Key != "o" || fmt.Sprint(own.Paths) != "[o]" || own.RestoreKeys != nil {
		t.Errorf("own cache: got %+v", own)
	}
	if p.Steps[0].Artifacts != nil {
		t.Errorf("artifacts without the key: %+v", p.Steps[0].Artifacts)
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30m", 30 * time.Minute, true},
		{"12h", 12 * time.Hour, true},
		{"7d", 7 * day, true},
		{"2w", 14 * day, true},
		{"1.5d", 36 * time.Hour, true},
		{".5w", 84 * time.Hour, true},
		{"1w2d3h", 9*day + 3*time.Hour, true},
		{"90d", 90 * day, true},
		{"-1d", -day, true},
		{"7", 0, false},
		{"7 d", 0, false},
		{"d", 0, false},
		{"7dd", 0, false},
		{"1mo", 0, false},
		{"99999999999999999999d", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseExpiry(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseExpiry(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestExpireIn checks the bounds of expire_in and its default.
func TestExpireIn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                      "168h0m0s",
		"expire_in: 90d":        "2160h0m0s",
		"expire_in: 1s":         "1s",
		"expire_in: 2160h1s":    `f.yml:3:63: expire_in: "2160h1s" is longer than 90d, the longest artifacts are kept`,
		"expire_in: 0d":         `f.yml:3:63: expire_in: must be greater than 0, got "0d"`,
		"expire_in: 1.5":        `f.yml:3:63: expire_in: 1.5 has no unit; write it like 30m, 12h, 7d or 2w`,
		"expire_in: {d: 7}":     `f.yml:3:63: expire_in: expected a duration like 7d, got a mapping`,
		"expire_in: 2020-01-01": `f.yml:3:63: expire_in: expected a duration like 7d, got a date`,
	} {
		yml := "image: x\nsteps:\n  - {name: a, commands: [x], artifacts: {paths: a, " + in + "}}\n"
		p, err := Parse("f.yml", []byte(yml))
		got := fmt.Sprint(err)
		if err == nil {
			got = p.Steps[0].Artifacts.ExpireIn.String()
		}
		if got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
	}
}

// TestPathLimits parses caches and artifacts at their limits, and one past.
func TestPathLimits(t *testing.T) {
	t.Parallel()
	list := func(n int, prefix string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	file := func(cachePaths, restoreKeys, artifactPaths int) string {
		return "image: x\nsteps:\n  - name: a\n    commands: [x]\n" +
			"    cache:\n      key: k\n      paths: " + list(cachePaths, "c") + "\n" +
			"      restore_keys: " + list(restoreKeys, "k") + "\n" +
			"    artifacts:\n      paths: " + list(artifactPaths, "a") + "\n"
	}
	p, err := Parse("f.yml", []byte(file(MaxCachePaths, MaxRestoreKeys, MaxArtifactPaths)))
	if err != nil || len(p.Steps[0].Cache.Paths) != MaxCachePaths ||
		len(p.Steps[0].Cache.RestoreKeys) != MaxRestoreKeys || len(p.Steps[0].Artifacts.Paths) != MaxArtifactPaths {
		t.Fatalf("at the limits: %v", err)
	}
	_, err = Parse("f.yml", []byte(file(MaxCachePaths+1, MaxRestoreKeys+1, MaxArtifactPaths+1)))
	want := "f.yml:7:165: cache.paths: 33 paths; at most 32 are allowed (this is path 33)\n" +
		"f.yml:8:92: cache.restore_keys: 17 restore keys; at most 16 are allowed (this is restore key 17)\n" +
		"f.yml:10:325: artifacts.paths: 65 paths; at most 64 are allowed (this is path 65)"
	if err == nil || err.Error() != want {
		t.Errorf("past the limits: got\n%v\nwant\n%s", err, want)
	}
}

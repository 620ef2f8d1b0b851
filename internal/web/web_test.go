package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/testenv"
)

const token = "tok-0123456789abcdef"

func get(t *testing.T, h http.Handler, path, remote, host string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remote
	if host != "" {
		req.Host = host
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestTokenOnlyForLoopback(t *testing.T) {
	h := Handler(Config{API: "/api", Token: token})
	tests := []struct {
		name, remote, host string
		want               bool
	}{
		{"loopback v4", "127.0.0.1:5555", "127.0.0.1:8080", true},
		{"loopback name", "127.0.0.1:5555", "localhost:8080", true},
		{"loopback v6", "[::1]:5555", "[::1]:8080", true},
		{"other machine", "192.0.2.7:5555", "192.0.2.1:8080", false},
		{"dns rebinding", "127.0.0.1:5555", "evil.example:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, h, "/", tt.remote, tt.host)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			page := body(t, resp)
			if got := strings.Contains(page, token); got != tt.want {
				t.Errorf("token in page = %v, want %v", got, tt.want)
			}
			if !strings.Contains(page, `<meta name="narwhal-api" content="/api">`) {
				t.Error("page does not name the API prefix")
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}

func TestShareTokenOverride(t *testing.T) {
	h := Handler(Config{Token: token, ShareToken: func(*http.Request) bool { return false }})
	page := body(t, get(t, h, "/index.html", "127.0.0.1:1", "localhost"))
	if strings.Contains(page, token) {
		t.Error("token shared although ShareToken said no")
	}
	if !strings.Contains(page, `content="/api"`) {
		t.Error("default API prefix missing")
	}
}

// TestAssetsResolve checks that everything the page loads is served, with
// the headers that keep the page on its own origin.
func TestAssetsResolve(t *testing.T) {
	h := Handler(Config{})
	page := body(t, get(t, h, "/", "127.0.0.1:1", ""))
	refs := regexp.MustCompile(`(?:src|href)="(static/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 4 {
		t.Fatalf("page loads %d assets, want the three scripts and the style sheet", len(refs))
	}
	wantType := map[string]string{".js": "javascript", ".css": "text/css"}
	for _, ref := range refs {
		resp := get(t, h, "/"+ref[1], "127.0.0.1:1", "")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", ref[1], resp.StatusCode)
			continue
		}
		for ext, typ := range wantType {
			if strings.HasSuffix(ref[1], ext) && !strings.Contains(resp.Header.Get("Content-Type"), typ) {
				t.Errorf("%s: Content-Type %q", ref[1], resp.Header.Get("Content-Type"))
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", ref[1], csp)
		}
	}
	if resp := get(t, h, "/nope", "127.0.0.1:1", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nope: status %d, want 404", resp.StatusCode)
	}
}

// TestNoExternalURLs: the dashboard works offline and leaks nothing to other
// origins, so no embedded file names an absolute URL. The SVG namespace name
// is one only in form: a name that createElementNS needs, never fetched.
func TestNoExternalURLs(t *testing.T) {
	abs := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	svgNS := regexp.MustCompile(`'http://www\.w3\.org/2000/svg'`)
	err := fs.WalkDir(files, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		if m := abs.Find(svgNS.ReplaceAll(data, nil)); m != nil {
			t.Errorf("%s names an external URL: %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestScriptsParse runs each script of the dashboard through node --check,
// when Node is there, to catch a syntax error before a browser does.
func TestScriptsParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node (to syntax-check the dashboard scripts)")
	}
	scripts, err := fs.Glob(files, "static/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range scripts {
		if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
			t.Errorf("node --check %s: %v\n%s", path, err, out)
		}
	}
}

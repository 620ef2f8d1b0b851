package secrets

import (
	"errors"
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		check func(string) error
		good  []string
		bad   []string
	}{
		{CheckName, []string{"A", "_x", "NPM_TOKEN", "a1", strings.Repeat("N", MaxNameLen)},
			[]string{"", "1A", "A-B", "A B", "Ä", strings.Repeat("N", MaxNameLen+1)}},
		{CheckHost, []string{"ghcr.io", "docker.io", "127.0.0.1:5001", "registry.example.com:5000", "localhost",
			"a-b.io", strings.Repeat("a", 63) + ".io", "h:65535", "x.y.z:1"},
			[]string{"", "https://ghcr.io", "ghcr.io/x", "a b", "-bad.io", "host:port", "ghcr.io:", strings.Repeat("a", 254),
				"bad-.io", "a..b", ".io", "io.", strings.Repeat("a", 64) + ".io", "h:123456", "h:1:2", "h:-1"}},
		{CheckRepo, []string{"acme/app", "a-b/c.d_e", "local/repo", strings.Repeat("o", 39) + "/" + strings.Repeat("r", 100)},
			[]string{"", "acme", "acme/", "/app", "a/b/c", "../x", "-a/b", "a b/c",
				strings.Repeat("o", 40) + "/r", "o/" + strings.Repeat("r", 101), "a_b/c"}},
	} {
		for _, s := range tc.good {
			if err := tc.check(s); err != nil {
				t.Errorf("%q refused: %v", s, err)
			}
		}
		for _, s := range tc.bad {
			if err := tc.check(s); !errors.Is(err, ErrInvalid) {
				t.Errorf("%q: %v, want ErrInvalid", s, err)
			}
		}
	}
}

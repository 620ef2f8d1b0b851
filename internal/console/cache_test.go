package console

import (
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 3400: "3.4 kB",
		812_000_000: "812 MB", 851_443_712: "851 MB", 1_200_000_000: "1.2 GB", 99_950_000: "100.0 MB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCacheLine(t *testing.T) {
	for _, tt := range []struct {
		use  ci.CacheUse
		want string
	}{
		{ci.CacheUse{Key: "go-1", Hit: true, Restored: "go-1", RestoredBytes: 812e6}, "cache hit go-1 (812 MB)"},
		{ci.CacheUse{Key: "go-2", Saved: true, SavedBytes: 812e6}, "cache miss go-2, saved 812 MB"},
		{ci.CacheUse{Key: "go-3", Restored: "go-1", RestoredBytes: 40e6, Saved: true, SavedBytes: 41e6},
			"cache miss go-3, restored go-1 (40.0 MB), saved 41.0 MB"},
		{ci.CacheUse{Key: "go-4", Error: "not saved: a pull request from a fork"}, "cache miss go-4; not saved: a pull request from a fork"},
	} {
		if got := CacheLine(tt.use); got != tt.want {
			t.Errorf("CacheLine(%+v) = %q, want %q", tt.use, got, tt.want)
		}
	}
}

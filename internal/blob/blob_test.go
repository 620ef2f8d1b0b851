package blob

import (
	"errors"
	"strings"
	"testing"
)

// CheckKey admits up to maxSegments segments of at most maxSegmentLen
// letters, digits, '.', '_' and '-', none starting with '.'.
func TestCheckKey(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", maxSegmentLen)
	for key, ok := range map[string]bool{
		long: true, "x/" + long: true, long + "b": false, "a/" + long + "b": false,
		"a/b/c": true, "_x/-y/z.tar": true, "a/./b": false, "a/../b": false, ".a": false, "": false, "a//b": false,
		"a b": false, strings.Repeat("a/", maxSegments-1) + "a": true, strings.Repeat("a/", maxSegments) + "a": false,
	} {
		err := CheckKey(key)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrBadKey)) {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", key, err, ok)
		}
	}
}

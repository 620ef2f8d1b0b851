package pipeline

import (
	"strings"
	"testing"
)

// A service name is a DNS label: at most 63 lowercase letters, digits and
// inner '-'.
func TestServiceNameBounds(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		strings.Repeat("a", 63): true, strings.Repeat("a", 64): false, "a-1": true, "a": true,
		"a-": false, "-a": false, "A": false, "a_b": false,
	} {
		yml := "image: x\nservices:\n  - name: " + name + "\n    image: y\nsteps:\n  - name: s\n    commands: [\"true\"]\n"
		_, err := Parse("narwhal.yml", []byte(yml))
		if (err == nil) != ok {
			t.Errorf("service name %q (%d bytes): %v, want ok=%v", name, len(name), err, ok)
		}
	}
}

package lambdatest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestFunctionsLinkNoTemplates: built with Tags, no function links a
// template package (or net/rpc, which comes with them through
// golang.org/x/net/trace): their reflective method calls make the linker
// keep every exported method of the binary, 2.5 MB of the dispatcher's
// zip (issue 15).
func TestFunctionsLinkNoTemplates(t *testing.T) {
	for _, pkg := range []string{"./functions/agent", "./functions/dispatcher"} {
		cmd := exec.Command("go", "list", "-deps", "-tags", Tags, pkg)
		cmd.Dir = RepoRoot(t)
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "text/template" || dep == "html/template" || dep == "net/rpc" {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}

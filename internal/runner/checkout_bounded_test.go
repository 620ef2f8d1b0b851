package runner

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestSymlinkedPipelineEndsTheJobInError pushes commits whose narwhal.yml is
// a symbolic link (to /dev/zero, which a plain read follows without end, and
// to a valid pipeline outside the repository) and checks that the job ends
// in error with a clear message, without running a step.
func TestSymlinkedPipelineEndsTheJobInError(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "elsewhere.yml")
	if err := os.WriteFile(outside, []byte("image: busybox\nsteps: [{name: a, commands: [x]}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"devzero": "/dev/zero", "outside": outside} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, sha := testenv.GitRepoWithLinks(t, map[string]string{"README": "hi\n"},
				map[string]string{"narwhal.yml": target})
			g := gitRig(t)
			job := testJob(name, 1)
			job.CloneURL, job.SHA = "file://"+dir, sha
			if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
				t.Fatal(reason, err)
			}
			final := g.out.final(t, name)
			if final.Status != ci.StatusError || final.Error != "narwhal.yml is a symbolic link; it must be a regular file" {
				t.Fatalf("final: %+v", final)
			}
			if len(g.exec.Calls()) != 0 {
				t.Fatalf("executor called: %v", g.exec.Calls())
			}
		})
	}
}

// TestParsePipelineRefusesADevZeroLinkQuickly reads a checked-out
// narwhal.yml that links to /dev/zero: the refusal is immediate and
// allocates next to nothing (a following read grows by gigabytes a second;
// the bound leaves room for the rest of the package).
func TestParsePipelineRefusesADevZeroLinkQuickly(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, PipelineFile)); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := ParsePipeline(dir)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, pipeline.ErrSymlink) {
		t.Fatalf("got %v, want ErrSymlink", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 || took > 5*time.Second {
		t.Fatalf("refusal allocated %d bytes in %v", alloc, took)
	}
}

// TestOversizedPipelineEndsTheJobInError commits a 2 MiB regular
// narwhal.yml.
func TestOversizedPipelineEndsTheJobInError(t *testing.T) {
	t.Parallel()
	big := "image: busybox\nsteps: [{name: a, commands: [x]}]\n# " + strings.Repeat("x", 2<<20) + "\n"
	dir, sha := testenv.GitRepo(t, map[string]string{"narwhal.yml": big})
	g := gitRig(t)
	job := testJob("big", 1)
	job.CloneURL, job.SHA = "file://"+dir, sha
	if ok, reason, err := g.r.Run(t.Context(), job); !ok || err != nil {
		t.Fatal(reason, err)
	}
	if final := g.out.final(t, "big"); final.Status != ci.StatusError || final.Error != "narwhal.yml is larger than 1 MiB" {
		t.Fatalf("final: %+v", final)
	}
}

package github

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestReadGitRefusesLinksAndLargeFiles reads narwhal.yml from pushed commits
// where it is a symbolic link (git show would print the link's target, and a
// checkout would follow it to /dev/zero) or a 2 MiB file: each is refused at
// once by its tree entry, and Fetch gives an empty config (the runner ends
// the job with the same error) instead of making the job wait.
func TestReadGitRefusesLinksAndLargeFiles(t *testing.T) {
	t.Parallel()
	big := validYML + "# " + strings.Repeat("x", 2<<20) + "\n"
	cases := map[string]struct {
		files, links map[string]string
		want         error
	}{
		"devzero": {map[string]string{"README": "hi\n"}, map[string]string{PipelineFile: "/dev/zero"}, pipeline.ErrSymlink},
		"inrepo":  {map[string]string{"real.yml": validYML}, map[string]string{PipelineFile: "real.yml"}, pipeline.ErrSymlink},
		"dir":     {map[string]string{PipelineFile + "/x": "x"}, nil, pipeline.ErrNotRegular},
		"big":     {map[string]string{PipelineFile: big}, nil, pipeline.ErrTooLarge},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, sha := testenv.GitRepoWithLinks(t, c.files, c.links)
			start := time.Now()
			data, err := readGit(t.Context(), dir, sha)
			if !errors.Is(err, c.want) || data != nil || time.Since(start) > 10*time.Second {
				t.Fatalf("readGit = %d bytes, %v after %v; want %v", len(data), err, time.Since(start), c.want)
			}
			cfg, err := NewConfigFetcher(nil).Fetch(t.Context(), ci.Job{CloneURL: "file://" + dir, SHA: sha})
			if err != nil || cfg.Labels != nil || cfg.Name != "" {
				t.Fatalf("Fetch = %+v, %v; want nothing and no error", cfg, err)
			}
		})
	}
}

// TestReadGitLimitsTheBlob checks the last line of defence: a blob read
// through catBlob stops after MaxSize+1 bytes.
func TestReadGitLimitsTheBlob(t *testing.T) {
	t.Parallel()
	dir, _ := testenv.GitRepo(t, map[string]string{PipelineFile: strings.Repeat("x", pipeline.MaxSize+10)})
	obj := strings.Fields(gitOut(t, dir, "ls-tree", "HEAD", PipelineFile))[2]
	if _, err := catBlob(t.Context(), dir, obj); !errors.Is(err, pipeline.ErrTooLarge) {
		t.Fatalf("catBlob = %v, want ErrTooLarge", err)
	}
}

// TestContentsAPIRefusesLinksAndLargeFiles answers the contents API as
// GitHub does for a symbolic link, a link's target inside the repository, a
// submodule and a file over 1 MiB.
func TestContentsAPIRefusesLinksAndLargeFiles(t *testing.T) {
	t.Parallel()
	answers := map[string]map[string]any{
		"link":   {"type": "symlink", "name": PipelineFile, "path": PipelineFile, "target": "/dev/zero", "size": 9},
		"target": {"type": "file", "name": "real.yml", "path": "ci/real.yml", "encoding": "base64", "content": b64(validYML)},
		"sub":    {"type": "submodule", "name": PipelineFile, "path": PipelineFile},
		"big":    {"type": "file", "name": PipelineFile, "path": PipelineFile, "size": 2 << 20, "encoding": "none", "content": ""},
		"big64":  {"type": "file", "name": PipelineFile, "path": PipelineFile, "encoding": "base64", "content": b64(strings.Repeat("x", 2<<20))},
	}
	want := map[string]error{"link": pipeline.ErrSymlink, "target": pipeline.ErrSymlink, "sub": pipeline.ErrNotRegular,
		"big": pipeline.ErrTooLarge, "big64": pipeline.ErrTooLarge}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(answers[r.URL.Query().Get("ref")])
	}))
	t.Cleanup(srv.Close)
	client, err := NewClient("tok", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := NewConfigFetcher(SharedClient{C: client})
	for sha, w := range want {
		job := ci.Job{Repo: "acme/app", CloneURL: "https://github.com/acme/app.git", SHA: sha}
		if data, err := f.readContents(t.Context(), job); !errors.Is(err, w) || data != nil {
			t.Errorf("%s: readContents = %d bytes, %v; want %v", sha, len(data), err, w)
		}
		if cfg, err := f.Fetch(t.Context(), job); err != nil || cfg.Labels != nil {
			t.Errorf("%s: Fetch = %+v, %v; want nothing and no error", sha, cfg, err)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// gitOut runs git in dir and returns its output.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

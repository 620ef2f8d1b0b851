package dockerevict

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"

	"github.com/narwhal-ci/narwhal/internal/diskguard"
	"github.com/narwhal-ci/narwhal/internal/executor/docker"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// open connects to the test engine, skipping (failing in CI) without one,
// and watches its events for the rest of the test.
func open(t *testing.T) *Docker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := Open(ctx, nil)
	if err != nil {
		testenv.Missing(t, "the Docker engine ("+err.Error()+")")
	}
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Watch(wctx) }()
	t.Cleanup(func() { stop(); <-done; d.Close() })
	return d
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// importImage imports a one-file image as ref (docker import of a tiny tar)
// and removes it at the end of the test if it is still there.
func importImage(t *testing.T, d *Docker, ref string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(ref + randomHex(t))
	if err := tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	tw.Close()
	rc, err := d.cli.ImageImport(t.Context(), image.ImportSource{Source: &buf, SourceName: "-"}, ref, image.ImportOptions{})
	if err != nil {
		t.Fatalf("import %s: %v", ref, err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	t.Cleanup(func() { d.cli.ImageRemove(context.Background(), ref, image.RemoveOptions{}) })
	insp, err := d.cli.ImageInspect(t.Context(), ref)
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	return insp.ID
}

// candidate finds the candidate whose What names name.
func candidate(t *testing.T, e diskguard.Evictor, name string) (diskguard.Candidate, bool) {
	t.Helper()
	cs, err := e.Candidates(t.Context())
	if err != nil {
		t.Fatalf("%s candidates: %v", e.Name(), err)
	}
	for _, c := range cs {
		if strings.Contains(c.What, name) {
			return c, true
		}
	}
	return diskguard.Candidate{}, false
}

// An image no container uses is a candidate on Docker's data root, last
// used when a container was last created from it, and removing it deletes
// it; an image a running container uses is never a candidate, and its
// removal is refused.
func TestImages(t *testing.T) {
	d := open(t)
	if d.Root() == "" {
		t.Fatal("no Docker root dir")
	}
	n := randomHex(t)
	evict, used := "narwhal-test/evict-me:"+n, "narwhal-test/evict-used:"+n
	importImage(t, d, evict)
	importImage(t, d, used)
	time.Sleep(1100 * time.Millisecond) // creation times are in whole seconds
	c, err := d.cli.ContainerCreate(t.Context(), &container.Config{Image: used, Cmd: []string{"none"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cli.ContainerRemove(t.Context(), c.ID, container.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	e := d.Images()
	var ce, cu diskguard.Candidate
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		ce, _ = candidate(t, e, evict)
		if cu, ok = candidate(t, e, used); ok && cu.LastUsed.After(ce.LastUsed.Add(500*time.Millisecond)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container's creation is not the last use of %s: %v, vs %v of %s", used, cu.LastUsed, ce.LastUsed, evict)
		}
	}
	if ce.Path != d.Root() || ce.Remove == nil {
		t.Fatalf("candidate %+v", ce)
	}
	if err := ce.Remove(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.cli.ImageInspect(t.Context(), evict); err == nil {
		t.Fatalf("%s still there after its eviction", evict)
	}

	running := "narwhal-test/evict-running:" + n
	if err := d.cli.ImageTag(t.Context(), testenv.Image(t), running); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cli.ImageRemove(context.Background(), running, image.RemoveOptions{}) })
	rc, err := d.cli.ContainerCreate(t.Context(), &container.Config{Image: running, Cmd: []string{"sleep", "60"},
		Labels: map[string]string{docker.LabelManaged: "true"}}, nil, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.cli.ContainerRemove(context.Background(), rc.ID, container.RemoveOptions{Force: true})
	})
	if err := d.cli.ContainerStart(t.Context(), rc.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if c, ok := candidate(t, e, running); ok {
		t.Fatalf("an image a running container uses is a candidate: %+v", c)
	}
	insp, err := d.cli.ImageInspect(t.Context(), running)
	if err != nil {
		t.Fatal(err)
	}
	err = d.removeImage(t.Context(), image.Summary{ID: insp.ID, RepoTags: []string{running}})
	if !errors.Is(err, errInUse) {
		t.Fatalf("removing the image of a running container: %v, want refused", err)
	}
	if _, err := d.cli.ImageInspect(t.Context(), running); err != nil {
		t.Fatalf("the image of a running container is gone: %v", err)
	}
}

// A dangling volume of narwhal's is a candidate and removing it deletes it;
// a named volume of someone else's is not; a volume a container refers to
// is not.
func TestVolumes(t *testing.T) {
	d := open(t)
	n := randomHex(t)
	mk := func(name string, labels map[string]string) {
		t.Helper()
		if _, err := d.cli.VolumeCreate(t.Context(), volume.CreateOptions{Name: name, Labels: labels}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.cli.VolumeRemove(context.Background(), name, true) })
	}
	ours, theirs, mounted := "narwhal-test-ours-"+n, "narwhal-test-theirs-"+n, "narwhal-test-mounted-"+n
	mk(ours, map[string]string{docker.LabelManaged: "true", docker.LabelRunner: "test-" + n})
	mk(theirs, map[string]string{"owner": "someone"})
	mk(mounted, map[string]string{docker.LabelManaged: "true"})
	c, err := d.cli.ContainerCreate(t.Context(), &container.Config{Image: testenv.Image(t), Cmd: []string{"true"}},
		&container.HostConfig{Binds: []string{mounted + ":/data"}}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true}) })
	e := d.Volumes()
	for _, name := range []string{theirs, mounted} {
		if c, ok := candidate(t, e, name); ok {
			t.Errorf("volume %s is a candidate: %+v", name, c)
		}
	}
	cv, ok := candidate(t, e, ours)
	if !ok {
		t.Fatalf("the dangling volume %s is no candidate", ours)
	}
	if err := cv.Remove(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.cli.VolumeInspect(t.Context(), ours); err == nil {
		t.Fatalf("volume %s still there after its eviction", ours)
	}
}

package dispatch

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// fakeCreds mints "tok-<n>" per call, or fails with err.
type fakeCreds struct {
	mu    sync.Mutex
	calls []string // repo@cloneURL
	err   error
}

func (f *fakeCreds) CloneToken(_ context.Context, repo, cloneURL string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, repo+"@"+cloneURL)
	if f.err != nil {
		return "", f.err
	}
	return "tok-" + repo, nil
}

func TestCloneTokenGoesWithTheRun(t *testing.T) {
	t.Parallel()
	creds := &fakeCreds{}
	g := newRig(t, Config{}, func(d *Deps) { d.Credentials = creds })
	r := g.runner(t, "a", 0, 2)
	j := g.job(t, "aaa1")
	g.handle(t, j)
	runs := r.ran()
	if len(runs) != 1 || runs[0].CloneToken != "tok-acme/app" {
		t.Fatalf("runs %+v, want one with the minted token", runs)
	}
	if len(creds.calls) != 1 || creds.calls[0] != "acme/app@"+j.CloneURL {
		t.Errorf("minted for %v", creds.calls)
	}
	if stored := g.get(t, j.ID); stored.Status != ci.StatusAssigned {
		t.Errorf("job %s", stored.Status)
	}
}

// TestNoCloneTokenWithoutRunners: nothing is minted for a job that waits
// for runners anyway.
func TestNoCloneTokenWithoutRunners(t *testing.T) {
	t.Parallel()
	creds := &fakeCreds{}
	g := newRig(t, Config{}, func(d *Deps) { d.Credentials = creds })
	g.handle(t, g.job(t, "aaa1"))
	if len(creds.calls) != 0 {
		t.Errorf("minted %v for a job without candidates", creds.calls)
	}
}

// TestCloneTokenFailureWaits: a job whose token cannot be minted is offered
// to nobody; it waits, saying why, and its message comes back later.
func TestCloneTokenFailureWaits(t *testing.T) {
	t.Parallel()
	creds := &fakeCreds{err: errors.New("GitHub App 7 is not installed on acme/app")}
	g := newRig(t, Config{}, func(d *Deps) { d.Credentials = creds })
	r := g.runner(t, "a", 0, 2)
	j := g.job(t, "aaa1")
	g.handle(t, j)
	got := g.get(t, j.ID)
	want := "no clone credential: GitHub App 7 is not installed on acme/app"
	if got.Status != ci.StatusQueued || got.Waiting != want || len(r.ran()) != 0 {
		t.Fatalf("job %s waiting %q, %d runs; want queued, %q, none", got.Status, got.Waiting, len(r.ran()), want)
	}
	if n := len(g.queue.messages(true, ci.RouteJob)); n != 1 {
		t.Errorf("%d delayed messages, want 1", n)
	}
}

package dispatch

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/secrets"
	"github.com/narwhal-ci/narwhal/internal/secrets/embedded"
)

// secretRig is a rig whose dispatcher resolves secrets from a real embedded
// store holding TOKEN (not for forks), PUBLIC (for forks), UNUSED, and a
// registry credential of acme/app.
func secretRig(t *testing.T) (*rig, *secrets.Store) {
	t.Helper()
	dir := t.TempDir()
	b, err := embedded.Open(t.Context(), filepath.Join(dir, "db"), filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	st := secrets.New(b)
	ctx := t.Context()
	for name, v := range map[string]secrets.Value{
		"TOKEN": {Value: "t0ken"}, "PUBLIC": {Value: "publ1c", AllowPullRequests: true}, "UNUSED": {Value: "unused"},
	} {
		if err := st.PutSecret(ctx, "acme/app", name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutRegistry(ctx, "acme/app", secrets.Credential{Host: "registry.acme.test", Username: "bot", Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	g := newRig(t, Config{}, func(d *Deps) { d.Secrets, d.SecretNames = st, d.Config.(*fakeConfig) })
	return g, st
}

func TestHandleJobSendsTheNamedSecretsAndRegistries(t *testing.T) {
	t.Parallel()
	g, st := secretRig(t)
	r := g.runner(t, "a", 0, 2)
	j := g.job(t, "sec1")
	g.config.secrets["sec1"] = []string{"PUBLIC", "TOKEN", "MISSING"}
	// Changed after intake: the job gets the value of the moment it is handed out.
	if err := st.PutSecret(t.Context(), "acme/app", "TOKEN", secrets.Value{Value: "t0ken-new"}); err != nil {
		t.Fatal(err)
	}
	g.handle(t, j)
	runs := r.ran()
	if len(runs) != 1 {
		t.Fatalf("runs %v", jobIDs(runs))
	}
	want := map[string]string{"PUBLIC": "publ1c", "TOKEN": "t0ken-new"}
	if got := runs[0]; !reflect.DeepEqual(got.Secrets, want) || got.Withheld != nil {
		t.Errorf("Run got secrets %v withheld %v; want %v and none withheld", got.Secrets, got.Withheld, want)
	}
	wantReg := []rpc.RegistryAuth{{Host: "registry.acme.test", Username: "bot", Password: "pw"}}
	if !reflect.DeepEqual(runs[0].Registries, wantReg) {
		t.Errorf("Run got registries %+v, want %+v", runs[0].Registries, wantReg)
	}
}

// TestForkGetsOnlyAllowedSecrets: a fork pull request job gets the secrets
// that allow pull requests, the names of the others as withheld, and no
// registry credentials.
func TestForkGetsOnlyAllowedSecrets(t *testing.T) {
	t.Parallel()
	g, _ := secretRig(t)
	r := g.runner(t, "a", 0, 2)
	j := g.set(t, g.job(t, "fork1").ID, func(j *ci.Job) { j.Event, j.PR, j.Fork = ci.EventPullRequest, 7, true })
	g.config.secrets["fork1"] = []string{"PUBLIC", "TOKEN"}
	g.handle(t, j)
	runs := r.ran()
	if len(runs) != 1 {
		t.Fatalf("runs %v", jobIDs(runs))
	}
	got := runs[0]
	if !reflect.DeepEqual(got.Secrets, map[string]string{"PUBLIC": "publ1c"}) || !reflect.DeepEqual(got.Withheld, []string{"TOKEN"}) {
		t.Errorf("fork got secrets %v withheld %v; want PUBLIC only, TOKEN withheld", got.Secrets, got.Withheld)
	}
	if got.Registries != nil {
		t.Errorf("fork got registry credentials %+v", got.Registries)
	}
	for _, v := range got.Secrets {
		if v == "t0ken" {
			t.Fatal("the fork got TOKEN's value")
		}
	}
}

// failingSecrets is a secret store that cannot be read.
type failingSecrets struct{}

func (failingSecrets) Resolve(context.Context, string) (secrets.Resolved, error) {
	return secrets.Resolved{}, errors.New("Secrets Manager is down")
}

func TestUnreadableSecretsMakeTheJobWait(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, func(d *Deps) { d.Secrets = failingSecrets{} })
	r := g.runner(t, "a", 0, 2)
	j := g.job(t, "down1")
	g.handle(t, j)
	got := g.get(t, j.ID)
	if got.Status != ci.StatusQueued || !strings.Contains(got.Waiting, "cannot read the repository's secrets") || len(r.ran()) != 0 {
		t.Fatalf("job %s waiting %q, %d runs; want queued, waiting on the secrets", got.Status, got.Waiting, len(r.ran()))
	}
}

func TestRepositoryTheStoreRefusesGetsNothing(t *testing.T) {
	t.Parallel()
	g, _ := secretRig(t)
	r := g.runner(t, "a", 0, 2)
	j := g.set(t, g.job(t, "odd1").ID, func(j *ci.Job) { j.Repo = "not a repository" })
	g.config.secrets["odd1"] = []string{"TOKEN"}
	g.handle(t, j)
	if runs := r.ran(); len(runs) != 1 || runs[0].Secrets != nil || runs[0].Registries != nil {
		t.Fatalf("runs %+v; want one without secrets", runs)
	}
}

// countingSecrets counts Resolve calls.
type countingSecrets struct{ calls atomic.Int32 }

func (c *countingSecrets) Resolve(context.Context, string) (secrets.Resolved, error) {
	c.calls.Add(1)
	return secrets.Resolved{}, nil
}

// TestWaitingJobDoesNotReadSecrets: without a runner to take it, a job's
// secrets are not read (a waiting job retries often).
func TestWaitingJobDoesNotReadSecrets(t *testing.T) {
	t.Parallel()
	c := &countingSecrets{}
	g := newRig(t, Config{}, func(d *Deps) { d.Secrets = c })
	j := g.job(t, "wait1")
	g.handle(t, j)
	if got := g.get(t, j.ID); got.Status != ci.StatusQueued || got.Waiting == "" || c.calls.Load() != 0 {
		t.Fatalf("job %s waiting %q after %d reads of the secrets; want waiting, none", got.Status, got.Waiting, c.calls.Load())
	}
}

// TestABurstIsOfferedOnlyWhatARunnerHasRoomFor: six jobs handled at once
// and a runner with two free slots whose Run calls are slow. The two jobs
// being offered claim its slots, so the other four wait ("busy") without
// reading the secret store, being assigned and unassigned, or calling Run
// only to hear "runner full". Before the claims, all six were offered.
func TestABurstIsOfferedOnlyWhatARunnerHasRoomFor(t *testing.T) {
	t.Parallel()
	c := &countingSecrets{}
	g := newRig(t, Config{WaitDelay: time.Hour}, func(d *Deps) { d.Secrets = c })
	r := g.runner(t, "a", 0, 2)
	gate := make(chan struct{})
	r.runFn = func(rpc.Job) (bool, string, error) { <-gate; return true, "", nil }
	jobs := make([]ci.Job, 6)
	for i := range jobs {
		jobs[i] = g.job(t, fmt.Sprintf("burst%d", i))
	}
	var returned atomic.Int32
	var handlers sync.WaitGroup
	defer handlers.Wait()
	release := sync.OnceFunc(func() { close(gate) })
	defer release()
	for _, j := range jobs {
		handlers.Go(func() {
			defer returned.Add(1)
			if err := g.d.HandleJob(t.Context(), delivery(j)); err != nil {
				t.Errorf("HandleJob: %v", err)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second) // the four that find no room return; two stay in Run
	for returned.Load() < int32(len(jobs)-2) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	runs, reads := len(r.ran()), c.calls.Load()
	release()
	handlers.Wait()
	if runs != 2 || reads != 2 {
		t.Fatalf("%d Run calls and %d secret reads for a runner with 2 free slots, want 2 and 2", runs, reads)
	}
	busy := 0
	for _, j := range jobs {
		if got := g.get(t, j.ID); got.Status == ci.StatusQueued && got.Waiting == "all 1 matching runners busy" {
			busy++
		}
	}
	if busy != 4 {
		t.Fatalf("%d jobs wait because the runner is busy, want 4", busy)
	}
}

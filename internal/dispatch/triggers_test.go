package dispatch

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// fakeFilter answers PipelineFilter from maps by SHA.
type fakeFilter struct {
	skip    map[string]string
	cancel  map[string]*bool
	changes map[string]ci.Changes // completed changes; the job's own when missing
}

func (f *fakeFilter) Changes(_ context.Context, j ci.Job) (ci.Changes, error) {
	if c, ok := f.changes[j.SHA]; ok {
		return c, nil
	}
	return j.Changes, nil
}

func (f *fakeFilter) Skip(_ context.Context, j ci.Job) (string, error) { return f.skip[j.SHA], nil }

func (f *fakeFilter) CancelSuperseded(_ context.Context, j ci.Job) (*bool, error) {
	return f.cancel[j.SHA], nil
}

// create stores j as a queued, published first attempt made a moment after
// the jobs before it.
func (g *rig) create(t *testing.T, j ci.Job) ci.Job {
	t.Helper()
	g.clock.Add(time.Second)
	j.Repo, j.CloneURL = "acme/app", "https://github.com/acme/app.git"
	j.ID = ci.JobIDOf(j)
	j.Status, j.Attempt, j.Published, j.CreatedAt = ci.StatusQueued, 1, true, g.clock.Now()
	created, err := g.store.CreateJob(t.Context(), j)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func push(sha, branch string) ci.Job {
	return ci.Job{SHA: sha, Ref: "refs/heads/" + branch, Branch: branch, Event: ci.EventPush}
}

func pullRequest(sha string, number int) ci.Job {
	return ci.Job{SHA: sha, Ref: "refs/pull/" + strconv.Itoa(number) + "/head", Branch: "main",
		Event: ci.EventPullRequest, PR: number}
}

func TestSupersededPushes(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{CancelSupersededPushes: true}, nil)
	a := g.runner(t, "a", 0, 4)
	running := g.create(t, push("0001", "main"))
	g.handle(t, running) // assigned to a
	queued := g.create(t, push("0002", "main"))
	g.set(t, queued.ID, func(j *ci.Job) { j.Waiting = "all runners busy" })
	other := g.create(t, push("0003", "dev"))
	tag := g.create(t, ci.Job{SHA: "0001", Ref: "refs/tags/v1", Branch: "main", Event: ci.EventTag})
	manual := g.create(t, ci.Job{SHA: "0001", Ref: "refs/heads/main", Branch: "main", Event: ci.EventManual, PR: 99})
	newer := g.create(t, push("0004", "main"))
	g.handle(t, newer)

	for _, old := range []ci.Job{running, queued} {
		got := g.get(t, old.ID)
		if got.Status != ci.StatusCancelled || got.Error != "superseded by "+newer.ID {
			t.Errorf("%s: %s %q, want cancelled, superseded by %s", old.SHA, got.Status, got.Error, newer.ID)
		}
	}
	if !slices.Contains(a.cancelled(), running.ID) {
		t.Errorf("runner a was not asked to stop the running job: %v", a.cancelled())
	}
	for _, kept := range []ci.Job{other, tag, manual} {
		if got := g.get(t, kept.ID); got.Status != ci.StatusQueued {
			t.Errorf("%s %s job: %s, want queued (never superseded)", kept.Event, kept.Ref, got.Status)
		}
	}
	assertJob(t, g.get(t, newer.ID), ci.StatusAssigned, 1, "a")
	// A redelivery of the older job's message finds it cancelled: nothing runs.
	g.handle(t, queued)
	if got := g.get(t, queued.ID); got.Status != ci.StatusCancelled || len(a.ran()) != 2 {
		t.Errorf("redelivered superseded job: %s, runs %v", got.Status, jobIDs(a.ran()))
	}
}

func TestSupersededDefaults(t *testing.T) {
	t.Parallel()
	g := newRig(t, Config{}, nil)
	g.runner(t, "a", 0, 8)
	oldPush := g.create(t, push("0101", "main"))
	oldPR := g.create(t, pullRequest("0102", 7))
	otherPR := g.create(t, pullRequest("0103", 8))
	g.handle(t, g.create(t, push("0104", "main")))
	newPR := g.create(t, pullRequest("0105", 7))
	g.handle(t, newPR)

	if got := g.get(t, oldPush.ID); got.Status != ci.StatusQueued {
		t.Errorf("push: %s; pushes do not supersede unless the deployment says so", got.Status)
	}
	if got := g.get(t, oldPR.ID); got.Status != ci.StatusCancelled || got.Error != "superseded by "+newPR.ID {
		t.Errorf("pull request 7: %s %q; pull requests supersede by default", got.Status, got.Error)
	}
	if got := g.get(t, otherPR.ID); got.Status != ci.StatusQueued {
		t.Errorf("pull request 8: %s, want queued", got.Status)
	}
}

func TestSupersededPipelineSetting(t *testing.T) {
	t.Parallel()
	off, on := false, true
	f := &fakeFilter{cancel: map[string]*bool{"0203": &off, "0204": &on}}
	g := newRig(t, Config{}, func(d *Deps) { d.Filter = f })
	g.runner(t, "a", 0, 8)
	oldPR := g.create(t, pullRequest("0201", 7))
	oldPush := g.create(t, push("0202", "main"))
	g.handle(t, g.create(t, pullRequest("0203", 7))) // cancel_superseded: false
	g.handle(t, g.create(t, push("0204", "main")))   // cancel_superseded: true
	if got := g.get(t, oldPR.ID); got.Status != ci.StatusQueued {
		t.Errorf("pull request with cancel_superseded false: old job %s, want queued", got.Status)
	}
	if got := g.get(t, oldPush.ID); got.Status != ci.StatusCancelled {
		t.Errorf("push with cancel_superseded true: old job %s, want cancelled", got.Status)
	}
}

func TestSkippedByFilter(t *testing.T) {
	t.Parallel()
	f := &fakeFilter{skip: map[string]string{"0301": "no matching paths"}}
	g := newRig(t, Config{CancelSupersededPushes: true}, func(d *Deps) { d.Filter = f })
	a := g.runner(t, "a", 0, 2)
	old := g.create(t, push("0300", "main"))
	j := g.create(t, push("0301", "main"))
	g.handle(t, j)
	got := g.get(t, j.ID)
	if got.Status != ci.StatusSkipped || got.Error != "no matching paths" || got.FinishedAt.IsZero() {
		t.Fatalf("job %s %q, want skipped: no matching paths", got.Status, got.Error)
	}
	if st := g.status.last(t, j.ID); st.Status != ci.StatusSkipped {
		t.Errorf("status reported %s, want skipped", st.Status)
	}
	if len(a.ran()) != 0 || g.get(t, old.ID).Status != ci.StatusQueued {
		t.Errorf("a skipped job runs nowhere and supersedes nothing: runs %v, old %s", jobIDs(a.ran()), g.get(t, old.ID).Status)
	}
	g.handle(t, j) // redelivered: still skipped, nothing else
	if g.get(t, j.ID).Version != got.Version {
		t.Error("a redelivery changed the skipped job")
	}
}

// TestChangesReachTheRunner: changed files the filter completed (a diff)
// are stored on the job and sent with Run, for the steps' path filters.
func TestChangesReachTheRunner(t *testing.T) {
	t.Parallel()
	diffed := ci.NewChanges("0400", []string{"docs/a.md", "src/b.go"}, true)
	g := newRig(t, Config{}, func(d *Deps) { d.Filter = &fakeFilter{changes: map[string]ci.Changes{"0401": diffed}} })
	a := g.runner(t, "a", 0, 2)
	j := push("0401", "main")
	j.Changes = ci.NewChanges("0400", nil, false)
	created := g.create(t, j)
	g.handle(t, created)
	stored := g.get(t, created.ID)
	if !stored.Changes.Known || !slices.Equal(stored.Changes.Files, diffed.Files) {
		t.Errorf("stored changes %+v, want %+v", stored.Changes, diffed)
	}
	runs := a.ran()
	if len(runs) != 1 || !runs[0].ChangedKnown || !slices.Equal(runs[0].ChangedFiles, diffed.Files) {
		t.Errorf("Run got %+v, want the diffed files", runs)
	}
}

func TestSupersedes(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	at := func(j ci.Job, d time.Duration) ci.Job {
		j.Repo, j.Status, j.CreatedAt = "o/r", ci.StatusQueued, t0.Add(d)
		j.ID = ci.JobIDOf(j)
		return j
	}
	newer := at(push("b", "main"), time.Second)
	cases := []struct {
		name string
		old  ci.Job
		want bool
	}{
		{"older push of the branch", at(push("a", "main"), 0), true},
		{"created later", at(push("a", "main"), 2*time.Second), false},
		{"finished", func() ci.Job { j := at(push("a", "main"), 0); j.Status = ci.StatusSuccess; return j }(), false},
		{"other branch", at(push("a", "dev"), 0), false},
		{"other repo", func() ci.Job { j := at(push("a", "main"), 0); j.Repo = "o/x"; return j }(), false},
		{"tag", at(ci.Job{SHA: "a", Ref: "refs/tags/v1", Branch: "main", Event: ci.EventTag}, 0), false},
		{"itself", newer, false},
	}
	for _, c := range cases {
		if got := Supersedes(newer, c.old); got != c.want {
			t.Errorf("%s: Supersedes = %v, want %v", c.name, got, c.want)
		}
	}
	tagNewer := at(ci.Job{SHA: "b", Ref: "refs/tags/v1", Event: ci.EventTag}, time.Second)
	if Supersedes(tagNewer, at(ci.Job{SHA: "a", Ref: "refs/tags/v1", Event: ci.EventTag}, 0)) {
		t.Error("a tag job supersedes nothing")
	}
}

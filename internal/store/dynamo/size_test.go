package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/intake"
	"github.com/narwhal-ci/narwhal/internal/queue/memq"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// docSize is the size of the stored document of job id.
func docSize(t *testing.T, st *Store, id string) int {
	t.Helper()
	item, err := st.getItem(context.Background(), jobKey(id))
	if err != nil {
		t.Fatal(err)
	}
	return len(item[attrDoc].(*types.AttributeValueMemberS).Value)
}

// TestReplaysDoNotGrowTheItem: replays of one push with the longest delivery
// IDs accepted stop growing the job's item once the delivery cap is reached.
func TestReplaysDoNotGrowTheItem(t *testing.T) {
	testenv.AWSEndpoint(t)
	st := newTable(t, newClient(t))
	q := memq.New(memq.Config{})
	defer q.Close()
	in := &intake.Intake{Store: st, Queue: q}
	job := ci.Job{Repo: "acme/app", SHA: "abc123", Event: ci.EventPush, Branch: "main", Ref: "refs/heads/main"}
	id := func(i int) string { return fmt.Sprintf("%064x", i) }
	capped := 0
	for i := range 100 {
		out, err := in.Accept(t.Context(), id(i), job)
		if err != nil {
			t.Fatalf("replay %d: %v", i, err)
		}
		switch size := docSize(t, st, out.JobID); {
		case i == ci.MaxDeliveries:
			capped = size
		case i > ci.MaxDeliveries && size > capped+8: // the dropped count may gain digits
			t.Fatalf("replay %d: item document grew to %d bytes, past %d at the cap", i, size, capped)
		}
	}
	if _, err := in.Accept(t.Context(), id(0)+"0", job); !errors.Is(err, ci.ErrBadDelivery) {
		t.Fatalf("a 65-character delivery ID: %v, want ErrBadDelivery", err)
	}
}

// TestTooLargeUpdateEndsTheJob: an update that takes a job past DynamoDB's
// item size fails as ci.ErrTooLarge, and ci.Update then ends the job in error
// with a clear reason instead of leaving it running; later updates work.
func TestTooLargeUpdateEndsTheJob(t *testing.T) {
	testenv.AWSEndpoint(t)
	st := newTable(t, newClient(t))
	ctx := t.Context()
	j := ci.Job{ID: "near-limit", Repo: "acme/app", SHA: "abc123", Event: ci.EventPush, Status: ci.StatusRunning,
		Attempt: 1, RunnerID: "r1", Message: strings.Repeat("m", 395_000), StartedAt: time.Now()}
	if _, err := st.CreateJob(ctx, j); err != nil {
		t.Fatalf("create a job just under the limit: %v", err)
	}
	grow := func(j *ci.Job) error {
		j.Steps = append(j.Steps, ci.Step{Name: strings.Repeat("s", 20_000), Status: "success"})
		return nil
	}
	if _, err := st.UpdateJob(ctx, mustGet(t, st, j.ID, grow)); !errors.Is(err, ci.ErrTooLarge) {
		t.Fatalf("UpdateJob past the item size: %v, want ErrTooLarge", err)
	}
	ended, err := ci.Update(ctx, st, j.ID, grow)
	if !errors.Is(err, ci.ErrTooLarge) {
		t.Fatalf("ci.Update past the item size: %v, want ErrTooLarge", err)
	}
	got := mustGet(t, st, j.ID, nil)
	if got.Status != ci.StatusError || got.Error != ci.TooLargeError || got.FinishedAt.IsZero() {
		t.Fatalf("job after a too large update: %s %q; want error %q", got.Status, got.Error, ci.TooLargeError)
	}
	if ended.Version != got.Version {
		t.Fatalf("ci.Update returned version %d, stored %d", ended.Version, got.Version)
	}
	if _, err := ci.Update(ctx, st, j.ID, func(j *ci.Job) error { j.AddDelivery("later"); return nil }); err != nil {
		t.Fatalf("an update after the job ended: %v", err)
	}
}

// mustGet reads job id and applies change (when not nil) to the copy.
func mustGet(t *testing.T, st *Store, id string, change func(*ci.Job) error) ci.Job {
	t.Helper()
	j, err := st.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(&j)
	}
	return j
}

package ci

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// sizedStore holds one job and refuses to write it when its JSON is over
// limit bytes, as DynamoDB refuses items over 400 KB.
type sizedStore struct {
	Store // only GetJob and UpdateJob are called
	job   Job
	limit int
}

func (s *sizedStore) GetJob(context.Context, string) (Job, error) { return s.job, nil }

func (s *sizedStore) UpdateJob(_ context.Context, j Job) (Job, error) {
	if doc, _ := json.Marshal(j); len(doc) > s.limit {
		return Job{}, ErrTooLarge
	}
	if j.Version != s.job.Version {
		return Job{}, ErrConflict
	}
	j.Version++
	s.job = j
	return j, nil
}

// TestUpdateEndsTooLargeJob: a change the store refuses as too large ends a
// running job in error with TooLargeError, trimming texts first and dropping
// the steps when that is not enough; a final job keeps its status.
func TestUpdateEndsTooLargeJob(t *testing.T) {
	grow := func(j *Job) error {
		j.Steps = append(j.Steps, Step{Name: strings.Repeat("n", 5000)})
		return nil
	}
	for _, tc := range []struct {
		name      string
		job       Job
		limit     int
		want      Status
		wantSteps int
	}{
		{"long message", Job{ID: "a", Status: StatusRunning, Message: strings.Repeat("m", 9000), Steps: []Step{{Name: "build"}}}, 8000, StatusError, 1},
		{"many long steps", Job{ID: "b", Status: StatusRunning, Steps: longSteps(200)}, 8000, StatusError, 0},
		{"final job", Job{ID: "c", Status: StatusSuccess, Message: strings.Repeat("m", 9000)}, 8000, StatusSuccess, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &sizedStore{job: tc.job, limit: tc.limit}
			st.job.Version = 1
			got, err := Update(context.Background(), st, tc.job.ID, grow)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Update: %v, want ErrTooLarge", err)
			}
			if got.Status != tc.want || len(got.Steps) != tc.wantSteps || got.Version != 2 {
				t.Fatalf("job %s with %d steps (version %d), want %s with %d", got.Status, len(got.Steps), got.Version, tc.want, tc.wantSteps)
			}
			if tc.want == StatusError && (got.Error != TooLargeError || got.FinishedAt.IsZero()) {
				t.Fatalf("error %q, finished %v; want %q", got.Error, got.FinishedAt, TooLargeError)
			}
		})
	}
}

func longSteps(n int) []Step {
	steps := make([]Step, n)
	for i := range steps {
		steps[i].Name = strings.Repeat("s", 100)
	}
	return steps
}

// TestAddDeliveryCaps: the first ID and the latest MaxDeliveries-1 stay.
func TestAddDeliveryCaps(t *testing.T) {
	var j Job
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}
	for _, id := range ids {
		j.AddDelivery(id)
	}
	if j.AddDelivery("l") || j.AddDelivery("a") {
		t.Fatal("a kept ID changed the job")
	}
	if got := strings.Join(j.Deliveries, ""); got != "adefghijkl" || j.DeliveriesDropped != 2 {
		t.Fatalf("deliveries %s dropped %d, want adefghijkl dropped 2", got, j.DeliveriesDropped)
	}
}

func TestCheckDeliveryID(t *testing.T) {
	for id, ok := range map[string]bool{
		"72d3162e-cc78-11e3-81ab-4c9367dc0958": true, strings.Repeat("A", 64): true, "d-1": true,
		"": false, strings.Repeat("A", 65): false, "a_b": false, "a b": false, "a\n": false, "ü": false,
	} {
		if err := CheckDeliveryID(id); (err == nil) != ok || (err != nil && !errors.Is(err, ErrBadDelivery)) {
			t.Errorf("CheckDeliveryID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

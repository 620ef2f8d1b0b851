package ci

import (
	"context"
	"testing"
)

// countingStore is a sizedStore that counts reads.
type countingStore struct {
	sizedStore
	reads int
}

func (s *countingStore) GetJob(ctx context.Context, id string) (Job, error) {
	s.reads++
	return s.sizedStore.GetJob(ctx, id)
}

// UpdateFrom writes from the job given without reading it when it is
// current, and reads it again when it is stale.
func TestUpdateFrom(t *testing.T) {
	st := &countingStore{sizedStore: sizedStore{job: Job{ID: "a", Status: StatusQueued, Version: 3}, limit: 1 << 20}}
	publish := func(j *Job) error { j.Published = true; return nil }
	got, err := UpdateFrom(context.Background(), st, st.job, publish)
	if err != nil || !got.Published || got.Version != 4 || st.reads != 0 {
		t.Fatalf("current job: %+v, %v, %d reads; want published version 4 without a read", got, err, st.reads)
	}
	stale := got
	stale.Version = 2
	got, err = UpdateFrom(context.Background(), st, stale, func(j *Job) error { j.Branch = "b"; return nil })
	if err != nil || got.Version != 5 || got.Branch != "b" || !got.Published || st.reads != 1 {
		t.Fatalf("stale job: %+v, %v, %d reads; want version 5 after one read", got, err, st.reads)
	}
}

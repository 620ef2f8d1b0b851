package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// A batch that rolls back after it numbered jobs in memory takes nothing:
// its creates, written again one by one, and the next create number on from
// the file, with no gap and no number given twice.
func TestBuildNumbersAfterRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openExclusive(t, filepath.Join(t.TempDir(), "narwhal.db"))
	if _, err := s.CreateJob(ctx, newJob("first")); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	created := make([]ci.Job, 2)
	errs := make([]error, 3)
	done := make(chan struct{})
	go func() {
		created[0], errs[0] = s.CreateJob(ctx, newJob("second"))
		done <- struct{}{}
	}()
	waitQueued(t, s, 1)
	go func() {
		created[1], errs[1] = s.CreateJob(ctx, newJob("third"))
		done <- struct{}{}
	}()
	waitQueued(t, s, 2)
	boom := errors.New("boom")
	go func() {
		errs[2] = s.writes.write(ctx, func(context.Context, *sql.Tx) error { return boom })
		done <- struct{}{}
	}()
	waitQueued(t, s, 3)
	release()
	for range 3 {
		<-done
	}
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], boom) {
		t.Fatalf("creates: %v, %v; failing write: %v (want boom)", errs[0], errs[1], errs[2])
	}
	if created[0].Number != 2 || created[1].Number != 3 {
		t.Errorf("numbers after the rollback: %d, %d; want 2, 3", created[0].Number, created[1].Number)
	}
	next, err := s.CreateJob(ctx, newJob("fourth"))
	if err != nil || next.Number != 4 {
		t.Errorf("next create: number %d, %v; want 4", next.Number, err)
	}
}

// Stores that share a file read the last number in the transaction of each
// create, so jobs created through either are numbered on from both.
func TestBuildNumbersSharedFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	a, b := openT(t, path), openT(t, path)
	for i, c := range []struct {
		s  *Store
		id string
	}{{a, "one"}, {b, "two"}, {a, "three"}, {b, "three"}, {b, "four"}} {
		j, err := c.s.CreateJob(ctx, newJob(c.id))
		want := i + 1
		if i == 3 {
			if !errors.Is(err, ci.ErrExists) {
				t.Errorf("create of %s again: %v; want ErrExists", c.id, err)
			}
			continue
		}
		if i == 4 {
			want = 4 // the duplicate took no number
		}
		if err != nil || j.Number != want {
			t.Errorf("create %s: number %d, %v; want %d", c.id, j.Number, err, want)
		}
	}
}

// TestWithNumber: the document a create stores is the job's own JSON with
// its number, once, whatever the job holds; and a store that reads it from
// the file (not from its memory) returns the number.
func TestWithNumber(t *testing.T) {
	j := newJob("job-1")
	j.SHA, j.Message, j.Deliveries = "abc", `a "quoted" message }`, []string{"d-1"}
	unnumbered, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	doc := withNumber(unnumbered, 42)
	if n := bytes.Count(doc, []byte(`"number"`)); n != 1 {
		t.Fatalf("%d number members in %s, want 1 (does ci.Job.Number still omit its zero?)", n, doc)
	}
	var got ci.Job
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	want := j
	want.Number = 42
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}

	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	s := openT(t, path) // shares its file: reads go to it
	for i, id := range []string{"job-1", "job-2"} {
		j := newJob(id)
		j.Number = 99 // the store's number wins
		if _, err := s.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetJob(ctx, id); err != nil || got.Number != i+1 {
			t.Fatalf("GetJob(%s) = #%d, %v; want #%d", id, got.Number, err, i+1)
		}
	}
}

package intake

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestAcceptRefusesBadDeliveryID: an ID that is too long or not GUID-shaped
// is refused before anything is written, for a new job and for a replay.
func TestAcceptRefusesBadDeliveryID(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	job := sample("ccc333")
	for _, bad := range []string{strings.Repeat("a", 65), "d 1", "d/1", "<script>", "dé"} {
		if _, err := r.in.Accept(t.Context(), bad, job); !errors.Is(err, ci.ErrBadDelivery) {
			t.Fatalf("Accept(%q) on a new job: %v, want ErrBadDelivery", bad, err)
		}
	}
	if _, err := r.store.GetJob(t.Context(), jobID(job)); !errors.Is(err, ci.ErrNotFound) {
		t.Fatalf("a refused delivery stored a job: %v", err)
	}
	first := strings.Repeat("f", 64) // the longest accepted
	r.accept(t, first, job)
	if _, err := r.in.Accept(t.Context(), strings.Repeat("b", 65), job); !errors.Is(err, ci.ErrBadDelivery) {
		t.Fatalf("Accept of a bad replay: %v, want ErrBadDelivery", err)
	}
	if got := r.get(t, jobID(job)); !slices.Equal(got.Deliveries, []string{first}) || got.Version != 2 {
		t.Fatalf("after a refused replay: deliveries %v version %d, want [%s] version 2", got.Deliveries, got.Version, first)
	}
}

// TestAcceptCapsDeliveries: replays keep the first delivery ID and the latest
// few and count the rest, so the job does not grow with them.
func TestAcceptCapsDeliveries(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	job := sample("ddd444")
	id := func(i int) string { return fmt.Sprintf("%064d", i) }
	const replays = 100
	for i := range replays {
		r.accept(t, id(i), job)
	}
	got := r.get(t, jobID(job))
	want := []string{id(0)}
	for i := replays - ci.MaxDeliveries + 1; i < replays; i++ {
		want = append(want, id(i))
	}
	if !slices.Equal(got.Deliveries, want) {
		t.Fatalf("deliveries %v\nwant %v", got.Deliveries, want)
	}
	if got.DeliveriesDropped != replays-ci.MaxDeliveries {
		t.Fatalf("dropped %d, want %d", got.DeliveriesDropped, replays-ci.MaxDeliveries)
	}
	r.accept(t, id(replays-1), job) // the latest again: nothing changes
	if again := r.get(t, jobID(job)); again.Version != got.Version {
		t.Fatalf("a repeated delivery wrote the job (version %d → %d)", got.Version, again.Version)
	}
}

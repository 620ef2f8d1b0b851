package outbox

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/reserve"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// On a filesystem that something else filled, Enqueue still writes the
// message into the outbox's reserved space; without a reserve it is refused
// with ENOSPC.
func TestEnqueueOnAFullDiskUsesTheReserve(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		reserve int64
		ok      bool
	}{{"reserve", 0, true}, {"none", -1, false}} {
		disk := testenv.Tmpfs(t, "4m")
		never := func(context.Context, ci.Message) error { return errors.New("broker away") }
		o, err := Open(context.Background(), disk, never, Options{Reserve: c.reserve, InitialBackoff: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		testenv.Fill(t, disk, "filler")
		err = o.Enqueue(t.Context(), ci.Message{Key: "event.job", ID: "final", Body: []byte(`{"status":"failure"}`)})
		if c.ok && err != nil {
			t.Errorf("%s: Enqueue on a full disk: %v", c.name, err)
		}
		if !c.ok && !reserve.NoSpace(err) {
			t.Errorf("%s: Enqueue on a full disk: %v, want ENOSPC", c.name, err)
		}
		o.Close()
	}
}

// Once the disk has room again, a delivery that empties the queue takes the
// released reserve back. Not parallel: a process another test forks holds
// copies of this one's open files until it execs, which can keep a removed
// file's space taken for a while.
func TestReserveTakenBackAfterDelivery(t *testing.T) {
	disk := testenv.Tmpfs(t, "4m")
	o, err := Open(context.Background(), disk, func(context.Context, ci.Message) error { return nil }, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	filler := testenv.Fill(t, disk, "filler")
	big := ci.Message{Key: "event.job", ID: "final", Body: make([]byte, 8192)} // no room in a page left
	if err := o.Enqueue(t.Context(), big); err != nil {
		t.Fatalf("Enqueue on a full disk: %v", err)
	}
	if o.spare.Held() {
		t.Fatal("the reserve is still held after a write on a full disk")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(t.Context(), ci.Message{Key: "event.job", ID: "next"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !o.spare.Held(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // taken back just after the last delivery
			t.Fatal("the reserve was not taken back once the queue was empty and the disk had room")
		}
	}
}

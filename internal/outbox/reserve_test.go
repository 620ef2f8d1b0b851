package outbox

import (
	"context"
	"errors"
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

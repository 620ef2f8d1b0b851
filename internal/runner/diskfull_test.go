package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/host"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	diskbox "github.com/narwhal-ci/narwhal/internal/outbox"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// sent records what a real outbox delivered.
type sent struct {
	mu   sync.Mutex
	evs  []ci.RunnerEvent
	more chan struct{}
}

func (s *sent) send(_ context.Context, m ci.Message) error {
	var ev ci.RunnerEvent
	if err := json.Unmarshal(m.Body, &ev); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, ev)
	close(s.more)
	s.more = make(chan struct{})
	return nil
}

// wait returns the first delivered report that matches, or false after d.
func (s *sent) wait(d time.Duration, match func(ci.RunnerEvent) bool) (ci.RunnerEvent, bool) {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		more := s.more
		for _, ev := range s.evs {
			if match(ev) {
				s.mu.Unlock()
				return ev, true
			}
		}
		s.mu.Unlock()
		select {
		case <-more:
		case <-deadline:
			return ci.RunnerEvent{}, false
		}
	}
}

// A final report the outbox refuses because its disk is full is not lost:
// once the disk has room again it is written and delivered (issue 10,
// case 2). The outbox lives on a small tmpfs filled by the test, with no
// reserve, so that the refusal is sure (once the room left in its newest
// segment's last page is used up); the step is a real host process.
func TestFinalReportRefusedByAFullOutboxIsDeliveredLater(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "4m")
	rec := &sent{more: make(chan struct{})}
	box, err := diskbox.Open(context.Background(), filepath.Join(disk, "outbox"), rec.send,
		diskbox.Options{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Reserve: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	gate := filepath.Join(t.TempDir(), "go")
	yml := "image: none\nsteps:\n  - name: doomed\n    commands:\n" +
		"      - \"while [ ! -e " + gate + " ]; do sleep 0.05; done; exit 1\"\n"
	r := startRunner(t, Config{ID: "r1", Capacity: 1, WorkDir: t.TempDir(), Heartbeat: time.Hour},
		Deps{Exec: host.New(slog.New(slog.DiscardHandler)), Reports: box, Logs: fs.New(t.TempDir()), Checkout: staticCheckout{yml}}, 10*time.Second)
	if ok, why, err := r.Run(t.Context(), testJob("full1", 1)); err != nil || !ok {
		t.Fatalf("run: %v %v %s", ok, err, why)
	}
	isStep := func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventStep && ev.Step.Status == "running" }
	if _, ok := rec.wait(20*time.Second, isStep); !ok {
		t.Fatal("the step never started")
	}
	for deadline := time.Now().Add(10 * time.Second); box.Pending() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // nothing delivered after the fill may free space
			t.Fatalf("%d reports still pending before the fill", box.Pending())
		}
	}
	filler := testenv.Fill(t, disk, "filler")
	// The outbox's newest segment may end in a page with room for a small
	// report: a report larger than a page cannot fit there, is refused, and
	// the outbox takes its next batch in a new segment, which has no room.
	pad := ci.Message{Key: "event.pad", ID: "pad", Body: []byte(strings.Repeat(" ", 8192))}
	if err := box.Enqueue(t.Context(), pad); err == nil {
		t.Fatal("the outbox took a report larger than a page on a full disk")
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	isFinal := func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventJob && ev.Status.Final() }
	if ev, ok := rec.wait(1500*time.Millisecond, isFinal); ok {
		t.Fatalf("final report %+v delivered while the outbox's disk is full", ev)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ev, ok := rec.wait(20*time.Second, isFinal)
	if !ok {
		t.Fatal("the final report was never delivered after the disk was freed")
	}
	if ev.Status != ci.StatusFailure || ev.JobID != "full1" {
		t.Fatalf("final report %+v, want failure of full1", ev)
	}
}

// A job that fails while its work dir is full says so.
func TestWithDiskFull(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "1m")
	if got := withDiskFull(ci.StatusFailure, "", disk); !strings.Contains(got, noSpace) {
		t.Errorf("failure on a 1 MiB filesystem: %q, want %q", got, noSpace)
	}
	if got := withDiskFull(ci.StatusSuccess, "", disk); got != "" {
		t.Errorf("success: %q, want no error", got)
	}
	if got := withDiskFull(ci.StatusError, "write x: "+noSpace, disk); strings.Count(got, noSpace) != 1 {
		t.Errorf("an error that says it already: %q", got)
	}
}

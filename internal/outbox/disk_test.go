package outbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestFileFormat pins the on-disk format: an outbox written by one version of
// runnerd is read by the next.
func TestFileFormat(t *testing.T) {
	dir := t.TempDir()
	m := ci.Message{Key: "event.job", ID: "x", Body: []byte(`{}`), Headers: map[string]string{"a": "b"}}
	if err := writeMessages(dir, 7, []ci.Message{m}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "00000000000000000007.msg"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"v":1,"key":"event.job","id":"x","body":"e30=","headers":{"a":"b"}}`; string(data) != want {
		t.Errorf("file = %s, want %s", data, want)
	}
	msgs, err := readMessages(dir, 7)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("readMessages = %+v, %v; want one message", msgs, err)
	}
	if got := msgs[0]; got.Key != m.Key || got.ID != m.ID || string(got.Body) != "{}" || got.Headers["a"] != "b" {
		t.Errorf("readMessages = %+v", got)
	}
}

func TestReadMessageCorrupt(t *testing.T) {
	dir := t.TempDir()
	for _, content := range []string{
		``, `{`, `not json`, `[]`,
		`{"v":2,"key":"k","body":""}`,
		`{"v":1,"key":"k","body":"","extra":1}`,
		`{"v":1,"key":"k","body":""} {}`,
		`{"v":1,"key":"k","body":"!!notbase64"}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, fileName(1)), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readMessages(dir, 1); !errors.Is(err, errCorrupt) {
			t.Errorf("readMessages(%q) = %v, want errCorrupt", content, err)
		}
	}
}

// TestRetriesAreSpaced: consecutive attempts on a failing message are at
// least half the current backoff apart, and the backoff doubles up to its cap.
func TestRetriesAreSpaced(t *testing.T) {
	var mu sync.Mutex
	var calls []time.Time
	send := func(context.Context, ci.Message) error {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, time.Now())
		if len(calls) <= 4 {
			return errors.New("down")
		}
		return nil
	}
	opts := Options{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
	o, err := Open(context.Background(), t.TempDir(), send, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if err := o.Enqueue(context.Background(), ci.Message{Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 5 {
		t.Fatalf("%d send calls, want 5 (4 failures, then success)", len(calls))
	}
	for i, least := range []time.Duration{10, 20, 20, 20} { // backoffs 20, 40, 40 (capped), 40
		if gap := calls[i+1].Sub(calls[i]); gap < least*time.Millisecond {
			t.Errorf("attempt %d came %v after the previous, want >= %vms", i+2, gap, least)
		}
	}
}

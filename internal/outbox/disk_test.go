package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// TestFrameFormat pins the on-disk format: an outbox written by one version
// of runnerd is read by the next.
func TestFrameFormat(t *testing.T) {
	m := ci.Message{Key: "event.job", ID: "x", Body: []byte(`{}`), Headers: map[string]string{"a": "b"}}
	frame := appendFrame(nil, m)
	payload := "\x02\x09event.job\x01x\x02{}\x01\x01a\x01b"
	want := "\x15\x00\x00\x00" + string(binary.LittleEndian.AppendUint32(nil, crc32.Checksum([]byte(payload), castagnoli))) + payload
	if string(frame) != want {
		t.Errorf("frame = %q, want %q", frame, want)
	}
	got, err := decodeFrame(frame)
	if err != nil || got.Key != m.Key || got.ID != m.ID || string(got.Body) != "{}" || len(got.Headers) != 1 || got.Headers["a"] != "b" {
		t.Errorf("decodeFrame = %+v, %v", got, err)
	}
}

// A frame that is short, fails its CRC or does not decode is errCorrupt;
// nextFrame does not take a frame cut short or failing its CRC.
func TestDecodeFrameCorrupt(t *testing.T) {
	good := appendFrame(nil, ci.Message{Key: "k", ID: "i", Body: []byte("b")})
	flipped := slices.Clone(good)
	flipped[len(flipped)-1] ^= 1
	version := slices.Clone(good)
	version[frameHeader] = 1
	binary.LittleEndian.PutUint32(version[4:], crc32.Checksum(version[frameHeader:], castagnoli))
	for name, frame := range map[string][]byte{
		"empty": nil, "header only": good[:frameHeader], "cut short": good[:len(good)-1],
		"bad crc": flipped, "trailing": append(slices.Clone(good), 0), "version": version,
	} {
		if _, err := decodeFrame(frame); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decodeFrame = %v, want errCorrupt", name, err)
		}
	}
	for name, frame := range map[string][]byte{"cut short": good[:len(good)-1], "bad crc": flipped} {
		if _, ok := nextFrame(frame); ok {
			t.Errorf("%s: nextFrame took it", name)
		}
	}
}

// TestLegacyFileFormat pins the batch files of the first format, which Open
// turns into a segment.
func TestLegacyFileFormat(t *testing.T) {
	dir := t.TempDir()
	data := `{"v":1,"key":"event.job","id":"x","body":"e30=","headers":{"a":"b"}}` + "\n" + `{"v":1,"key":"event.step","body":"e30="}`
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000007.msg"), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	msgs, err := readMessages(dir, 7)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("readMessages = %+v, %v; want two messages", msgs, err)
	}
	if got := msgs[0]; got.Key != "event.job" || got.ID != "x" || string(got.Body) != "{}" || got.Headers["a"] != "b" {
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

// The acked file reads back what was written; one that does not check
// (torn, garbled, a mix of two writes) reads as 0: messages are sent again,
// none skipped.
func TestAckedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ackedName)
	if got := readAcked(dir); got != 0 {
		t.Errorf("no file: %d, want 0", got)
	}
	if err := os.WriteFile(path, formatAcked(199), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := readAcked(dir); got != 199 {
		t.Errorf("readAcked = %d, want 199", got)
	}
	old, next := formatAcked(199), formatAcked(200)
	mixed := append(slices.Clone(next[:19]), old[19:]...) // 209 with 199's sum
	for _, bad := range [][]byte{mixed, next[:20], []byte("garbage"), nil} {
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readAcked(dir); got != 0 {
			t.Errorf("acked %q = %d, want 0", bad, got)
		}
	}
}

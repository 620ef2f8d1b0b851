package webhook

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every byte whatever the size hint says (none, exact, too
// small, too large) and passes on a read error.
func TestReadAll(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("0123456789", 300)
	for _, hint := range []int64{-1, 0, 10, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 1, 1 << 20} {
		got, err := readAll(iotest.HalfReader(strings.NewReader(body)), hint)
		if err != nil || string(got) != body {
			t.Errorf("hint %d: %d bytes, %v; want %d", hint, len(got), err, len(body))
		}
	}
	boom := errors.New("boom")
	if _, err := readAll(io.MultiReader(bytes.NewReader([]byte("ab")), iotest.ErrReader(boom)), 2); !errors.Is(err, boom) {
		t.Errorf("read error: %v, want boom", err)
	}
}

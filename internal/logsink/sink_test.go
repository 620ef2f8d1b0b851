package logsink

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

// collector records delivered lines as "step: line".
type collector struct {
	mu    sync.Mutex
	lines []string
}

func (c *collector) deliver(step string, line []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, step+": "+string(line))
}

func (c *collector) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.lines
	c.lines = nil
	return out
}

func write(t *testing.T, w *Writer, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func TestSplitsLinesAcrossWrites(t *testing.T) {
	t.Parallel()
	var c collector
	w := New(0, nil, c.deliver).Writer("s")
	write(t, w, "one\ntw", "o\n\nthr", "ee", "\nfour")
	equal(t, "before close", c.take(), []string{"s: one", "s: two", "s: ", "s: three"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	equal(t, "after close", c.take(), []string{"s: four"})
	if _, err := w.Write([]byte("x\n")); err != ErrClosed {
		t.Fatalf("write after close: %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestSplitsLongLines(t *testing.T) {
	t.Parallel()
	long := func(n int, c byte) string { return string(bytes.Repeat([]byte{c}, n)) }
	tests := []struct {
		name   string
		writes []string
		want   []int // lengths of the delivered lines
	}{
		{"exactly MaxLine", []string{long(MaxLine, 'a') + "\n"}, []int{MaxLine}},
		{"one write", []string{long(2*MaxLine+10, 'a') + "\nb\n"}, []int{MaxLine, MaxLine, 10, 1}},
		{"partial exactly MaxLine", []string{long(MaxLine, 'a'), "\n"}, []int{MaxLine}},
		{"partial over", []string{long(MaxLine-1, 'a'), "bc\n"}, []int{MaxLine, 1}},
		{"many small writes", []string{long(MaxLine/2, 'a'), long(MaxLine/2, 'a'), long(5, 'a'), "\n"}, []int{MaxLine, 5}},
		{"unterminated", []string{long(MaxLine+1, 'a')}, []int{MaxLine, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c collector
			w := New(0, nil, c.deliver).Writer("s")
			write(t, w, tt.writes...)
			w.Close()
			var got []int
			for _, l := range c.take() {
				got = append(got, len(l)-len("s: "))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("line lengths %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMasksSecretsAcrossSplitWrites(t *testing.T) {
	t.Parallel()
	var c collector
	s := New(0, []string{"hunter2", "", "abc", "bcd", "first\r\nsecond"}, c.deliver)
	w := s.Writer("s")
	write(t, w, "pass=hun", "ter2 ok\nxab", "cdx hunter2hunter2\n", "first and second\n")
	w.Note("token hunter2")
	write(t, w, "tail hunt", "er2")
	w.Close()
	equal(t, "lines", c.take(), []string{
		"s: pass=******** ok",
		"s: x********x ********",
		"s: ******** and ********",
		"s: [narwhal] token ********",
		"s: tail ********",
	})
	if got := s.Masker().String("a hunter2 b"); got != "a ******** b" {
		t.Fatalf("String = %q", got)
	}
}

func TestMaskerLongestFirst(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"sec", "secretvalue", "value"})
	tests := map[string]string{
		"secretvalue!":  "********!",
		"a sec b":       "a ******** b",
		"nothing here":  "nothing here",
		"valuesecvalue": "********",
		"":              "",
	}
	for in, want := range tests {
		if got := string(m.Mask([]byte(in))); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoteEndsPartialLine(t *testing.T) {
	t.Parallel()
	var c collector
	w := New(0, nil, c.deliver).Writer("s")
	write(t, w, "half")
	w.Note("retry 1/2")
	w.Close()
	w.Note("dropped")
	equal(t, "lines", c.take(), []string{"s: half", "s: [narwhal] retry 1/2"})
}

func TestCapKeepsHeadAndTail(t *testing.T) {
	t.Parallel()
	var c collector
	w := New(20, nil, c.deliver).Writer("s") // head 10 bytes, tail 10 bytes
	for i := 1; i <= 9; i++ {
		write(t, w, fmt.Sprintf("a%d\n", i))
	}
	equal(t, "live", c.take(), []string{"s: a1", "s: a2", "s: a3"})
	w.Close()
	equal(t, "at close", c.take(), []string{"s: [narwhal] 9 bytes elided", "s: a7", "s: a8", "s: a9"})
}

func TestCapIsSharedByTheJob(t *testing.T) {
	t.Parallel()
	var c collector
	s := New(20, nil, c.deliver)
	a, b := s.Writer("a"), s.Writer("b")
	write(t, a, "a1\n", "a2\n")
	write(t, b, "b1\n")
	write(t, a, "a3\n") // head full: tail [a3]
	write(t, b, "b2\n") // tail [a3 b2]
	write(t, a, "a4\na5\n")
	equal(t, "live", c.take(), []string{"a: a1", "a: a2", "b: b1"})
	a.Close() // tail budget left: 10-6 = 4, holding [b2]
	equal(t, "a closed", c.take(), []string{"a: [narwhal] 3 bytes elided", "a: a4", "a: a5"})
	write(t, b, "b3\n", "b4\n")
	b.Close()
	equal(t, "b closed", c.take(), []string{"b: [narwhal] 6 bytes elided", "b: b4"})
	later := s.Writer("c") // the job's budget is spent
	write(t, later, "c1\n", "c2")
	later.Close()
	equal(t, "c closed", c.take(), []string{"c: [narwhal] 6 bytes elided"})
}

func TestLineLongerThanTailIsElided(t *testing.T) {
	t.Parallel()
	var c collector
	w := New(10, nil, c.deliver).Writer("s") // head 5, tail 5
	write(t, w, "abcdefgh\n", "x\n")
	w.Close()
	equal(t, "lines", c.take(), []string{"s: [narwhal] 9 bytes elided", "s: x"})
}

func TestConcurrentWritesKeepLinesWhole(t *testing.T) {
	t.Parallel()
	var c collector
	w := New(0, nil, c.deliver).Writer("s")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Close()
	lines := c.take()
	if len(lines) != 1600 {
		t.Fatalf("%d lines, want 1600", len(lines))
	}
	for _, l := range lines {
		var g, i int
		if _, err := fmt.Sscanf(l, "s: g%d line %d", &g, &i); err != nil {
			t.Fatalf("mangled line %q: %v", l, err)
		}
	}
}

func TestConstantMemory(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	var delivered int64
	s := New(limit, []string{"secret"}, func(_ string, line []byte) { delivered += int64(len(line)) + 1 })
	w := s.Writer("s")
	chunk := bytes.Repeat([]byte(strings.Repeat("x", 89)+" secret!\n"), 300)
	for range 20 << 20 / len(chunk) {
		w.Write(chunk)
	}
	if len(s.tail.buf) > limit/2 {
		t.Fatalf("tail buffer %d bytes, cap %d", len(s.tail.buf), limit/2)
	}
	w.Close()
	if delivered > limit+64 {
		t.Fatalf("delivered %d bytes, limit %d", delivered, limit)
	}
}

func TestMaskerHidesBase64Forms(t *testing.T) {
	t.Parallel()
	secret := "hunter2?>" // its std and URL encodings differ ("?>" encodes to "/" and "+" bits)
	m := NewMasker([]string{secret})
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		line := "auth: " + enc.EncodeToString([]byte(secret)) + " end"
		if got := m.String(line); got != "auth: "+Mask+" end" {
			t.Errorf("%q masked to %q", line, got)
		}
	}
	if got := m.String("plain " + secret); got != "plain "+Mask {
		t.Errorf("plain form masked to %q", got)
	}
	if got := NewMasker([]string{"ab"}).String("YWI ab"); got != "YWI "+Mask {
		t.Errorf("an encoding shorter than 4 is masked: %q", got)
	}
}

// TestMasksEveryLineOfABlock: lines that come many to a write, with secrets
// (plain and base64) at their ends, at their starts and side by side across
// a newline, are each masked as Mask masks the line alone, wherever the
// writes are cut, in the head and in the tail: what is delivered is the
// masked lines' head, the elision marker, then their tail.
func TestMasksEveryLineOfABlock(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter2", "s3cr3t-v4lue"}
	m := NewMasker(secrets)
	b64 := base64.StdEncoding.EncodeToString([]byte("s3cr3t-v4lue"))
	var lines, want []string
	for i := range 3000 {
		lines = append(lines, fmt.Sprintf("%d hunter2", i), "hunter2"+b64, fmt.Sprintf("%d ok s3cr3t-v4l", i), "ue", "")
	}
	for _, l := range lines {
		want = append(want, "s: "+string(m.Mask([]byte(l))))
	}
	text := strings.Join(lines, "\n") + "\n"
	for _, limit := range []int64{0, 40 << 10, 200 << 10} {
		rng := rand.New(rand.NewPCG(uint64(limit), 3))
		var c collector
		w := New(limit, secrets, c.deliver).Writer("s")
		for rest := text; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(8000))
			write(t, w, rest[:n])
			rest = rest[n:]
		}
		w.Close()
		got := c.take()
		head := slices.IndexFunc(got, func(l string) bool { return strings.HasPrefix(l, "s: "+Prefix) })
		if head < 0 {
			equal(t, fmt.Sprintf("limit %d, all delivered", limit), got, want)
			continue
		}
		tail := len(got) - head - 1
		equal(t, fmt.Sprintf("limit %d, head", limit), got[:head], want[:head])
		equal(t, fmt.Sprintf("limit %d, tail", limit), got[head+1:], want[len(want)-tail:])
		if limit == 0 || tail == 0 {
			t.Fatalf("limit %d: head %d, tail %d lines", limit, head, tail)
		}
	}
}

// TestBlockScratchIsBounded: a write of megabytes of lines, each with a
// secret, is masked in blocks of about maxBlock, so the writer keeps no
// buffer the size of the write.
func TestBlockScratchIsBounded(t *testing.T) {
	t.Parallel()
	var lines int
	w := New(0, []string{"hunter2"}, func(string, []byte) { lines++ }).Writer("s")
	write(t, w, strings.Repeat("token hunter2 and some text\n", 100_000)) // 2.8 MB
	if c := cap(w.scratch); c > 2*maxBlock {
		t.Errorf("scratch of %d bytes after a write of 2.8 MB; want at most %d", c, 2*maxBlock)
	}
	w.Close()
	if lines != 100_000 {
		t.Errorf("%d lines delivered, want 100000", lines)
	}
}

// TestMaskedLinesMatchLineByLine: masking a block of lines at once gives
// what masking each line alone gives, for secrets that overlap, nest, sit
// side by side and end lines, over random text of their letters.
func TestMaskedLinesMatchLineByLine(t *testing.T) {
	t.Parallel()
	m := NewMasker([]string{"abc", "bcd", "cab", "dd", "abcdabcd"})
	rng := rand.New(rand.NewPCG(4, 4))
	for range 2000 {
		var block, want []byte
		for range 1 + rng.IntN(6) {
			line := make([]byte, rng.IntN(30))
			for i := range line {
				line[i] = "abcd"[rng.IntN(4)]
			}
			block = append(append(block, line...), '\n')
			want = append(append(want, m.Mask(line)...), '\n')
		}
		got, masked := m.appendMaskedLines(nil, block)
		if !bytes.Equal(got, want) || masked != !bytes.Equal(block, want) {
			t.Fatalf("block %q masked to %q (masked %v), want %q", block, got, masked, want)
		}
	}
}

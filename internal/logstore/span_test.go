package logstore

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlan checks the offset arithmetic at every offset and several limits
// against slicing the concatenated log.
func TestPlan(t *testing.T) {
	contents := []string{"abc", "", "defgh", "i", "", "jklmnop"}
	var chunks []Chunk
	for seq, c := range contents {
		chunks = append(chunks, Chunk{Seq: seq, Size: int64(len(c))})
	}
	whole := strings.Join(contents, "")
	for off := 0; off <= len(whole)+2; off++ {
		for limit := 1; limit <= len(whole)+1; limit++ {
			spans, total := Plan(chunks, int64(off), limit)
			if total != int64(len(whole)) {
				t.Fatalf("total = %d, want %d", total, len(whole))
			}
			var got strings.Builder
			for _, sp := range spans {
				if sp.Len <= 0 {
					t.Errorf("Plan(%d, %d): empty span %+v", off, limit, sp)
				}
				got.WriteString(contents[sp.Seq][sp.Off : sp.Off+sp.Len])
			}
			want := ""
			if off < len(whole) {
				want = whole[off:min(off+limit, len(whole))]
			}
			if got.String() != want {
				t.Errorf("Plan(%d, %d) reads %q, want %q", off, limit, got.String(), want)
			}
		}
	}
}

func TestPlanSpans(t *testing.T) {
	chunks := []Chunk{{Seq: 0, Size: 4}, {Seq: 1, Size: 4}, {Seq: 2, Size: 4}}
	spans, _ := Plan(chunks, 2, 7)
	want := []Span{{Seq: 0, Off: 2, Len: 2}, {Seq: 1, Off: 0, Len: 4}, {Seq: 2, Off: 0, Len: 1}}
	if !slices.Equal(spans, want) {
		t.Errorf("spans = %+v, want %+v", spans, want)
	}
	if spans, _ := Plan(nil, 0, 10); len(spans) != 0 {
		t.Errorf("empty log: spans %+v", spans)
	}
}

func TestComplete(t *testing.T) {
	for _, tc := range []struct {
		finished bool
		off      int64
		n        int
		total    int64
		want     bool
	}{
		{true, 0, 10, 10, true},
		{true, 0, 9, 10, false},
		{true, 12, 0, 10, true},
		{false, 0, 10, 10, false},
		{true, 0, 0, 0, true},
	} {
		if got := Complete(tc.finished, tc.off, tc.n, tc.total); got != tc.want {
			t.Errorf("Complete(%+v) = %v", tc, got)
		}
	}
}

func TestChunkNames(t *testing.T) {
	for _, seq := range []int{0, 7, 42, MaxSeq} {
		name := ChunkName(seq)
		if len(name) != SeqDigits+4 {
			t.Errorf("ChunkName(%d) = %q", seq, name)
		}
		if got, ok := ParseChunkName(name); !ok || got != seq {
			t.Errorf("ParseChunkName(%q) = %d, %v", name, got, ok)
		}
	}
	for _, name := range []string{CompleteName, ".tmp-123", "1.log", "0000000a.log", "00000001.log.tmp"} {
		if _, ok := ParseChunkName(name); ok {
			t.Errorf("ParseChunkName(%q) accepted", name)
		}
	}
	if ChunkName(1) >= ChunkName(10) || ChunkName(99) >= CompleteName {
		t.Error("chunk names do not sort by seq, or not before the completion marker")
	}
}

// TestLineTimes: each line gets the time of the chunk its first byte is in,
// a read that starts inside a chunk included, and a cut last line counts.
func TestLineTimes(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	chunks := []Chunk{{Seq: 0, Size: 8, Written: t0}, {Seq: 1, Size: 6, Written: t0.Add(time.Second)}}
	log := "a | 1\nb\nc | 22\n" // lines start at 0, 6 and 8; chunk 1 starts at 8
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	if got, want := LineTimes(chunks, 0, []byte(log)), []int64{ms(0), ms(0), ms(time.Second)}; !slices.Equal(got, want) {
		t.Errorf("from 0: %v, want %v", got, want)
	}
	if got, want := LineTimes(chunks, 6, []byte(log[6:11])), []int64{ms(0), ms(time.Second)}; !slices.Equal(got, want) {
		t.Errorf("from 6: %v, want %v", got, want)
	}
}

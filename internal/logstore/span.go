package logstore

import (
	"context"
	"time"
)

// Chunk describes one stored chunk of a log: its number, its size and when
// it was stored (the Shipper seals a chunk at most FlushEvery after its first
// line, so that is when its lines were logged, to about a second). Last
// marks the chunk that the completion marker holds (PutLast).
type Chunk struct {
	Seq     int
	Size    int64
	Written time.Time
	Last    bool
}

// WithMarker returns chunks (the ordinary chunks of a log, in seq order)
// followed by the completion marker's bytes as the last chunk, when the
// marker holds any: size and written are the marker's.
func WithMarker(chunks []Chunk, size int64, written time.Time) []Chunk {
	if size <= 0 {
		return chunks
	}
	return append(chunks, Chunk{Seq: len(chunks), Size: size, Written: written, Last: true})
}

// Timed is a Store whose Read can also give the log's chunks, with their
// times, from the listing the read makes anyway; both of ours are. The API
// answers ?times=1 with it (the dashboard's time on a line's hover).
type Timed interface {
	ReadTimed(ctx context.Context, jobID string, offset int64, limit int) (data []byte, complete bool, chunks []Chunk, err error)
}

// LineTimes returns, for each line of data (the log read at offset; a last
// line without its newline counts), the time its first byte's chunk was
// written, in Unix milliseconds.
func LineTimes(chunks []Chunk, offset int64, data []byte) []int64 {
	var times []int64
	var start int64 // offset of chunk i in the log
	i := 0
	at := offset
	for len(data) > 0 {
		for i < len(chunks) && start+chunks[i].Size <= at {
			start += chunks[i].Size
			i++
		}
		var ms int64
		if i < len(chunks) {
			ms = chunks[i].Written.UnixMilli()
		}
		times = append(times, ms)
		n := len(data)
		for j, b := range data {
			if b == '\n' {
				n = j + 1
				break
			}
		}
		data, at = data[n:], at+int64(n)
	}
	return times
}

// Span is the part of one chunk that a Read returns: Len bytes from byte Off
// of chunk Seq, which is in the completion marker when Last.
type Span struct {
	Seq      int
	Last     bool
	Off, Len int64
}

// File is the file or object name that holds the span's chunk.
func (sp Span) File() string { return FileName(sp.Seq, sp.Last) }

// Plan maps a Read of up to limit bytes at offset onto the chunks (in seq
// order) and returns the spans to read, in order, and the total size of the
// log. Store implementations share it so that the offset arithmetic lives in
// one pure, table-tested place.
func Plan(chunks []Chunk, offset int64, limit int) (spans []Span, total int64) {
	want := int64(limit)
	var start int64 // offset of the current chunk in the log
	for _, c := range chunks {
		end := start + c.Size
		if want > 0 && offset < end && c.Size > 0 {
			off := max(offset-start, 0)
			n := min(c.Size-off, want)
			spans = append(spans, Span{Seq: c.Seq, Last: c.Last, Off: off, Len: n})
			want -= n
		}
		start = end
	}
	return spans, start
}

// Complete reports whether a Read at offset that returned n bytes reached the
// end of a finished log of total bytes.
func Complete(finished bool, offset int64, n int, total int64) bool {
	return finished && offset+int64(n) >= total
}

package logstore

// Chunk describes one stored chunk of a log: its number and its size.
type Chunk struct {
	Seq  int
	Size int64
}

// Span is the part of one chunk that a Read returns: Len bytes from byte Off
// of chunk Seq.
type Span struct {
	Seq      int
	Off, Len int64
}

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
			spans = append(spans, Span{Seq: c.Seq, Off: off, Len: n})
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

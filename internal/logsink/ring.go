package logsink

import (
	"bytes"
	"slices"
)

// minRing is the first size of a tail buffer; it doubles up to its max.
const minRing = 64 << 10

// maxRunsPer bounds the run list: at most one run per maxRunsPer bytes of
// the tail (plus a floor), so tiny interleaved lines cannot grow it without
// bound. Beyond it the oldest run is dropped.
const maxRunsPer = 256

// run is a stretch of consecutive tail bytes written by one step.
type run struct {
	w *Writer
	n int // bytes, newlines included
}

// ring is the tail: a circular byte buffer of newline-terminated lines and
// the list of runs saying whose they are, oldest first. It grows lazily up
// to max bytes. The Sink's lock guards it.
type ring struct {
	max   int
	buf   []byte
	start int // offset in buf of the oldest byte
	size  int // bytes held
	runs  []run
}

// add appends line and a newline for w, first dropping the oldest lines so
// that at most limit bytes are held. A line that cannot fit is dropped.
func (r *ring) add(w *Writer, line []byte, limit int) {
	n := len(line) + 1
	if n > limit {
		w.elided += int64(n)
		return
	}
	r.grow(min(r.size+n, limit))
	if over := r.size + n - limit; over > 0 {
		r.drop(over)
	}
	if last := len(r.runs) - 1; last < 0 || r.runs[last].w != w {
		if len(r.runs) >= r.max/maxRunsPer+64 {
			r.drop(r.runs[0].n)
		}
		r.runs = append(r.runs, run{w: w})
	}
	r.write(line)
	r.write([]byte{'\n'})
	r.runs[len(r.runs)-1].n += n
	w.queued += n
}

// addLines is add for each line of block (whole lines, each ending in a
// newline and fitting in limit), when the newest run is w's: the ring ends up
// holding the newest lines, of the ring and of block, that fit in limit.
func (r *ring) addLines(w *Writer, block []byte, limit int) {
	if over := len(block) - limit; over > 0 {
		cut := over + bytes.IndexByte(block[over-1:], '\n')
		w.elided += int64(cut)
		block = block[cut:]
		r.drop(r.size) // the lines cut from block pushed all of the ring out
	}
	n := len(block)
	r.grow(min(r.size+n, limit))
	if over := r.size + n - limit; over > 0 {
		r.drop(over)
	}
	if last := len(r.runs) - 1; last < 0 || r.runs[last].w != w {
		r.runs = append(r.runs, run{w: w})
	}
	r.write(block)
	r.runs[len(r.runs)-1].n += n
	w.queued += n
}

// grow makes the buffer hold at least need bytes, keeping the data.
func (r *ring) grow(need int) {
	if len(r.buf) >= need {
		return
	}
	buf := make([]byte, min(max(2*len(r.buf), minRing, need), r.max))
	if r.size > 0 { // the data, oldest first: to the end of buf, then from its start
		n := copy(buf, r.buf[r.start:min(r.start+r.size, len(r.buf))])
		copy(buf[n:], r.buf[:r.size-n])
	}
	r.buf, r.start = buf, 0
}

// write appends b at the end of the data, wrapping around. The room exists.
func (r *ring) write(b []byte) {
	end := (r.start + r.size) % len(r.buf)
	k := copy(r.buf[end:], b)
	copy(r.buf, b[k:])
	r.size += len(b)
}

// drop removes at least k bytes of whole lines from the front, counting them
// as elided for the steps that wrote them.
func (r *ring) drop(k int) {
	for k > 0 && len(r.runs) > 0 {
		f := &r.runs[0]
		cut := f.n
		if cut > k {
			cut = r.indexNL(k-1) + 1
		}
		f.n -= cut
		f.w.elided += int64(cut)
		f.w.queued -= cut
		r.start = (r.start + cut) % len(r.buf)
		r.size -= cut
		k -= cut
		if f.n == 0 {
			r.runs = r.runs[1:]
		}
	}
}

// indexNL returns the offset, from the oldest byte, of the first newline at
// or after off, or -1.
func (r *ring) indexNL(off int) int {
	for off < r.size {
		p := (r.start + off) % len(r.buf)
		end := min(len(r.buf), p+r.size-off)
		if i := bytes.IndexByte(r.buf[p:end], '\n'); i >= 0 {
			return off + i
		}
		off += end - p
	}
	return -1
}

// linearize moves the data to the start of the buffer, in place.
func (r *ring) linearize() {
	switch {
	case r.start == 0:
	case r.start+r.size <= len(r.buf):
		copy(r.buf, r.buf[r.start:r.start+r.size])
	default:
		slices.Reverse(r.buf[:r.start])
		slices.Reverse(r.buf[r.start:])
		slices.Reverse(r.buf)
	}
	r.start = 0
}

// extract delivers w's lines, oldest first, removes them from the ring and
// returns how many bytes they took.
func (r *ring) extract(w *Writer, deliver Deliver) int {
	r.linearize()
	kept, got, off, dst := r.runs[:0], 0, 0, 0
	for _, rn := range r.runs {
		data := r.buf[off : off+rn.n]
		off += rn.n
		if rn.w != w {
			dst += copy(r.buf[dst:], data)
			kept = append(kept, rn)
			continue
		}
		got += rn.n
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			deliver(w.name, data[:i])
			data = data[i+1:]
		}
	}
	clear(r.runs[len(kept):])
	r.runs, r.size = kept, dst
	w.queued = 0
	return got
}

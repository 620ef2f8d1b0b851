package logsink

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"slices"
	"strings"
)

// Mask replaces every secret value in a log line.
const Mask = "********"

// Masker hides secret values in log lines. It is safe for concurrent use.
type Masker struct {
	secrets [][]byte // longest first, each non-empty and without newlines
}

// NewMasker returns a Masker for the given secret values and their base64
// forms (standard and URL alphabets, padded and not), so that a step that
// encodes a secret (`base64`, an HTTP basic auth header) does not show it
// either. Empty values are ignored. A value spanning several lines is masked
// line by line, since logs are masked one line at a time.
func NewMasker(values []string) *Masker {
	seen := map[string]bool{}
	m := &Masker{}
	for _, v := range values {
		for _, form := range forms(v) {
			for _, part := range strings.Split(form, "\n") {
				part = strings.TrimSuffix(part, "\r")
				if part == "" || seen[part] {
					continue
				}
				seen[part] = true
				m.secrets = append(m.secrets, []byte(part))
			}
		}
	}
	slices.SortFunc(m.secrets, func(a, b []byte) int { return cmp.Compare(len(b), len(a)) })
	return m
}

// forms are the texts of v that are masked: v itself and its base64
// encodings. Encodings of fewer than 4 bytes are left out: they would mask
// common short words.
func forms(v string) []string {
	if v == "" {
		return nil
	}
	out := []string{v}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if e := enc.EncodeToString([]byte(v)); len(e) >= 4 {
			out = append(out, e)
		}
	}
	return out
}

// Mask returns line with every occurrence of a secret replaced by Mask.
// Overlapping and adjacent occurrences become a single Mask. When nothing
// matches, line itself is returned.
func (m *Masker) Mask(line []byte) []byte {
	out, _ := m.appendMasked(nil, line)
	return out
}

// String is Mask for strings.
func (m *Masker) String(s string) string {
	if len(m.secrets) == 0 {
		return s
	}
	out, masked := m.appendMasked(nil, []byte(s))
	if !masked {
		return s
	}
	return string(out)
}

// appendMaskedLines is appendMasked for a block of whole lines: since no
// secret holds a newline, it masks each line as appendMasked would mask it
// alone. It walks the occurrences of all secrets in the order they start (a
// merge of each secret's next occurrence, without collecting them), so a
// block with many secrets costs no sorting and no allocation beyond dst.
func (m *Masker) appendMaskedLines(dst, block []byte) ([]byte, bool) {
	var small [16]int
	next := small[:0] // each secret's next occurrence, or -1
	if len(m.secrets) > len(small) {
		next = make([]int, 0, len(m.secrets))
	}
	for _, s := range m.secrets {
		next = append(next, bytes.Index(block, s))
	}
	cur, last, masked := span{-1, -1}, 0, false
	for {
		j := firstOccurrence(next)
		if j < 0 {
			break
		}
		sp := span{next[j], next[j] + len(m.secrets[j])}
		if i := bytes.Index(block[sp.start+1:], m.secrets[j]); i >= 0 {
			next[j] = sp.start + 1 + i
		} else {
			next[j] = -1
		}
		if cur.start >= 0 && sp.start <= cur.end { // overlapping or adjacent: one Mask
			cur.end = max(cur.end, sp.end)
			continue
		}
		if cur.start >= 0 {
			dst, last = append(append(dst, block[last:cur.start]...), Mask...), cur.end
		}
		cur, masked = sp, true
	}
	if !masked {
		return block, false
	}
	dst = append(append(dst, block[last:cur.start]...), Mask...)
	return append(dst, block[cur.end:]...), true
}

// firstOccurrence returns the index of the smallest offset of next that is
// not -1, or -1 when all are.
func firstOccurrence(next []int) int {
	j := -1
	for i, n := range next {
		if n >= 0 && (j < 0 || n < next[j]) {
			j = i
		}
	}
	return j
}

// span is a half-open byte range of a line.
type span struct{ start, end int }

// appendMasked appends the masked line to dst and reports true, or returns
// line unchanged and false when it holds no secret. The common case (no
// secret) allocates nothing.
func (m *Masker) appendMasked(dst, line []byte) ([]byte, bool) {
	out, masked, _ := m.appendMaskedChunk(dst, line, len(line), 0)
	return out, masked
}

// hold is how many bytes past a chunk's end a secret that starts in the chunk
// can reach: the longest secret's length minus one.
func (m *Masker) hold() int {
	if len(m.secrets) == 0 {
		return 0
	}
	return len(m.secrets[0]) - 1
}

// appendMaskedChunk is appendMasked for window[:n], one chunk of a line split
// at n: secrets are found in all of window, which runs up to hold() bytes
// past n (or to the line's end), and masked where they overlap [0, n); the
// first carry bytes are masked too (the rest of a secret that the previous
// chunk began). next is how far the masking runs past n: the carry of the
// chunk that starts at n.
func (m *Masker) appendMaskedChunk(dst, window []byte, n, carry int) (out []byte, masked bool, next int) {
	var small [8]span
	spans := small[:0]
	if carry > 0 {
		spans = append(spans, span{0, carry})
	}
	for _, s := range m.secrets {
		for off := 0; off < n; {
			i := bytes.Index(window[off:], s)
			if i < 0 || off+i >= n {
				break
			}
			spans = append(spans, span{off + i, off + i + len(s)})
			off += i + 1
		}
	}
	if len(spans) == 0 {
		return window[:n], false, 0
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	last := 0
	for i := 0; i < len(spans); {
		cur := spans[i]
		for i++; i < len(spans) && spans[i].start <= cur.end; i++ {
			cur.end = max(cur.end, spans[i].end)
		}
		dst = append(dst, window[last:cur.start]...)
		dst = append(dst, Mask...)
		last, next = min(cur.end, n), max(next, cur.end-n)
	}
	return append(dst, window[last:n]...), true, next
}

package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// On disk the queue is a series of segment files, <20-digit seq of its first
// message>.seg, each holding frames one after the other: the messages of
// seq, seq+1, ... in order. Names sort like numbers, so a directory listing
// is the queue. A batch of messages enqueued together is appended to the
// newest segment as one write and synced once. A frame is
//
//	length  uint32, little-endian: the bytes of payload
//	crc     uint32, little-endian: CRC-32C of payload
//	payload version byte (2), then key, id and body, each a uvarint length
//	        and its bytes, then a uvarint count of headers and each header's
//	        name and value, likewise
//
// A write cut short by a crash leaves a frame that is short or fails its
// CRC at the end of the segment: it, and anything after it, was never
// acknowledged and is ignored. A frame that fails its CRC but is followed by
// a good one is damage, kept aside by delivery (dir/corrupt). The file acked
// holds the seq of the last message delivered (formatAcked), written after
// deliveries and never synced: losing it to a crash only sends messages
// again. Batch files of the first format (legacy.go) are turned into a
// segment at Open.
const (
	seqDigits  = 20 // enough for any uint64
	segSuffix  = ".seg"
	tempPrefix = ".tmp-"
	corruptDir = "corrupt"
	ackedName  = "acked"

	frameHeader   = 8
	frameVersion  = 2
	maxFrame      = 64 << 20 // a larger length is a torn or corrupt frame
	segmentTarget = 1 << 20  // a segment takes no new batch once this big
)

var segPattern = regexp.MustCompile(`^[0-9]{20}\.seg$`)

// errCorrupt marks a message that can never be decoded.
var errCorrupt = errors.New("corrupt message")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(seq uint64) string { return fmt.Sprintf("%0*d%s", seqDigits, seq, segSuffix) }

// parseSeq returns the seq of a name of the form <20 digits><suffix>.
func parseSeq(name, suffix string) (uint64, error) {
	return strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
}

// appendFrame appends m's frame to buf.
func appendFrame(buf []byte, m ci.Message) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0) // the header, filled in below
	buf = append(buf, frameVersion)
	buf = appendString(buf, m.Key)
	buf = appendString(buf, m.ID)
	buf = appendString(buf, string(m.Body))
	buf = binary.AppendUvarint(buf, uint64(len(m.Headers)))
	for k, v := range m.Headers {
		buf = appendString(appendString(buf, k), v)
	}
	payload := buf[start+frameHeader:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// nextFrame returns the length of the whole frame at the start of data, or
// false when data holds no whole frame with a good CRC there (the end of a
// segment, or a torn write).
func nextFrame(data []byte) (int, bool) {
	if len(data) < frameHeader {
		return 0, false
	}
	n := binary.LittleEndian.Uint32(data)
	if n == 0 || n > maxFrame || uint64(len(data)-frameHeader) < uint64(n) {
		return 0, false
	}
	payload := data[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[4:]) {
		return 0, false
	}
	return frameHeader + int(n), true
}

// decodeFrame decodes one whole frame. A frame that does not check or
// decode is errCorrupt.
func decodeFrame(frame []byte) (ci.Message, error) {
	if n, ok := nextFrame(frame); !ok || n != len(frame) {
		return ci.Message{}, fmt.Errorf("%w: bad frame", errCorrupt)
	}
	d := decoder{b: frame[frameHeader:]}
	if v := d.byte(); v != frameVersion {
		return ci.Message{}, fmt.Errorf("%w: version %d", errCorrupt, v)
	}
	m := ci.Message{Key: d.string(), ID: d.string(), Body: []byte(d.string())}
	if n := d.uvarint(); n > 0 && d.err == nil {
		m.Headers = make(map[string]string, min(n, 64))
		for range n {
			k := d.string()
			m.Headers[k] = d.string()
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return ci.Message{}, fmt.Errorf("%w: %v", errCorrupt, d.err)
	}
	return m, nil
}

// decoder reads the fields of a payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = cmpErr(d.err, errors.New("short payload"))
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad length")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = cmpErr(d.err, errors.New("short payload"))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func cmpErr(err, other error) error {
	if err != nil {
		return err
	}
	return other
}

// frameSpan is where one message's frame is in its segment.
type frameSpan struct {
	off int64
	n   int
}

// readSegment returns the frames of segment seq up to the first one that is
// not whole (a torn write) and whether such a tail was there.
func readSegment(dir string, seq uint64) (spans []frameSpan, torn bool, err error) {
	data, err := os.ReadFile(filepath.Join(dir, segmentName(seq)))
	if err != nil {
		return nil, false, err
	}
	off := 0
	for off < len(data) {
		n, ok := nextFrame(data[off:])
		if !ok {
			n, ok = damagedFrame(data[off:])
		}
		if !ok {
			return spans, true, nil
		}
		spans = append(spans, frameSpan{off: int64(off), n: n})
		off += n
	}
	return spans, false, nil
}

// damagedFrame returns the length of a frame at the start of data that fails
// its CRC but is followed by a good frame: damage in the middle of a
// segment, which delivery keeps aside, rather than its torn end.
func damagedFrame(data []byte) (int, bool) {
	if len(data) < frameHeader {
		return 0, false
	}
	n := uint64(binary.LittleEndian.Uint32(data)) + frameHeader
	if n == frameHeader || n > maxFrame || n > uint64(len(data)) {
		return 0, false
	}
	_, ok := nextFrame(data[n:])
	return int(n), ok
}

// createSegment creates the empty segment file of seq and syncs the
// directory, so that the file is there after a crash once this returns.
func createSegment(dir string, seq uint64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, segmentName(seq)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return f, nil
}

// removeSegment deletes a segment whose messages were all delivered. Losing
// the removal in a crash costs nothing: acked says they were delivered.
func removeSegment(dir string, seq uint64) error {
	err := os.Remove(filepath.Join(dir, segmentName(seq)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// readAcked returns the seq in the acked file, 0 when there is none or it
// does not check (then delivered messages may go out again, never fewer).
func readAcked(dir string) uint64 {
	data, err := os.ReadFile(filepath.Join(dir, ackedName))
	if err != nil {
		return 0
	}
	digits, sum, ok := strings.Cut(strings.TrimSpace(string(data)), " ")
	if !ok || sum != fmt.Sprintf("%08x", crc32.Checksum([]byte(digits), castagnoli)) {
		return 0
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0
	}
	return seq
}

// formatAcked is the content of the acked file for seq: 20 digits, a space,
// their CRC-32C in hex and a newline, always 30 bytes, so that each write
// replaces the last whole and a mix of two is never taken for a later seq.
func formatAcked(seq uint64) []byte {
	digits := fmt.Sprintf("%0*d", seqDigits, seq)
	return fmt.Appendf(nil, "%s %08x\n", digits, crc32.Checksum([]byte(digits), castagnoli))
}

// keepAside stores a frame that can never be sent as dir/corrupt/<seq>.frame,
// where it waits for a human.
func keepAside(dir string, seq uint64, frame []byte) error {
	aside := filepath.Join(dir, corruptDir)
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(aside, fmt.Sprintf("%0*d.frame", seqDigits, seq)), frame, 0o600)
}

// syncDir makes the directory's entries (a new file, a rename) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

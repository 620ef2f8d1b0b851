package outbox

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/reserve"
)

// segWriter is the newest segment, the one batches are appended to. Only the
// Enqueue writing a batch touches it (Open and Close while none does).
type segWriter struct {
	seq  uint64 // of its first message: its name
	f    *os.File
	size int64 // bytes written and synced
}

// write appends the frames of a batch, messages seq onwards, to the newest
// segment (a new one when there is none or it is full) and syncs it: one
// write and one sync for the whole batch. A write that fails for want of
// space releases the reserve and is tried once more, over the same bytes.
// After a failure the segment takes no more batches, as its end may hold
// part of this one. It returns the segment and the offset of the frames.
func (o *Outbox) write(seq uint64, n int, frames []byte) (seg uint64, off int64, err error) {
	seg, off, err = o.append(seq, frames)
	if err != nil && reserve.NoSpace(err) && o.spare.Release() {
		seg, off, err = o.append(seq, frames)
	}
	if err != nil {
		o.retire()
		return 0, 0, fmt.Errorf("write messages %d-%d: %w", seq, seq+uint64(n)-1, err)
	}
	return seg, off, nil
}

// append writes frames at the end of the newest segment and syncs it.
func (o *Outbox) append(seq uint64, frames []byte) (uint64, int64, error) {
	if o.active == nil || o.active.size >= segmentTarget {
		if err := o.roll(seq); err != nil {
			return 0, 0, err
		}
	}
	w := o.active
	if _, err := w.f.WriteAt(frames, w.size); err != nil {
		return 0, 0, err
	}
	if err := w.f.Sync(); err != nil {
		return 0, 0, fmt.Errorf("sync segment: %w", err)
	}
	off := w.size
	w.size += int64(len(frames))
	return w.seq, off, nil
}

// roll starts the segment of seq and retires the newest one.
func (o *Outbox) roll(seq uint64) error {
	f, err := createSegment(o.dir, seq)
	if err != nil {
		return err
	}
	o.retire()
	o.active = &segWriter{seq: seq, f: f}
	o.mu.Lock()
	o.activeSeq = seq
	o.mu.Unlock()
	return nil
}

// retire closes the newest segment, which takes no more batches; it is
// removed at once when all of it was delivered, else by the delivery of its
// last message.
func (o *Outbox) retire() {
	w := o.active
	if w == nil {
		return
	}
	o.active = nil
	w.f.Close()
	o.mu.Lock()
	o.activeSeq = 0
	done := o.remaining[w.seq] == 0
	if done {
		delete(o.remaining, w.seq)
	}
	o.mu.Unlock()
	if done {
		o.removeSegment(w.seq)
	}
}

// removeSegment deletes a delivered segment and takes the reserve back.
func (o *Outbox) removeSegment(seq uint64) {
	if err := removeSegment(o.dir, seq); err != nil {
		// acked says its messages were delivered: the next Open skips
		// them and removes it.
		o.log.Error("outbox: cannot remove a delivered segment", "segment", segmentName(seq), "err", err)
	}
	o.spare.Restore()
}

// recovered is the queue Open finds in its directory.
type recovered struct {
	items     []item
	remaining map[uint64]int // segment → its messages not delivered yet
	nextSeq   uint64
}

// recoverQueue reads the queue in dir: it removes temporary files a crash
// left, turns batch files of the first format into a segment, and returns
// every message of the segments after the last one delivered (acked), in
// order. Delivered segments are removed, and a segment's torn end (a write
// a crash cut short, never acknowledged) is ignored.
func recoverQueue(dir string, logger *slog.Logger) (recovered, error) {
	if err := removeTemps(dir, logger); err != nil {
		return recovered{}, err
	}
	if err := migrateLegacy(dir, logger); err != nil {
		return recovered{}, err
	}
	acked := readAcked(dir)
	segs, err := segmentFiles(dir)
	if err != nil {
		return recovered{}, err
	}
	r := recovered{remaining: map[uint64]int{}, nextSeq: acked + 1}
	for _, seg := range segs {
		if err := r.add(dir, seg, acked, logger); err != nil {
			return recovered{}, err
		}
	}
	return r, nil
}

// add queues the messages of segment seg after acked, or removes the
// segment when it holds none.
func (r *recovered) add(dir string, seg, acked uint64, logger *slog.Logger) error {
	spans, torn, err := readSegment(dir, seg)
	if err != nil {
		return fmt.Errorf("read %s: %w", segmentName(seg), err)
	}
	if torn {
		logger.Warn("outbox: ignoring the unfinished write at the end of a segment",
			"segment", segmentName(seg), "messages", len(spans))
	}
	r.nextSeq = max(r.nextSeq, seg+uint64(max(len(spans), 1)))
	for i, sp := range spans {
		if seq := seg + uint64(i); seq > acked {
			r.items = append(r.items, item{seq: seq, seg: seg, off: sp.off, n: sp.n})
			r.remaining[seg]++
		}
	}
	if r.remaining[seg] == 0 {
		return removeSegment(dir, seg)
	}
	return nil
}

// removeTemps removes the temporary files of writes a crash interrupted.
func removeTemps(dir string, logger *slog.Logger) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			logger.Warn("outbox: removing an unfinished write", "file", e.Name())
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// segmentFiles returns the seqs of the segments in dir, in order.
func segmentFiles(dir string) ([]uint64, error) {
	return numberedFiles(dir, segPattern, segSuffix, "segment")
}

// numberedFiles returns, in order, the seqs of the files in dir whose names
// match pattern (a seq, then suffix); what names them in errors.
func numberedFiles(dir string, pattern *regexp.Regexp, suffix, what string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		if pattern.MatchString(e.Name()) {
			seq, err := parseSeq(e.Name(), suffix)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", what, e.Name(), err)
			}
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

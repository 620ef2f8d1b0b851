package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// The first format of the outbox: a batch of messages enqueued together is
// the file <20-digit seq of its first message>.msg holding their JSON records
// one after the other, separated by newlines. Open turns the batch files an
// earlier runnerd left into one segment (migrateLegacy), so that no report is
// lost across the upgrade; nothing writes them any more.
const (
	msgSuffix     = ".msg"
	legacyVersion = 1
)

var msgPattern = regexp.MustCompile(`^[0-9]{20}\.msg$`)

// record is a message in a batch file.
type record struct {
	V       int               `json:"v"`
	Key     string            `json:"key"`
	ID      string            `json:"id,omitempty"`
	Body    []byte            `json:"body"`
	Headers map[string]string `json:"headers,omitempty"`
}

func fileName(seq uint64) string { return fmt.Sprintf("%0*d%s", seqDigits, seq, msgSuffix) }

// migrateLegacy turns the batch files in dir into the segment of the first
// one's seq, oldest message first: the segment is written whole (a temporary
// file, synced, renamed, the directory synced), then the batch files are
// removed. A crash between the two leaves the segment and the files: the
// next Open finds the segment there and only removes the files. A batch file
// that cannot be decoded is moved to dir/corrupt.
func migrateLegacy(dir string, logger *slog.Logger) error {
	seqs, err := legacyFiles(dir)
	if err != nil || len(seqs) == 0 {
		return err
	}
	var msgs []ci.Message
	for _, seq := range seqs {
		batch, err := readMessages(dir, seq)
		if errors.Is(err, errCorrupt) {
			logger.Error("outbox: message file cannot be decoded; moved aside", "file", fileName(seq), "dir", corruptDir, "err", err)
			err = moveAside(dir, seq)
		}
		if err != nil {
			return fmt.Errorf("migrate %s: %w", fileName(seq), err)
		}
		msgs = append(msgs, batch...)
	}
	if err := writeSegmentOnce(dir, seqs[0], msgs); err != nil {
		return fmt.Errorf("migrate batch files: %w", err)
	}
	for _, seq := range seqs {
		os.Remove(filepath.Join(dir, fileName(seq)))
	}
	logger.Info("outbox: batch files of the first format turned into a segment", "files", len(seqs), "messages", len(msgs))
	return nil
}

// legacyFiles returns the seqs of the batch files in dir, in order.
func legacyFiles(dir string) ([]uint64, error) {
	return numberedFiles(dir, msgPattern, msgSuffix, "message file")
}

// writeSegmentOnce writes msgs as the segment of seq unless it exists.
func writeSegmentOnce(dir string, seq uint64, msgs []ci.Message) error {
	path := filepath.Join(dir, segmentName(seq))
	if _, err := os.Stat(path); err == nil || len(msgs) == 0 {
		return nil
	}
	var data []byte
	for _, m := range msgs {
		data = appendFrame(data, m)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(dir)
}

// readMessages loads the batch file of seq. A file that does not decode,
// whole, is errCorrupt.
func readMessages(dir string, seq uint64) ([]ci.Message, error) {
	data, err := os.ReadFile(filepath.Join(dir, fileName(seq)))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var msgs []ci.Message
	for len(msgs) == 0 || dec.More() {
		m, err := decodeRecord(dec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileName(seq), err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// decodeRecord decodes the next record of a batch file.
func decodeRecord(dec *json.Decoder) (ci.Message, error) {
	var r record
	if err := dec.Decode(&r); err != nil {
		return ci.Message{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if r.V != legacyVersion {
		return ci.Message{}, fmt.Errorf("%w: version %d", errCorrupt, r.V)
	}
	return ci.Message{Key: r.Key, ID: r.ID, Body: r.Body, Headers: r.Headers}, nil
}

// moveAside moves batch file seq into dir/corrupt, where it waits for a human.
func moveAside(dir string, seq uint64) error {
	aside := filepath.Join(dir, corruptDir)
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(dir, fileName(seq)), filepath.Join(aside, fileName(seq))); err != nil {
		return err
	}
	return syncDir(dir)
}

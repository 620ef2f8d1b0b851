package outbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// On disk, a batch of messages enqueued together is the file <20-digit seq of
// its first message>.msg holding their JSON records one after the other, in
// order, separated by newlines (a batch of one is one record); names sort like
// numbers, so a directory listing is the queue.
const (
	seqDigits  = 20 // enough for any uint64
	msgSuffix  = ".msg"
	tempPrefix = ".tmp-"
	corruptDir = "corrupt"
	version    = 1
)

var msgPattern = regexp.MustCompile(`^[0-9]{20}\.msg$`)

// errCorrupt marks a message file that can never be decoded.
var errCorrupt = errors.New("corrupt message file")

// record is the file format of a message. It is versioned and spelled out
// here rather than taken from ci.Message, so that the format stays stable.
type record struct {
	V       int               `json:"v"`
	Key     string            `json:"key"`
	ID      string            `json:"id,omitempty"`
	Body    []byte            `json:"body"`
	Headers map[string]string `json:"headers,omitempty"`
}

func fileName(seq uint64) string { return fmt.Sprintf("%0*d%s", seqDigits, seq, msgSuffix) }

// batchFile is one file of the queue: the seq of its first message and how
// many messages it holds.
type batchFile struct {
	seq uint64
	n   int
}

// scan returns the message files in dir, oldest first, and removes
// temporary files left by a crash in the middle of a write. A file that
// cannot be decoded counts as one message (delivery moves it aside).
func scan(dir string, logger *slog.Logger) ([]batchFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []batchFile
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			logger.Warn("outbox: removing an unfinished write", "file", name)
			os.Remove(filepath.Join(dir, name))
		case msgPattern.MatchString(name):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, msgSuffix), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("message file %s: %w", name, err)
			}
			msgs, _ := readMessages(dir, seq)
			files = append(files, batchFile{seq: seq, n: max(len(msgs), 1)})
		}
	}
	slices.SortFunc(files, func(a, b batchFile) int { return cmp.Compare(a.seq, b.seq) })
	return files, nil
}

// writeMessages stores msgs as the batch file of their first seq: written to
// a temporary file, synced, renamed into place and the directory synced, so
// that the batch is either absent or whole, and present after a crash once
// this returns nil. Two syncs for the whole batch, whatever its size.
func writeMessages(dir string, seq uint64, msgs []ci.Message) error {
	var data []byte
	for i, m := range msgs {
		rec, err := json.Marshal(record{V: version, Key: m.Key, ID: m.ID, Body: m.Body, Headers: m.Headers})
		if err != nil {
			return fmt.Errorf("encode message %s: %w", m.ID, err)
		}
		if i > 0 {
			data = append(data, '\n')
		}
		data = append(data, rec...)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, fileName(seq)))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", fileName(seq), err)
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
	if r.V != version {
		return ci.Message{}, fmt.Errorf("%w: version %d", errCorrupt, r.V)
	}
	return ci.Message{Key: r.Key, ID: r.ID, Body: r.Body, Headers: r.Headers}, nil
}

// moveAside moves message seq into dir/corrupt, where it waits for a human.
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

// removeMessage deletes a delivered batch file. Losing the removal in a crash
// only means sending the message again.
func removeMessage(dir string, seq uint64) error {
	err := os.Remove(filepath.Join(dir, fileName(seq)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// syncDir makes the directory's entries (a rename) durable.
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

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
	"slices"
	"strconv"
	"strings"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// On disk, message seq is the file <20-digit seq>.msg holding one JSON
// record; names sort like numbers, so a directory listing is the queue.
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

// scan returns the sequence numbers of the messages in dir, oldest first,
// and removes temporary files left by a crash in the middle of a write.
func scan(dir string, logger *slog.Logger) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
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
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// writeMessage stores m as message seq: written to a temporary file, synced,
// renamed into place and the directory synced, so that the message is either
// absent or whole, and present after a crash once this returns nil.
func writeMessage(dir string, seq uint64, m ci.Message) error {
	data, err := json.Marshal(record{V: version, Key: m.Key, ID: m.ID, Body: m.Body, Headers: m.Headers})
	if err != nil {
		return fmt.Errorf("encode: %w", err)
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

// readMessage loads message seq. A file that does not decode is errCorrupt.
func readMessage(dir string, seq uint64) (ci.Message, error) {
	data, err := os.ReadFile(filepath.Join(dir, fileName(seq)))
	if err != nil {
		return ci.Message{}, err
	}
	var r record
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil || dec.More() {
		return ci.Message{}, fmt.Errorf("%s: %w: %v", fileName(seq), errCorrupt, err)
	}
	if r.V != version {
		return ci.Message{}, fmt.Errorf("%s: %w: version %d", fileName(seq), errCorrupt, r.V)
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

// removeMessage deletes a delivered message. Losing the removal in a crash
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

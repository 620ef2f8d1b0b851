package fs

import (
	"fmt"
	"os"
	"path/filepath"
)

// tempPrefix starts the names of files being written; readers skip them.
const tempPrefix = ".tmp-"

// writeAtomic writes data to path through a synced temporary file in the same
// directory and a rename, so that path holds either nothing or all of data.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := writeSync(f, data); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename into place: %w", err)
	}
	return nil
}

func writeSync(f *os.File, data []byte) error {
	err := f.Chmod(0o644) // CreateTemp makes 0600; logs are not secret files
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

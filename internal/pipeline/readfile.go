package pipeline

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// The problems of a pipeline file that is not a small regular file. ReadFile
// and the readers of narwhal.yml in git and on GitHub return them inside a
// *FileError; test for them with errors.Is.
var (
	ErrSymlink    = errors.New("is a symbolic link; it must be a regular file")
	ErrNotRegular = errors.New("is not a regular file")
	ErrTooLarge   = errors.New("is larger than 1 MiB")
)

// FileError is a pipeline file that cannot be read as a pipeline: Err is
// ErrSymlink, ErrNotRegular or ErrTooLarge. Its text names the file, as in
// "narwhal.yml is a symbolic link; it must be a regular file".
type FileError struct {
	Name string // the file as messages name it
	Err  error
}

// Error implements error.
func (e *FileError) Error() string { return e.Name + " " + e.Err.Error() }

// Unwrap returns Err.
func (e *FileError) Unwrap() error { return e.Err }

// ReadFile reads the pipeline file at path, naming it name in errors. It
// never follows a symbolic link in the last element of path (ErrSymlink),
// reads only regular files (ErrNotRegular: no device, FIFO or directory) and
// never more than MaxSize+1 bytes (ErrTooLarge), so a hostile repository
// cannot make it block or exhaust memory. Every reader of a checked-out
// narwhal.yml goes through it. A missing file is an error wrapping
// fs.ErrNotExist.
func ReadFile(path, name string) ([]byte, error) {
	if err := checkMode(path, name); err != nil {
		return nil, err
	}
	// openFlags: a link or FIFO swapped in after the Lstat is refused by
	// the open or by the Stat of the open file below, never followed.
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &FileError{Name: name, Err: ErrSymlink}
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	if err := checkOpen(f, name); err != nil {
		return nil, err
	}
	return ReadLimited(f, name)
}

// checkMode refuses a path that is a symbolic link or not a regular file.
func checkMode(path, name string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return modeError(info.Mode(), name)
}

// checkOpen refuses an open file that is not regular (the path changed
// after checkMode) or already too large.
func checkOpen(f *os.File, name string) error {
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", name, err)
	}
	if err := modeError(info.Mode(), name); err != nil {
		return err
	}
	if info.Size() > MaxSize {
		return &FileError{Name: name, Err: ErrTooLarge}
	}
	return nil
}

// modeError is the FileError of a file of mode m, nil for a regular file.
func modeError(m fs.FileMode, name string) error {
	switch {
	case m&fs.ModeSymlink != 0:
		return &FileError{Name: name, Err: ErrSymlink}
	case !m.IsRegular():
		return &FileError{Name: name, Err: ErrNotRegular}
	}
	return nil
}

// ReadLimited reads r to its end, or returns ErrTooLarge (in a FileError
// naming name) as soon as it has given more than MaxSize bytes; it never
// holds more than MaxSize+1 of them.
func ReadLimited(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, &FileError{Name: name, Err: ErrTooLarge}
	}
	return data, nil
}

//go:build unix

package docker

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// pipeSize is the capacity asked of each pipe (F_SETPIPE_SZ; the default is
// 64 KiB, and 1 MiB is what an unprivileged process may ask by default): a
// step printing fast then waits for narwhal less often.
const pipeSize = 1 << 20

// pipe is the host end of a step's output pipe (see pipeTarget).
type pipe struct {
	dir  string   // holds the FIFO; removed by close
	fifo string   // the FIFO's path, bind mounted into the container
	r    *os.File // narwhal's read end
	w    *os.File // a write end of narwhal's own, held until the container has ended, so that reads wait for the step rather than end before it opens the pipe
	done chan error
}

// openPipe makes a FIFO in a new directory under parent and opens both of
// its ends.
func openPipe(parent string) (_ *pipe, err error) {
	if parent == "" {
		return nil, errors.New("no workspace")
	}
	dir, err := os.MkdirTemp(parent, pipeDirPrefix)
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	p := &pipe{dir: dir, fifo: filepath.Join(dir, "out")}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if err := syscall.Mkfifo(p.fifo, 0o600); err != nil {
		return nil, fmt.Errorf("output pipe: mkfifo: %w", err)
	}
	// Whatever user the step runs as must be able to write it; the
	// directory (0700) keeps other users of the host away from it.
	if err := os.Chmod(p.fifo, 0o666); err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	if p.r, err = os.OpenFile(p.fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	if p.w, err = os.OpenFile(p.fifo, os.O_WRONLY, 0); err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	if rc, err := p.r.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, pipeSize) })
	}
	return p, nil
}

// start copies what the pipe brings to out from one goroutine, until the
// pipe ends.
func (p *pipe) start(out io.Writer) {
	p.done = make(chan error, 1)
	// struct{ io.Reader } hides File.WriteTo, whose copy would read 32 KiB
	// at a time instead of what the pipe holds.
	r, done := struct{ io.Reader }{p.r}, p.done
	go func() {
		_, err := io.CopyBuffer(out, r, make([]byte, demuxBuf))
		done <- err
	}()
}

// finish, once the container has ended, waits for the output still in the
// pipe (all of its writers have ended with the container's init) and closes
// the pipe.
func (p *pipe) finish(log *slog.Logger) {
	p.closeWrite()
	if awaitDrain(log, p.done, "step output") {
		p.done = nil
	}
	p.close()
}

// close closes both ends, waits for the copying goroutine if it runs (so
// that nothing writes to its writer afterwards) and removes the FIFO. Calling
// it again does nothing.
func (p *pipe) close() {
	p.closeWrite()
	if p.r != nil {
		p.r.Close() // ends a read under way
		p.r = nil
	}
	if p.done != nil {
		<-p.done
		p.done = nil
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
		p.dir = ""
	}
}

// closeWrite closes narwhal's own write end: once the step's writers are
// gone too, reading the pipe ends.
func (p *pipe) closeWrite() {
	if p.w != nil {
		p.w.Close()
		p.w = nil
	}
}

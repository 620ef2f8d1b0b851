package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/narwhal-ci/narwhal/internal/executor"
)

// drainDelay bounds how long Run waits, once a step's processes are killed,
// for its output pipe to close: only a process that left the step's session
// can still hold it open.
const drainDelay = 2 * time.Second

// Run runs the step's commands with `/bin/sh -e -c` in the job's workspace
// (joined with step.WorkingDir), with a minimal environment plus step.Env.
// step.Image is ignored. Standard output and error both go to out, written by
// one goroutine. When step.Timeout passes or ctx ends, the step gets SIGTERM
// and, after the grace period, SIGKILL; when the shell exits, for whatever
// reason, every process it left behind in its session is killed. A step that
// never started because ctx had already ended returns Cancelled with
// ExitCode -1.
func (e *Executor) Run(ctx context.Context, job *executor.Job, step *executor.Step, out io.Writer) (executor.Result, error) {
	js, err := e.state(job)
	if err != nil {
		return executor.Result{}, err
	}
	dir, err := stepDir(job.Workspace, step.WorkingDir)
	if err != nil {
		return executor.Result{}, fmt.Errorf("run step %s: %w", step.Name, err)
	}
	if ctx.Err() != nil {
		return executor.Result{ExitCode: -1, Cancelled: true}, nil
	}
	p, err := start(dir, stepEnv(js.home, step.Env), executor.Script(step.Commands), out)
	if err != nil {
		return executor.Result{}, fmt.Errorf("run step %s: %w", step.Name, err)
	}
	defer js.untrack(p.sid)
	if !js.track(p.sid) {
		killSession(p.sid, syscall.SIGKILL)
	}
	return e.wait(ctx, p, step.Timeout), nil
}

// process is a running step.
type process struct {
	sid     int // the shell's PID, session and process group ID
	started time.Time
	exited  chan error    // receives the result of cmd.Wait
	copied  chan struct{} // closed when all output is copied
	output  *os.File      // read end of the output pipe
}

// start starts the shell as the leader of a new session. Its standard
// output and error share one pipe, copied to out by one goroutine, so out
// needs no locking; the shell's standard input is /dev/null.
func start(dir string, env []string, script string, out io.Writer) (*process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-e", "-c", script)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close() // the child holds its own copy
	if err != nil {
		r.Close()
		return nil, err
	}
	p := &process{sid: cmd.Process.Pid, started: time.Now(), exited: make(chan error, 1),
		copied: make(chan struct{}), output: r}
	go p.copy(out)
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// copy copies the output to out; if out fails, it keeps reading (and
// discards) so that the step never blocks on a full pipe.
func (p *process) copy(out io.Writer) {
	defer close(p.copied)
	if _, err := io.Copy(out, p.output); err != nil && !errors.Is(err, os.ErrClosed) {
		_, _ = io.Copy(io.Discard, p.output)
	}
}

// wait waits for the step to end, stopping it on timeout or cancellation,
// then kills what it left behind and waits for its output.
func (e *Executor) wait(ctx context.Context, p *process, timeout time.Duration) executor.Result {
	var timedOut <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		timedOut = timer.C
	}
	var res executor.Result
	var err error
	select {
	case err = <-p.exited:
	case <-timedOut:
		res.TimedOut, err = true, e.stop(p)
	case <-ctx.Done():
		res.Cancelled, err = true, e.stop(p)
	}
	killSession(p.sid, syscall.SIGKILL)
	p.drain()
	res.ExitCode, res.Duration = exitCode(err), time.Since(p.started)
	return res
}

// stop sends SIGTERM to the step's processes and SIGKILL once the grace
// period has passed, and returns how the shell exited.
func (e *Executor) stop(p *process) error {
	killSession(p.sid, syscall.SIGTERM)
	grace := time.NewTimer(e.grace)
	defer grace.Stop()
	select {
	case err := <-p.exited:
		return err
	case <-grace.C:
		killSession(p.sid, syscall.SIGKILL)
		return <-p.exited
	}
}

// drain waits for the output copy to finish, closing the pipe after
// drainDelay if an escaped process still holds it open.
func (p *process) drain() {
	select {
	case <-p.copied:
	case <-time.After(drainDelay):
		p.output.Close()
		<-p.copied
	}
	p.output.Close()
}

// exitCode turns the result of cmd.Wait into an exit code: the process's
// status, 128+N for a process killed by signal N (as shells report it), and
// -1 when the status is unknown.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return -1
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

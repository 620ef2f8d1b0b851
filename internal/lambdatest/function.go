package lambdatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqbridge"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// Options configure one emulated function.
type Options struct {
	// Name is AWS_LAMBDA_FUNCTION_NAME. Default "function".
	Name string
	// Timeout is AWS_LAMBDA_FUNCTION_TIMEOUT, in whole seconds. Default 10s,
	// the template's.
	Timeout time.Duration
	// Env is the function's own environment (NARWHAL_...). The emulator
	// also gets PATH and every AWS_* variable of the test process (the SDK
	// endpoint and credentials that testenv.AWSEndpoint sets), and nothing
	// else of it: like Lambda, the function sees what it is configured with.
	Env map[string]string
}

// Function is a function running under its own emulator.
type Function struct {
	url  string
	mu   sync.Mutex // one invocation at a time: the emulator crashes otherwise
	cmd  *exec.Cmd
	done chan struct{} // closed when the process ended
	out  *testenv.Buffer
	kill func() // ends the emulator and the function; stop waits for cmd then
}

// startAttempts bounds retries when a free port was taken between choosing
// it and the emulator binding it.
const startAttempts = 3

// Start runs dir/bootstrap under the emulator rie (see RIE and Build) and
// stops it when the test ends.
func Start(t testing.TB, rie, dir string, opts Options) *Function {
	t.Helper()
	return startWith(t, dir, func() (*Function, error) { return start(rie, dir, opts) })
}

// startWith runs start until it succeeds (startAttempts times at most) and
// stops the function it got when the test ends.
func startWith(t testing.TB, dir string, start func() (*Function, error)) *Function {
	t.Helper()
	var last error
	for range startAttempts {
		f, err := start()
		if err == nil {
			t.Cleanup(func() {
				f.stop()
				if t.Failed() {
					t.Logf("emulator and function output:\n%s", f.Logs())
				}
			})
			return f
		}
		last = err
	}
	t.Fatalf("lambdatest: start %s: %v", dir, last)
	return nil
}

func start(rie, dir string, opts Options) (*Function, error) {
	api, invoke := freeAddr(), freeAddr()
	f := &Function{url: "http://" + invoke + "/2015-03-31/functions/function/invocations",
		done: make(chan struct{}), out: &testenv.Buffer{}}
	f.cmd = exec.Command(rie, "--runtime-interface-emulator-address", invoke,
		"--runtime-api-address", api, filepath.Join(dir, "bootstrap"))
	f.cmd.Dir = dir
	f.cmd.Env = environment(opts)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the function is its child: stop both
	f.kill = func() { syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL) }
	if err := f.run(invoke); err != nil {
		return nil, err
	}
	return f, nil
}

// run starts f.cmd and waits until the emulator listens on invoke.
func (f *Function) run(invoke string) error {
	if err := f.cmd.Start(); err != nil {
		return err
	}
	go func() { f.cmd.Wait(); close(f.done) }()
	if err := f.ready(invoke); err != nil {
		f.stop()
		return fmt.Errorf("%w\n%s", err, f.Logs())
	}
	return nil
}

// environment is the emulator's (and so the function's) environment.
func environment(opts Options) []string {
	name, timeout := opts.Name, opts.Timeout
	if name == "" {
		name = "function"
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(timeout.Round(time.Second)/time.Second))}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "AWS_LAMBDA_") {
			env = append(env, kv)
		}
	}
	for k, v := range opts.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// ready waits until the emulator accepts connections on addr.
func (f *Function) ready(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-f.done:
			return errExited
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("emulator not listening on %s after 10s", addr)
}

// stop kills the emulator and the function, and waits for them.
func (f *Function) stop() {
	f.kill()
	<-f.done
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("lambdatest: no free port: %v", err))
	}
	defer l.Close()
	return l.Addr().String()
}

// URL is the function's Invoke API endpoint. Whoever calls it directly must
// not call it concurrently.
func (f *Function) URL() string { return f.url }

// Call invokes the function with payload and returns its response, waiting
// for earlier calls to finish first. A function error comes back as a
// *mqbridge.FunctionError, a timeout as a *mqbridge.TimeoutError, a failed
// start (HTTP 502) as a *mqbridge.StatusError.
func (f *Function) Call(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, err := (&mqbridge.Endpoint{URL: f.url}).Call(ctx, payload)
	select {
	case <-f.done:
		return out, fmt.Errorf("%w (%v)", errExited, err)
	default:
	}
	return out, err
}

// Logs returns everything the emulator and the function wrote so far.
func (f *Function) Logs() string { return f.out.String() }

// LogsWith waits up to d for the output to contain s, and returns the output
// and whether it does. The function's output reaches it through the
// emulator, which may answer the invocation before it has copied the last
// lines: a test reading Logs right after Call can miss them.
func (f *Function) LogsWith(s string, d time.Duration) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		logs := f.Logs()
		if strings.Contains(logs, s) || time.Now().After(deadline) {
			return logs, strings.Contains(logs, s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package lambdatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/mqbridge"
)

// fixture starts testdata/fixture under the emulator.
func fixture(t *testing.T, opts Options) *Function {
	t.Helper()
	return Start(t, RIE(t), Build(t, "./internal/lambdatest/testdata/fixture"), opts)
}

// TestEmulatorAnswers: what the emulator answers, as Go values.
func TestEmulatorAnswers(t *testing.T) {
	t.Parallel()
	fn := fixture(t, Options{Name: "Fixture", Timeout: time.Second, Env: map[string]string{"NARWHAL_X": "x"}})
	ctx := context.Background()

	out, err := fn.Call(ctx, []byte(`{"echo":{"a":[1,2]}}`))
	if err != nil || string(out) != `{"echo":{"a":[1,2]}}` {
		t.Fatalf("echo: %s %v", out, err)
	}
	// The configured environment reaches the function, the test's does not.
	out, err = fn.Call(ctx, []byte(`{"env":["NARWHAL_X","AWS_LAMBDA_FUNCTION_NAME","GOFLAGS","NARWHAL_TEST_AMQP_URL"]}`))
	want := `{"env":{"AWS_LAMBDA_FUNCTION_NAME":"Fixture","GOFLAGS":"","NARWHAL_TEST_AMQP_URL":"","NARWHAL_X":"x"}}`
	if err != nil || string(out) != want {
		t.Fatalf("env: %s %v\nwant %s", out, err, want)
	}
	var fe *mqbridge.FunctionError
	if _, err := fn.Call(ctx, []byte(`{"fail":"boom"}`)); !errors.As(err, &fe) || fe.Message != "boom" || fe.Type != "errorString" {
		t.Fatalf("fail: %v", err)
	}
	if _, err := fn.Call(ctx, []byte(`{"panic":"aargh"}`)); !errors.As(err, &fe) || !strings.Contains(fe.Message, "aargh") {
		t.Fatalf("panic: %v", err)
	}
	var te *mqbridge.TimeoutError
	if _, err := fn.Call(ctx, []byte(`{"sleep":"3s"}`)); !errors.As(err, &te) || !strings.Contains(te.Message, "1.00 seconds") {
		t.Fatalf("sleep past the timeout: %v", err)
	}
	// The emulator starts the function again after a timeout. On a loaded
	// machine it may answer a call that comes while it still resets the
	// sandbox with Sandbox.Failure (ErrGateCanceled): that is the
	// emulator's, so such answers are retried for up to 2 s.
	out, err = fn.Call(ctx, []byte(`{"echo":1}`))
	for i := 0; i < 20 && errors.As(err, &fe) && fe.Type == "Sandbox.Failure"; i++ {
		time.Sleep(100 * time.Millisecond)
		out, err = fn.Call(ctx, []byte(`{"echo":1}`))
	}
	if err != nil || string(out) != `{"echo":1}` {
		t.Fatalf("after a timeout: %s %v", out, err)
	}
	if !strings.Contains(fn.Logs(), "START RequestId") {
		t.Errorf("no emulator output kept:\n%s", fn.Logs())
	}
}

// TestConcurrentCallsAreSerialised: many goroutines call one emulator, which
// would crash on concurrent invocations; every call gets its own answer.
func TestConcurrentCallsAreSerialised(t *testing.T) {
	t.Parallel()
	fn := fixture(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			in := fmt.Sprintf(`{"echo":%d}`, i)
			out, err := fn.Call(context.Background(), []byte(in))
			if err != nil || string(out) != in {
				errs <- fmt.Errorf("call %d: %s %v", i, out, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestStartFailure: a function that exits during init is a 502 answer.
func TestStartFailure(t *testing.T) {
	t.Parallel()
	fn := Start(t, RIE(t), Build(t, "./functions/agent"), Options{Name: "AgentFunction"}) // no configuration
	out, err := fn.Call(context.Background(), []byte(`{}`))
	var se *mqbridge.StatusError
	if !errors.As(err, &se) || se.Code != 502 || mqbridge.IsFunctionError(err) {
		t.Fatalf("%s %v (%T)", out, err, err)
	}
	if logs, ok := fn.LogsWith("NARWHAL_TABLE is required", 5*time.Second); !ok {
		t.Errorf("the function's reason is not in the output:\n%s", logs)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "leaked")
	t.Setenv("SECRET_OF_THE_TEST", "x")
	env := environment(Options{Name: "F", Timeout: 1500 * time.Millisecond, Env: map[string]string{"A": "1"}})
	joined := "\n" + strings.Join(env, "\n") + "\n"
	for _, want := range []string{"\nAWS_REGION=eu-west-1\n", "\nAWS_LAMBDA_FUNCTION_NAME=F\n", "\nAWS_LAMBDA_FUNCTION_TIMEOUT=2\n", "\nA=1\n"} {
		if !strings.Contains(joined, want) {
			t.Errorf("environment lacks %q: %v", want, env)
		}
	}
	for _, bad := range []string{"leaked", "SECRET_OF_THE_TEST"} {
		if strings.Contains(joined, bad) {
			t.Errorf("environment has %q: %v", bad, env)
		}
	}
}

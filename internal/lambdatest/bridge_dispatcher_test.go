package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/mqbridge"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// TestBridgeDrivesDispatcher is the path of a push from end to end: the
// agent under the emulator stores and publishes the job, the MQ bridge
// feeds the jobs queue to the dispatcher under the emulator, and the
// dispatcher assigns the job to the one registered runner (an in-process
// gRPC server) and calls Run on it once.
func TestBridgeDrivesDispatcher(t *testing.T) {
	testenv.AWSEndpoint(t)
	s := newServices(t, testenv.AMQPURL(t))
	ctx := context.Background()
	runner, ca, token := startRunner(t, s)
	rie := RIE(t)
	agent := Start(t, rie, Build(t, "./functions/agent"), Options{Name: "AgentFunction", Env: map[string]string{
		"NARWHAL_TABLE": s.table, "NARWHAL_AMQP_URL": s.amqpURL, "NARWHAL_AMQP_PREFIX": s.prefix,
		"NARWHAL_WEBHOOK_SECRET_ARN": s.secret(t, "webhook", "narwhal-test-secret"),
	}})
	dispatcher := Start(t, rie, Build(t, "./functions/dispatcher"), Options{Name: "DispatcherFunction", Timeout: 30 * time.Second,
		Env: map[string]string{
			"NARWHAL_TABLE": s.table, "NARWHAL_AMQP_URL": s.amqpURL, "NARWHAL_AMQP_PREFIX": s.prefix,
			"NARWHAL_LOG_BUCKET":   s.table, // never written: no runner report in this test
			"NARWHAL_RUNNER_TOKEN": token,
			"NARWHAL_RUNNER_CA":    base64.StdEncoding.EncodeToString(ca),
			"NARWHAL_API_TOKENS":   "api-token-0123456789",
		}})

	push := sample(t, "push.json")
	jobID := pushJob(t, agent, push)
	stop := runBridge(t, s, ci.QueueJobs, dispatcher)

	deadline := time.Now().Add(15 * time.Second)
	for len(runner.calls()) == 0 || !strings.Contains(dispatcher.Logs(), "END RequestId") {
		if time.Now().After(deadline) {
			t.Fatalf("no Run on the runner (%d calls, %d messages left)", len(runner.calls()), s.depth(t, ci.QueueJobs))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for the ack, and for a wrong second invocation
	stop()                             // an unacked message would be back on the queue now
	if n := strings.Count(dispatcher.Logs(), "END RequestId"); n != 1 {
		t.Errorf("%d invocations of the dispatcher, want 1", n)
	}
	calls := runner.calls()
	if len(calls) != 1 || calls[0].ID != jobID || calls[0].SHA != pushSHA(t, push) || calls[0].Attempt != 1 {
		t.Fatalf("Run calls %+v, want one for job %s at %s", calls, jobID, pushSHA(t, push))
	}
	job, err := s.store.GetJob(ctx, jobID)
	if err != nil || job.Status != ci.StatusAssigned || job.RunnerID != runnerID {
		t.Fatalf("job after dispatch: %+v (%v), want assigned to %s", job, err, runnerID)
	}
	if n := s.depth(t, ci.QueueJobs); n != 0 {
		t.Fatalf("%d messages left on the jobs queue", n)
	}
	if logs := dispatcher.Logs(); !strings.Contains(logs, `"msg":"job assigned"`) {
		t.Errorf("the dispatcher did not log the assignment:\n%s", logs)
	}
}

// runnerID is the ID the fake runner is registered under.
const runnerID = "bridge-runner"

// startRunner serves a fakeRunner over TLS on 127.0.0.1, accepting only its
// own token (derived from a new fleet key), registers it as an active runner
// in s's table, and returns it, its certificate and the fleet key.
func startRunner(t *testing.T, s *services) (*fakeRunner, []byte, string) {
	t.Helper()
	cert, key, fleetKey := newFleet(t)
	fake := &fakeRunner{}
	srv, err := rpc.NewServer(fake, rpc.ServerConfig{CertPEM: cert, KeyPEM: key,
		Tokens: []string{runnerkey.Token(fleetKey, runnerID)}},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	now := time.Now()
	if err := s.store.PutRunner(context.Background(), ci.Runner{ID: runnerID, Address: l.Addr().String(), Capacity: 2,
		State: ci.RunnerActive, LastHeartbeat: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return fake, cert, fleetKey
}

// newFleet makes a runner certificate for 127.0.0.1, its key, and a fleet
// key to derive runner tokens from.
func newFleet(t testing.TB) (cert, key []byte, fleetKey string) {
	t.Helper()
	cert, key, err := tlsgen.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if fleetKey, err = tlsgen.Token(); err != nil {
		t.Fatal(err)
	}
	return cert, key, fleetKey
}

// pushJob invokes the agent with the signed push event and returns the ID of
// the job it accepted.
func pushJob(t testing.TB, agent *Function, push []byte) string {
	t.Helper()
	out, err := agent.Call(context.Background(), push)
	if err != nil {
		t.Fatalf("invoke the agent: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	var body struct {
		JobID string `json:"job_id"`
	}
	if json.Unmarshal(out, &resp) != nil || json.Unmarshal([]byte(resp.Body), &body) != nil ||
		resp.StatusCode != 202 || body.JobID == "" {
		t.Fatalf("push: %s", out)
	}
	return body.JobID
}

// pushSHA is the commit the push event announces ("after").
func pushSHA(t *testing.T, push []byte) string {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	var body struct {
		After string `json:"after"`
	}
	if err := json.Unmarshal(push, &req); err != nil {
		t.Fatal(err)
	}
	raw := []byte(req.Body)
	if req.IsBase64Encoded {
		raw, _ = base64.StdEncoding.DecodeString(req.Body)
	}
	if json.Unmarshal(raw, &body) != nil || body.After == "" {
		t.Fatalf("no SHA in the push event: %s", raw)
	}
	return body.After
}

// runBridge consumes s's queue (ci.QueueJobs, ci.QueueEvents) into fn
// until stop is called or the test ends; stop returns once the bridge has
// closed its connection.
func runBridge(t testing.TB, s *services, queue string, fn *Function) (stop func()) {
	t.Helper()
	return runBridgeWith(t, s, queue, fn, 10, 100*time.Millisecond)
}

// runBridgeWith is runBridge with the event source's batch size and window.
func runBridgeWith(t testing.TB, s *services, queue string, fn *Function, batch int, window time.Duration) (stop func()) {
	t.Helper()
	b, err := mqbridge.New(mqbridge.Config{URL: s.amqpURL, Queue: s.prefix + queue,
		Invoker: &mqbridge.Endpoint{URL: fn.URL()}, BatchSize: batch, Window: window,
		FailureDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bridge: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// fakeRunner accepts every job and records the Run calls.
type fakeRunner struct {
	mu   sync.Mutex
	runs []rpc.Job
}

var _ rpc.RunnerService = (*fakeRunner)(nil)

func (f *fakeRunner) Run(_ context.Context, job rpc.Job) (bool, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, job)
	return true, "", nil
}

func (f *fakeRunner) calls() []rpc.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rpc.Job(nil), f.runs...)
}

func (f *fakeRunner) Cancel(context.Context, string) error       { return nil }
func (f *fakeRunner) Drain(context.Context, time.Duration) error { return nil }
func (f *fakeRunner) Stats(context.Context) (rpc.Stats, error) {
	return rpc.Stats{RunnerID: runnerID, Capacity: 2, State: ci.RunnerActive}, nil
}

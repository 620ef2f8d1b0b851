package lambdatest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/narwhal-ci/narwhal/internal/awscount"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
	"github.com/narwhal-ci/narwhal/internal/executor/pick"
	"github.com/narwhal-ci/narwhal/internal/logstore/s3"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/runner"
	"github.com/narwhal-ci/narwhal/internal/runnerhost"
	"github.com/narwhal-ci/narwhal/internal/runnerkey"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// costRig is the AWS path of a job, each part real but the executor: the
// agent under the emulator (webhook → DynamoDB → RabbitMQ), one dispatcher
// emulator per queue as Lambda's MQ event source runs one environment per
// mapping (fed by mqbridge), and a runner host as runnerd assembles it,
// publishing reports to RabbitMQ and logs to S3, with a fake executor. The
// functions log their AWS calls per invocation (awscount.Logged); the
// runner's are counted in-process.
type costRig struct {
	s            *services
	agent        *Function
	jobs, events *Function
	runnerCalls  *awscount.Counter
	pipe         atomic.Pointer[pipeline.Pipeline]
	push         []byte
	seq          int
}

const costRunner = "cost-runner"

func newCostRig(t testing.TB) *costRig {
	t.Helper()
	testenv.AWSEndpoint(t)
	r := &costRig{s: newServices(t, testenv.AMQPURL(t)), runnerCalls: &awscount.Counter{}}
	bucket := r.s.bucket(t)
	cert, key, fleetKey := newFleet(t)
	rie := RIE(t)
	r.agent = Start(t, rie, Build(t, "./functions/agent"), Options{Name: "AgentFunction", Env: map[string]string{
		"NARWHAL_TABLE": r.s.table, "NARWHAL_AMQP_URL": r.s.amqpURL, "NARWHAL_AMQP_PREFIX": r.s.prefix,
		"NARWHAL_WEBHOOK_SECRET_ARN": r.s.secret(t, "webhook", "narwhal-test-secret"),
	}})
	dir := Build(t, "./functions/dispatcher")
	env := map[string]string{
		"NARWHAL_TABLE": r.s.table, "NARWHAL_AMQP_URL": r.s.amqpURL, "NARWHAL_AMQP_PREFIX": r.s.prefix,
		"NARWHAL_LOG_BUCKET": bucket, "NARWHAL_RUNNER_TOKEN_SECRET_ARN": r.s.secret(t, "fleet", fleetKey),
		"NARWHAL_RUNNER_CA": base64.StdEncoding.EncodeToString(cert), "NARWHAL_API_TOKENS": "api-token-0123456789",
	}
	r.jobs = Start(t, rie, dir, Options{Name: "DispatcherFunction", Timeout: 30 * time.Second, Env: env})
	r.events = Start(t, rie, dir, Options{Name: "DispatcherFunction", Timeout: 30 * time.Second, Env: env})
	// The event source mappings of template.yaml: JobBatchSize (10) and
	// 100 reports, each within a second.
	runBridgeWith(t, r.s, ci.QueueJobs, r.jobs, 10, time.Second)
	runBridgeWith(t, r.s, ci.QueueEvents, r.events, 100, time.Second)
	r.startRunner(t, bucket, cert, key, runnerkey.Token(fleetKey, costRunner))
	r.push = sample(t, "push.json")
	return r
}

// bucket creates the log bucket.
func (s *services) bucket(t testing.TB) string {
	t.Helper()
	name := "narwhal-logs-" + s.id
	if _, err := s3Client(s.awsCfg).CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return name
}

func s3Client(cfg aws.Config) *awss3.Client {
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
}

// startRunner opens and starts the runner host; it registers itself through
// its first report, and the rig waits until the dispatcher has stored it.
func (r *costRig) startRunner(t testing.TB, bucket string, cert, key []byte, token string) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	q, err := amqp.New(ctx, amqp.Config{URL: r.s.amqpURL, Prefix: r.s.prefix}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	cfg := r.s.awsCfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, r.runnerCalls.Register)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	h, err := runnerhost.Open(ctx, runnerhost.Config{
		Runner: runner.Config{ID: costRunner, Token: token, Address: lis.Addr().String(), Capacity: 4,
			WorkDir: filepath.Join(dir, "work"), Heartbeat: time.Hour},
		OutboxDir: filepath.Join(dir, "outbox"), CertPEM: cert, KeyPEM: key, Tokens: []string{token}, Listener: lis,
	}, runnerhost.Deps{NewExec: r.executor, Send: q.Publish, Logs: s3.New(s3Client(cfg), bucket, "logs"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	if _, err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the runner registered", func() bool {
		rs, err := r.s.store.ListRunners(ctx)
		return err == nil && len(rs) == 1 && rs[0].State == ci.RunnerActive
	})
}

// executor: every step prints two lines and succeeds, but lint fails (it
// may: allow_failure), as in examples/hello.
func (r *costRig) executor(context.Context) (pick.Built, runner.Checkout, error) {
	e := fake.New()
	e.Default(fake.Outcome{Output: fake.Lines("step output", "done")})
	e.Script("lint", fake.Outcome{Output: fake.Lines("lint finds nothing to like today"), ExitCode: 1})
	return pick.Built{Executor: e, Kind: "fake"}, checkoutFunc(func() *pipeline.Pipeline { return r.pipe.Load() }), nil
}

// checkoutFunc clones nothing and hands the runner the rig's pipeline.
type checkoutFunc func() *pipeline.Pipeline

func (f checkoutFunc) Checkout(context.Context, string, rpc.Job) (*pipeline.Pipeline, error) {
	return f(), nil
}

// run pushes n commits, one job each, and waits until every job is
// finished; it returns their IDs.
func (r *costRig) run(t testing.TB, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		r.seq++
		ids = append(ids, pushJob(t, r.agent, r.signedPush(t, fmt.Sprintf("%040x", r.seq))))
	}
	ctx := context.Background()
	r.waitFor(t, fmt.Sprintf("%d jobs finished", n), func() bool {
		for _, id := range ids {
			if j, err := r.s.store.GetJob(ctx, id); err != nil || !j.Status.Final() {
				return false
			}
		}
		return true
	})
	return ids
}

// signedPush is events/push.json for commit sha, signed again.
func (r *costRig) signedPush(t testing.TB, sha string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(r.push, &ev); err != nil {
		t.Fatal(err)
	}
	var old struct {
		After string `json:"after"`
	}
	body := ev["body"].(string)
	json.Unmarshal([]byte(body), &old)
	body = strings.ReplaceAll(body, old.After, sha)
	mac := hmac.New(sha256.New, []byte("narwhal-test-secret"))
	mac.Write([]byte(body))
	headers := ev["headers"].(map[string]any)
	headers["x-hub-signature-256"] = "sha256=" + hex.EncodeToString(mac.Sum(nil))
	headers["x-github-delivery"] = "cost-" + sha
	headers["content-length"] = fmt.Sprint(len(body))
	ev["body"] = body
	out, _ := json.Marshal(ev)
	return out
}

func (r *costRig) waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\njobs dispatcher:\n%s\nevents dispatcher:\n%s",
				what, tail(r.jobs.Logs()), tail(r.events.Logs()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string) string { return s[max(0, len(s)-4000):] }

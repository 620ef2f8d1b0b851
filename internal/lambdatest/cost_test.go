package lambdatest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/awscount"
	"github.com/narwhal-ci/narwhal/internal/pipeline"
)

// maxWrites bounds the DynamoDB writes of one job: created, published,
// assigned, running and final, the runner's tally twice, the claim of its
// build number, and room for
// reports that a loaded machine spreads over more batches (each batch that
// carries a job's reports writes it once). Applied one by one, the reports
// of examples/hello took 16 writes and those of 20 steps 48.
const maxWrites = 12

// memoryMB is the functions' MemorySize in template.yaml.
const memoryMB = 256

// sheet is what a run of jobs cost: the AWS calls of every function
// invocation and of the runner, the invocations and their billed time, the
// MQ messages the dispatcher consumed and the webhooks.
type sheet struct {
	aws         awscount.Tally
	invocations int
	billedMs    float64
	messages    int
	webhooks    int
}

// marks are where each function's log stood before a run.
type marks map[*Function]int

func (r *costRig) functions() []*Function { return []*Function{r.agent, r.jobs, r.events} }

func (r *costRig) mark() marks {
	m := marks{}
	for _, f := range r.functions() {
		m[f] = len(f.Logs())
	}
	r.runnerCalls.Take()
	return m
}

// since sums what the functions logged after m, and the runner's calls,
// once every invocation under way has ended.
func (r *costRig) since(t testing.TB, m marks) sheet {
	t.Helper()
	r.waitFor(t, "the functions idle", func() bool {
		for _, f := range r.functions() {
			log := f.Logs()[m[f]:]
			if strings.LastIndex(log, "START RequestId") > strings.LastIndex(log, "END RequestId") {
				return false // an invocation under way
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // a report a moment behind the final status
	var s sheet
	for _, f := range r.functions() {
		s.read(t, f.Logs()[m[f]:])
	}
	s.webhooks = strings.Count(r.agent.Logs()[m[r.agent]:], "END RequestId")
	s.aws.Add(r.runnerCalls.Take())
	return s
}

var reportRe = regexp.MustCompile(`^REPORT RequestId: .*\bBilled Duration: ([0-9.]+) ms`)

// read adds one function's log lines: its "aws calls" lines, its batches
// and the emulator's END and REPORT lines.
func (s *sheet) read(t testing.TB, log string) {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := reportRe.FindStringSubmatch(line); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			s.billedMs += ms
			s.invocations++
			continue
		}
		var rec struct {
			Msg      string         `json:"msg"`
			AWS      awscount.Tally `json:"aws"`
			Messages int            `json:"messages"`
		}
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case awscount.LogMessage:
			s.aws.Add(rec.AWS)
		case "batch done", "batch failed; the event source will redeliver it":
			s.messages += rec.Messages
		}
	}
}

// perJob is the sheet of n jobs as rows: requests per job and dollars per
// 1,000 jobs at p.
func (s sheet) perJob(n int, p awscount.Prices) map[string]float64 {
	f := float64(n)
	aws := p.Dollars(s.aws)
	lambda := p.Lambda(s.invocations, s.billedMs, memoryMB)
	http := float64(s.webhooks) * p.HTTPRequest
	s3Put, s3Get := s.aws.S3Requests()
	return map[string]float64{
		"dynamo-reqs/job": float64(s.aws.Service("DynamoDB")) / f,
		"dynamo-writes/job": float64(s.aws.Calls["DynamoDB.PutItem"]+s.aws.Calls["DynamoDB.UpdateItem"]+
			s.aws.Calls["DynamoDB.DeleteItem"]+s.aws.Calls["DynamoDB.BatchWriteItem"]+s.aws.Calls["DynamoDB.TransactWriteItems"]) / f,
		"wcu/job":            s.aws.WriteUnits / f,
		"rcu/job":            s.aws.ReadUnits / f,
		"s3-put+list/job":    float64(s3Put) / f,
		"s3-get+head/job":    float64(s3Get) / f,
		"secrets/job":        float64(s.aws.Service("Secrets Manager")) / f,
		"lambda-invokes/job": float64(s.invocations) / f,
		"mq-msgs/job":        float64(s.messages) / f,
		"usd/1k-jobs":        (aws + lambda + http) / f * 1000,
	}
}

// stepsPipeline is a pipeline of n steps in a chain.
func stepsPipeline(t testing.TB, n int) *pipeline.Pipeline {
	t.Helper()
	var y strings.Builder
	y.WriteString("image: busybox\nsteps:\n")
	for i := range n {
		fmt.Fprintf(&y, "  - name: s%d\n    commands: [\"echo %d\"]\n", i, i)
		if i > 0 {
			fmt.Fprintf(&y, "    depends_on: [s%d]\n", i-1)
		}
	}
	return parsePipeline(t, "steps.yml", y.String())
}

func parsePipeline(t testing.TB, name, yml string) *pipeline.Pipeline {
	t.Helper()
	p, err := pipeline.Parse(name, []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// helloPipeline is examples/hello's narwhal.yml.
func helloPipeline(t testing.TB) *pipeline.Pipeline {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "examples", "hello", "narwhal.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return parsePipeline(t, "narwhal.yml", string(raw))
}

// TestCostPerJob sends jobs of examples/hello and of 20 steps down the AWS
// path and holds them to the budget of docs/cost.md: after a first job that
// pays the cold starts no settings secret is read again (the one read per job
// is the repository's secrets, read fresh when the job is handed to a runner,
// so that a change applies to the next job), and the DynamoDB writes of a
// job do not grow with its steps: about one per state change (created,
// published, assigned, running, final) and the runner's tally of the
// assign and the release, however the reports fall into batches; the log of
// examples/hello is stored with one S3 PUT.
func TestCostPerJob(t *testing.T) {
	r := newCostRig(t)
	r.pipe.Store(helloPipeline(t))
	r.run(t, 1)
	for i, p := range []*pipeline.Pipeline{helloPipeline(t), stepsPipeline(t, 20)} {
		r.pipe.Store(p)
		m := r.mark()
		const n = 3
		r.run(t, n)
		per := r.since(t, m).perJob(n, awscount.USEast1)
		t.Logf("%d steps, per job: %v", len(p.Steps), per)
		if per["secrets/job"] != 1 || per["dynamo-writes/job"] > maxWrites || per["lambda-invokes/job"] > 4 {
			t.Errorf("%d steps: cost per warm job %v, want one secret read (the repository's), at most %d writes and 4 invocations",
				len(p.Steps), per, maxWrites)
		}
		// A log of one chunk is one PutObject (PutLast). A job whose log
		// outlived the shipper's FlushEvery on a stalled machine has two
		// chunks and three such requests; PutChunk and Finish made three
		// for every job.
		if hello := i == 0; hello && per["s3-put+list/job"] >= 2 {
			t.Errorf("examples/hello: %v S3 PUT and LIST requests per job, want 1 (the log in one PutLast)", per["s3-put+list/job"])
		}
	}
}

// BenchmarkCostPerJob reports what one job costs on the AWS path, for
// examples/hello and for a chain of 20 steps: requests per job and dollars
// per 1,000 jobs at awscount.USEast1 (docs/cost.md). b.N jobs each, after
// one that pays the cold starts (cold-secrets: the secrets it read).
func BenchmarkCostPerJob(b *testing.B) {
	r := newCostRig(b)
	r.pipe.Store(helloPipeline(b))
	m := r.mark()
	r.run(b, 1)
	cold := r.since(b, m)
	for _, c := range []struct {
		name string
		pipe *pipeline.Pipeline
	}{{"hello", helloPipeline(b)}, {"20-steps", stepsPipeline(b, 20)}} {
		b.Run("pipeline="+c.name, func(b *testing.B) {
			r.pipe.Store(c.pipe)
			m := r.mark()
			b.ResetTimer()
			r.run(b, b.N)
			b.StopTimer()
			for k, v := range r.since(b, m).perJob(b.N, awscount.USEast1) {
				b.ReportMetric(v, k)
			}
			b.ReportMetric(float64(cold.aws.Service("Secrets Manager")), "cold-secrets")
		})
	}
}

package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/narwhal-ci/narwhal/internal/ci"
	s3store "github.com/narwhal-ci/narwhal/internal/logstore/s3"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestReportsSurviveABrokerOutage stops the test broker, finishes a job,
// and starts the broker again: the job's final state arrives, once.
//
// It uses the restartable test broker, under its cross-process lock, so
// that the restart disturbs no other test.
func TestReportsSurviveABrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a broker (~20 s); skipped with -short")
	}
	t.Parallel()
	url := testenv.RestartableAMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	repo, sha := gitRepo(t, "image: none\nsteps:\n  - name: one\n    commands: [\"echo one\"]\n")
	p := startRunnerd(t, daemonOpts{amqpURL: url, amqpPrefx: prefix})
	evs.waitFor(t, 30*time.Second, "register", func(ev ci.RunnerEvent) bool { return ev.Kind == ci.EventRegister })

	testenv.StopRabbitMQ(t)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			testenv.StartRabbitMQ(t)
		}
	})
	id := newJobID("outage")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(id, repo, sha)); !ok || err != nil {
		t.Fatalf("run: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	eventually(t, 30*time.Second, "the job to end with its reports held back", func() bool {
		st, err := p.client.Stats(context.Background())
		return err == nil && len(st.Running) == 0 && p.metric(`narwhal_runner_jobs_total{status="success"}`) == 1 &&
			p.metric("narwhal_runner_reports_pending") > 0
	})
	testenv.StartRabbitMQ(t)
	stopped = false

	if final := evs.final(t, id, 60*time.Second); final.Status != ci.StatusSuccess {
		t.Fatalf("final report: %+v", final)
	}
	eventually(t, 20*time.Second, "the outbox to empty", func() bool { return p.metric("narwhal_runner_reports_pending") == 0 })
	time.Sleep(500 * time.Millisecond) // a duplicate would be on its way by now
	finals := 0
	for _, ev := range evs.snapshot() {
		if ev.JobID == id && ev.Kind == ci.EventJob && ev.Status.Final() {
			finals++
		}
	}
	if finals != 1 {
		t.Fatalf("final report arrived %d times", finals)
	}
}

// TestLogsToS3 ships a job's log to S3 (moto_server) and reads it back
// through the S3 log store.
//
// testenv.AWSEndpoint sets the AWS variables with t.Setenv, which a parallel
// test may not do, so this test runs alone too.
func TestLogsToS3(t *testing.T) {
	testenv.AWSEndpoint(t)
	ctx := t.Context()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) { o.UsePathStyle = true })
	bucket := strings.ToLower(newJobID("runnerd-logs"))
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	repo, sha := gitRepo(t, "image: none\nsteps:\n  - name: hello\n    commands: [\"echo hi\"]\n")
	p := startRunnerd(t, daemonOpts{logsYAML: fmt.Sprintf("logs:\n  s3_bucket: %s\n  s3_prefix: logs\n", bucket)})
	id := newJobID("s3")
	if ok, reason, err := p.client.Run(ctx, repoJob(id, repo, sha)); !ok || err != nil {
		t.Fatalf("run: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	store := s3store.New(client, bucket, "logs")
	var data []byte
	eventually(t, 30*time.Second, "the complete log in S3", func() bool {
		var complete bool
		data, complete, err = store.Read(ctx, id, 0, 1<<20)
		return err == nil && complete
	})
	if !strings.Contains(string(data), "hello | + echo hi\n") {
		t.Fatalf("log:\n%s", data)
	}
}

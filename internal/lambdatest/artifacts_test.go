package lambdatest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/narwhal-ci/narwhal/internal/artifact"
	blobs3 "github.com/narwhal-ci/narwhal/internal/blob/s3"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/tlsgen"
)

// TestDispatcherArtifactsUnderEmulator runs the dispatcher's bootstrap with
// NARWHAL_ARTIFACTS_BUCKET on moto's S3, holding what runnerd would have
// uploaded there: the REST API lists a job's artifact and redirects its
// download to a pre-signed URL that serves its bytes without a token, and
// the scheduled monitor deletes the artifact whose expiry day has passed and
// keeps the other.
func TestDispatcherArtifactsUnderEmulator(t *testing.T) {
	testenv.AWSEndpoint(t)
	s := newServices(t, testenv.AMQPURL(t))
	ctx := context.Background()
	bucket := s.table
	client := awss3.NewFromConfig(s.awsCfg, func(o *awss3.Options) { o.UsePathStyle = true })
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	store := blobs3.New(client, bucket, "ci")
	t.Cleanup(func() {
		objs, _ := store.List(context.Background(), "")
		for _, o := range objs {
			store.Delete(context.Background(), o.Key)
		}
		client.DeleteBucket(context.Background(), &awss3.DeleteBucketInput{Bucket: &bucket})
	})

	const body = "the binary\n"
	sum := sha256.Sum256([]byte(body))
	job := createJob(t, s, ci.Job{ID: "arts-" + s.id, Published: true, CreatedAt: time.Now()})
	kept := ci.Artifact{Name: "dist/app.txt", Step: "build", Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]),
		Key: artifact.Key(job.ID, 1, 0, time.Now().AddDate(0, 0, 7)), ExpiresAt: time.Now().AddDate(0, 0, 7)}
	expired := artifact.Key("arts-old-"+s.id, 1, 0, time.Now().AddDate(0, 0, -3))
	for _, key := range []string{kept.Key, expired} {
		if err := store.Put(ctx, key, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	job.Status, job.Steps = ci.StatusSuccess, []ci.Step{{Name: "build", Status: ci.StepSuccess, Artifacts: []ci.Artifact{kept}}}
	if _, err := s.store.UpdateJob(ctx, job); err != nil {
		t.Fatal(err)
	}

	cert, _, err := tlsgen.SelfSigned([]string{"runner.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fn := Start(t, RIE(t), Build(t, "./functions/dispatcher"), Options{Name: "DispatcherFunction", Timeout: 30 * time.Second,
		Env: map[string]string{
			"NARWHAL_TABLE": s.table, "NARWHAL_AMQP_URL": s.amqpURL, "NARWHAL_AMQP_PREFIX": s.prefix,
			"NARWHAL_LOG_BUCKET": bucket, "NARWHAL_ARTIFACTS_BUCKET": bucket, "NARWHAL_ARTIFACTS_PREFIX": "ci",
			"NARWHAL_RUNNER_TOKEN": fleetKey, "NARWHAL_RUNNER_CA": base64.StdEncoding.EncodeToString(cert),
			"NARWHAL_API_TOKENS": "api-token",
		}})

	resp := httpCall(t, fn, "/jobs/"+job.ID+"/artifacts", "api-token")
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"name":"dist/app.txt"`) || !strings.Contains(resp.Body, kept.SHA256) {
		t.Fatalf("GET artifacts: %d %s", resp.StatusCode, resp.Body)
	}
	resp = httpCall(t, fn, "/jobs/"+job.ID+"/artifacts/dist/app.txt", "api-token")
	location := resp.Headers["Location"]
	if resp.StatusCode != http.StatusFound || !strings.Contains(location, "X-Amz-Signature=") {
		t.Fatalf("GET the artifact: %d %v %s, want a redirect to a pre-signed URL", resp.StatusCode, resp.Headers, resp.Body)
	}
	if got := fetch(t, location); got != body {
		t.Errorf("the pre-signed URL serves %q, want %q", got, body)
	}

	out, err := fn.Call(ctx, sample(t, "schedule.json"))
	if err != nil || !strings.Contains(string(out), `"artifacts_expired":1`) {
		t.Fatalf("schedule.json: %s %v", out, err)
	}
	if _, err := store.Open(ctx, expired); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("expired artifact after the monitor: %v, want it deleted", err)
	}
	if r, err := store.Open(ctx, kept.Key); err != nil {
		t.Errorf("the artifact that has not expired: %v", err)
	} else {
		r.Close()
	}
}

// fetch GETs url without credentials and returns its body.
func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v %s", url, resp.StatusCode, err, data)
	}
	return string(data)
}

package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/testenv/s3bucket"
)

// TestCacheAndArtifactsInS3 runs a runnerd process (Docker) whose cache and
// artifacts go to S3 (moto_server), as infra/runner-host.yaml configures a
// fleet: two jobs of one repository, the first misses and saves, the second
// hits; the step reports say so, and the bucket holds the cache entry under
// the cache's prefix and both jobs' artifacts under the bucket's
// artifacts/. testenv's AWS variables use t.Setenv: not parallel.
func TestCacheAndArtifactsInS3(t *testing.T) {
	image := dockerReady(t)
	client := s3bucket.Client(t)
	bucket := s3bucket.New(t, client, "runnerd-stores")
	url := testenv.AMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	repo, sha := gitRepo(t, fmt.Sprintf(`image: %s
steps:
  - name: build
    cache:
      key: deps-1
      paths: [.cache]
    artifacts:
      paths: [out.txt]
    commands:
      - if [ -f .cache/fetched ]; then echo "cached $(cat .cache/fetched)"; else mkdir -p .cache && echo fetched > .cache/fetched; fi
      - cat .cache/fetched > out.txt
`, image))
	p := startRunnerd(t, daemonOpts{executor: "docker", capacity: 2, amqpURL: url, amqpPrefx: prefix,
		logsYAML: fmt.Sprintf("logs: {dir: %s}\ncache: {s3_bucket: %s, s3_prefix: ci}\nartifacts: {s3_bucket: %s}\n",
			t.TempDir(), bucket, bucket)})
	var steps []ci.Step
	for _, name := range []string{"first", "second"} {
		id := newJobID(name)
		if ok, reason, err := p.client.Run(t.Context(), repoJob(id, repo, sha)); !ok || err != nil {
			t.Fatalf("run %s: accepted=%v reason=%q err=%v", name, ok, reason, err)
		}
		if final := evs.final(t, id, time.Minute); final.Status != ci.StatusSuccess {
			t.Fatalf("%s job: %+v", name, final)
		}
		step := evs.waitFor(t, 10*time.Second, "build's report of "+id, func(ev ci.RunnerEvent) bool {
			return ev.Kind == ci.EventStep && ev.JobID == id && ev.Step != nil && ev.Step.Status == ci.StepSuccess
		})
		steps = append(steps, *step.Step)
	}
	first, second := steps[0], steps[1]
	if len(first.Caches) != 1 || first.Caches[0].Hit || !first.Caches[0].Saved ||
		len(second.Caches) != 1 || !second.Caches[0].Hit || second.Caches[0].Saved {
		t.Fatalf("caches: first %+v, second %+v", first.Caches, second.Caches)
	}
	if len(first.Artifacts) != 1 || len(second.Artifacts) != 1 || second.Artifacts[0].Name != "out.txt" {
		t.Fatalf("artifacts: first %+v, second %+v", first.Artifacts, second.Artifacts)
	}
	keys := s3bucket.Keys(t, client, bucket)
	want := []string{"ci/cache/acme/app/deps-1", first.Artifacts[0].Key, second.Artifacts[0].Key}
	for _, k := range want {
		if !slices.Contains(keys, k) {
			t.Errorf("bucket lacks %s: %v", k, keys)
		}
	}
	if !strings.HasPrefix(second.Artifacts[0].Key, "artifacts/") || len(keys) != len(want) {
		t.Errorf("bucket keys %v, want %v", keys, want)
	}
	if strings.Contains(p.Log(), "artifacts are kept on this runner's disk") {
		t.Errorf("warned of local artifacts with artifacts in S3")
	}
}

package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore/fs"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// TestJobsOfDifferentSlotsCannotReachEachOther: two jobs run at the same time
// on one runner (two slots); one listens, the other connects to its address
// and must not get through. Issue 10, case 6.
func TestJobsOfDifferentSlotsCannotReachEachOther(t *testing.T) {
	t.Parallel()
	image := dockerReady(t)
	url := testenv.AMQPURL(t)
	prefix := amqpPrefix(t, url)
	evs := consumeEvents(t, url, prefix)
	p := startRunnerd(t, daemonOpts{executor: "docker", capacity: 2, amqpURL: url, amqpPrefx: prefix})
	logs := fs.New(p.dir + "/logs")

	repo, sha := gitRepo(t, fmt.Sprintf(`image: %s
steps:
  - name: listen
    commands:
      - echo "address=$(hostname -i)"
      - while :; do echo HELLO-FROM-OTHER-JOB | nc -l -p 8080; done
`, image))
	listener := newJobID("listen")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(listener, repo, sha)); !ok || err != nil {
		t.Fatalf("run listener: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	defer p.client.Cancel(t.Context(), listener)
	addr := waitForAddress(t, logs, listener)

	repo2, sha2 := gitRepo(t, fmt.Sprintf(`image: %s
steps:
  - name: probe
    commands:
      - nc -w 3 %s 8080 </dev/null > got.txt || true
      - cat got.txt
      - '! grep -q HELLO got.txt'
`, image, addr))
	probe := newJobID("probe")
	if ok, reason, err := p.client.Run(t.Context(), repoJob(probe, repo2, sha2)); !ok || err != nil {
		t.Fatalf("run probe: accepted=%v reason=%q err=%v", ok, reason, err)
	}
	final := evs.final(t, probe, 60*time.Second)
	data, _, _ := logs.Read(t.Context(), probe, 0, 1<<20)
	if final.Status != ci.StatusSuccess || strings.Contains(string(data), "HELLO-FROM-OTHER-JOB") {
		t.Fatalf("the probe reached the other job's listener at %s (final %s):\n%s", addr, final.Status, data)
	}
}

// waitForAddress returns the IP address the listener job printed.
func waitForAddress(t *testing.T, logs *fs.Store, id string) string {
	t.Helper()
	re := regexp.MustCompile(`address=([0-9.]+)`)
	var addr string
	eventually(t, 60*time.Second, "the listener's address in its log", func() bool {
		data, _, err := logs.Read(t.Context(), id, 0, 1<<20)
		if m := re.FindSubmatch(data); err == nil && m != nil {
			addr = string(m[1])
		}
		return addr != ""
	})
	return addr
}

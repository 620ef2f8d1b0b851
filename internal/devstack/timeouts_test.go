package devstack

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/apiclient"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/executor/fake"
)

// TestSlowBodyClientsAreDisconnected: clients that send a request's headers
// and part of its body and then stall are disconnected once the read timeout
// passes, all 20 of them.
func TestSlowBodyClientsAreDisconnected(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Exec, cfg.ReadTimeout = fake.New(), 500*time.Millisecond
	s, _ := startStack(t, cfg)
	addr := strings.TrimPrefix(strings.TrimSuffix(s.Info().URL, "/"), "http://")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			path := []string{WebhookPath, APIPrefix + "/jobs"}[i%2]
			if held := slowBody(t, addr, path, 10*time.Second); held > 5*time.Second {
				t.Errorf("client %d (%s): connection held for %s with a read timeout of %s", i, path, held, cfg.ReadTimeout)
			}
		})
	}
	wg.Wait()
}

// slowBody sends the headers of a POST to path promising 1000 bytes, sends
// 10, stalls, and returns how long the server kept the connection open (at
// most limit).
func slowBody(t *testing.T, addr, path string, limit time.Duration) time.Duration {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return 0
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"zen\":\"a", path, addr)
	conn.SetReadDeadline(start.Add(limit))
	io.Copy(io.Discard, conn) // whatever the server answers, until it closes
	return time.Since(start)
}

// TestFollowOutlastsReadTimeout: a log follow (a bodiless GET) may wait
// longer than the read timeout and still gets the new lines.
func TestFollowOutlastsReadTimeout(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	exec := fake.New()
	exec.Script("build", fake.Outcome{Delay: 1500 * time.Millisecond})
	exec.Script("test", fake.Outcome{Output: fake.Lines("late line")})
	cfg.Exec, cfg.ReadTimeout = exec, 300*time.Millisecond
	s, _ := startStack(t, cfg)
	id, err := s.Trigger(context.Background(), newRepo(t, map[string]string{"narwhal.yml": twoSteps}))
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, id, ci.StatusRunning, 10*time.Second)
	var offset int64
	deadline := time.Now().Add(20 * time.Second)
	var got strings.Builder
	var longest time.Duration
	for !strings.Contains(got.String(), "late line") {
		if time.Now().After(deadline) {
			t.Fatalf("follow never returned the late line; got:\n%s", got.String())
		}
		start := time.Now()
		chunk := followOnce(t, s, id, offset)
		longest = max(longest, time.Since(start))
		got.WriteString(chunk.Data)
		offset = chunk.Offset
	}
	if longest <= cfg.ReadTimeout {
		t.Errorf("no follow waited longer than the read timeout (longest %s): the test proves nothing", longest)
	}
}

// followOnce is one GET …/logs?follow=1 on a kept-alive connection.
func followOnce(t *testing.T, s *Stack, id string, offset int64) api.LogChunk {
	t.Helper()
	c, err := apiclient.New(s.Info().APIURL, s.APIToken(), "narwhal-test")
	if err != nil {
		t.Fatal(err)
	}
	chunk, err := c.Logs(context.Background(), id, offset, true)
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	return chunk
}

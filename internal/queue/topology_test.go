package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

func TestTopicMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"job", "job", true},
		{"job", "jobs", false},
		{"job", "job.x", false},
		{"event.#", "event", true},
		{"event.#", "event.runner", true},
		{"event.#", "event.job.step", true},
		{"event.#", "events.job", false},
		{"event.*", "event.job", true},
		{"event.*", "event.job.step", false},
		{"event.*", "event", false},
		{"#", "", true},
		{"#", "a.b.c", true},
		{"a.#.c", "a.c", true},
		{"a.#.c", "a.b.b.c", true},
		{"a.#.c", "a.b.b.d", false},
		{"*.b", "a.b", true},
	}
	for _, c := range cases {
		if got := TopicMatch(c.pattern, c.key); got != c.want {
			t.Errorf("TopicMatch(%q, %q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}

func TestRoute(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"job":          ci.QueueJobs,
		"event.runner": ci.QueueEvents,
		"event":        ci.QueueEvents,
		"metrics.jobs": "",
		"nowhere":      "",
	}
	for key, want := range cases {
		got, ok := Route(key)
		if got != want || ok != (want != "") {
			t.Errorf("Route(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}

func TestKnown(t *testing.T) {
	t.Parallel()
	for _, name := range []string{ci.QueueJobs, ci.QueueEvents, QueueJobsDead, QueueEventsDead} {
		if !Known(name) {
			t.Errorf("Known(%q) = false", name)
		}
	}
	if Known("narwhal.other") {
		t.Error(`Known("narwhal.other") = true`)
	}
}

func TestBucket(t *testing.T) {
	t.Parallel()
	cases := []struct{ delay, want time.Duration }{
		{time.Millisecond, time.Second},
		{300 * time.Millisecond, time.Second},
		{time.Second, time.Second},
		{time.Second + 1, 5 * time.Second},
		{45 * time.Second, 2 * time.Minute},
		{time.Hour, time.Hour},
	}
	for _, c := range cases {
		got, err := Bucket(c.delay)
		if err != nil || got != c.want {
			t.Errorf("Bucket(%v) = %v, %v; want %v", c.delay, got, err, c.want)
		}
	}
	if _, err := Bucket(time.Hour + 1); !errors.Is(err, ErrDelayTooLong) {
		t.Errorf("Bucket(1h+1ns) error = %v, want ErrDelayTooLong", err)
	}
	names := map[time.Duration]string{
		5 * time.Second: "narwhal.wait.5s", 2 * time.Minute: "narwhal.wait.2m",
		time.Hour: "narwhal.wait.1h", 1500 * time.Millisecond: "narwhal.wait.1.5s",
	}
	for d, want := range names {
		if got := WaitQueue(d); got != want {
			t.Errorf("WaitQueue(%v) = %q, want %q", d, got, want)
		}
	}
}

package queue

import (
	"fmt"
	"time"
)

// WaitBuckets are the fixed delays of the wait queues, shortest first.
// PublishDelayed rounds a delay up to the next bucket: RabbitMQ expires
// messages only at the head of a queue, so one queue per fixed delay keeps a
// long delay from holding shorter ones behind it (see docs/queue.md).
var WaitBuckets = []time.Duration{
	1 * time.Second,
	5 * time.Second,
	30 * time.Second,
	2 * time.Minute,
	10 * time.Minute,
	time.Hour,
}

// Bucket returns the shortest wait bucket not shorter than delay, or
// ErrDelayTooLong when delay exceeds the longest bucket. Callers publish
// right away when delay <= 0 and do not call Bucket.
func Bucket(delay time.Duration) (time.Duration, error) {
	for _, b := range WaitBuckets {
		if delay <= b {
			return b, nil
		}
	}
	longest := WaitBuckets[len(WaitBuckets)-1]
	return 0, fmt.Errorf("delay %v exceeds %v: %w", delay, longest, ErrDelayTooLong)
}

// WaitQueue names the wait queue (and, in RabbitMQ, the fanout exchange in
// front of it) of a bucket, e.g. "narwhal.wait.5s" or "narwhal.wait.2m".
func WaitQueue(bucket time.Duration) string {
	return Exchange + ".wait." + shortDuration(bucket)
}

// shortDuration prints whole hours, minutes or seconds as "1h", "2m", "30s".
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

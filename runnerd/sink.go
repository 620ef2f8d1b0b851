package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
)

// dialTimeout bounds one connect to the broker; the outbox retries a
// publish that failed for want of one.
const dialTimeout = 10 * time.Second

// sendFunc publishes one report; the outbox calls it in order and retries
// it on error.
type sendFunc = func(ctx context.Context, m ci.Message) error

// newSink returns how reports leave the outbox: published on the broker's
// narwhal exchange when report.amqp_url is set, else appended to the
// report.file JSON-lines file (local use without a broker).
func newSink(cfg *Config, log *slog.Logger) (sendFunc, func(), error) {
	if cfg.Report.AMQPURL != "" {
		q := queue.NewLazy(amqp.Dialer(amqp.Config{URL: cfg.Report.AMQPURL, Prefix: cfg.Report.AMQPPrefix,
			ConnectionName: "runnerd " + cfg.ID}, "", nil, dialTimeout, log))
		return q.Publish, func() { q.Close() }, nil
	}
	f, err := newFileSink(cfg.Report.File)
	if err != nil {
		return nil, nil, err
	}
	return f.send, f.close, nil
}

// fileSink appends each report as one JSON line
// {"key":..., "id":..., "headers":{...}, "body":{the event}}.
type fileSink struct {
	mu sync.Mutex
	f  *os.File
}

// fileRecord is one line of the report file.
type fileRecord struct {
	Key     string            `json:"key"`
	ID      string            `json:"id"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body"`
}

func newFileSink(path string) (*fileSink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("report file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("report file: %w", err)
	}
	return &fileSink{f: f}, nil
}

func (s *fileSink) send(_ context.Context, m ci.Message) error {
	line, err := json.Marshal(fileRecord{Key: m.Key, ID: m.ID, Headers: m.Headers, Body: m.Body})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write report file: %w", err)
	}
	return nil
}

func (s *fileSink) close() { s.f.Close() }

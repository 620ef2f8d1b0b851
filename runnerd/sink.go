package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/queue/amqp"
)

// sendFunc publishes one report; the outbox calls it in order and retries
// it on error.
type sendFunc = func(ctx context.Context, m ci.Message) error

// newSink returns how reports leave the outbox: published on the broker's
// narwhal exchange when report.amqp_url is set, else appended to the
// report.file JSON-lines file (local use without a broker).
func newSink(cfg *Config, log *slog.Logger) (sendFunc, func(), error) {
	if cfg.Report.AMQPURL != "" {
		q := &lazyQueue{cfg: amqp.Config{URL: cfg.Report.AMQPURL, Prefix: cfg.Report.AMQPPrefix,
			ConnectionName: "runnerd " + cfg.ID}, log: log}
		return q.publish, q.close, nil
	}
	f, err := newFileSink(cfg.Report.File)
	if err != nil {
		return nil, nil, err
	}
	return f.send, f.close, nil
}

// lazyQueue connects to RabbitMQ on the first publish, so that runnerd
// starts while the broker is down (reports wait in the outbox). A failed
// connect is tried again by the next publish.
type lazyQueue struct {
	cfg amqp.Config
	log *slog.Logger

	mu sync.Mutex // held while connecting
	q  *amqp.Queue
}

func (l *lazyQueue) publish(ctx context.Context, m ci.Message) error {
	l.mu.Lock()
	if l.q == nil {
		q, err := amqp.New(ctx, l.cfg, l.log)
		if err != nil {
			l.mu.Unlock()
			return fmt.Errorf("connect to broker: %w", err)
		}
		l.q = q
	}
	q := l.q
	l.mu.Unlock()
	return q.Publish(ctx, m)
}

func (l *lazyQueue) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.q != nil {
		l.q.Close()
	}
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

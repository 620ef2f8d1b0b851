package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/testenv"
	"github.com/narwhal-ci/narwhal/internal/testenv/s3bucket"
)

// TestStoresFromConfig builds the three blob stores the way runnerd does:
// snapshots in a directory, the cache in S3 (moto_server) under its prefix,
// artifacts off; then artifacts on this disk while reporting to RabbitMQ,
// which warns. testenv's AWS variables use t.Setenv: not parallel.
func TestStoresFromConfig(t *testing.T) {
	client := s3bucket.Client(t)
	bucket := s3bucket.New(t, client, "runnerd-cache")
	dir := t.TempDir()
	var logged testenv.Buffer
	d := &daemon{log: slog.New(slog.NewTextHandler(&logged, nil)), cfg: &Config{
		Snapshots: StoreConfig{Dir: filepath.Join(dir, "snapshots")},
		Cache:     CacheConfig{StoreConfig: StoreConfig{Dir: filepath.Join(dir, "unused"), S3Bucket: bucket, S3Prefix: "ci"}},
		Artifacts: StoreConfig{Dir: filepath.Join(dir, "artifacts"), Off: true},
		Report:    ReportConfig{AMQPURL: "amqp://mq/"},
	}}
	st, err := d.stores(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.artifacts != nil || st.snapshots == nil || st.cache == nil {
		t.Fatalf("stores: %+v", st)
	}
	put(t, st.snapshots, "snapshots/j1/1/build.tar.zst", "snap")
	put(t, st.cache, "cache/o/r/go-1.tar.zst", "cached")
	if data, err := os.ReadFile(filepath.Join(dir, "snapshots", "snapshots", "j1", "1", "build.tar.zst")); err != nil ||
		string(data) != "snap" {
		t.Fatalf("snapshot on disk: %q, %v", data, err)
	}
	if keys := s3bucket.Keys(t, client, bucket); !slices.Equal(keys, []string{"ci/cache/o/r/go-1.tar.zst"}) {
		t.Fatalf("cache in S3: %v", keys)
	}
	if _, err := os.Stat(filepath.Join(dir, "unused")); !os.IsNotExist(err) {
		t.Fatalf("the cache dir was used: %v", err)
	}
	if logged.String() != "" {
		t.Fatalf("warned with artifacts off: %s", logged.String())
	}

	d.cfg.Artifacts.Off = false
	if st, err = d.stores(t.Context()); err != nil || st.artifacts == nil {
		t.Fatalf("artifacts on: %+v, %v", st, err)
	}
	if !strings.Contains(logged.String(), "artifacts are kept on this runner's disk") {
		t.Fatalf("no warning of local artifacts: %q", logged.String())
	}
}

func put(t *testing.T, s blob.Store, key, body string) {
	t.Helper()
	if err := s.Put(t.Context(), key, strings.NewReader(body)); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	r, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	defer r.Close()
	var got bytes.Buffer
	if _, err := io.Copy(&got, r); err != nil || got.String() != body {
		t.Fatalf("read %s: %q, %v", key, got.String(), err)
	}
}

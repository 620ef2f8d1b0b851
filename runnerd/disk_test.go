package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// The disk section: defaults, the file, the environment over the file, and
// watermarks that make no sense rejected.
func TestDiskConfig(t *testing.T) {
	t.Parallel()
	c, err := loadConfig(writeConfig(t, minimalYAML), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Disk; d != (DiskConfig{HighWatermark: 85, LowWatermark: 70, Interval: 30 * time.Second}) {
		t.Fatalf("defaults: %+v", d)
	}
	c, err = loadConfig(writeConfig(t, minimalYAML+"disk: {high_watermark: 90, low_watermark: 60, interval: 1m}\n"),
		envMap(map[string]string{"NARWHAL_DISK_LOW_WATERMARK": "75.5", "NARWHAL_DISK_OFF": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Disk; d != (DiskConfig{HighWatermark: 90, LowWatermark: 75.5, Interval: time.Minute, Off: true}) {
		t.Fatalf("file and environment: %+v", d)
	}
	for name, body := range map[string]string{
		"low above high": minimalYAML + "disk: {high_watermark: 60, low_watermark: 70}\n",
		"high of 100":    minimalYAML + "disk: {high_watermark: 100}\n",
		"negative low":   minimalYAML + "disk: {low_watermark: -5}\n",
		"negative tick":  minimalYAML + "disk: {interval: -1s}\n",
		"unknown key":    minimalYAML + "disk: {high: 90}\n",
	} {
		if _, err := loadConfig(writeConfig(t, body), envMap(nil)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := loadConfig(writeConfig(t, minimalYAML), envMap(map[string]string{"NARWHAL_DISK_HIGH_WATERMARK": "lots"})); err == nil {
		t.Error("NARWHAL_DISK_HIGH_WATERMARK=lots: accepted")
	}
}

// fileReports reads the reports runnerd appended to its report file.
func fileReports(t *testing.T, path string) []ci.RunnerEvent {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var out []ci.RunnerEvent
	for line := range strings.Lines(string(data)) {
		var rec fileRecord
		var ev ci.RunnerEvent
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			continue // a line being written
		}
		if err := json.Unmarshal(rec.Body, &ev); err != nil {
			t.Fatalf("report %s: %v", rec.ID, err)
		}
		out = append(out, ev)
	}
	return out
}

// runnerd's disk guard, on a small tmpfs work dir: above the high
// watermark it evicts a leftover workspace, reports the pressure in a
// heartbeat at once (the ticks are an hour apart), refuses jobs while the
// disk is still over the low watermark, and reports the end of the pressure
// once the disk is freed.
func TestDiskGuardOfRunnerd(t *testing.T) {
	t.Parallel()
	work := testenv.Tmpfs(t, "40m")
	reports := filepath.Join(t.TempDir(), "reports.jsonl")
	p := startRunnerd(t, daemonOpts{env: []string{"NARWHAL_RUNNER_WORKDIR=" + work,
		"NARWHAL_REPORT_FILE=" + reports, "NARWHAL_DISK_INTERVAL=100ms"}})
	leftover := filepath.Join(work, "jobs", "gone-123")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(leftover, "f"), make([]byte, 8<<20))
	writeFile(t, filepath.Join(work, "filler"), make([]byte, 29<<20)) // nothing evicts it
	underPressure := func(ev ci.RunnerEvent) bool {
		return ev.Kind == ci.EventHeartbeat && strings.Contains(ev.Runner.DiskPressure, work)
	}
	eventually(t, 10*time.Second, "a heartbeat under disk pressure", func() bool {
		return slices.ContainsFunc(fileReports(t, reports), underPressure)
	})
	eventually(t, 10*time.Second, "the leftover workspace to be evicted", func() bool {
		_, err := os.Stat(leftover)
		return errors.Is(err, fs.ErrNotExist)
	})
	ok, why, err := p.client.Run(t.Context(), repoJob("disk1", "file:///nowhere", strings.Repeat("a", 40)))
	if err != nil || ok || !strings.Contains(why, "runner under disk pressure: "+work) {
		t.Fatalf("run under pressure: accepted=%v reason=%q err=%v", ok, why, err)
	}
	if err := os.Remove(filepath.Join(work, "filler")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a heartbeat after the pressure", func() bool {
		evs := fileReports(t, reports)
		i := slices.IndexFunc(evs, underPressure)
		return slices.ContainsFunc(evs[i+1:], func(ev ci.RunnerEvent) bool {
			return ev.Kind == ci.EventHeartbeat && ev.Runner.DiskPressure == "" && ev.Runner.DiskUsedPercent > 0
		})
	})
}

package main

import (
	"testing"
	"time"
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

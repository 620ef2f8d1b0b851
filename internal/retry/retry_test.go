package retry

import (
	"context"
	"testing"
	"time"
)

func TestSleepEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep reported a cancelled context alive")
	}
	if time.Since(start) > time.Second {
		t.Fatal("Sleep did not return when the context ended")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep reported a live context dead")
	}
}

func TestJitterBounds(t *testing.T) {
	for range 1000 {
		if j := Jitter(100 * time.Millisecond); j < 50*time.Millisecond || j > 100*time.Millisecond {
			t.Fatalf("Jitter(100ms) = %v, want within [50ms, 100ms]", j)
		}
	}
	if Jitter(0) != 0 {
		t.Fatal("Jitter(0) != 0")
	}
}

package logstoretest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/logstore"
)

// testShipper ships lines of two steps through the store in many small
// chunks and reads the whole log back.
func testShipper(t *testing.T, s logstore.Store) {
	sh := logstore.NewShipper(s, "job", logstore.ShipperOptions{ChunkSize: 200, FlushEvery: time.Minute}, nil)
	var want strings.Builder
	for i := range 30 {
		step := []string{"build", "test"}[i%2]
		line := fmt.Sprintf("line %d of the log", i)
		sh.Line(step, []byte(line+"\n"))
		fmt.Fprintf(&want, "%s | %s\n", step, line)
	}
	if err := sh.Close(Context(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	data, complete := ReadAll(t, s, "job", 1000)
	if string(data) != want.String() || !complete {
		t.Errorf("log = %q, complete %v; want %q, true", data, complete, want.String())
	}
}

// testShipperReadableDuringRun: a line shows up in the store within
// FlushEvery while the job still runs, and the log is not complete yet.
func testShipperReadableDuringRun(t *testing.T, s logstore.Store) {
	sh := logstore.NewShipper(s, "job", logstore.ShipperOptions{FlushEvery: 50 * time.Millisecond}, nil)
	defer sh.Close(Context(t))
	sh.Line("build", []byte("compiling"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, complete, err := s.Read(Context(t), "job", 0, 100)
		if err == nil {
			if string(data) != "build | compiling\n" || complete {
				t.Fatalf("during the run: %q, complete %v", data, complete)
			}
			break
		}
		if !errors.Is(err, ci.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("line not readable during the run: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	sh.Line("build", []byte("done"))
	if err := sh.Close(Context(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	expectRead(t, s, "job", 0, 100, "build | compiling\nbuild | done\n", true)
}

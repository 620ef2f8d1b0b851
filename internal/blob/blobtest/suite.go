// Package blobtest is the contract suite of blob.Store: every implementation
// runs it against the real thing (a directory; moto_server's S3).
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/blob"
	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Run runs the suite; open returns an empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) blob.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, blob.Store)
	}{
		{"PutOpen", testPutOpen},
		{"Replace", testReplace},
		{"Missing", testMissing},
		{"FailedRead", testFailedRead},
		{"Delete", testDelete},
		{"BadKeys", testBadKeys},
		{"Sweep", testSweep},
		{"List", testList},
		{"Touch", testTouch},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Put stores data under key, failing the test on error.
func Put(t *testing.T, s blob.Store, key, data string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(data)); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

// Read returns the content of key, failing the test on error.
func Read(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return string(data)
}

func testPutOpen(t *testing.T, s blob.Store) {
	big := bytes.Repeat([]byte("narwhal "), 1<<17) // 1 MiB
	if err := s.Put(context.Background(), "snapshots/job1/1/build.tar.zst", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	Put(t, s, "empty", "")
	if got := Read(t, s, "snapshots/job1/1/build.tar.zst"); got != string(big) {
		t.Errorf("read back %d bytes, want %d", len(got), len(big))
	}
	if got := Read(t, s, "empty"); got != "" {
		t.Errorf("empty object reads %q", got)
	}
}

func testReplace(t *testing.T, s blob.Store) {
	Put(t, s, "a/b", "first")
	Put(t, s, "a/b", "second")
	if got := Read(t, s, "a/b"); got != "second" {
		t.Errorf("after a second Put: %q", got)
	}
}

func testMissing(t *testing.T, s blob.Store) {
	if _, err := s.Open(context.Background(), "no/such"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Open of a missing key: %v, want ErrNotFound", err)
	}
}

// testFailedRead: a reader that fails stores nothing, and leaves an earlier
// object as it was.
func testFailedRead(t *testing.T, s blob.Store) {
	Put(t, s, "k", "kept")
	for _, key := range []string{"k", "other"} {
		r := &failing{ReadSeeker: strings.NewReader(strings.Repeat("x", 64<<10)), after: 1000}
		if err := s.Put(context.Background(), key, r); err == nil {
			t.Errorf("Put(%s) of a failing reader succeeded", key)
		}
	}
	if got := Read(t, s, "k"); got != "kept" {
		t.Errorf("a failed Put changed the object: %q", got)
	}
	if _, err := s.Open(context.Background(), "other"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("a failed Put stored an object: %v", err)
	}
}

// failing is a ReadSeeker whose reads fail once after bytes were read.
type failing struct {
	io.ReadSeeker
	after int
}

func (f *failing) Read(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("disk on fire")
	}
	n, err := f.ReadSeeker.Read(p[:min(len(p), f.after)])
	f.after -= n
	return n, err
}

func testDelete(t *testing.T, s blob.Store) {
	Put(t, s, "d/1", "x")
	for range 2 { // the second deletes a missing object: not an error
		if err := s.Delete(context.Background(), "d/1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Open(context.Background(), "d/1"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Open after Delete: %v", err)
	}
}

func testBadKeys(t *testing.T, s blob.Store) {
	for _, key := range []string{"", "/a", "a/", "a//b", "../a", "a/../b", ".hidden", "a/./b", "a b", "a\\b",
		strings.Repeat("x", 129), "1/2/3/4/5/6/7/8/9"} {
		if err := s.Put(context.Background(), key, strings.NewReader("x")); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Put(%q): %v, want ErrBadKey", key, err)
		}
		if _, err := s.Open(context.Background(), key); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Open(%q): %v, want ErrBadKey", key, err)
		}
	}
}

// testSweep: objects put before the cut-off go, later ones and those outside
// the prefix stay.
func testSweep(t *testing.T, s blob.Store) {
	Put(t, s, "snapshots/old/1/a", "1")
	Put(t, s, "snapshotsX/old", "1")
	Put(t, s, "cache/old", "1")
	time.Sleep(1100 * time.Millisecond) // S3's LastModified has whole seconds
	cut := time.Now()
	time.Sleep(1100 * time.Millisecond)
	Put(t, s, "snapshots/new/1/a", "2")
	n, err := s.Sweep(context.Background(), "snapshots", cut)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	for key, kept := range map[string]bool{"snapshots/old/1/a": false, "snapshots/new/1/a": true, "snapshotsX/old": true, "cache/old": true} {
		_, err := s.Open(context.Background(), key)
		if (err == nil) != kept {
			t.Errorf("%s after the sweep: %v, want kept=%v", key, err, kept)
		}
	}
	if n, err := s.Sweep(context.Background(), "", cut); err != nil || n != 2 {
		t.Errorf("Sweep of everything = %d, %v; want 2", n, err)
	}
}

// testList: every object below the prefix, in key order, with its size and
// a time of its Put; nothing of a sibling prefix.
func testList(t *testing.T, s blob.Store) {
	before := time.Now().Add(-2 * time.Second) // S3's LastModified has whole seconds
	Put(t, s, "cache/a/x", "12345")
	Put(t, s, "cache/a-b/y", "1")
	Put(t, s, "cache/a/deep/z", "")
	Put(t, s, "cacheX/no", "1")
	Put(t, s, "other", "1")
	objs, err := s.List(context.Background(), "cache")
	if err != nil {
		t.Fatal(err)
	}
	want := []blob.Object{{Key: "cache/a-b/y", Size: 1}, {Key: "cache/a/deep/z", Size: 0}, {Key: "cache/a/x", Size: 5}}
	if len(objs) != len(want) {
		t.Fatalf("List(cache) = %+v, want the keys of %+v", objs, want)
	}
	for i, o := range objs {
		if o.Key != want[i].Key || o.Size != want[i].Size || o.Modified.Before(before) || o.Modified.After(time.Now().Add(2*time.Second)) {
			t.Errorf("object %d = %+v, want %s of %d bytes modified about now", i, o, want[i].Key, want[i].Size)
		}
	}
	for prefix, n := range map[string]int{"": 5, "cache/a": 2, "cache/a/": 2, "cache/a/x": 0, "nothing": 0} {
		if objs, err := s.List(context.Background(), prefix); err != nil || len(objs) != n {
			t.Errorf("List(%q) = %v, %v; want %d objects", prefix, objs, err, n)
		}
	}
	if _, err := s.List(context.Background(), "../x"); !errors.Is(err, blob.ErrBadKey) {
		t.Errorf("List(../x): %v, want ErrBadKey", err)
	}
}

// testTouch: Touch moves an object's Modified to now, keeps its content,
// and makes a Sweep with an earlier cut-off keep it.
func testTouch(t *testing.T, s blob.Store) {
	Put(t, s, "cache/o/r/old", "content")
	Put(t, s, "cache/o/r/other", "x")
	time.Sleep(2100 * time.Millisecond) // S3's LastModified has whole seconds
	cut := time.Now().Add(-time.Second)
	if err := s.Touch(context.Background(), "cache/o/r/old"); err != nil {
		t.Fatal(err)
	}
	objs, err := s.List(context.Background(), "cache/o/r")
	if err != nil || len(objs) != 2 {
		t.Fatalf("List = %v, %v", objs, err)
	}
	if !objs[0].Modified.After(cut) || !objs[1].Modified.Before(cut) {
		t.Errorf("after a Touch of old: %+v; want old modified after %v, other before", objs, cut)
	}
	if objs[0].Size != int64(len("content")) {
		t.Errorf("touched object's size %d", objs[0].Size)
	}
	if got := Read(t, s, "cache/o/r/old"); got != "content" {
		t.Errorf("touched object reads %q", got)
	}
	if n, err := s.Sweep(context.Background(), "cache", cut); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want only the untouched object", n, err)
	}
	if err := s.Touch(context.Background(), "cache/o/r/none"); !errors.Is(err, ci.ErrNotFound) {
		t.Errorf("Touch of a missing key: %v, want ErrNotFound", err)
	}
	if err := s.Touch(context.Background(), "a//b"); !errors.Is(err, blob.ErrBadKey) {
		t.Errorf("Touch(a//b): %v, want ErrBadKey", err)
	}
}

// Truncated checks a store whose List stops after two objects (set so by
// the backend's own test): the first two in key order, and ErrTruncated.
func Truncated(t *testing.T, s blob.Store) {
	t.Helper()
	for _, k := range []string{"l/c", "l/a", "l/b"} {
		Put(t, s, k, "x")
	}
	objs, err := s.List(context.Background(), "l")
	if !errors.Is(err, blob.ErrTruncated) || len(objs) != 2 || objs[0].Key != "l/a" || objs[1].Key != "l/b" {
		t.Errorf("List past its bound = %+v, %v; want l/a, l/b and ErrTruncated", objs, err)
	}
	if objs, err := s.List(context.Background(), "l/a"); err != nil || len(objs) != 0 {
		t.Errorf("List(l/a) = %v, %v", objs, err)
	}
}

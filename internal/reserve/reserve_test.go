package reserve_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/reserve"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

// On a real filesystem filled to the last block, releasing the reserve makes
// room for a write that failed with ENOSPC; Restore takes the space back only
// once there is room for it again.
func TestReleaseMakesRoomAndRestoreWaitsForIt(t *testing.T) {
	t.Parallel()
	disk := testenv.Tmpfs(t, "4m")
	r := reserve.Open(disk, 1<<20, nil)
	if !r.Held() {
		t.Fatal("reserve not held on an empty filesystem")
	}
	filler := testenv.Fill(t, disk, "filler")
	msg := filepath.Join(disk, "report")
	err := os.WriteFile(msg, make([]byte, 4096), 0o600)
	if !reserve.NoSpace(err) {
		t.Fatalf("write on a full disk: %v, want ENOSPC", err)
	}
	if !r.Release() || r.Release() {
		t.Fatal("Release: want true once, then false")
	}
	if err := os.WriteFile(msg, make([]byte, 4096), 0o600); err != nil {
		t.Fatalf("write after Release: %v", err)
	}
	r.Restore()
	if r.Held() {
		t.Fatal("Restore took space back on a full disk")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r.Restore()
	if fi, err := os.Stat(filepath.Join(disk, reserve.FileName)); !r.Held() || err != nil || fi.Size() != 1<<20 {
		t.Fatalf("after the disk was freed: held %v, file %v %v", r.Held(), fi, err)
	}
}

// A negative size holds nothing.
func TestNegativeSizeHoldsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := reserve.Open(dir, -1, nil)
	if r.Held() || r.Release() {
		t.Fatal("a reserve of size -1 holds space")
	}
	if _, err := os.Stat(filepath.Join(dir, reserve.FileName)); !os.IsNotExist(err) {
		t.Fatalf("reserve file: %v", err)
	}
}

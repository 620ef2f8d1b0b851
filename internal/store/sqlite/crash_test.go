package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.CrashChild(map[string]testenv.CrashWork{"sqlite-burst": writeBurst})
	os.Exit(m.Run())
}

// writeBurst is the crash test's child: 16 writers create jobs and move
// each to a second version, acknowledging "create ID" and "update ID
// VERSION" as each write returns, until the process is killed.
func writeBurst(ctx context.Context, dir string, ack func(string)) error {
	s, err := Open(ctx, filepath.Join(dir, "narwhal.db"))
	if err != nil {
		return err
	}
	return testenv.Burst(16, func(w, i int) error {
		return createAndUpdate(ctx, s, fmt.Sprintf("w%d-%d", w, i), ack)
	})
}

func createAndUpdate(ctx context.Context, s *Store, id string, ack func(string)) error {
	j, err := s.CreateJob(ctx, newJob(id))
	if err != nil {
		return err
	}
	ack("create " + id)
	j.Published = true
	if j, err = s.UpdateJob(ctx, j); err != nil {
		return err
	}
	ack(fmt.Sprintf("update %s %d", id, j.Version))
	return nil
}

// Issue 15: no acknowledged write is lost when the process dies (kill -9)
// in the middle of a burst of group-committed writes.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	acks := testenv.CrashAfter(t, "sqlite-burst", dir, 2000)
	s := openT(t, filepath.Join(dir, "narwhal.db"))
	ctx := context.Background()
	for _, a := range acks {
		f := strings.Fields(a)
		j, err := s.GetJob(ctx, f[1])
		switch {
		case errors.Is(err, ci.ErrNotFound):
			t.Fatalf("acknowledged %q, but job %s is not in the store", a, f[1])
		case err != nil:
			t.Fatal(err)
		case f[0] == "update":
			if v, _ := strconv.ParseInt(f[2], 10, 64); j.Version < v || !j.Published {
				t.Fatalf("acknowledged %q, but the store has version %d published %v", a, j.Version, j.Published)
			}
		}
	}
	t.Logf("%d acknowledged writes, all there after kill -9", len(acks))
}

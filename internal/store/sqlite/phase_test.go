package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
	"github.com/narwhal-ci/narwhal/internal/store/storetest"
)

// The migration's SQL and the Go code agree on the phase of every status.
func TestPhaseSQLIsPhaseOf(t *testing.T) {
	t.Parallel()
	s := openT(t, Memory)
	for _, st := range ci.Statuses {
		var got string
		q := `SELECT ` + phaseSQL + ` FROM (SELECT ? AS status)`
		if err := s.r.QueryRow(q, st).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := phaseOf(st); got != want {
			t.Errorf("phase of %s: SQL %q, phaseOf %q", st, got, want)
		}
	}
}

// phaseRow reads the phase column of job id.
func phaseRow(t *testing.T, s *Store, id string) string {
	t.Helper()
	var p string
	if err := s.r.QueryRow(`SELECT phase FROM jobs WHERE id = ?`, id).Scan(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// listed returns the IDs ListJobs gives for repo and status.
func listed(t *testing.T, s *Store, repo string, status ci.Status) []string {
	t.Helper()
	return storetest.ListIDs(t, s, ci.JobFilter{Repo: repo, Status: status})
}

// A job moving through its life keeps its phase column right, and is listed
// under its repository and status at every step.
func TestPhaseFollowsTheJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openExclusive(t, filepath.Join(t.TempDir(), "narwhal.db"))
	j, err := s.CreateJob(ctx, newJob("job-1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []ci.Status{ci.StatusAssigned, ci.StatusRunning, ci.StatusSuccess} {
		if err := j.Move(to); err != nil {
			t.Fatal(err)
		}
		if j, err = s.UpdateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		if p := phaseRow(t, s, j.ID); p != phaseOf(to) {
			t.Errorf("%s: phase %q, want %q", to, p, phaseOf(to))
		}
		for _, other := range ci.Statuses {
			ids := listed(t, s, j.Repo, other)
			if want := other == to; (len(ids) == 1) != want {
				t.Errorf("job in %s: listed under %s = %v", to, other, ids)
			}
		}
	}
}

// A database of schema version 2 gets its phases from the migration: its
// jobs are listed under their repository and status as before.
func TestMigrationGivesPhases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "narwhal.db")
	writeVersion2(t, path)
	s := openT(t, path)
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
	for _, st := range ci.Statuses {
		id := "job-" + string(st)
		if p := phaseRow(t, s, id); p != phaseOf(st) {
			t.Errorf("%s: phase %q, want %q", id, p, phaseOf(st))
		}
		if ids := listed(t, s, "octo/hello", st); len(ids) != 1 || ids[0] != id {
			t.Errorf("listed under %s: %v, want [%s]", st, ids, id)
		}
	}
}

// writeVersion2 makes a database of schema version 2 at path with one job
// of octo/hello in each status.
func writeVersion2(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", fileDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		migrations[0], migrations[1], `INSERT INTO schema_version (version) VALUES (2)`}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	for i, st := range ci.Statuses {
		j := newJob("job-" + string(st))
		j.Status, j.Version, j.CreatedAt = st, 1, now.Add(time.Duration(i)*time.Second)
		doc, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(`INSERT INTO jobs (id, repo, status, branch, created_at, published, version, doc)
			VALUES (?, ?, ?, ?, ?, 1, 1, ?)`, j.ID, j.Repo, j.Status, j.Branch, store.TimeKey(j.CreatedAt), doc)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A repository's jobs in a status are read through jobs_by_repo_phase, in
// its order: no sort, no scan of the repository's other jobs.
func TestListByRepoAndStatusUsesPhaseIndex(t *testing.T) {
	t.Parallel()
	s := openT(t, Memory)
	for _, st := range []ci.Status{ci.StatusRunning, ci.StatusSuccess} {
		where, args, err := jobFilter(ci.JobFilter{Repo: "octo/hello", Status: st})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.r.Query(`EXPLAIN QUERY PLAN SELECT doc FROM jobs`+where+
			` ORDER BY created_at DESC, id DESC LIMIT 50`, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "jobs_by_repo_phase (repo=? AND phase=?)") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%s: plan %q, want jobs_by_repo_phase without a sort", st, got)
		}
	}
}

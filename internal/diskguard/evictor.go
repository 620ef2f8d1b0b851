package diskguard

import (
	"context"
	"time"
)

// An Evictor offers things that may be removed to free disk space.
//
// Contract: Candidates lists only what may be removed right now: nothing in
// use (a running job's workspace, an image a container uses). It is called
// at most once per guard pass, only under pressure, and may be slow (it may
// walk directories); an error drops this evictor's candidates for the pass
// and is logged. Each Candidate's Remove is called at most once, from the
// guard's goroutine, in least-recently-used order across all evictors; since
// time passes between the listing and the removal, Remove checks again what
// is cheap to check (and a removal the owner refuses, such as Docker's for
// an image a container started to use, is an error, not a forced removal).
type Evictor interface {
	// Name names the evictor in logs ("workspaces", "docker images").
	Name() string
	// Candidates lists what may be removed now, in any order.
	Candidates(ctx context.Context) ([]Candidate, error)
}

// A Candidate is one thing an Evictor may remove.
type Candidate struct {
	// What names it for people, in the eviction log ("workspace
	// /work/jobs/j1-123", "image busybox:1.36").
	What string
	// Path is a path on the filesystem its removal frees space on; the guard
	// removes only candidates of filesystems above the low watermark. A path
	// the guard cannot stat makes the candidate one it never removes.
	Path string
	// LastUsed is when it was last used; the oldest go first.
	LastUsed time.Time
	// Bytes is about how much its removal frees, for the log; 0 when
	// unknown. The guard measures the filesystem again after each removal
	// rather than trusting it.
	Bytes int64
	// Remove removes it; an error leaves it (logged) and the guard goes on
	// with the next candidate.
	Remove func(ctx context.Context) error
}

package devstack

import (
	"context"
	"errors"
	"fmt"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// recoverJobs picks up the jobs a previous run of the stack left unfinished:
// queued jobs are published again (the in-memory queue forgot them; a
// duplicate message is harmless), and jobs it had assigned or running on its
// runners, which restarted empty, are queued again as a new attempt.
//
// A record it cannot list or recover (one the store refuses to write back,
// say) is logged and skipped: it must not keep the stack from starting. A job
// whose record grew too large for the store ends in error on the way
// (ci.Update). Only the end of ctx stops the recovery with an error.
func (s *Stack) recoverJobs(ctx context.Context) error {
	for _, status := range []ci.Status{ci.StatusAssigned, ci.StatusRunning, ci.StatusQueued} {
		jobs, err := listAll(ctx, s.store, status)
		if err != nil {
			s.log.Error("recover jobs: cannot list them; they are left as they are", "status", status, "err", err)
		}
		for _, j := range jobs {
			if err := s.recoverJob(ctx, j); err != nil {
				s.log.Error("recover job: skipped", "job_id", j.ID, "status", j.Status, "err", err)
			}
		}
		if err := context.Cause(ctx); err != nil {
			return fmt.Errorf("recover jobs: %w", err)
		}
	}
	return nil
}

func (s *Stack) recoverJob(ctx context.Context, j ci.Job) error {
	if j.Status != ci.StatusQueued {
		if !s.ours(j.RunnerID) {
			return nil // another runner's: the monitor watches it
		}
		var err error
		j, err = ci.Update(ctx, s.store, j.ID, func(j *ci.Job) error {
			if j.Status != ci.StatusAssigned && j.Status != ci.StatusRunning {
				return errSkip
			}
			j.Waiting = "requeued: narwhal dev restarted while the job ran"
			return j.Move(ci.StatusQueued)
		})
		if errors.Is(err, errSkip) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	s.log.Info("job from an earlier run queued again", "job_id", j.ID, "attempt", j.Attempt)
	return s.queue.Publish(ctx, ci.NewJobMessage(j))
}

var errSkip = errors.New("nothing to do")

// ours reports whether runnerID is one of the stack's runners.
func (s *Stack) ours(runnerID string) bool {
	for _, dr := range s.runners {
		if dr.id == runnerID {
			return true
		}
	}
	return false
}

// listAll lists every job in status.
func listAll(ctx context.Context, st ci.Store, status ci.Status) ([]ci.Job, error) {
	var all []ci.Job
	cursor := ""
	for {
		page, err := st.ListJobs(ctx, ci.JobFilter{Status: status, Limit: 200, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Jobs...)
		if cursor = page.Cursor; cursor == "" {
			return all, nil
		}
	}
}

package devstack

import (
	"context"
	"sync"
	"time"
)

// Shutdown budgets.
const (
	httpStopWait   = 5 * time.Second
	reportSettling = 5 * time.Second // for the last reports to reach the store
)

// shutdown stops the stack in an order that loses nothing a person would
// miss:
//  1. the HTTP server (no new webhooks or API calls);
//  2. the job consumer (nothing new is dispatched);
//  3. the runners: running jobs are cancelled, torn down (containers
//     removed) and reported; the outboxes publish the reports;
//  4. the event consumer, once the cancelled jobs show as final in the store
//     (or after a few seconds), and the monitor;
//  5. the gRPC servers, outboxes, executors (after a last sweep), the queue
//     and the store.
func (s *Stack) shutdown(l loops) {
	ctx := context.Background()
	hctx, cancel := context.WithTimeout(ctx, httpStopWait)
	if err := s.srv.Shutdown(hctx); err != nil {
		s.srv.Close()
	}
	cancel()
	if s.intake != nil {
		s.intake.Flush() // the last Published marks, before the store closes
	}
	l.jobs.stop()
	cancelled := s.stopRunners(ctx)
	s.awaitFinal(ctx, cancelled)
	l.events.stop()
	l.monitor.stop()
	s.release()
	s.log.Info("narwhal dev stopped")
}

// stopRunners cancels every runner's jobs and closes the runners, all
// runners at once; it returns the IDs of the jobs it cancelled.
func (s *Stack) stopRunners(ctx context.Context) []string {
	var mu sync.Mutex
	var cancelled []string
	var wg sync.WaitGroup
	for _, dr := range s.runners {
		wg.Go(func() {
			ids := dr.stopJobs(ctx)
			dr.close(ctx)
			mu.Lock()
			cancelled = append(cancelled, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return cancelled
}

// awaitFinal waits, up to reportSettling, until every job in ids is final in
// the store: the event consumer has applied the runners' last reports.
func (s *Stack) awaitFinal(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(ctx, reportSettling)
	defer cancel()
	for _, id := range ids {
		for {
			j, err := s.store.GetJob(ctx, id)
			if err != nil || j.Status.Final() {
				break
			}
			select {
			case <-ctx.Done():
				s.log.Warn("jobs not final at shutdown; the next start queues them again", "job_id", id, "status", j.Status)
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// Package storebench measures GET /jobs as a store's table grows: one scale
// curve of issue 15. Each store's benchmark hands it a Filler that loads jobs
// in bulk beside the store's API (one transaction, BatchWriteItem), and
// ListScale times whole API requests (internal/api on the store) at
// several table sizes: the newest page, and a page from a cursor in the
// middle of the table. A keyset listing costs the same at every size; an
// OFFSET or a scan grows with the table.
package storebench

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/narwhal-ci/narwhal/internal/api"
	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/store"
)

// Filler stores jobs (new IDs, valid stored form) as fast as the store
// allows, without going through ci.Store.
type Filler func(ctx context.Context, jobs []ci.Job) error

// PageSize is the limit of every timed request.
const PageSize = 50

const token = "storebench-token-0123456789"

// epoch is the CreatedAt of job 0; job i is i milliseconds later.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Job is the i-th job of a benchmark table: queued, published, over 20
// repositories, created i ms after epoch.
func Job(i int) ci.Job {
	repo, sha := fmt.Sprintf("acme/app%d", i%20), fmt.Sprintf("%040x", i+1)
	return ci.Job{ID: ci.JobID(repo, sha, ci.EventPush, 0), Repo: repo, SHA: sha,
		CloneURL: "https://github.com/" + repo + ".git", Ref: "refs/heads/main", Branch: "main",
		Event: ci.EventPush, Status: ci.StatusQueued, Attempt: 1, Published: true, Version: 1,
		CreatedAt: epoch.Add(time.Duration(i) * time.Millisecond), UpdatedAt: epoch}
}

// ListScale runs one sub-benchmark per size ("rows=N", in order), growing
// the table to N with fill between them, and reports the p50 and p99 of
// GET /jobs?limit=PageSize for the newest page (first-p50-ms, first-p99-ms)
// and for a page from a cursor half-way down the table (mid-p50-ms,
// mid-p99-ms). units, when not nil, returns the read units the store used
// since it was last called (awscount), reported per page (units/page).
func ListScale(b *testing.B, jobs api.JobReader, fill Filler, sizes []int, units func() float64) {
	h := api.New(api.Deps{Jobs: jobs, Tokens: []string{token}, Logger: slog.New(slog.DiscardHandler)})
	have := 0
	for _, n := range sizes {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			have = grow(b, fill, have, n)
			mid := Job(n / 2)
			cursor := store.EncodeCursor(store.SortKey(mid.CreatedAt, mid.ID))
			first, middle := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
			if units != nil {
				units()
			}
			b.ResetTimer()
			for range b.N {
				first = append(first, get(b, h, ""))
				middle = append(middle, get(b, h, cursor))
			}
			b.StopTimer()
			report(b, "first", first)
			report(b, "mid", middle)
			if units != nil {
				b.ReportMetric(units()/float64(2*b.N), "units/page")
			}
		})
	}
}

// grow fills the table from have jobs to n, in batches of 5,000.
func grow(b *testing.B, fill Filler, have, n int) int {
	ctx := context.Background()
	for have < n {
		batch := make([]ci.Job, 0, min(5000, n-have))
		for i := have; i < have+cap(batch); i++ {
			batch = append(batch, Job(i))
		}
		if err := fill(ctx, batch); err != nil {
			b.Fatalf("fill %d..%d: %v", have, have+len(batch), err)
		}
		have += len(batch)
	}
	return have
}

// get times one GET /jobs and checks it answered a full page.
func get(b *testing.B, h http.Handler, cursor string) time.Duration {
	q := url.Values{"limit": {fmt.Sprint(PageSize)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	req := httptest.NewRequest(http.MethodGet, "/jobs?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	t0 := time.Now()
	h.ServeHTTP(rec, req)
	took := time.Since(t0)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET /jobs: %d %s", rec.Code, rec.Body)
	}
	return took
}

func report(b *testing.B, name string, lat []time.Duration) {
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), name+"-p50-ms")
	b.ReportMetric(ms(lat[min(len(lat)-1, len(lat)*99/100)]), name+"-p99-ms")
}

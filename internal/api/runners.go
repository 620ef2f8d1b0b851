package api

import (
	"net/http"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// RunnerList is the answer of GET /runners: every registered runner, sorted
// by ID.
type RunnerList struct {
	Runners []ci.Runner `json:"runners"`
}

// listRunners is GET /runners.
func listRunners(runners RunnerLister) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		rs, err := runners.ListRunners(r.Context())
		if err != nil {
			return reply{}, failure("list runners", err)
		}
		if rs == nil {
			rs = []ci.Runner{}
		}
		return reply{status: http.StatusOK, body: RunnerList{Runners: rs}}, nil
	})
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

type resubmitter interface {
	Resubmit(ctx context.Context, id, fromStep string) (ci.Job, error)
}

// ResubmitBody is the optional body of POST /jobs/{id}/resubmit.
type ResubmitBody struct {
	// FromStep re-runs the job from this step: the steps before it that
	// succeeded are not run again, and the run starts from the workspace
	// they left. Empty: a whole re-run.
	FromStep string `json:"from_step,omitempty"`
}

// maxActionBody bounds the body of an action.
const maxActionBody = 4 << 10

type canceller interface {
	Cancel(ctx context.Context, id string) (ci.Job, error)
}

type drainer interface {
	Drain(ctx context.Context, runnerID string) error
}

// resubmit is POST /jobs/{id}/resubmit with an optional ResubmitBody: 201
// with the new job and its Location. A job without the commit data a run
// needs (repository, clone URL, SHA) cannot be run again: 422; a re-run from
// a step that cannot be (see Operations): 409.
func resubmit(jobs jobGetter, ops resubmitter) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		id := r.PathValue("id")
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		body, err := resubmitBody(r)
		if err != nil {
			return reply{}, err
		}
		old, err := jobs.GetJob(r.Context(), id)
		if err != nil {
			return reply{}, failure("job "+id, err)
		}
		if missing := missingCommitData(old); missing != "" {
			return reply{}, fail(http.StatusUnprocessableEntity,
				fmt.Sprintf("job %s cannot be resubmitted: it has no %s", id, missing), nil)
		}
		j, err := ops.Resubmit(r.Context(), id, body.FromStep)
		if err != nil {
			return reply{}, failure("resubmit job "+id, err)
		}
		return reply{status: http.StatusCreated, body: viewJob(j, time.Now()), location: "/jobs/" + url.PathEscape(j.ID)}, nil
	})
}

// resubmitBody reads the optional body: none, or a small JSON object with
// only ResubmitBody's fields.
func resubmitBody(r *http.Request) (ResubmitBody, error) {
	var b ResubmitBody
	data, err := io.ReadAll(io.LimitReader(r.Body, maxActionBody+1))
	switch {
	case err != nil:
		return b, fail(http.StatusBadRequest, "cannot read the body", err)
	case len(data) > maxActionBody:
		return b, fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxActionBody), nil)
	case len(bytes.TrimSpace(data)) == 0:
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, fail(http.StatusBadRequest, "body: want {\"from_step\": \"NAME\"}: "+err.Error(), err)
	}
	return b, nil
}

// missingCommitData names the fields a run needs that j lacks, "" when none.
func missingCommitData(j ci.Job) string {
	var missing []string
	for _, f := range []struct{ name, value string }{{"repo", j.Repo}, {"clone_url", j.CloneURL}, {"sha", j.SHA}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	return strings.Join(missing, ", ")
}

// cancel is POST /jobs/{id}/cancel: 200 with the job; 409 when it has
// already finished.
func cancel(ops canceller) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		id := r.PathValue("id")
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		j, err := ops.Cancel(r.Context(), id)
		if errors.Is(err, ci.ErrIllegalTransition) {
			return reply{}, fail(http.StatusConflict, finishedMessage(id, j, err), err)
		}
		if err != nil {
			return reply{}, failure("job "+id, err)
		}
		return reply{status: http.StatusOK, body: viewJob(j, time.Now())}, nil
	})
}

// finishedMessage says that job id cannot be cancelled any more, with its
// status when the error or the job returned with it tells.
func finishedMessage(id string, j ci.Job, err error) string {
	status := j.Status
	var it *ci.IllegalTransitionError
	if errors.As(err, &it) {
		status = it.From
	}
	if status == "" {
		return fmt.Sprintf("job %s already finished", id)
	}
	return fmt.Sprintf("job %s already finished (%s)", id, status)
}

// DrainBody is the answer of POST /runners/{id}/drain.
type DrainBody struct {
	RunnerID string         `json:"runner_id"`
	State    ci.RunnerState `json:"state"`
}

// drain is POST /runners/{id}/drain: 202, the runner stops taking jobs and
// stops when its running jobs have ended.
func drain(ops drainer) http.Handler {
	return apiFunc(func(r *http.Request) (reply, error) {
		id := r.PathValue("id")
		if err := noQuery(r); err != nil {
			return reply{}, err
		}
		if err := ops.Drain(r.Context(), id); err != nil {
			return reply{}, failure("runner "+id, err)
		}
		return reply{status: http.StatusAccepted, body: DrainBody{RunnerID: id, State: ci.RunnerDraining}}, nil
	})
}

package ci

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Event is what caused a job.
type Event string

// Events a job can come from.
const (
	EventPush        Event = "push"
	EventPullRequest Event = "pull_request"
	EventManual      Event = "manual"
	// EventTag is a push of a tag: the job builds the commit the tag points to.
	EventTag Event = "tag"
)

// Job is one pipeline run of one commit. The Store is the source of truth for
// it; queue messages carry only its ID.
type Job struct {
	ID       string `json:"id"`
	Repo     string `json:"repo"`      // full name, "owner/name"
	CloneURL string `json:"clone_url"` // https, file:// or a local path
	SHA      string `json:"sha"`
	Ref      string `json:"ref"`    // refs/heads/main, refs/tags/v1, refs/pull/7/head
	Branch   string `json:"branch"` // the branch, or the PR's base branch
	Event    Event  `json:"event"`
	PR       int    `json:"pr,omitempty"`
	Fork     bool   `json:"fork,omitempty"` // the PR comes from a fork: no secrets
	Author   string `json:"author,omitempty"`
	Message  string `json:"message,omitempty"`
	// Changes are the files the push or pull request changed, for path
	// filters (see Changes).
	Changes Changes `json:"changes,omitzero"`
	// Deliveries are the GitHub delivery IDs that named this job, oldest
	// first: the first one and the latest few (AddDelivery keeps at most
	// MaxDeliveries); DeliveriesDropped counts the ones left out between.
	Deliveries        []string `json:"deliveries,omitempty"`
	DeliveriesDropped int      `json:"deliveries_dropped,omitempty"`
	// Labels select runners: a runner takes the job only if it has all of them.
	Labels []string `json:"labels,omitempty"`

	Status   Status `json:"status"`
	Attempt  int    `json:"attempt"`             // 1 for the first run, +1 per requeue
	ParentID string `json:"parent_id,omitempty"` // the job this one re-submits
	// Number is the job's build number in its repository (acme/app #42): the
	// store assigns it at creation, one more than the repository's last.
	Number int `json:"number,omitempty"`
	// Resume, for a re-run from a step, says which steps not to run again and
	// the workspace snapshot to start from (see PlanResume).
	Resume *Resume `json:"resume,omitempty"`
	// Published is false until the queue confirmed the job's message; the
	// intake sweeper republishes jobs that stay unpublished.
	Published bool   `json:"published"`
	Waiting   string `json:"waiting,omitempty"` // why a queued job waits, for people
	RunnerID  string `json:"runner_id,omitempty"`
	Error     string `json:"error,omitempty"` // why a job ended in error
	Steps     []Step `json:"steps,omitempty"`
	// TimeoutSeconds is the job's own time limit as its runner enforces it
	// (the pipeline's timeout, or the runner's default), reported once the
	// runner has read narwhal.yml; 0 while unknown. The monitor's deadline
	// of a running job follows it (see dispatch.Config.TimeoutGrace).
	TimeoutSeconds int64 `json:"timeout_seconds,omitempty"`

	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`

	// Version is the store's optimistic-concurrency counter: 1 after create,
	// +1 per update. UpdateJob succeeds only when it matches the stored value.
	Version int64 `json:"version"`
}

// StepStatus is the state of one step of a job.
type StepStatus string

// Step states. A step moves pending → running → one of the final ones, or
// from pending straight to skipped or cancelled.
const (
	StepPending   StepStatus = "pending"
	StepRunning   StepStatus = "running"
	StepSuccess   StepStatus = "success"
	StepFailure   StepStatus = "failure"
	StepSkipped   StepStatus = "skipped"
	StepCancelled StepStatus = "cancelled"
)

// Step is the reported state of one pipeline step of a job.
type Step struct {
	Name       string     `json:"name"`
	Status     StepStatus `json:"status"`
	ExitCode   int        `json:"exit_code"`
	StartedAt  time.Time  `json:"started_at,omitzero"`
	FinishedAt time.Time  `json:"finished_at,omitzero"`
	// AllowedFailure: the step failed, but allow_failure keeps the job from
	// failing because of it.
	AllowedFailure bool `json:"allowed_failure,omitempty"`
	// Reason says, for people, why the step was skipped, cancelled, failed
	// or could not run.
	Reason   string `json:"reason,omitempty"`
	Attempts int    `json:"attempts,omitempty"` // runs made, retries included
	// DependsOn are the steps that must finish before this one starts (the
	// pipeline's resolved depends_on), known once the runner read the file.
	DependsOn []string `json:"depends_on,omitempty"`
	// Snapshot is the key of the workspace saved right after the step
	// succeeded ("" when none was: a fork's job, a workspace too large, a
	// runner without snapshot storage): what a re-run from a later step
	// restores.
	Snapshot string `json:"snapshot,omitempty"`
	// Caches is what the step did with its cache, and Artifacts the files
	// it uploaded (see CacheUse, Artifact).
	Caches    []CacheUse `json:"caches,omitempty"`
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// ValidJobID reports whether id is what a job ID must look like, wherever it
// names something (a workspace directory, log objects, container labels):
// JobID gives 20 hex digits; any name of at most MaxJobIDLen letters,
// digits, '.', '_' and '-' that starts with a letter or digit is valid, so
// no ID can be "..", hold a '/', or be empty.
func ValidJobID(id string) bool { return len(id) <= MaxJobIDLen && jobIDChars.MatchString(id) }

// MaxJobIDLen bounds a job ID, in bytes.
const MaxJobIDLen = 128

// jobIDChars is ValidJobID without the length, which is checked apart: a
// counted repetition ({0,127}) compiles to a program per count, a
// millisecond of every cold start (issue 15).
var jobIDChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// JobIDOf is the deterministic ID of job j: JobID of its repository, SHA,
// event and pull request, and for a tag job (EventTag) its ref as well, so
// that a branch job and a tag job of one commit are two jobs while the IDs of
// push and pull request jobs stay what they always were.
func JobIDOf(j Job) string {
	if j.Event == EventTag {
		return jobID(j.Repo, j.SHA, string(j.Event), "0", j.Ref)
	}
	return JobID(j.Repo, j.SHA, j.Event, j.PR)
}

// JobID derives the deterministic ID of the job for a commit: the same
// repository, SHA, event and pull request always give the same ID, so a
// redelivered webhook or a second push of the same commit finds the existing
// job instead of creating another. Manual jobs (re-submits) pass a distinct
// nonce as pr to get a fresh ID.
func JobID(repo, sha string, event Event, pr int) string {
	return jobID(repo, sha, string(event), strconv.Itoa(pr))
}

// jobID hashes repo, sha and the further parts, each ended by a NUL.
func jobID(repo, sha string, parts ...string) string {
	h := sha256.New()
	for _, part := range append([]string{strings.ToLower(repo), strings.ToLower(sha)}, parts...) {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:20]
}

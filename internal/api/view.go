package api

import (
	"net/url"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// JobView is a job as the API shows it: the JSON of ci.Job, except that the
// artifacts of its steps are ArtifactViews. The blob key an artifact is kept
// under is the storage's business and never leaves the API.
type JobView struct {
	ci.Job
	Steps []StepView `json:"steps,omitempty"`
}

// StepView is a ci.Step with its artifacts as ArtifactViews.
type StepView struct {
	ci.Step
	Artifacts []ArtifactView `json:"artifacts,omitempty"`
}

// ArtifactView is an artifact as the API lists it: what ci.Artifact says
// but the blob key, whether it has expired, and where to download it.
type ArtifactView struct {
	Name      string    `json:"name"`
	Step      string    `json:"step"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// Expired is true once ExpiresAt has passed: the artifact is listed so
	// that people see it existed, and its download answers 410.
	Expired bool `json:"expired,omitempty"`
	// URL is the download path, relative to the API's base address (as the
	// Location of a resubmit is): /jobs/{id}/artifacts/{name}, each segment
	// escaped. Absent once expired.
	URL string `json:"url,omitempty"`
}

// JobPageView is a ci.JobPage with its jobs as JobViews.
type JobPageView struct {
	Jobs   []JobView `json:"jobs"`
	Cursor string    `json:"cursor,omitempty"`
}

// viewJob is j as the API shows it at now.
func viewJob(j ci.Job, now time.Time) JobView {
	v := JobView{Job: j}
	v.Job.Steps = nil // shadowed by v.Steps; dropped so that nothing reads it by mistake
	for _, s := range j.Steps {
		sv := StepView{Step: s}
		sv.Step.Artifacts = nil
		for _, a := range s.Artifacts {
			sv.Artifacts = append(sv.Artifacts, viewArtifact(j.ID, a, now))
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

// viewPage is page as the API shows it at now.
func viewPage(page ci.JobPage, now time.Time) JobPageView {
	v := JobPageView{Jobs: make([]JobView, 0, len(page.Jobs)), Cursor: page.Cursor}
	for _, j := range page.Jobs {
		v.Jobs = append(v.Jobs, viewJob(j, now))
	}
	return v
}

// viewArtifact is artifact a of job id as the API lists it at now.
func viewArtifact(id string, a ci.Artifact, now time.Time) ArtifactView {
	v := ArtifactView{Name: a.Name, Step: a.Step, Size: a.Size, SHA256: a.SHA256, ExpiresAt: a.ExpiresAt,
		Expired: expired(a, now)}
	if !v.Expired {
		v.URL = artifactPath(id, a.Name)
	}
	return v
}

// expired reports whether a has passed its expiry at now (an artifact
// without one never expires).
func expired(a ci.Artifact, now time.Time) bool {
	return !a.ExpiresAt.IsZero() && !now.Before(a.ExpiresAt)
}

// artifactPath is the download path of artifact name of job id.
func artifactPath(id, name string) string {
	segments := strings.Split(name, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return "/jobs/" + url.PathEscape(id) + "/artifacts/" + strings.Join(segments, "/")
}

package dispatch

import (
	"context"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// CloneCredentials mints the credential a job's clone uses (package ghauth:
// a token, or a GitHub App's installation token for the one repository).
//
// Contract: CloneToken returns the token for cloning repo ("owner/name")
// from cloneURL, "" when the URL is not one the credentials belong to (a
// local repository, another host); the token is valid for at least a minute
// (a clone starts at once). An error means no token can be had now: the job
// waits and is offered again. It is safe for concurrent use.
type CloneCredentials interface {
	CloneToken(ctx context.Context, repo, cloneURL string) (string, error)
}

// cloneToken is the clone token of job when there are candidates to offer it
// to, within Config.FetchTimeout. When it cannot be had, why says so and the
// job waits.
func (d *Dispatcher) cloneToken(ctx context.Context, log *slog.Logger, job ci.Job, candidates []ci.Runner) (token, why string) {
	if d.creds == nil || len(candidates) == 0 {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.FetchTimeout)
	defer cancel()
	token, err := d.creds.CloneToken(ctx, job.Repo, job.CloneURL)
	if err != nil {
		log.Debug("no clone credential", "err", err) // wait logs the reason when it changes
		return "", "no clone credential: " + err.Error()
	}
	return token, ""
}

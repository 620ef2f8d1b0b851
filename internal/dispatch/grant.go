package dispatch

import (
	"context"
	"errors"
	"log/slog"

	"github.com/narwhal-ci/narwhal/internal/ci"
	"github.com/narwhal-ci/narwhal/internal/rpc"
	"github.com/narwhal-ci/narwhal/internal/secrets"
)

// grant is what a job is handed beside its code: the secrets its steps name
// (with whether forks may have them; rpc.JobFromCI withholds the others from
// a fork), the repository's registry credentials and the clone token.
type grant struct {
	secrets    map[string]rpc.Secret
	registries []rpc.RegistryAuth
	token      string
}

// grantFor resolves job's grant when the job is about to be handed to a
// runner, so that a secret changed while it queued is the one it gets. When
// narwhal.yml or the secret store cannot be read now, it returns the reason
// to wait instead.
func (d *Dispatcher) grantFor(ctx context.Context, log *slog.Logger, job ci.Job) (grant, string) {
	if d.secrets == nil {
		return grant{}, ""
	}
	var names []string
	if d.names != nil {
		fctx, cancel := context.WithTimeout(ctx, d.cfg.FetchTimeout)
		defer cancel()
		var err error
		if names, err = d.names.SecretNames(fctx, job); err != nil {
			log.Warn("cannot read narwhal.yml; the job waits", "err", err)
			return grant{}, "cannot read narwhal.yml: " + err.Error()
		}
	}
	res, err := d.secrets.Resolve(ctx, job.Repo)
	if errors.Is(err, secrets.ErrInvalid) {
		return grant{}, ""
	}
	if err != nil {
		log.Warn("cannot read the repository's secrets; the job waits", "err", err)
		return grant{}, "cannot read the repository's secrets: " + err.Error()
	}
	return grantOf(res, names, job.Fork), ""
}

// grantOf picks from a repository's secrets those named (a name the
// repository lacks is left out: the step naming it fails saying it does not
// exist) and its registry credentials, none for a fork: the image a private
// registry holds would be readable by the fork's steps.
func grantOf(res secrets.Resolved, names []string, fork bool) grant {
	var g grant
	for _, name := range names {
		v, ok := res.Secrets[name]
		if !ok {
			continue
		}
		if g.secrets == nil {
			g.secrets = map[string]rpc.Secret{}
		}
		g.secrets[name] = rpc.Secret(v)
	}
	if fork {
		return g
	}
	for _, c := range res.Registries {
		g.registries = append(g.registries, rpc.RegistryAuth(c))
	}
	return g
}

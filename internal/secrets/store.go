package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Backend keeps one opaque document per repository; a Store decides what is
// in it.
//
// Contract, for every implementation (secretstest runs it):
//   - Read returns the repository's document, or nil and no error when it has
//     none.
//   - Update calls fn once with the current document (nil when none) and
//     stores what fn returns; a nil result removes the document. An error
//     from fn is returned as is and nothing is stored.
//   - Both are safe for concurrent use and honour ctx. Update is atomic per
//     repository where the service allows it (embedded: one transaction);
//     see each implementation for what concurrent writers of one repository
//     can lose.
//   - Documents of different repositories never mix: a document read for one
//     repository is the one written for it.
type Backend interface {
	Read(ctx context.Context, repo string) ([]byte, error)
	Update(ctx context.Context, repo string, fn func(old []byte) ([]byte, error)) error
}

// Store is the repository secrets and registry credentials over a Backend.
// It is safe for concurrent use. Every method checks its input first (an
// error matching ErrInvalid, nothing changed); deleting or reading something
// a repository does not have gives an error matching ErrNotFound.
type Store struct {
	b   Backend
	now func() time.Time
}

// New returns a Store over b.
func New(b Backend) *Store { return &Store{b: b, now: time.Now} }

// doc is one repository's stored document.
type doc struct {
	Secrets    map[string]docSecret   `json:"secrets,omitempty"`
	Registries map[string]docRegistry `json:"registries,omitempty"`
}

type docSecret struct {
	Value             string    `json:"value"`
	AllowPullRequests bool      `json:"allow_pull_requests,omitempty"`
	UpdatedAt         time.Time `json:"updated_at"`
}

type docRegistry struct {
	Username  string    `json:"username"`
	Password  string    `json:"password"`
	UpdatedAt time.Time `json:"updated_at"`
}

// PutSecret creates or replaces the secret name of repo.
func (s *Store) PutSecret(ctx context.Context, repo, name string, v Value) error {
	if err := firstErr(CheckRepo(repo), CheckName(name), checkValue("secret value", v.Value, MaxValueLen)); err != nil {
		return err
	}
	return s.update(ctx, repo, func(d *doc) error {
		d.Secrets = orNew(d.Secrets)
		d.Secrets[name] = docSecret{Value: v.Value, AllowPullRequests: v.AllowPullRequests, UpdatedAt: s.stamp()}
		return nil
	})
}

// ListSecrets returns repo's secrets sorted by name, without their values.
func (s *Store) ListSecrets(ctx context.Context, repo string) ([]Secret, error) {
	d, err := s.read(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := []Secret{}
	for _, name := range slices.Sorted(maps.Keys(d.Secrets)) {
		e := d.Secrets[name]
		out = append(out, Secret{Name: name, AllowPullRequests: e.AllowPullRequests, UpdatedAt: e.UpdatedAt})
	}
	return out, nil
}

// DeleteSecret removes the secret name of repo.
func (s *Store) DeleteSecret(ctx context.Context, repo, name string) error {
	if err := firstErr(CheckRepo(repo), CheckName(name)); err != nil {
		return err
	}
	return s.update(ctx, repo, func(d *doc) error {
		if _, ok := d.Secrets[name]; !ok {
			return fmt.Errorf("secret %s of %s: %w", name, repo, ErrNotFound)
		}
		delete(d.Secrets, name)
		return nil
	})
}

// PutRegistry creates or replaces repo's credentials for c.Host (compared
// without case).
func (s *Store) PutRegistry(ctx context.Context, repo string, c Credential) error {
	host := strings.ToLower(c.Host)
	err := firstErr(CheckRepo(repo), CheckHost(host), checkValue("username", c.Username, MaxUsernameLen),
		checkValue("password", c.Password, MaxValueLen))
	if err != nil {
		return err
	}
	return s.update(ctx, repo, func(d *doc) error {
		d.Registries = orNew(d.Registries)
		d.Registries[host] = docRegistry{Username: c.Username, Password: c.Password, UpdatedAt: s.stamp()}
		return nil
	})
}

// ListRegistries returns repo's registries sorted by host, without passwords.
func (s *Store) ListRegistries(ctx context.Context, repo string) ([]Registry, error) {
	d, err := s.read(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := []Registry{}
	for _, host := range slices.Sorted(maps.Keys(d.Registries)) {
		e := d.Registries[host]
		out = append(out, Registry{Host: host, Username: e.Username, UpdatedAt: e.UpdatedAt})
	}
	return out, nil
}

// DeleteRegistry removes repo's credentials for host.
func (s *Store) DeleteRegistry(ctx context.Context, repo, host string) error {
	host = strings.ToLower(host)
	if err := firstErr(CheckRepo(repo), CheckHost(host)); err != nil {
		return err
	}
	return s.update(ctx, repo, func(d *doc) error {
		if _, ok := d.Registries[host]; !ok {
			return fmt.Errorf("registry %s of %s: %w", host, repo, ErrNotFound)
		}
		delete(d.Registries, host)
		return nil
	})
}

// Resolve returns every secret value and registry credential of repo, for
// the dispatcher to choose from when it hands a job to a runner.
func (s *Store) Resolve(ctx context.Context, repo string) (Resolved, error) {
	d, err := s.read(ctx, repo)
	if err != nil {
		return Resolved{}, err
	}
	r := Resolved{Secrets: map[string]Value{}}
	for name, e := range d.Secrets {
		r.Secrets[name] = Value{Value: e.Value, AllowPullRequests: e.AllowPullRequests}
	}
	for _, host := range slices.Sorted(maps.Keys(d.Registries)) {
		e := d.Registries[host]
		r.Registries = append(r.Registries, Credential{Host: host, Username: e.Username, Password: e.Password})
	}
	return r, nil
}

// read decodes repo's document; none is an empty one.
func (s *Store) read(ctx context.Context, repo string) (doc, error) {
	if err := CheckRepo(repo); err != nil {
		return doc{}, err
	}
	raw, err := s.b.Read(ctx, repo)
	if err != nil {
		return doc{}, fmt.Errorf("read secrets of %s: %w", repo, err)
	}
	return decode(repo, raw)
}

// update applies change to repo's document in one Backend.Update.
func (s *Store) update(ctx context.Context, repo string, change func(*doc) error) error {
	return s.b.Update(ctx, repo, func(old []byte) ([]byte, error) {
		d, err := decode(repo, old)
		if err != nil {
			return nil, err
		}
		if err := change(&d); err != nil {
			return nil, err
		}
		return encode(repo, d)
	})
}

func decode(repo string, raw []byte) (doc, error) {
	var d doc
	if raw == nil {
		return d, nil
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return doc{}, fmt.Errorf("decode secrets of %s: %w", repo, err)
	}
	return d, nil
}

// encode is the stored form of d: nil when it holds nothing, an error
// matching ErrInvalid when it is over MaxDocLen.
func encode(repo string, d doc) ([]byte, error) {
	if len(d.Secrets) == 0 && len(d.Registries) == 0 {
		return nil, nil
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode secrets of %s: %w", repo, err)
	}
	if len(raw) > MaxDocLen {
		return nil, fmt.Errorf("%w: the secrets and registries of %s would take %d bytes, at most %d", ErrInvalid, repo, len(raw), MaxDocLen)
	}
	return raw, nil
}

// stamp is the updated_at of a change: UTC, whole milliseconds.
func (s *Store) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func orNew[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

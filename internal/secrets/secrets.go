// Package secrets keeps what a repository's jobs may use beyond their code:
// repository secrets (name, value, allow_pull_requests, updated_at) and
// registry credentials (host, username, password).
//
// A Store holds one document per repository in a Backend: Secrets Manager in
// AWS (secrets/awssm, one secret per repository under a prefix) or the
// embedded SQLite database of `narwhal dev` (secrets/embedded, encrypted at
// rest with AES-GCM). Names, hosts and sizes are checked here, before any
// Backend is touched, so bad input changes nothing. Listing never returns a
// value or a password; only Resolve, which the dispatcher calls when it hands
// a job to a runner, does.
package secrets

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/narwhal-ci/narwhal/internal/ci"
)

// Limits of what a Store accepts.
const (
	// MaxNameLen bounds a secret's name.
	MaxNameLen = 128
	// MaxValueLen bounds a secret's value and a registry password, in bytes.
	MaxValueLen = 16 << 10
	// MaxHostLen bounds a registry host (host[:port]).
	MaxHostLen = 253
	// MaxUsernameLen bounds a registry username.
	MaxUsernameLen = 256
	// MaxDocLen bounds a repository's whole document (every secret and
	// credential, encoded): below Secrets Manager's 64 KiB per secret.
	MaxDocLen = 60 << 10
)

// ErrInvalid is the identity of every refusal of bad input (a name, host,
// repository or value the Store does not accept); nothing was changed.
var ErrInvalid = errors.New("invalid")

// ErrNotFound says the repository has no secret or registry of that name. It
// is ci.ErrNotFound, so the API answers it as every other unknown thing.
var ErrNotFound = ci.ErrNotFound

// The patterns of names, repositories and hosts. Lengths are checked apart:
// a counted repetition ({0,38}) compiles to a program per count, which every
// process (and every Lambda cold start) paid for at init (issue 15).
var (
	nameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	ownerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`) // at most 39
	repoRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)          // at most 100
	labelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	portRE  = regexp.MustCompile(`^[0-9]{1,5}$`)
)

// Lengths of the parts of a repository and of a host name.
const (
	maxOwnerLen, maxRepoNameLen, maxLabelLen = 39, 100, 63
)

// Secret is a repository secret as listed: never its value.
type Secret struct {
	Name              string    `json:"name"`
	AllowPullRequests bool      `json:"allow_pull_requests"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Registry is a registry credential as listed: never its password.
type Registry struct {
	Host      string    `json:"host"`
	Username  string    `json:"username"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Credential is a registry's username and password.
type Credential struct {
	Host     string
	Username string
	Password string
}

// Value is a secret's value and whether fork pull requests may have it.
type Value struct {
	Value             string
	AllowPullRequests bool
}

// Resolved is everything a repository's jobs may be given, by name and host;
// the dispatcher picks from it (see rpc.JobFromCI).
type Resolved struct {
	Secrets    map[string]Value
	Registries []Credential // sorted by host
}

// CheckRepo returns an error matching ErrInvalid unless repo is "owner/name"
// as GitHub spells them.
func CheckRepo(repo string) error {
	owner, name, _ := strings.Cut(repo, "/")
	if len(owner) > maxOwnerLen || !ownerRE.MatchString(owner) || len(name) > maxRepoNameLen || !repoRE.MatchString(name) {
		return fmt.Errorf("%w repository %q: want owner/name", ErrInvalid, repo)
	}
	return nil
}

// CheckName returns an error matching ErrInvalid unless name is a valid
// secret name: an environment variable name ([A-Za-z_][A-Za-z0-9_]*) of at
// most MaxNameLen bytes.
func CheckName(name string) error {
	if len(name) > MaxNameLen || !nameRE.MatchString(name) {
		return fmt.Errorf("%w secret name %q: letters, digits and _, not starting with a digit, at most %d", ErrInvalid, name, MaxNameLen)
	}
	return nil
}

// CheckHost returns an error matching ErrInvalid unless host is a registry
// host as image references name it: a DNS name or IPv4 address, with an
// optional port, no scheme or path.
func CheckHost(host string) error {
	if len(host) > MaxHostLen || !validHost(host) {
		return fmt.Errorf("%w registry host %q: want a host name with an optional :port, like ghcr.io or 127.0.0.1:5001", ErrInvalid, host)
	}
	return nil
}

// validHost: dot-separated labels of letters, digits and inner '-', at most
// maxLabelLen each, then an optional :port of up to 5 digits.
func validHost(host string) bool {
	name, port, hasPort := strings.Cut(host, ":")
	if hasPort && !portRE.MatchString(port) {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) > maxLabelLen || !labelRE.MatchString(label) {
			return false
		}
	}
	return true
}

// checkValue refuses an empty or oversized value of what.
func checkValue(what, v string, limit int) error {
	switch {
	case v == "":
		return fmt.Errorf("%w %s: must not be empty", ErrInvalid, what)
	case len(v) > limit:
		return fmt.Errorf("%w %s: %d bytes, at most %d", ErrInvalid, what, len(v), limit)
	}
	return nil
}

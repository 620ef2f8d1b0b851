// Package pipeline is narwhal.yml: its schema, a strict parser that reports
// errors as file:line:column, validation, and the step graph. Parsing is
// pure: no I/O beyond the bytes it is given (ReadFile reads the file, and
// EscapingLinks looks at a checkout for what the bytes cannot show).
package pipeline

import "time"

// Pipeline is a parsed and validated narwhal.yml (version 1). The legacy
// narwhal format is mapped onto the same shape.
type Pipeline struct {
	Name    string            `json:"name,omitempty"`
	Image   string            `json:"image,omitempty"` // default image of steps without one
	Env     map[string]string `json:"env,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"` // whole job; 0 means the runner's default
	Labels  []string          `json:"labels,omitempty"`  // runner selection: all must match
	When    When              `json:"when,omitzero"`     // whether the pipeline runs at all
	// CancelSuperseded says whether a newer job of the same branch (push) or
	// pull request cancels this pipeline's older unfinished jobs; nil leaves
	// it to the deployment (on for pull requests).
	CancelSuperseded *bool `json:"cancel_superseded,omitempty"`
	// Cache is the default cache of steps without a cache of their own.
	Cache    *Cache    `json:"cache,omitempty"`
	Services []Service `json:"services,omitempty"`
	Steps    []Step    `json:"steps"`
}

// Step is one unit of work: commands run by `/bin/sh -e` in a container.
type Step struct {
	Name     string   `json:"name"`
	Image    string   `json:"image"` // filled from Pipeline.Image when empty
	Commands []string `json:"commands"`
	// Env is the step's own variables; Pipeline.Env applies too, and the
	// step's value wins for a name set in both.
	Env map[string]string `json:"env,omitempty"`
	// Secrets are names resolved at run time and exposed as environment
	// variables of the same name; their values are masked in logs.
	Secrets []string `json:"secrets,omitempty"`
	When    When     `json:"when,omitzero"`
	// DependsOn names the steps that must finish before this one starts.
	// Parse resolves it: a step written without depends_on gets the previous
	// step in file order (the first step gets none).
	DependsOn    []string      `json:"depends_on,omitempty"`
	Timeout      time.Duration `json:"timeout,omitempty"`
	Retry        int           `json:"retry,omitempty"` // extra attempts after a failure
	AllowFailure bool          `json:"allow_failure,omitempty"`
	WorkingDir   string        `json:"working_dir,omitempty"` // relative to the workspace
	// Cache is restored before the step and saved after it succeeded when
	// its key was missed; nil: no cache (Parse fills it from
	// Pipeline.Cache unless the step says cache: false).
	Cache *Cache `json:"cache,omitempty"`
	// Artifacts are uploaded after the step; nil: none.
	Artifacts *Artifacts `json:"artifacts,omitempty"`

	// Pos is where the step is defined, for messages.
	Pos Pos `json:"-"`
}

// Service is a sidecar container started before the steps and reachable from
// them by Name as a host name.
type Service struct {
	Name    string            `json:"name"`
	Image   string            `json:"image"`
	Env     map[string]string `json:"env,omitempty"`
	Command []string          `json:"command,omitempty"` // arguments; nil: the image's own
}

// When filters a pipeline or step. Each list is a set of alternatives; an empty
// list matches everything. Branch entries are path.Match globs; Ref and Path
// entries are doublestar globs ("**" crosses "/").
type When struct {
	Branch []string    `json:"branch,omitempty"`
	Event  []string    `json:"event,omitempty"`  // push, pull_request, tag, manual
	Ref    []string    `json:"ref,omitempty"`    // refs/heads/main, refs/tags/v*
	Path   *PathFilter `json:"path,omitempty"`   // the files the push or pull request changed
	Status []string    `json:"status,omitempty"` // steps only: success, failure, always
}

// PathFilter matches the files a push or pull request changed: some changed
// file must match an Include pattern (any file when Include is empty) and
// no Exclude pattern.
type PathFilter struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Cache is a step's cache: the workspace paths saved under a key and
// restored before the step when the key, or one of the fallback prefixes,
// has an entry in the repository's cache.
type Cache struct {
	// Key is a template: text with {{ checksum "FILE" }} (the sha256 of a
	// workspace file), {{ arch }} and {{ os }} (the runner's), rendered on
	// the runner before the step. Rendered, it is a valid blob key segment.
	Key string `json:"key"`
	// Paths are workspace-relative directories or files to save: never
	// absolute, never through "..", never the workspace itself; Parse
	// cleans them ("./a/" is "a").
	Paths []string `json:"paths"`
	// RestoreKeys are key prefixes (templates too) tried in order, newest
	// entry first, when Key itself has no entry.
	RestoreKeys []string `json:"restore_keys,omitempty"`
}

// Artifacts are the files a step uploads after it ran.
type Artifacts struct {
	// Paths are workspace-relative doublestar globs ("dist/*.tar.gz"),
	// cleaned, never absolute and never holding "..". They are meant to be
	// matched against the files found in the workspace, never expanded
	// into paths: a "*" or class could match ".." otherwise.
	Paths []string `json:"paths"`
	// ExpireIn is how long the artifacts are kept; Parse sets it, to
	// DefaultArtifactExpiry when the file says nothing, and at most
	// MaxArtifactExpiry. 0 (only in a value not made by Parse) means
	// DefaultArtifactExpiry.
	ExpireIn time.Duration `json:"expire_in,omitempty"`
}

// Bounds of artifacts.
const (
	DefaultArtifactExpiry = 7 * 24 * time.Hour
	MaxArtifactExpiry     = 90 * 24 * time.Hour
)

// Pos is a place in a file, 1-based.
type Pos struct {
	Line, Column int
}

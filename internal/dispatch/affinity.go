package dispatch

import "sync"

// DefaultAffinitySize is how many repositories an Affinity of size 0 remembers.
const DefaultAffinitySize = 1024

// Affinity remembers, per repository, the runner that last accepted one of
// its jobs: that runner likely has the repository's images and caches warm,
// so LeastLoaded prefers it among equally loaded runners. It is a hint kept
// in memory only: a fresh process (a cold Lambda) starts without it, and
// losing it costs a cache miss, never correctness. It holds at most its size
// of repositories, forgetting the least recently recorded first. A nil
// *Affinity remembers nothing. It is safe for concurrent use.
type Affinity struct {
	mu    sync.Mutex
	size  int
	last  map[string]string // repo → runner ID
	order []string          // repos, least recently recorded first
}

// NewAffinity returns an Affinity remembering up to size repositories
// (DefaultAffinitySize when size <= 0).
func NewAffinity(size int) *Affinity {
	if size <= 0 {
		size = DefaultAffinitySize
	}
	return &Affinity{size: size, last: map[string]string{}}
}

// Last returns the runner that last ran repo, or "".
func (a *Affinity) Last(repo string) string {
	if a == nil {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last[repo]
}

// Record notes that runnerID ran a job of repo.
func (a *Affinity) Record(repo, runnerID string) {
	if a == nil || repo == "" {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.last[repo]; ok {
		a.forget(repo)
	}
	a.last[repo] = runnerID
	a.order = append(a.order, repo)
	for len(a.order) > a.size {
		delete(a.last, a.order[0])
		a.order = a.order[1:]
	}
}

// forget removes repo from the recording order; a.mu is held.
func (a *Affinity) forget(repo string) {
	for i, r := range a.order {
		if r == repo {
			a.order = append(a.order[:i], a.order[i+1:]...)
			return
		}
	}
}

package sqlite

import "sync"

// Cache bounds: the documents of the jobs written last, up to this many
// jobs and bytes (documents are kept as written, not decoded).
const (
	cacheJobs  = 16384
	cacheBytes = 64 << 20
)

// jobCache keeps the latest document of the jobs this Store wrote last, so
// that a Store that is the file's only writer (Options.Exclusive) answers
// GetJob and JobVersion of those jobs without a read transaction. In WAL
// mode every read after a commit starts on an emptied page cache, so a point
// read cost the dispatcher more than the write it preceded (issue 15).
//
// Only the writer's goroutine puts, right after the transaction holding the
// write committed and in commit order, so an entry is never older than the
// row: nothing else writes the jobs of an exclusive Store, and reads never
// fill the cache (a read may return a version a later commit has replaced,
// and putting it after an eviction would bring the old version back).
// Entries leave first in, first out.
type jobCache struct {
	mu    sync.RWMutex
	m     map[string]cachedJob
	ring  []string // the IDs in m, in the order they came: ring[head] is the oldest
	head  int
	bytes int // of the documents in m
}

// cachedJob is one job as last written: its version and JSON document.
type cachedJob struct {
	version int64
	doc     []byte
}

func newJobCache() *jobCache {
	return &jobCache{m: make(map[string]cachedJob), ring: make([]string, cacheJobs+1)}
}

// get returns the job with that ID as last written, when kept.
func (c *jobCache) get(id string) (cachedJob, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	j, ok := c.m[id]
	return j, ok
}

// put records that the job with that ID was written at version as doc. The
// caller must not change doc afterwards.
func (c *jobCache) put(id string, version int64, doc []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		c.bytes -= len(old.doc)
	} else {
		c.ring[(c.head+len(c.m))%len(c.ring)] = id // len(m) <= cacheJobs: a free slot
	}
	c.m[id] = cachedJob{version: version, doc: doc}
	c.bytes += len(doc)
	for len(c.m) > cacheJobs || len(c.m) > 1 && c.bytes > cacheBytes {
		c.evict()
	}
}

// evict drops the oldest entry.
func (c *jobCache) evict() {
	id := c.ring[c.head]
	c.ring[c.head] = ""
	c.head = (c.head + 1) % len(c.ring)
	c.bytes -= len(c.m[id].doc)
	delete(c.m, id)
}

// runnerCache keeps the document of every runner an exclusive Store wrote
// (put) and forgets those it deleted, on the writer's goroutine after the
// commit, like jobCache. Runners are few (one record per runnerd slot
// group), so it is not bounded. The tally's read of a runner before each
// write of its load was a read transaction per flush (issue 15).
type runnerCache struct {
	mu sync.RWMutex
	m  map[string]cachedRunner
}

// cachedRunner is one runner as last written: its expiry (a store.TimeKey,
// "" for never) and JSON document.
type cachedRunner struct {
	expires string
	doc     []byte
}

func newRunnerCache() *runnerCache { return &runnerCache{m: make(map[string]cachedRunner)} }

func (c *runnerCache) get(id string) (cachedRunner, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.m[id]
	return r, ok
}

func (c *runnerCache) put(id, expires string, doc []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[id] = cachedRunner{expires: expires, doc: doc}
}

func (c *runnerCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

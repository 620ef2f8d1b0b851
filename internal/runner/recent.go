package runner

// recent remembers the last n finished jobs and their attempts, so that a
// repeated Run of a finished job is accepted without a second run. It is a
// ring: the oldest entry goes when a new one comes. Not safe for concurrent
// use (the Runner's mutex guards it).
type recent struct {
	attempts map[string]int
	ring     []string
	next     int
}

func newRecent(n int) *recent {
	return &recent{attempts: make(map[string]int, n), ring: make([]string, n)}
}

// add remembers that attempt of job id finished.
func (c *recent) add(id string, attempt int) {
	if _, ok := c.attempts[id]; !ok {
		if old := c.ring[c.next]; old != "" {
			delete(c.attempts, old)
		}
		c.ring[c.next] = id
		c.next = (c.next + 1) % len(c.ring)
	}
	c.attempts[id] = max(c.attempts[id], attempt)
}

// has reports whether job id finished here with attempt or a later one.
func (c *recent) has(id string, attempt int) bool {
	a, ok := c.attempts[id]
	return ok && a >= attempt
}

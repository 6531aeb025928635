// Package progress counts units of work done out of a total, from many goroutines, for a callback that
// shows it. It imports only the standard library.
package progress

import "sync"

// Counter serialises calls to a progress callback so that done only grows and never passes total: each
// Add calls fn(done, total) under the counter's lock. A Counter with a nil fn counts nothing and calls
// nothing.
type Counter struct {
	mu          sync.Mutex
	fn          func(done, total int)
	done, total int
}

// New returns a counter of total units that reports to fn (which may be nil).
func New(fn func(done, total int), total int) *Counter { return &Counter{fn: fn, total: total} }

// Add counts k more units done (at most up to the total) and reports the count.
func (c *Counter) Add(k int) {
	if c.fn == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = min(c.done+k, c.total)
	c.fn(c.done, c.total)
}

// Total is the number of units the counter was made for.
func (c *Counter) Total() int { return c.total }

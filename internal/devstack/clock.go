package devstack

import (
	"sync/atomic"
	"time"
)

// Clock times a run from the sandboxes' ledgers: from the first request
// any vendor received to the last deletion at the vendors it watches. It
// leaves out what happens before the first request (the group join, which
// varies by seconds on a busy machine) and after the last deletion (the
// commit interval), so two runs of one workload compare by their
// processing alone.
type Clock struct {
	first, last atomic.Int64 // unix ns; 0 until seen
	deleted     atomic.Int64 // deletions at the watched vendors
}

// StartClock installs an observer on every vendor's ledger (replacing
// any other) and returns the Clock it feeds; it counts deletions at the
// vendors named.
func (s *Stack) StartClock(vendors ...string) *Clock {
	c := &Clock{}
	watched := map[string]bool{}
	for _, v := range vendors {
		watched[v] = true
	}
	for name, l := range s.Ledgers() {
		w := watched[name]
		l.Observe(func(_ string, deleted bool) {
			now := time.Now().UnixNano()
			if !deleted {
				c.first.CompareAndSwap(0, now)
				return
			}
			if w {
				c.deleted.Add(1)
				for {
					old := c.last.Load()
					if old >= now || c.last.CompareAndSwap(old, now) {
						break
					}
				}
			}
		})
	}
	return c
}

// Deleted counts the deletions at the watched vendors so far (each
// profile of a workload is deleted once).
func (c *Clock) Deleted() int { return int(c.deleted.Load()) }

// First is when the first request of the run arrived, zero before.
func (c *Clock) First() time.Time {
	if f := c.first.Load(); f != 0 {
		return time.Unix(0, f)
	}
	return time.Time{}
}

// Elapsed runs from the first request to the last deletion at the watched
// vendors.
func (c *Clock) Elapsed() time.Duration {
	f, l := c.first.Load(), c.last.Load()
	if f == 0 || l < f {
		return 0
	}
	return time.Duration(l - f)
}

// Rate is n events over Elapsed, per second.
func (c *Clock) Rate(n int) float64 {
	if e := c.Elapsed(); e > 0 {
		return float64(n) / e.Seconds()
	}
	return 0
}

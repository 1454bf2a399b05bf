package daemon

import (
	"fmt"
	"sync"
	"time"

	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/dlq"
)

// readiness decides /readyz. A member is ready when
//
//   - it holds a consumer-group generation,
//   - the last dead-letter write, if any, succeeded, and
//   - it is not stalled: work is pending (an assigned partition's reader
//     saw lag, or records are in flight) and nothing has progressed (no
//     record finished, no offset committed) for the stall timeout.
//
// The quiet period starts at the last progress, at the assignment, or when
// work appeared after an idle spell, whichever is latest: an idle member
// is never stalled, and a member that just joined gets a full period.
// The stall timeout exceeds the longest time one event may take (the
// vendors' retry budgets), so a slow but healthy member never trips it;
// what does is a member that cannot move: brokers unreachable with lag
// behind, every in-flight slot wedged, a deadlock.
//
// Readiness gates nothing in the event flow (a consumer has no Service
// traffic); it makes a stuck pod visible to `kubectl get pods`, rollouts
// and the ErasuredNotReady alert. Liveness stays "the process answers":
// restarting a member whose brokers are down would not help.
type readiness struct {
	stall    time.Duration
	now      func() time.Time
	observer consumer.Observer

	mu       sync.Mutex
	inGroup  bool
	dlqOK    bool
	lag      map[int]int64
	inFlight int
	quiet    time.Time // start of the current quiet period
	// workers holds, per retry worker (by vendor), whether its group
	// holds a generation: a member whose retry workers are out of their
	// groups drains no parked part.
	workers map[string]bool
}

func newReadiness(stall time.Duration, now func() time.Time, o consumer.Observer) *readiness {
	return &readiness{stall: stall, now: now, observer: o, dlqOK: true, lag: map[int]int64{}, quiet: now()}
}

// pending reports whether there is work to do; r.mu is held.
func (r *readiness) pending() bool {
	if r.inFlight > 0 {
		return true
	}
	for _, l := range r.lag {
		if l > 0 {
			return true
		}
	}
	return false
}

// update applies f under the lock, restarting the quiet period when f
// turns an idle member into one with work, or when f reports progress.
func (r *readiness) update(f func() (progress bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.pending()
	if f() || (!was && r.pending()) {
		r.quiet = r.now()
	}
}

// check returns whether the member is ready and, when it is not, why.
func (r *readiness) check() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !r.inGroup:
		return false, "not in the consumer group"
	case !r.dlqOK:
		return false, "dead-letter writes failing"
	case r.workerOut() != "":
		return false, "retry worker for " + r.workerOut() + " not in its consumer group"
	case r.pending():
		if q := r.now().Sub(r.quiet); q >= r.stall {
			var lag int64
			for _, l := range r.lag {
				lag += max(l, 0)
			}
			return false, fmt.Sprintf("stalled: no event finished and no offset committed for %s, with lag %d and %d in flight", q.Truncate(time.Second), lag, r.inFlight)
		}
	}
	return true, ""
}

// workerOut names a retry worker out of its group, in name order; r.mu
// is held.
func (r *readiness) workerOut() string {
	out := ""
	for name, in := range r.workers {
		if !in && (out == "" || name < out) {
			out = name
		}
	}
	return out
}

// worker returns the consumer.Observer of the retry worker for vendor:
// it reports only group membership to readiness. A retry worker's records
// wait for their due time, hours at a stretch, so its lag and quiet spells
// say nothing about a stall.
func (r *readiness) worker(vendor string) consumer.Observer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.workers == nil {
		r.workers = map[string]bool{}
	}
	r.workers[vendor] = false
	return &workerReadiness{r: r, vendor: vendor}
}

type workerReadiness struct {
	r      *readiness
	vendor string
}

func (w *workerReadiness) set(in bool) {
	w.r.mu.Lock()
	w.r.workers[w.vendor] = in
	w.r.mu.Unlock()
}

func (w *workerReadiness) Assigned(int32, []int)                      { w.set(true) }
func (w *workerReadiness) Revoked(int32)                              { w.set(false) }
func (w *workerReadiness) Committed(int, int64, time.Duration, error) {}
func (w *workerReadiness) Lag(int, int64)                             {}
func (w *workerReadiness) Fetched(int)                                {}
func (w *workerReadiness) Released(int, bool)                         {}

// Assigned implements consumer.Observer.
func (r *readiness) Assigned(gen int32, parts []int) {
	r.update(func() bool {
		r.inGroup = true
		r.lag = map[int]int64{}
		return true
	})
	r.observer.Assigned(gen, parts)
}

// Revoked implements consumer.Observer.
func (r *readiness) Revoked(gen int32) {
	r.update(func() bool {
		r.inGroup = false
		r.lag = map[int]int64{}
		return false
	})
	r.observer.Revoked(gen)
}

// Committed implements consumer.Observer.
func (r *readiness) Committed(p int, off int64, took time.Duration, err error) {
	r.update(func() bool { return err == nil })
	r.observer.Committed(p, off, took, err)
}

// Lag implements consumer.Observer.
func (r *readiness) Lag(p int, lag int64) {
	r.update(func() bool {
		r.lag[p] = lag
		return false
	})
	r.observer.Lag(p, lag)
}

// Fetched implements consumer.Observer.
func (r *readiness) Fetched(p int) {
	r.update(func() bool {
		r.inFlight++
		return false
	})
	r.observer.Fetched(p)
}

// Released implements consumer.Observer. A record handed back unfinished
// is no progress.
func (r *readiness) Released(p int, finished bool) {
	r.update(func() bool {
		r.inFlight--
		return finished
	})
	r.observer.Released(p, finished)
}

// Published implements dlq.Observer.
func (r *readiness) Published(dlq.Reason) {
	r.mu.Lock()
	r.dlqOK = true
	r.mu.Unlock()
}

// WriteFailed implements dlq.Observer.
func (r *readiness) WriteFailed(error) {
	r.mu.Lock()
	r.dlqOK = false
	r.mu.Unlock()
}

// ready is check's first result, for the erasured_ready gauge.
func (r *readiness) ready() float64 {
	if ok, _ := r.check(); ok {
		return 1
	}
	return 0
}

// Package sandbox holds what the vendor sandboxes share: injected latency,
// throttling with Retry-After, random and forced failures, and a ledger of
// which profiles exist and how often each was asked for. Each vendor's
// sandbox (in the vendor's package) decides what a request must look like
// and how the vendor words each answer; this package only decides when a
// fault replaces the normal answer.
package sandbox

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Knobs shape a sandbox's behaviour. The zero value is a fast, healthy
// vendor.
type Knobs struct {
	// Latency delays every answer; Jitter adds up to that much more at
	// random.
	Latency time.Duration
	Jitter  time.Duration
	// FailureRate is the fraction, in [0, 1], of requests answered with the
	// vendor's transient server error.
	FailureRate float64
	// ThrottleRPS, when positive, admits that many requests per second
	// (with a burst of the same size); the rest get the vendor's 429 with a
	// Retry-After saying when a request would be admitted. Limit, when
	// its Shape is set, replaces it.
	ThrottleRPS float64
	// Limit is the vendor's limit in one of its shapes, with or without
	// Retry-After and rate-limit header fields.
	Limit Limit
	// Force, when set, answers every request with the named fault: a
	// vendor-specific name such as an HTTP status ("503") or a code in the
	// body ("1010"). ForceCount, when positive, limits it to that many
	// requests.
	Force      string
	ForceCount int
}

// Fault is what a request gets instead of normal service.
type Fault struct {
	// Kind is FaultNone, FaultThrottle, FaultFailure or FaultForced.
	Kind FaultKind
	// RetryAfter is set with FaultThrottle.
	RetryAfter time.Duration
	// Name is the forced fault's name with FaultForced.
	Name string
	// release frees a Concurrency slot; see Release.
	release func()
}

// Release ends the request's hold on a Concurrency slot. The handler
// defers it, so a request is in flight until its answer is written.
func (f Fault) Release() {
	if f.release != nil {
		f.release()
	}
}

// FaultKind names a Fault.
type FaultKind int

const (
	FaultNone FaultKind = iota
	FaultThrottle
	FaultFailure
	FaultForced
)

// RetryAfterSeconds renders d as a Retry-After delay-seconds value, rounded
// up so a client that honours it is admitted, and at least 1.
func RetryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// Chaos decides faults. It is safe for concurrent use.
type Chaos struct {
	mu       sync.Mutex
	knobs    Knobs
	limit    Limit   // the limit in force: Knobs.Limit, or ThrottleRPS as a token bucket
	counter  counter // limit's time-based shape, or nil
	inFlight *inFlight
	now      func() time.Time
	forced   int
	rnd      *rand.Rand
	requests int64
}

// NewChaos returns a Chaos with k.
func NewChaos(k Knobs) *Chaos {
	c := &Chaos{rnd: rand.New(rand.NewPCG(1, 2)), now: time.Now}
	c.Set(k)
	return c
}

// SetClock makes the limits read the time from now, so tests can step it.
// Latency still waits on real timers.
func (c *Chaos) SetClock(now func() time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Set replaces the knobs, for example to end an outage.
func (c *Chaos) Set(k Knobs) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.knobs = k
	c.forced = 0
	c.limit, c.counter, c.inFlight = k.Limit, newCounter(k.Limit), nil
	switch {
	case k.Limit.Shape == Concurrency && k.Limit.N > 0:
		c.inFlight = &inFlight{n: k.Limit.N}
	case k.Limit.Shape == ShapeNone && k.ThrottleRPS > 0:
		// The old knob: a bucket of one second's worth, at least 1.
		c.limit = Limit{Shape: TokenBucket, N: int(math.Max(1, k.ThrottleRPS))}
		c.counter = newBucket(k.ThrottleRPS, c.limit.N, false)
	}
}

// Knobs returns the current knobs.
func (c *Chaos) Knobs() Knobs {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.knobs
}

// Decide waits out the latency (or until ctx ends) and says which fault, if
// any, replaces the normal answer; it adds the limit's Retry-After and
// rate-limit fields to h. The caller defers the Fault's Release. A
// Concurrency cap is checked first, on arrival, since a request holds its
// slot while it is served; an over-cap request is answered at once. Then
// come forced faults, the time-based limit, and random failures, as a
// real vendor's edge would reject an over-limit request before its backend
// fails.
func (c *Chaos) Decide(ctx context.Context, h http.Header) Fault {
	c.mu.Lock()
	k, limit, slots, now := c.knobs, c.limit, c.inFlight, c.now
	delay := k.Latency
	if k.Jitter > 0 {
		delay += time.Duration(c.rnd.Int64N(int64(k.Jitter)))
	}
	c.requests++
	c.mu.Unlock()

	var release func()
	if slots != nil {
		if release = slots.acquire(); release == nil {
			u := usage{retryAfter: time.Second}
			limit.writeHeaders(h, u, now())
			return Fault{Kind: FaultThrottle, RetryAfter: u.retryAfter}
		}
	}
	f := c.decide(ctx, h, delay)
	f.release = release
	return f
}

func (c *Chaos) decide(ctx context.Context, h http.Header, delay time.Duration) Fault {
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			// The client gave up, but a vendor does not know that: the
			// request is decided as it would have been (a down vendor
			// still deletes nothing), only without waiting out the rest.
			t.Stop()
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.knobs
	if k.Force != "" && (k.ForceCount <= 0 || c.forced < k.ForceCount) {
		c.forced++
		return Fault{Kind: FaultForced, Name: k.Force}
	}
	if c.counter != nil {
		now := c.now()
		u := c.counter.admit(now)
		c.limit.writeHeaders(h, u, now)
		if !u.admitted {
			return Fault{Kind: FaultThrottle, RetryAfter: u.retryAfter}
		}
	}
	if k.FailureRate > 0 && c.rnd.Float64() < k.FailureRate {
		return Fault{Kind: FaultFailure}
	}
	return Fault{Kind: FaultNone}
}

// Ledger remembers which profiles were deleted and counts requests. A
// profile exists until it is deleted, unless it was seeded absent, so a
// first delete succeeds and a repeat finds nothing, as at a real vendor.
// It is safe for concurrent use.
type Ledger struct {
	mu       sync.Mutex
	deleted  map[string]int // id -> successful deletes (1, or more only if a test seeds)
	absent   map[string]bool
	calls    map[string]int // id -> requests that named it
	statuses map[int]int
	observe  func(id string, deleted bool)
}

// Observe has f called, outside the ledger's lock, for each id a request
// names (deleted false) and each id a request deletes (deleted true). The
// benchmark times deletions with it. nil stops it.
func (l *Ledger) Observe(f func(id string, deleted bool)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observe = f
}

// NewLedger returns an empty Ledger.
func NewLedger() *Ledger {
	return &Ledger{
		deleted:  map[string]int{},
		absent:   map[string]bool{},
		calls:    map[string]int{},
		statuses: map[int]int{},
	}
}

// SeedAbsent makes ids unknown to the vendor from the start.
func (l *Ledger) SeedAbsent(ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.absent[id] = true
	}
}

// Called records a request naming id.
func (l *Ledger) Called(id string) {
	l.mu.Lock()
	l.calls[id]++
	f := l.observe
	l.mu.Unlock()
	if f != nil {
		f(id, false)
	}
}

// Delete removes id and reports whether it existed.
func (l *Ledger) Delete(id string) bool {
	l.mu.Lock()
	if l.absent[id] || l.deleted[id] > 0 {
		l.mu.Unlock()
		return false
	}
	l.deleted[id]++
	f := l.observe
	l.mu.Unlock()
	if f != nil {
		f(id, true)
	}
	return true
}

// Answered records the HTTP status a request got.
func (l *Ledger) Answered(status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[status]++
}

// Deleted reports whether id was deleted by a request.
func (l *Ledger) Deleted(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deleted[id] > 0
}

// DeletedCount returns how many distinct ids were deleted.
func (l *Ledger) DeletedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.deleted)
}

// Calls returns how many requests named id.
func (l *Ledger) Calls(id string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[id]
}

// Statuses returns a copy of the count of answers by HTTP status.
func (l *Ledger) Statuses() map[int]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[int]int, len(l.statuses))
	for k, v := range l.statuses {
		out[k] = v
	}
	return out
}

// Requests returns the total number of answers given.
func (l *Ledger) Requests() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, v := range l.statuses {
		n += v
	}
	return n
}

// StatusRecorder wraps w so the ledger learns the status written.
func (l *Ledger) StatusRecorder(w http.ResponseWriter) http.ResponseWriter {
	return &recorder{ResponseWriter: w, ledger: l}
}

type recorder struct {
	http.ResponseWriter
	ledger *Ledger
	wrote  bool
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.wrote = true
		r.ledger.Answered(status)
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// WriteJSON writes a JSON body with status, as vendors do.
func WriteJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ForcedStatus reads a forced fault named by an HTTP status ("503"), one
// in [lo, 599], and, for 429 and 503, sets a Retry-After of one second on
// h, as vendors answer those; ok is false for any other name, which the
// sandbox answers as its own kinds of fault or as unknown.
func ForcedStatus(name string, lo int, h http.Header) (status int, ok bool) {
	status, err := strconv.Atoi(name)
	if err != nil || status < lo || status > 599 || strconv.Itoa(status) != name {
		return 0, false
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	return status, true
}

package sandbox

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// fakeClock is stepped by the test; Decide reads it for every limit.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// t0 is on a minute, so every window the tests use starts there.
var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func limited(l Limit) (*Chaos, *fakeClock) {
	clk := &fakeClock{t: t0}
	c := NewChaos(Knobs{Limit: l})
	c.SetClock(clk.now)
	return c, clk
}

// admits sends n requests now and returns how many were admitted and the
// last answer's header.
func admits(c *Chaos, n int) (int, http.Header) {
	ok := 0
	var h http.Header
	for range n {
		h = http.Header{}
		f := c.Decide(context.Background(), h)
		if f.Kind == FaultNone {
			ok++
		}
		f.Release()
	}
	return ok, h
}

func TestFixedWindow(t *testing.T) {
	t.Parallel()
	for _, w := range []time.Duration{time.Second, 5 * time.Second, time.Minute} {
		t.Run(w.String(), func(t *testing.T) {
			t.Parallel()
			const n = 7
			c, clk := limited(Limit{Shape: FixedWindow, N: n, Window: w})
			if got, _ := admits(c, n); got != n {
				t.Fatalf("admitted %d of the first %d", got, n)
			}
			clk.advance(w / 2)
			h := http.Header{}
			f := c.Decide(context.Background(), h)
			if f.Kind != FaultThrottle {
				t.Fatalf("request %d in the window: %+v, want a throttle", n+1, f)
			}
			if f.RetryAfter != w/2 || h.Get("Retry-After") != RetryAfterSeconds(w/2) {
				t.Fatalf("Retry-After %s / %q, want the window's end in %s", f.RetryAfter, h.Get("Retry-After"), w/2)
			}
			clk.advance(w/2 - time.Nanosecond)
			if got, _ := admits(c, 1); got != 0 {
				t.Fatal("admitted a request just before the window's end")
			}
			clk.advance(time.Nanosecond)
			if got, _ := admits(c, n+3); got != n {
				t.Fatalf("admitted %d in the next window, want %d", got, n)
			}
		})
	}
}

// A clock-aligned fixed window admits the same requests whether or not
// rejected ones count: it rejects only when full and empties at its end.
// The learner may treat the two alike; a sliding window it may not.
func TestFixedWindowCountRejected(t *testing.T) {
	t.Parallel()
	pattern := []struct {
		at time.Duration // from t0
		n  int
	}{{0, 8}, {400 * time.Millisecond, 5}, {time.Second, 3}, {1500 * time.Millisecond, 9}, {2 * time.Second, 1}}
	run := func(countRejected bool) []int {
		c, clk := limited(Limit{Shape: FixedWindow, N: 5, Window: time.Second, CountRejected: countRejected})
		var out []int
		for _, p := range pattern {
			clk.t = t0.Add(p.at)
			got, _ := admits(c, p.n)
			out = append(out, got)
		}
		return out
	}
	off, on := run(false), run(true)
	want := []int{5, 0, 3, 2, 1}
	for i := range want {
		if off[i] != want[i] || on[i] != want[i] {
			t.Fatalf("admitted %v (not counting) and %v (counting), want %v", off, on, want)
		}
	}
}

func TestSlidingWindow(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	type step struct {
		at         time.Duration
		admitted   bool
		retryAfter time.Duration
	}
	tests := []struct {
		name          string
		countRejected bool
		steps         []step
	}{
		{"rejected not counted", false, []step{
			{0, true, 0}, {500 * ms, true, 0}, {900 * ms, false, 100 * ms},
			{1000 * ms, true, 0}, // the request at 0 has left the window
			{1100 * ms, false, 400 * ms}, {1500 * ms, true, 0},
		}},
		{"rejected counted", true, []step{
			{0, true, 0}, {500 * ms, true, 0}, {900 * ms, false, 600 * ms},
			{1000 * ms, false, 900 * ms}, // the rejection at 900 ms holds a place
			{1400 * ms, false, 600 * ms}, // and so does the one at 1000 ms
			{2400 * ms, true, 0}, {2500 * ms, true, 0}, {2600 * ms, false, 900 * ms},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, clk := limited(Limit{Shape: SlidingWindow, N: 2, Window: time.Second, CountRejected: tc.countRejected})
			for i, s := range tc.steps {
				clk.t = t0.Add(s.at)
				f := c.Decide(context.Background(), nil)
				if (f.Kind == FaultNone) != s.admitted || f.RetryAfter != s.retryAfter {
					t.Fatalf("step %d at %s: %+v, want admitted %v, Retry-After %s", i, s.at, f, s.admitted, s.retryAfter)
				}
			}
		})
	}
}

func TestTokenBucketLimit(t *testing.T) {
	t.Parallel()
	for _, countRejected := range []bool{false, true} {
		t.Run("count rejected "+strconv.FormatBool(countRejected), func(t *testing.T) {
			t.Parallel()
			// 4 a second, a bucket of 4.
			c, clk := limited(Limit{Shape: TokenBucket, N: 4, Window: time.Second, CountRejected: countRejected})
			if got, _ := admits(c, 6); got != 4 {
				t.Fatalf("admitted %d of a burst of 6, want the bucket's 4", got)
			}
			// 500 ms refill 2 tokens; two rejections in debt took them back.
			clk.advance(500 * time.Millisecond)
			if got, _ := admits(c, 1); (got == 1) == countRejected {
				t.Fatalf("after 500 ms admitted %d, want a token only when rejections are not counted", got)
			}
		})
	}
}

func TestConcurrencyCap(t *testing.T) {
	t.Parallel()
	c, _ := limited(Limit{Shape: Concurrency, N: 2})
	held := []Fault{c.Decide(context.Background(), nil), c.Decide(context.Background(), nil)}
	for i, f := range held {
		if f.Kind != FaultNone {
			t.Fatalf("request %d under the cap: %+v", i, f)
		}
	}
	h := http.Header{}
	over := c.Decide(context.Background(), h)
	if over.Kind != FaultThrottle || h.Get("Retry-After") != "1" {
		t.Fatalf("third request in flight: %+v, Retry-After %q; want a throttle with Retry-After 1", over, h.Get("Retry-After"))
	}
	over.Release() // a rejected request held nothing
	held[0].Release()
	held[0].Release() // twice frees one slot, not two
	next := c.Decide(context.Background(), nil)
	if next.Kind != FaultNone {
		t.Fatalf("after one release: %+v", next)
	}
	if f := c.Decide(context.Background(), nil); f.Kind != FaultThrottle {
		t.Fatalf("cap exceeded after a double release: %+v", f)
	}
	held[1].Release()
	next.Release()
	if got, _ := admits(c, 5); got != 5 {
		t.Fatalf("admitted %d one at a time, want all", got)
	}
}

func TestLimitHeaders(t *testing.T) {
	t.Parallel()
	fixed := Limit{Shape: FixedWindow, N: 3, Window: 5 * time.Second}
	with := func(f func(*Limit)) Limit { l := fixed; f(&l); return l }
	tests := []struct {
		name  string
		limit Limit
		want  map[string]string // "" means absent
	}{
		{"bare", fixed, map[string]string{"Retry-After": "4", "X-RateLimit-Remaining": "", "RateLimit": ""}},
		{"no Retry-After", with(func(l *Limit) { l.NoRetryAfter = true }), map[string]string{"Retry-After": ""}},
		{"X-RateLimit in seconds", with(func(l *Limit) { l.XRateLimit = XRateLimitSeconds }),
			map[string]string{"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4", "RateLimit-Policy": ""}},
		{"X-RateLimit as a Unix time", with(func(l *Limit) { l.XRateLimit = XRateLimitEpoch }),
			map[string]string{"X-RateLimit-Reset": strconv.FormatInt(t0.Add(5*time.Second).Unix(), 10)}},
		{"IETF", with(func(l *Limit) { l.IETF = true }),
			map[string]string{"RateLimit-Policy": `"default";q=3;w=5`, "RateLimit": `"default";r=0;t=4`, "X-RateLimit-Limit": ""}},
		{"concurrency sends no window fields", Limit{Shape: Concurrency, N: 1, XRateLimit: XRateLimitSeconds, IETF: true},
			map[string]string{"X-RateLimit-Limit": "", "RateLimit": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, clk := limited(tc.limit)
			admits(c, 3)
			clk.advance(time.Second + time.Millisecond)
			h := http.Header{}
			f := c.Decide(context.Background(), h)
			if tc.limit.Shape != Concurrency && f.Kind != FaultThrottle {
				t.Fatalf("4th request: %+v", f)
			}
			for k, v := range tc.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// An admitted request carries the fields too: a vendor that tells its
// budget tells it before the 429.
func TestLimitHeadersOnAdmitted(t *testing.T) {
	t.Parallel()
	c, _ := limited(Limit{Shape: SlidingWindow, N: 3, Window: time.Minute, XRateLimit: XRateLimitSeconds, IETF: true})
	got, h := admits(c, 1)
	if got != 1 || h.Get("X-RateLimit-Remaining") != "2" || h.Get("RateLimit") != `"default";r=2;t=60` || h.Get("Retry-After") != "" {
		t.Fatalf("admitted %d with %v", got, h)
	}
}

// ThrottleRPS still means a one-second bucket, and Limit replaces it.
func TestThrottleRPSIsATokenBucket(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: t0}
	c := NewChaos(Knobs{ThrottleRPS: 3})
	c.SetClock(clk.now)
	if got, _ := admits(c, 5); got != 3 {
		t.Fatalf("admitted %d, want 3", got)
	}
	c.Set(Knobs{ThrottleRPS: 3, Limit: Limit{Shape: FixedWindow, N: 1, Window: time.Second}})
	if got, _ := admits(c, 5); got != 1 {
		t.Fatalf("admitted %d under Limit, want its 1", got)
	}
}

package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
)

// TestLimitScenarios: one scenario per limit shape, a 3-replica one with a
// ceiling, each against the naive consumer, each rate as the vendor's.
func TestLimitScenarios(t *testing.T) {
	t.Parallel()
	shapes := map[sandbox.Shape]int{}
	var replicas Scenario
	for _, s := range LimitScenarios(10) {
		shapes[s.Limit.Shape]++
		if !s.Naive || s.Throttled == "" || s.LimitRate() <= 0 || s.Events < int(s.LimitRate()*10) {
			t.Errorf("%s: naive %v, throttled %q, limit %g/s, %d events", s.Name, s.Naive, s.Throttled, s.LimitRate(), s.Events)
		}
		if s.Replicas > 1 {
			replicas = s
		}
	}
	for _, sh := range []sandbox.Shape{sandbox.TokenBucket, sandbox.FixedWindow, sandbox.SlidingWindow, sandbox.Concurrency} {
		if shapes[sh] == 0 {
			t.Errorf("no scenario of shape %d", sh)
		}
	}
	if replicas.Replicas != 3 || replicas.Ceiling != 300 || replicas.LimitRate() != 300 || replicas.VendorLimit == nil || replicas.VendorLimit.MaxRate != 300 {
		t.Errorf("3-replica scenario %+v", replicas)
	}
	// Fixed windows of 5 s and 60 s, rejected requests counted and not;
	// the 60 s ones a few windows long, and only at the default length
	// or more.
	windows := map[string]bool{}
	for _, s := range LimitScenarios(20) {
		if s.Limit.Shape == sandbox.FixedWindow && s.Limit.XRateLimit == sandbox.XRateLimitOff {
			windows[fmt.Sprintf("%s/%v", s.Limit.Window, s.Limit.CountRejected)] = true
			if s.Limit.Window == time.Minute && float64(s.Events) < 2*float64(s.Limit.N) {
				t.Errorf("%s: %d events, under two windows of %d", s.Name, s.Events, s.Limit.N)
			}
		}
	}
	for _, w := range []string{"1s/false", "1s/true", "5s/false", "5s/true", "1m0s/false", "1m0s/true"} {
		if !windows[w] {
			t.Errorf("no fixed-window scenario %s (window/rejected counted); have %v", w, windows)
		}
	}
	for _, s := range LimitScenarios(10) {
		if s.Limit.Window == time.Minute {
			t.Errorf("%s runs at -limit-seconds 10", s.Name)
		}
	}
	if LimitScenarios(0) != nil {
		t.Error("limit-seconds 0 still runs limit scenarios")
	}
}

// TestRunReplicasShareACeiling runs the 3-replica scenario, small: three
// measured processes in one group drain the backlog, and the table has its
// row. It checks the accounting, never the rate.
func TestRunReplicasShareACeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes against kfake")
	}
	var sc Scenario
	for _, s := range LimitScenarios(1) {
		if s.Replicas > 1 {
			sc = s
		}
	}
	sc.Naive = false
	rs, err := Run(context.Background(), Options{Scenarios: []Scenario{sc}, Partitions: 4, RunTimeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	t.Logf("%d replicas: %d of %d deleted, %d requests, %d 429 after the first window of %d", sc.Replicas, r.Deleted, sc.Events, r.Requests, r.Late429, r.Late)
	if !r.Complete || r.Deleted != sc.Events || r.DeadLettered != 0 {
		t.Errorf("complete %v, deleted %d of %d, dead-lettered %d", r.Complete, r.Deleted, sc.Events, r.DeadLettered)
	}
	var out bytes.Buffer
	Print(&out, 4, rs)
	if !strings.Contains(out.String(), "3-replicas-300/s") || !strings.Contains(out.String(), "% of limit") {
		t.Errorf("table lacks the limit row:\n%s", out.String())
	}
}

// TestLateCounterWindows: against a fixed window the counter keeps each
// window's accepted answers and leaves out the run's first and last
// windows; other shapes have no windows.
func TestLateCounterWindows(t *testing.T) {
	t.Parallel()
	fixed := newLateCounter(Scenario{Limit: sandbox.Limit{Shape: sandbox.FixedWindow, N: 3, Window: time.Second}})
	// Window 9 (the first): 1 accepted; window 10: 3 accepted, 1
	// refused; window 11: nothing sent; window 12: 2 accepted; window 13
	// (the last): 1 accepted.
	for _, a := range []struct {
		win int64
		ok  bool
	}{{9, true}, {10, true}, {10, true}, {10, true}, {10, false}, {12, true}, {12, true}, {13, true}} {
		fixed.inWindow(a.win*int64(time.Second)+int64(time.Millisecond), a.ok)
	}
	if ok, n := fixed.windows(); ok != 5 || n != 3 {
		t.Errorf("windows() = %d accepted over %d windows, want 5 over 3 (10, 11, 12; not the first nor the last)", ok, n)
	}
	tb := newLateCounter(Scenario{Limit: sandbox.Limit{Shape: sandbox.TokenBucket, N: 3, Window: time.Second}})
	if ok, n := tb.windows(); ok != 0 || n != 0 || tb.fixed != 0 {
		t.Errorf("token bucket: windows() = %d, %d, want none", ok, n)
	}
}

// fakeVendor wraps a vendor answering 429 on /429 and 200 after hold
// otherwise in c, and returns a function sending one request to path.
func fakeVendor(c *lateCounter, hold time.Duration) func(path string) {
	srv := c.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/429" {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		time.Sleep(hold)
	}))
	return func(path string) {
		srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, path, nil))
	}
}

// tenAfterFirstWindow pretends c's first request went 3 s ago and sends
// 10 accepted and 10 refused requests now, 2 s after its first window.
func tenAfterFirstWindow(c *lateCounter, do func(path string)) {
	c.first.Store(time.Now().Add(-3 * time.Second).UnixNano())
	for range 10 {
		do("/ok")
		do("/429")
	}
}

// TestLateCounterSteady: the steady goodput counts from the end of the
// first window to the last accepted request, and is 0 for a run that
// ended within its first window.
func TestLateCounterSteady(t *testing.T) {
	t.Parallel()
	c := newLateCounter(Scenario{Limit: sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second}})
	do := fakeVendor(c, 0)
	do("/ok")
	if c.steady() != 0 {
		t.Fatalf("steady %g within the first window, want 0", c.steady())
	}
	// The 429s are not counted.
	tenAfterFirstWindow(c, do)
	if got := c.steady(); got < 4.5 || got > 5.5 {
		t.Errorf("steady %g/s, want about 10 accepted over 2 s", got)
	}
}

// TestLateCounterBusy: against a cap on requests in flight, the busy
// share is the vendor's time on accepted requests after the first
// window over the span and the cap; other shapes have none.
func TestLateCounterBusy(t *testing.T) {
	t.Parallel()
	c := newLateCounter(Scenario{Limit: sandbox.Limit{Shape: sandbox.Concurrency, N: 2}, Latency: 10 * time.Millisecond})
	do := fakeVendor(c, 10*time.Millisecond)
	do("/ok")
	tenAfterFirstWindow(c, do)
	// 10 × at least 10 ms over about 2.1 s and 2 slots: about 2.4%.
	if got := c.busy(); got < 0.02 || got > 0.1 {
		t.Errorf("busy %.4f, want about 0.024 (10 × 10ms over ~2s, 2 slots)", got)
	}
	tb := newLateCounter(Scenario{Limit: sandbox.Limit{Shape: sandbox.TokenBucket, N: 3, Window: time.Second}})
	if got := tb.busy(); got != 0 {
		t.Errorf("token bucket: busy %g, want 0", got)
	}
}

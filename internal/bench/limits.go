package bench

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/adapters/webex"
)

// LimitScenarios are the rate-limit scenarios: one per limit shape the
// sandboxes enforce, each sized to last about seconds at the limit, and a
// scenario of three replicas sharing one configured ceiling. Fixed
// windows of 60 s run a few windows whatever seconds says (below).
func LimitScenarios(seconds float64) []Scenario {
	if seconds <= 0 {
		return nil
	}
	n := func(rate float64) int { return int(math.Ceil(rate * seconds)) }
	fw := func(name, vendor string, l sandbox.Limit) Scenario {
		return Scenario{Name: name, Throttled: vendor, Limit: l, Naive: true, Events: n(float64(l.N) / l.Window.Seconds())}
	}
	plivoDefault := plivo.DefaultLimit() // its documented ceiling, as deployed
	s := []Scenario{
		fw("tb-300/1s", webex.Name, sandbox.Limit{Shape: sandbox.TokenBucket, N: 300, Window: time.Second}),
		fw("fw-300/1s", webex.Name, sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: time.Second}),
		fw("fw-300/1s-counted", webex.Name, sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: time.Second, CountRejected: true}),
		func() Scenario {
			sc := fw("fw-300/5s-plivo", plivo.Name, plivo.SandboxLimit)
			sc.VendorLimit = &plivoDefault
			return sc
		}(),
		fw("sw-300/1s", webex.Name, sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second}),
		fw("sw-300/1s-counted", webex.Name, sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, CountRejected: true}),
		// Rejected requests count against the window: in a clock-aligned
		// fixed window that changes nothing the sandbox can show (a request
		// is refused only once the window is full, and the count starts
		// again at its end whatever it reached: TestFixedWindowCountRejected),
		// so the -counted rows confirm the learner does not care.
		fw("fw-300/5s-counted", webex.Name, sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, CountRejected: true}),
		fw("fw-300/5s-xrl", exotel.Name, sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, XRateLimit: sandbox.XRateLimitEpoch}),
		fw("sw-300/1s-ietf", webex.Name, sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, IETF: true}),
	}
	// Fixed windows of a minute, as Exotel's per-minute budget: a run
	// must span a few windows to show more than the first, so these are
	// sized in windows, not in seconds (2.5 windows: the first, partial as
	// the run starts anywhere in a minute, and two whole ones), with a
	// small quota (120 a minute) to keep the backlog, and the naive
	// consumer's run, short: about 1.5 minutes a run, longer for erasured
	// when parked parts wait for the retry worker's schedule.
	// They run only when -limit-seconds is at least 20, the default.
	if seconds >= 20 {
		for _, counted := range []bool{false, true} {
			name := "fw-120/60s"
			if counted {
				name += "-counted"
			}
			l := sandbox.Limit{Shape: sandbox.FixedWindow, N: 120, Window: time.Minute, CountRejected: counted}
			// Until every event is deleted: erasured parks what waits a
			// whole window (a Retry-After past the inline budget) and its
			// retry worker deletes it, after the offsets are committed.
			s = append(s, Scenario{Name: name, Throttled: webex.Name, Limit: l, Naive: true, Events: l.N * 5 / 2, UntilDeleted: true})
		}
	}
	// A cap of 15 in flight answered in 50ms: 300 requests/s at most.
	// Webex stands in for CleverTap, which batches 100 ids a request and
	// so never presses a cap with this workload.
	conc := adapters.DefaultLimitConfig()
	conc.Throttle = adapters.ThrottleConcurrency
	s = append(s, Scenario{Name: "cap-15", Throttled: webex.Name, Latency: 50 * time.Millisecond, Naive: true,
		Limit: sandbox.Limit{Shape: sandbox.Concurrency, N: 15}, VendorLimit: &conc, Events: n(300)})
	// Three replicas, one configured ceiling of 300/s for the Deployment,
	// the vendor itself allowing more (a token bucket of 1000/s): the sum
	// must stay under the ceiling.
	ceil := adapters.DefaultLimitConfig()
	ceil.Rate, ceil.MaxRate = 300, 300
	s = append(s, Scenario{Name: "3-replicas-300/s", Throttled: webex.Name, Replicas: 3, Ceiling: 300, Naive: true,
		Limit: sandbox.Limit{Shape: sandbox.TokenBucket, N: 1000, Window: time.Second}, VendorLimit: &ceil, Events: n(300)})
	return s
}

// LimitRate is the rate the scenario's figures are taken against: the
// configured ceiling, else the vendor's limit in requests per second (a
// concurrency cap: N per latency); 0 for a scenario without a limit.
func (s Scenario) LimitRate() float64 {
	switch {
	case s.Throttled == "":
		return 0
	case s.Ceiling > 0:
		return s.Ceiling
	case s.Limit.Shape == sandbox.ShapeNone:
		return s.ThrottleRPS
	case s.Limit.Shape == sandbox.Concurrency:
		if s.Latency <= 0 {
			return 0
		}
		return float64(s.Limit.N) / s.Latency.Seconds()
	case s.Limit.N > 0 && s.Limit.Window > 0:
		return float64(s.Limit.N) / s.Limit.Window.Seconds()
	}
	return 0
}

// firstWindow is how long "the first window" lasts for the 429s counted
// after it.
func (s Scenario) firstWindow() time.Duration {
	if s.Limit.Window > 0 {
		return s.Limit.Window
	}
	return time.Second
}

// lateCounter counts the throttled vendor's answers and 429s after its
// first window, from the first request, and, against a fixed window
// (fixed > 0, the windows aligned on the clock as the sandbox's are), the
// answers accepted in each window.
type lateCounter struct {
	window        time.Duration
	first         atomic.Int64
	late, late429 atomic.Int64
	// lateOK counts the accepted answers after the first window, lastOK
	// is when the last accepted request was sent (Unix nanoseconds).
	lateOK, lastOK atomic.Int64

	fixed time.Duration
	mu    sync.Mutex
	ok    map[int64]int // accepted answers by window index

	// Against a cap on requests in flight (capN > 0): the time the
	// vendor spent on accepted requests after the first window, which
	// over the span and capN is the share of its slots kept busy.
	capN   int
	busyNs atomic.Int64
}

func newLateCounter(sc Scenario) *lateCounter {
	c := &lateCounter{window: sc.firstWindow()}
	if sc.Limit.Shape == sandbox.FixedWindow && sc.Limit.Window > 0 {
		c.fixed, c.ok = sc.Limit.Window, map[int64]int{}
	}
	if sc.Limit.Shape == sandbox.Concurrency {
		c.capN = sc.Limit.N
	}
	return c
}

func (c *lateCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UnixNano()
		c.first.CompareAndSwap(0, now)
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		accepted := sw.code >= 200 && sw.code < 300
		if time.Duration(now-c.first.Load()) >= c.window {
			c.late.Add(1)
			if sw.code == http.StatusTooManyRequests {
				c.late429.Add(1)
			}
			if accepted {
				c.lateOK.Add(1)
				c.busyNs.Add(time.Now().UnixNano() - now)
			}
		}
		if accepted {
			for last := c.lastOK.Load(); now > last && !c.lastOK.CompareAndSwap(last, now); last = c.lastOK.Load() {
			}
		}
		c.inWindow(now, accepted)
	})
}

// steady is the accepted answers per second after the first window, up
// to the last accepted request: the run without its start-up (the
// learner's first window) and without its tail once the backlog ran out;
// 0 when the run ended within its first window.
func (c *lateCounter) steady() float64 {
	span := c.steadySpan()
	if span == 0 {
		return 0
	}
	return float64(c.lateOK.Load()) / span.Seconds()
}

// steadySpan is the time from the end of the first window to the last
// accepted request; 0 when that is under a window (or nothing came).
func (c *lateCounter) steadySpan() time.Duration {
	span := time.Duration(c.lastOK.Load() - (c.first.Load() + int64(c.window)))
	if c.first.Load() == 0 || span < c.window {
		return 0
	}
	return span
}

// busy is the share of the vendor's capN slots that accepted requests
// kept busy after the first window, up to the last accepted request: a
// cap of N in flight served in d takes N/d requests a second only if it
// serves each in exactly d (the sandbox's timer fires late, and more so
// on a loaded machine), and this share does not depend on that. 0 without
// a cap or a span.
func (c *lateCounter) busy() float64 {
	span := c.steadySpan()
	if c.capN == 0 || span == 0 {
		return 0
	}
	return float64(c.busyNs.Load()) / float64(span) / float64(c.capN)
}

// inWindow counts an answer to a request sent at now (Unix nanoseconds)
// in its fixed window.
func (c *lateCounter) inWindow(now int64, accepted bool) {
	if c.fixed <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	w := now / int64(c.fixed)
	c.ok[w] += 0 // a window with requests and none accepted counts too
	if accepted {
		c.ok[w]++
	}
}

// windows returns the accepted answers of each whole fixed window of the
// run, and how many windows that is: those after the first request's
// window and before the last request's. The first is partial (a run that
// starts late in a window gets a paced share of its quota, or all of it in
// a burst), and the last is where the backlog ran out: neither says how
// much of a window's quota erasured takes.
func (c *lateCounter) windows() (ok, n int) {
	if c.fixed <= 0 {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for w := range c.ok {
		first, last = min(first, w), max(last, w)
	}
	for w := first + 1; w < last; w++ {
		ok += c.ok[w]
		n++
	}
	return ok, n
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

// printLimits writes the rate-limit table: per scenario with a limit,
// erasured and the naive consumer, goodput as a share of the limit and the
// share of answers that were 429, over the run and after the first window.
func printLimits(w io.Writer, rs []Result) {
	var rows []Result
	for _, r := range rs {
		if r.Scenario.LimitRate() > 0 && (r.Scenario.Limit.Shape != sandbox.ShapeNone || r.Scenario.Ceiling > 0) {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := table(w)
	fmt.Fprintln(tw, "limit scenario\tbroker\timpl\treplicas\tlimit req/s\tgoodput req/s\t% of limit\tafter 1st window\tof the vendor's quota\t429 share\t429 after 1st window\t")
	for _, r := range rows {
		sc := r.Scenario
		lim := sc.LimitRate()
		late := "-"
		if r.Late > 0 {
			late = fmt.Sprintf("%.2f%% (%d)", 100*float64(r.Late429)/float64(r.Late), r.Late429)
		}
		replicas := max(1, sc.Replicas)
		if r.Impl == ImplNaive {
			replicas = 1 // the naive consumer runs alone
		}
		quotas := "-"
		if r.Windows > 0 {
			quotas = fmt.Sprintf("%.0f%% of %d windows", 100*float64(r.WindowOK)/float64(r.Windows*sc.Limit.N), r.Windows)
		}
		if r.Busy > 0 {
			quotas = fmt.Sprintf("%.0f%% of %d slots busy", 100*r.Busy, sc.Limit.N)
		}
		steady := "-"
		if r.Steady > 0 {
			steady = fmt.Sprintf("%.0f%%", 100*r.Steady/lim)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%.0f%%\t%s\t%s\t%.2f%%\t%s\t\n", sc.Name, r.Broker, r.Impl, replicas,
			thousands(lim), thousands(r.Goodput()), 100*r.Goodput()/lim, steady, quotas, 100*r.Throttled429(), late)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nafter 1st window: goodput from the end of the first window to the last accepted request, as a share of the limit: the run without the learner's start-up and without the tail once the backlog ran out.")
	fmt.Fprintln(w, "of the vendor's quota: against a fixed window, what was accepted in the run's whole windows (not its first, partial, nor its last, where the backlog ran out) over their quota (over a run a few windows long, the goodput over time moves with where in a window the run started); against a cap on requests in flight, the share of the vendor's slots accepted requests kept busy after the first second (the vendor's own time per request is not the nominal latency).")
	fmt.Fprintln(w, "Targets (printed, not asserted): goodput ≥ 95% of the limit (after the first window; of the vendor's quota, against a fixed window or a cap) with < 3% of answers 429 over the same span (the 429 share over the run adds the start-up's: the requests in flight when the first 429 came back, about the ramp's rate times the answer time); with rate-limit header fields (-xrl, -ietf) no 429 after the first window; 3 replicas together ≤ the configured ceiling and ≥ 90% of it.")
}

// Select keeps the scenarios whose name matches pattern (all when it is
// empty), so one scenario group can run alone: `-only '^sw-'`.
func Select(s []Scenario, pattern string) ([]Scenario, error) {
	if pattern == "" {
		return s, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("scenario pattern: %w", err)
	}
	var out []Scenario
	for _, sc := range s {
		if re.MatchString(sc.Name) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario matches %q", pattern)
	}
	return out, nil
}

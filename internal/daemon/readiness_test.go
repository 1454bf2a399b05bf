package daemon

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/dlq"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const stall = time.Minute

func TestReadiness(t *testing.T) {
	t.Parallel()
	type step struct {
		do        func(r *readiness, c *fakeClock)
		ready     bool
		wantInWhy string
	}
	advance := func(d time.Duration) func(*readiness, *fakeClock) {
		return func(_ *readiness, c *fakeClock) { c.advance(d) }
	}
	join := func(r *readiness, _ *fakeClock) { r.Assigned(1, []int{0, 1}) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"not ready before joining", []step{
			{do: advance(0), ready: false, wantInWhy: "not in the consumer group"},
			{do: join, ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.Revoked(1) }, ready: false, wantInWhy: "not in the consumer group"},
		}},
		{"idle forever is ready", []step{
			{do: join, ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.Lag(0, 0); r.Lag(1, 0) }, ready: true},
			{do: advance(24 * time.Hour), ready: true},
		}},
		{"lag with no progress stalls", []step{
			{do: join, ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.Lag(1, 40) }, ready: true},
			{do: advance(stall - time.Second), ready: true},
			{do: advance(time.Second), ready: false, wantInWhy: "stalled: no event finished and no offset committed for 1m0s, with lag 40 and 0 in flight"},
			// A commit is progress: ready again, for another full period.
			{do: func(r *readiness, _ *fakeClock) { r.Committed(1, 10, time.Millisecond, nil) }, ready: true},
			{do: advance(stall - time.Second), ready: true},
			{do: advance(time.Second), ready: false, wantInWhy: "stalled"},
			// A failed commit is not.
			{do: func(r *readiness, _ *fakeClock) { r.Committed(1, 11, time.Millisecond, errors.New("rebalance")) }, ready: false},
			// Lag gone: nothing to do is not a stall.
			{do: func(r *readiness, _ *fakeClock) { r.Lag(1, 0) }, ready: true},
		}},
		{"records in flight with none finishing stall", []step{
			{do: join, ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.Fetched(0); r.Fetched(0) }, ready: true},
			{do: advance(stall / 2), ready: true},
			// An interrupted record is released, but is no progress.
			{do: func(r *readiness, _ *fakeClock) { r.Released(0, false) }, ready: true},
			{do: advance(stall / 2), ready: false, wantInWhy: "with lag 0 and 1 in flight"},
			{do: func(r *readiness, _ *fakeClock) { r.Released(0, true) }, ready: true},
		}},
		{"the quiet period starts when work appears, not at the last progress", []step{
			{do: join, ready: true},
			{do: advance(time.Hour), ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.Fetched(1) }, ready: true},
			{do: advance(stall - time.Second), ready: true},
			{do: advance(time.Second), ready: false, wantInWhy: "1 in flight"},
		}},
		{"a new generation restarts the period and forgets old lag", []step{
			{do: join, ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.Lag(0, 5) }, ready: true},
			{do: advance(stall), ready: false, wantInWhy: "stalled"},
			{do: func(r *readiness, _ *fakeClock) { r.Revoked(1); r.Assigned(2, []int{1}) }, ready: true},
			// Partition 0's lag belonged to the old generation.
			{do: advance(stall), ready: true},
		}},
		{"dead-letter failures", []step{
			{do: join, ready: true},
			{do: func(r *readiness, _ *fakeClock) { r.WriteFailed(errors.New("down")) }, ready: false, wantInWhy: "dead-letter writes failing"},
			{do: func(r *readiness, _ *fakeClock) { r.Published(dlq.ReasonInvalidEvent) }, ready: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			r := newReadiness(stall, clock.now, consumer.NewMetrics(prometheus.NewRegistry()))
			for i, s := range tt.steps {
				s.do(r, clock)
				ok, why := r.check()
				if ok != s.ready {
					t.Fatalf("step %d: ready = %v (%q), want %v", i, ok, why, s.ready)
				}
				if !strings.Contains(why, s.wantInWhy) {
					t.Fatalf("step %d: reason %q does not contain %q", i, why, s.wantInWhy)
				}
				if want := map[bool]float64{true: 1, false: 0}[s.ready]; r.ready() != want {
					t.Fatalf("step %d: gauge %g, want %g", i, r.ready(), want)
				}
			}
		})
	}
}

// TestReadyzHandler checks /readyz answers 503 with the reason, and the
// erasured_ready gauge agrees.
func TestReadyzHandler(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	cfg := &c
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	Vendor[*plivo.Config](&cfg.Vendors).Enabled = true
	d := New(cfg, zerolog.Nop(), nil, nil)
	clock := &fakeClock{t: time.Now()}
	d.ready.now = clock.now

	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not in the consumer group") {
		t.Errorf("/readyz before joining = %d %q", code, body)
	}
	d.ready.Assigned(1, []int{0})
	// Readiness includes the retry workers: plivo's has not joined its
	// group yet.
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "retry worker for plivo not in its consumer group") {
		t.Errorf("/readyz with the retry worker out of its group = %d %q", code, body)
	}
	w := d.ready.worker("plivo")
	w.Assigned(1, []int{0})
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after joining = %d", code)
	}
	w.Revoked(1)
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the retry worker's generation ended = %d", code)
	}
	w.Assigned(2, nil)
	d.ready.Lag(0, 3)
	clock.advance(cfg.HTTP.StallTimeout)
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "stalled") {
		t.Errorf("/readyz when stalled = %d %q", code, body)
	}
	_, metrics := get("/metrics")
	if !strings.Contains(metrics, "\nerasured_ready 0\n") {
		t.Errorf("erasured_ready is not 0 when stalled:\n%s", grep(metrics, "erasured_ready"))
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

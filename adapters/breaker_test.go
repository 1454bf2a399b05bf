package adapters

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// scripted is a vendor behind a breaker: it answers every request with
// status (0: a connection error) and counts what reached it. Tests run in
// a synctest bubble, whose clock gobreaker reads through time.Now.
type scripted struct {
	mu     sync.Mutex
	status int
	calls  atomic.Int64
	// hold, when set, blocks each request until it is closed.
	hold chan struct{}
}

func (s *scripted) set(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.calls.Add(1)
	s.mu.Lock()
	status, hold := s.status, s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if status == 0 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: req}, nil
}

func send(t *testing.T, rt http.RoundTripper) error {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, "http://vendor.invalid/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	return err
}

func testBreaker(cfg BreakerConfig, log *bytes.Buffer) *Breaker {
	cfg.Enabled = true
	var opts []BreakerOption
	if log != nil {
		opts = append(opts, WithBreakerLogger(zerolog.New(log)))
	}
	return NewBreaker("exotel", cfg, opts...)
}

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var log bytes.Buffer
		v := &scripted{status: http.StatusServiceUnavailable}
		b := testBreaker(BreakerConfig{ConsecutiveFailures: 5, Cooldown: 10 * time.Second, HalfOpenProbes: 2}, &log)
		rt := b.Transport(v)

		for i := range 4 {
			if err := send(t, rt); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("after 4 failures state = %s, want closed", s)
		}
		_ = send(t, rt)
		if s := b.State(); s != CircuitOpen {
			t.Fatalf("after 5 failures in a row state = %s, want open", s)
		}
		for range 100 {
			if err := send(t, rt); !errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("request while open: err = %v, want ErrCircuitOpen", err)
			}
		}
		if got := v.calls.Load(); got != 5 {
			t.Fatalf("vendor saw %d requests, want 5: none while open", got)
		}

		time.Sleep(10*time.Second - time.Millisecond)
		if s := b.State(); s != CircuitOpen {
			t.Fatalf("before the cooldown ended state = %s, want open", s)
		}
		time.Sleep(2 * time.Millisecond)
		if s := b.State(); s != CircuitHalfOpen {
			t.Fatalf("after the cooldown state = %s, want half_open", s)
		}

		// The probe budget: two in flight, the third refused.
		v.mu.Lock()
		v.hold = make(chan struct{})
		v.status = http.StatusOK
		v.mu.Unlock()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { errs[i] = send(t, rt) })
		}
		synctest.Wait()
		if err := send(t, rt); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("third request with both probes in flight: err = %v, want ErrCircuitOpen", err)
		}
		if got := v.calls.Load(); got != 7 {
			t.Fatalf("vendor saw %d requests, want 7 (5 + 2 probes)", got)
		}
		v.mu.Lock()
		close(v.hold)
		v.hold = nil
		v.mu.Unlock()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("probe %d: %v", i, err)
			}
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("after 2 successful probes state = %s, want closed", s)
		}
		if err := send(t, rt); err != nil {
			t.Fatalf("request once closed: %v", err)
		}

		// A failed probe opens it again for another cooldown.
		v.set(http.StatusBadGateway)
		for range 5 {
			_ = send(t, rt)
		}
		time.Sleep(10*time.Second + time.Millisecond)
		_ = send(t, rt) // the probe, failing
		if s := b.State(); s != CircuitOpen {
			t.Fatalf("after a failed probe state = %s, want open", s)
		}

		st := b.Stats()
		want := map[[2]CircuitState]uint64{
			{CircuitClosed, CircuitOpen}:     2,
			{CircuitOpen, CircuitHalfOpen}:   2,
			{CircuitHalfOpen, CircuitClosed}: 1,
			{CircuitHalfOpen, CircuitOpen}:   1,
		}
		var total uint64
		for _, tr := range CircuitTransitions {
			if got := st.Transitions[tr[0]][tr[1]]; got != want[tr] {
				t.Errorf("transitions %s->%s = %d, want %d", tr[0], tr[1], got, want[tr])
			}
			total += want[tr]
		}
		lines := strings.Split(strings.TrimSpace(log.String()), "\n")
		if uint64(len(lines)) != total {
			t.Fatalf("%d log lines for %d transitions:\n%s", len(lines), total, log.String())
		}
		for _, want := range []string{`"from":"closed","to":"open","consecutive_failures":5,"failures":5`, `"from":"open","to":"half_open","probes":2`, `"from":"half_open","to":"closed"`, `"from":"half_open","to":"open","cause":"a probe failed"`} {
			if !strings.Contains(log.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, log.String())
			}
		}
		if !strings.Contains(lines[0], `"vendor":"exotel"`) || !strings.Contains(lines[0], `"level":"warn"`) {
			t.Errorf("opening line = %s, want vendor exotel at warn", lines[0])
		}
		if st.Refused != 101 {
			t.Errorf("refused = %d, want 101", st.Refused)
		}
	})
}

func TestBreakerFailureRatioOverWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		v := &scripted{}
		b := testBreaker(BreakerConfig{FailureRatio: 0.5, MinRequests: 10, Window: 10 * time.Second, Cooldown: time.Minute, HalfOpenProbes: 1}, nil)
		rt := b.Transport(v)
		// Alternating answers never make a run, but half fail.
		for i := range 9 {
			v.set([]int{http.StatusOK, http.StatusInternalServerError}[i%2])
			_ = send(t, rt)
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("after 9 answers (below min_requests) state = %s, want closed", s)
		}
		// Failures older than the window are forgotten.
		time.Sleep(11 * time.Second)
		v.set(http.StatusOK)
		_ = send(t, rt)
		// Had the 4 failures before the sleep been kept, the first
		// failure here would make 5 in 10 and open it.
		for range 8 {
			v.set(http.StatusOK)
			_ = send(t, rt)
			v.set(http.StatusInternalServerError)
			_ = send(t, rt)
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("8 failures in 17 answers within the window: state = %s, want closed", s)
		}
		v.set(0) // a connection error
		_ = send(t, rt)
		if s := b.State(); s != CircuitOpen {
			t.Fatalf("9 failures in 18 answers: state = %s, want open", s)
		}
	})
}

// TestBreakerIgnoresThrottling: 429s belong to the limiter. However many,
// alone or among failures, they never open the circuit, and they neither
// close it nor use up a half-open probe's verdict.
func TestBreakerIgnoresThrottling(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		v := &scripted{status: http.StatusTooManyRequests}
		b := testBreaker(BreakerConfig{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 5, Window: time.Minute, Cooldown: time.Second, HalfOpenProbes: 1}, nil)
		rt := b.Transport(v)
		for i := range 1000 {
			if err := send(t, rt); err != nil {
				t.Fatalf("429 number %d refused: %v", i, err)
			}
		}
		// Two failures between 429s: neither rule is reached.
		for _, st := range []int{503, 429, 429, 503, 429} {
			v.set(st)
			_ = send(t, rt)
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("after 1003 429s and 2 failures state = %s, want closed", s)
		}
		if got := v.calls.Load(); got != 1005 {
			t.Fatalf("vendor saw %d requests, want 1005", got)
		}
		v.set(503)
		_ = send(t, rt)
		if s := b.State(); s != CircuitOpen {
			t.Fatalf("third failure: state = %s, want open", s)
		}
		time.Sleep(time.Second + time.Millisecond)
		// A throttled probe says nothing: the circuit stays half-open and
		// the next request is the probe.
		v.set(429)
		_ = send(t, rt)
		if s := b.State(); s != CircuitHalfOpen {
			t.Fatalf("after a throttled probe state = %s, want half_open", s)
		}
		v.set(200)
		if err := send(t, rt); err != nil {
			t.Fatalf("second probe refused: %v", err)
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("after a successful probe state = %s, want closed", s)
		}
	})
}

// TestBreakerVerdicts: what counts as the vendor being down.
func TestBreakerVerdicts(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		status int
		err    error
		want   error
	}{
		{"2xx answered", context.Background(), 200, nil, nil},
		{"404 not found answered", context.Background(), 404, nil, nil},
		{"400 permanent answered", context.Background(), 400, nil, nil},
		{"401 credentials answered", context.Background(), 401, nil, nil},
		{"429 throttled not counted", context.Background(), 429, nil, errBreakerExcluded},
		{"500 failure", context.Background(), 500, nil, errBreakerFailure},
		{"503 failure", context.Background(), 503, nil, errBreakerFailure},
		{"504 failure", context.Background(), 504, nil, errBreakerFailure},
		{"connection error failure", context.Background(), 0, errors.New("connection reset"), errBreakerFailure},
		{"request timeout failure", context.Background(), 0, context.DeadlineExceeded, errBreakerFailure},
		{"caller cancelled not counted", canceled, 0, context.Canceled, errBreakerExcluded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			if tt.status != 0 {
				resp = &http.Response{StatusCode: tt.status}
			}
			if got := verdict(tt.ctx, resp, tt.err); got != tt.want {
				t.Errorf("verdict = %v, want %v", got, tt.want)
			}
		})
	}
}

// sendAdapter deletes through Send, as the vendor adapters do.
type sendAdapter struct {
	client *http.Client
	calls  atomic.Int64
}

func (a *sendAdapter) Name() string { return "exotel" }

func (a *sendAdapter) Delete(ctx context.Context, _ *event.UserDeleted) (Outcome, error) {
	a.calls.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://vendor.invalid/x", nil)
	if err != nil {
		return Failed, err
	}
	resp, err := Send(ctx, a.client, req, "exotel")
	if err != nil {
		return Failed, err
	}
	if resp.Status >= 500 {
		return Failed, &Error{Vendor: "exotel", Class: ClassRetryable, Status: resp.Status}
	}
	return Deleted, nil
}

// TestRetrierOpenCircuitIsRetryableWithoutACall: once the circuit is open
// an attempt fails at once as retryable, with ErrCircuitOpen, without the
// adapter being called; the policy keeps waiting and retrying, and a
// vendor back after the cooldown finishes the event.
func TestRetrierOpenCircuitIsRetryableWithoutACall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		v := &scripted{status: http.StatusServiceUnavailable}
		b := testBreaker(BreakerConfig{ConsecutiveFailures: 3, Cooldown: time.Minute, HalfOpenProbes: 1}, nil)
		a := &sendAdapter{client: b.Wrap(&http.Client{Transport: v})}
		cfg := RetryConfig{InitialInterval: time.Second, MaxInterval: 10 * time.Second, Multiplier: 2, MaxElapsedTime: 30 * time.Second, MaxAttempts: 50, RequestTimeout: time.Second}
		var log bytes.Buffer
		r := NewRetrier(cfg, WithBreaker(b), WithLogger(zerolog.New(&log).Level(zerolog.DebugLevel)))
		ev := &event.UserDeleted{EventID: "e1"}

		res := r.Do(context.Background(), a, ev)
		if res.Outcome != Failed || !res.Exhausted || !errors.Is(res.Err, ErrCircuitOpen) || ErrorClass(res.Err) != ClassRetryable {
			t.Fatalf("Do = %+v, want exhausted, retryable, ErrCircuitOpen", res)
		}
		if res.Attempts != 3 || v.calls.Load() != 3 || a.calls.Load() != 3 {
			t.Fatalf("attempts %d, vendor requests %d, adapter calls %d: want 3 each (the rest refused before the adapter)", res.Attempts, v.calls.Load(), a.calls.Load())
		}
		if res.Refused == 0 {
			t.Fatal("no attempt refused")
		}
		t.Logf("attempts %d, refused %d", res.Attempts, res.Refused)
		if !strings.Contains(log.String(), `"circuit_open":true`) {
			t.Errorf("no retry line says the circuit refused:\n%s", log.String())
		}
		if got := res.Err.Error(); got != "exotel: retryable: circuit open: request not sent" {
			t.Errorf("error text = %q", got)
		}

		// The vendor recovers; the next event waits for the cooldown,
		// probes and is deleted.
		v.set(http.StatusOK)
		r2 := NewRetrier(RetryConfig{InitialInterval: 10 * time.Second, MaxInterval: 10 * time.Second, Multiplier: 1, MaxElapsedTime: 5 * time.Minute, MaxAttempts: 50, RequestTimeout: time.Second}, WithBreaker(b))
		res = r2.Do(context.Background(), a, ev)
		if res.Outcome != Deleted || res.Attempts != 1 || res.Refused == 0 {
			t.Fatalf("after recovery Do = %+v, want deleted after refusals, one request", res)
		}
		if s := b.State(); s != CircuitClosed {
			t.Fatalf("state = %s, want closed", s)
		}
	})
}

func TestBreakerConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		edit      func(*BreakerConfig)
		wantField string
	}{
		{"default", func(*BreakerConfig) {}, ""},
		{"disabled ignores the rest", func(c *BreakerConfig) { *c = BreakerConfig{} }, ""},
		{"consecutive only", func(c *BreakerConfig) { c.FailureRatio, c.MinRequests, c.Window = 0, 0, 0 }, ""},
		{"ratio only", func(c *BreakerConfig) { c.ConsecutiveFailures = 0 }, ""},
		{"negative consecutive", func(c *BreakerConfig) { c.ConsecutiveFailures = -1 }, "consecutive_failures"},
		{"both rules off", func(c *BreakerConfig) { c.ConsecutiveFailures, c.FailureRatio = 0, 0 }, "consecutive_failures"},
		{"ratio above 1", func(c *BreakerConfig) { c.FailureRatio = 1.5 }, "failure_ratio"},
		{"ratio negative", func(c *BreakerConfig) { c.FailureRatio = -0.1 }, "failure_ratio"},
		{"min requests 0 with ratio", func(c *BreakerConfig) { c.MinRequests = 0 }, "min_requests"},
		{"window 0 with ratio", func(c *BreakerConfig) { c.Window = 0 }, "window"},
		{"window negative", func(c *BreakerConfig) { c.Window = -time.Second }, "window"},
		{"cooldown 0", func(c *BreakerConfig) { c.Cooldown = 0 }, "cooldown"},
		{"probes 0", func(c *BreakerConfig) { c.HalfOpenProbes = 0 }, "half_open_probes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultBreakerConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Validate = %v, want an invalid %q", err, tt.wantField)
			}
		})
	}
}

func TestValidateBreakerAgainstRetry(t *testing.T) {
	t.Parallel()
	b, r := DefaultBreakerConfig(), DefaultRetryConfig()
	if err := ValidateBreaker(&b, &r); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	b.Cooldown = r.MaxElapsedTime
	if err := ValidateBreaker(&b, &r); err != nil {
		t.Fatalf("cooldown = max_elapsed_time: %v", err)
	}
	b.Cooldown = r.MaxElapsedTime + time.Second
	var fe *config.FieldError
	if err := ValidateBreaker(&b, &r); !errors.As(err, &fe) || fe.Field != "cooldown" {
		t.Fatalf("cooldown > max_elapsed_time: %v, want cooldown invalid", err)
	}
	b.Enabled = false
	if err := ValidateBreaker(&b, &r); err != nil {
		t.Fatalf("disabled: %v", err)
	}
	b = DefaultBreakerConfig()
	b.HalfOpenProbes = 0
	if err := ValidateBreaker(&b, &r); !errors.As(err, &fe) || fe.Field != "half_open_probes" {
		t.Fatalf("own fields first: %v", err)
	}
}

func TestBreakerMetricsStartAtZero(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m := NewBreakerMetrics(reg)
		b := testBreaker(BreakerConfig{ConsecutiveFailures: 1, Cooldown: time.Minute, HalfOpenProbes: 1}, nil)
		m.Add(b)
		m.Add(nil) // a disabled breaker exports nothing
		want := `
# HELP erasured_vendor_circuit_state The vendor's circuit breaker: 0 closed (requests flow), 1 half-open (probe requests only), 2 open (no request is sent).
# TYPE erasured_vendor_circuit_state gauge
erasured_vendor_circuit_state{vendor="exotel"} %d
# HELP erasured_vendor_circuit_transitions_total State changes of the vendor's circuit breaker, by from and to state (closed, half_open, open).
# TYPE erasured_vendor_circuit_transitions_total counter
erasured_vendor_circuit_transitions_total{from="closed",to="open",vendor="exotel"} %d
erasured_vendor_circuit_transitions_total{from="half_open",to="closed",vendor="exotel"} 0
erasured_vendor_circuit_transitions_total{from="half_open",to="open",vendor="exotel"} 0
erasured_vendor_circuit_transitions_total{from="open",to="half_open",vendor="exotel"} 0
`
		check := func(state, opened int) {
			t.Helper()
			text := fmt.Sprintf(want, state, opened)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(text), "erasured_vendor_circuit_state", "erasured_vendor_circuit_transitions_total"); err != nil {
				t.Fatal(err)
			}
		}
		check(0, 0)
		_ = send(t, b.Transport(&scripted{status: 500}))
		check(2, 1)
	})
}

// TestBreakerOpened: the channel Opened hands out is closed when the
// circuit opens, and a fresh one waits for the next opening; a nil
// Breaker's never fires.
func TestBreakerOpened(t *testing.T) {
	t.Parallel()
	cfg := DefaultBreakerConfig()
	cfg.ConsecutiveFailures, cfg.FailureRatio, cfg.Cooldown = 2, 0, time.Hour
	b := NewBreaker("fake", cfg)
	ch := b.Opened()
	fail := func() {
		done, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		done(context.Background(), nil, errors.New("connection refused"))
	}
	fail()
	select {
	case <-ch:
		t.Fatal("closed after one failure")
	default:
	}
	fail()
	select {
	case <-ch:
	default:
		t.Fatal("not closed when the circuit opened")
	}
	select {
	case <-b.Opened():
		t.Fatal("the next channel is already closed")
	default:
	}
	var nb *Breaker
	if nb.Opened() != nil {
		t.Error("a nil Breaker's channel should be nil")
	}
}

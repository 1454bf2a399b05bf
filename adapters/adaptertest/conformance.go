package adaptertest

// The conformance suite: what every vendor adapter must do whatever its
// API looks like, checked once here and run by each vendor's tests with a
// small Harness, in the spirit of testing/fstest. Vendor tests keep only
// what their API page makes specific.
//
// Every check runs in a testing/synctest bubble against an in-memory
// server (Serve), so a Retry-After of seconds or an HTTP date, a request
// timeout or a hanging vendor costs no real time and the waits are exact:
// the bubble's clock only moves when every goroutine in it is blocked.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

// Harness is what Run needs to know of a vendor.
type Harness struct {
	// Name is the adapter's Name(), which its errors carry as Vendor.
	Name string
	// New builds the adapter aimed at baseURL (scheme and host, as a
	// sandbox would be reached), sending through client, with retry as its
	// retry section: an adapter that bounds its own requests (SelfLimited)
	// does so with it. The error is its config's Validate. New runs inside
	// the bubble, so goroutines the adapter starts belong to it.
	New func(baseURL string, client *http.Client, retry adapters.RetryConfig) (adapters.Adapter, error)
	// Sandbox returns a fresh strict sandbox of the vendor's API in its
	// default mode. The suite answers some requests itself (throttle, hang,
	// redirect) and passes the rest to it.
	Sandbox func() http.Handler
	// Event is a sample event the adapter sends a request for; its
	// identifiers must never appear in an error.
	Event func() *event.UserDeleted
	// Throttle writes the vendor's documented throttle answer, status 429
	// included; the suite has already set Retry-After on w (or not).
	Throttle func(w http.ResponseWriter, r *http.Request)
	// Secrets are the credentials New configures; no error may hold them.
	Secrets []string
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"RetryAfter", testRetryAfter},
		{"RetryAfterHonoured", testRetryAfterHonoured},
		{"Cancellation", testCancellation},
		{"Timeout", testTimeout},
		{"RedirectRefused", testRedirect},
		{"TransportFailure", testTransportFailure},
		{"Classification", testClassification},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}

// Serve connects a client to handler in memory: no socket, so it works
// inside a synctest bubble, where a request blocked in handler is durably
// blocked and the bubble's clock moves on. The transport behaves as
// net/http's does where adapters can tell: a request whose context ends
// fails with that context's error, and the handler sees the request's
// context (so it can notice a client that gave up). The base URL is a
// loopback one, which every vendor's config accepts over plain HTTP.
func Serve(handler http.Handler) (baseURL string, client *http.Client) {
	return "http://127.0.0.1:8080", &http.Client{Transport: memTransport{handler}}
}

type memTransport struct{ h http.Handler }

func (m memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:40000"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	done := make(chan *http.Response, 1)
	go func() {
		rec := httptest.NewRecorder()
		m.h.ServeHTTP(rec, sreq)
		done <- rec.Result()
	}()
	select {
	case resp := <-done:
		return resp, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// failingTransport fails every request the way a reset connection does.
// Its error quotes the request URL, as *url.Error and some wrapping
// transports do, so the leak check has the identifiers in the path to
// find.
type failingTransport struct{}

func (failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%s %s: connection reset by peer", req.Method, req.URL)
}

// retryConfig is a policy with fixed, small waits, so a bubble's clock
// says exactly what was waited.
func retryConfig() adapters.RetryConfig {
	r := adapters.DefaultRetryConfig()
	r.InitialInterval, r.MaxInterval, r.RandomizationFactor = 10*time.Millisecond, 10*time.Millisecond, 0
	r.MaxAttempts, r.MaxElapsedTime, r.RequestTimeout = 3, time.Hour, 10*time.Second
	return r
}

// server is the suite's stand-in for a vendor: the harness's sandbox,
// except for the requests the test says it answers itself.
type server struct {
	sandbox  http.Handler
	mu       sync.Mutex
	override func(w http.ResponseWriter, r *http.Request) bool // true: answered
	requests atomic.Int32
	arrived  chan struct{} // closed at the first request
	once     sync.Once
}

// newServer serves h's sandbox; override, when given, answers first.
func newServer(h Harness, override ...func(w http.ResponseWriter, r *http.Request) bool) *server {
	s := &server{sandbox: h.Sandbox(), arrived: make(chan struct{})}
	for _, o := range override {
		s.answer(o)
	}
	return s
}

// cancelOnArrival returns a context cancelled once a request reaches s.
func cancelOnArrival(s *server) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-s.arrived
		cancel()
	}()
	return ctx
}

func (s *server) answer(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.override = f
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.once.Do(func() { close(s.arrived) })
	s.mu.Lock()
	f := s.override
	s.mu.Unlock()
	if f != nil && f(w, r) {
		return
	}
	s.sandbox.ServeHTTP(w, r)
}

// hang answers n requests (all when n < 0) by waiting for the client to
// give up, as a vendor that accepted the connection and went quiet.
func hang(n int) func(w http.ResponseWriter, r *http.Request) bool {
	var left atomic.Int32
	left.Store(int32(n))
	return func(w http.ResponseWriter, r *http.Request) bool {
		if n >= 0 && left.Add(-1) < 0 {
			return false
		}
		<-r.Context().Done()
		return true
	}
}

func (h Harness) adapter(t testing.TB, s http.Handler, retry adapters.RetryConfig) adapters.Adapter {
	t.Helper()
	base, client := Serve(s)
	return h.build(t, base, client, retry)
}

func (h Harness) build(t testing.TB, baseURL string, client *http.Client, retry adapters.RetryConfig) adapters.Adapter {
	t.Helper()
	a, err := h.New(baseURL, client, retry)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if a.Name() != h.Name {
		t.Fatalf("Name() = %q, want %q", a.Name(), h.Name)
	}
	return a
}

// check applies Classified and the leak check to one Delete's result and
// returns its *adapters.Error (nil for a final outcome).
func (h Harness) check(t testing.TB, ev *event.UserDeleted, out adapters.Outcome, err error) *adapters.Error {
	t.Helper()
	ae := Classified(t, out, err)
	h.noLeak(t, ev, err)
	if ae != nil && ae.Vendor != h.Name {
		t.Errorf("error names vendor %q, want %q", ae.Vendor, h.Name)
	}
	return ae
}

// noLeak fails if err's words hold a secret or one of ev's identifiers.
func (h Harness) noLeak(t testing.TB, ev *event.UserDeleted, err error) {
	t.Helper()
	text := Text(err)
	values := append([]string{ev.UserID}, h.Secrets...)
	for _, v := range ev.Identifiers {
		values = append(values, v)
	}
	for _, v := range values {
		if v != "" && strings.Contains(text, v) {
			t.Errorf("error %q holds %q", text, v)
		}
	}
}

// testRetryAfter: a throttle's Retry-After is read in both forms RFC 9110
// allows, a date in the past or an unreadable value means no wait, and
// the throttle is retryable either way.
func testRetryAfter(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name   string
		header func(now time.Time) string // "" sends none
		want   time.Duration
	}{
		{"seconds", func(time.Time) string { return "7" }, 7 * time.Second},
		// An HTTP date has whole seconds: the wait is up to 1s short of
		// 90s when the clock is past a whole second (a batch wait).
		{"HTTP date", func(now time.Time) string { return now.Add(90 * time.Second).UTC().Format(http.TimeFormat) }, 90 * time.Second},
		{"date in the past", func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) }, 0},
		{"unreadable", func(time.Time) string { return "soon" }, 0},
		{"absent", func(time.Time) string { return "" }, 0},
		{"beyond the cap", func(time.Time) string { return "86400000" }, adapters.MaxRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := newServer(h)
				s.answer(func(w http.ResponseWriter, r *http.Request) bool {
					if v := tc.header(time.Now()); v != "" {
						w.Header().Set("Retry-After", v)
					}
					h.Throttle(w, r)
					return true
				})
				ev := h.Event()
				out, err := h.adapter(t, s, retryConfig()).Delete(context.Background(), ev)
				ae := h.check(t, ev, out, err)
				if ae == nil || ae.Class != adapters.ClassRetryable || ae.Status != http.StatusTooManyRequests {
					t.Fatalf("Delete = %v, %v; want a retryable 429", out, err)
				}
				if ae.RetryAfter > tc.want || ae.RetryAfter <= tc.want-time.Second || tc.want == 0 && ae.RetryAfter != 0 {
					t.Errorf("RetryAfter = %s, want %s (less under a second, for a date)", ae.RetryAfter, tc.want)
				}
			})
		})
	}
}

// Waits is a Retrier Observer that records the waits it asked for and
// whether each came from a Retry-After.
type Waits struct {
	mu     sync.Mutex
	waits  []time.Duration
	fromRA []bool
}

// Attempted implements adapters.Observer.
func (w *Waits) Attempted(string, error, time.Duration) {}

// Waiting implements adapters.Observer.
func (w *Waits) Waiting(_ string, d time.Duration, fromRetryAfter bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waits = append(w.waits, d)
	w.fromRA = append(w.fromRA, fromRetryAfter)
}

// Got returns the waits so far and, for each, whether it came from a
// Retry-After.
func (w *Waits) Got() (waits []time.Duration, fromRetryAfter []bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.waits), slices.Clone(w.fromRA)
}

// testRetryAfterHonoured: the Retrier waits what the throttle asked, in
// either form, and not less, then the vendor deletes.
func testRetryAfterHonoured(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name   string
		header func(now time.Time) string
	}{
		{"seconds", func(time.Time) string { return "3" }},
		{"HTTP date", func(now time.Time) string { return now.Add(3 * time.Second).UTC().Format(http.TimeFormat) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := newServer(h)
				var throttled atomic.Bool
				s.answer(func(w http.ResponseWriter, r *http.Request) bool {
					if throttled.Swap(true) {
						return false
					}
					w.Header().Set("Retry-After", tc.header(time.Now()))
					h.Throttle(w, r)
					return true
				})
				log := &Waits{}
				ev := h.Event()
				start := time.Now()
				res := adapters.NewRetrier(retryConfig(), adapters.WithObserver(log)).Do(context.Background(), h.adapter(t, s, retryConfig()), ev)
				if res.Outcome != adapters.Deleted || res.Err != nil || res.Attempts != 2 {
					t.Fatalf("result %+v; want deleted on attempt 2", res)
				}
				// A date has whole seconds, so its wait may be under a
				// second short of 3s (see testRetryAfter).
				waits, fromRA := log.Got()
				if len(waits) != 1 || waits[0] > 3*time.Second || waits[0] <= 2*time.Second || !fromRA[0] {
					t.Fatalf("waits %v (from Retry-After %v), want [3s] [true]", waits, fromRA)
				}
				if took := time.Since(start); took < waits[0] {
					t.Errorf("retried after %s, before the %s asked", took, waits[0])
				}
			})
		})
	}
}

// testCancellation: the caller's cancellation (or deadline) comes back as
// the context's own error, never as a vendor error that would be
// dead-lettered, and the Retrier hands the event back undecided.
func testCancellation(t *testing.T, h Harness) {
	bare := func(t *testing.T, ev *event.UserDeleted, out adapters.Outcome, err, want error) {
		t.Helper()
		// The error is the context's itself, not wrapped: callers (and
		// Result.Interrupted) must not read it as the vendor's answer.
		if out != adapters.Failed || err != want {
			t.Fatalf("Delete = %v, %#v; want Failed with %v itself", out, err, want)
		}
		if !(adapters.Result{Outcome: out, Err: err}).Interrupted() {
			t.Error("the result would not count as interrupted")
		}
		h.noLeak(t, ev, err)
	}
	t.Run("before the request", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := newServer(h)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			ev := h.Event()
			out, err := h.adapter(t, s, retryConfig()).Delete(ctx, ev)
			bare(t, ev, out, err, context.Canceled)
			if n := s.requests.Load(); n != 0 {
				t.Errorf("%d requests reached the vendor", n)
			}
		})
	})
	t.Run("while the vendor works", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := newServer(h, hang(-1))
			ev := h.Event()
			out, err := h.adapter(t, s, retryConfig()).Delete(cancelOnArrival(s), ev)
			bare(t, ev, out, err, context.Canceled)
		})
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := newServer(h, hang(-1))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			ev := h.Event()
			out, err := h.adapter(t, s, retryConfig()).Delete(ctx, ev)
			bare(t, ev, out, err, context.DeadlineExceeded)
		})
	})
	t.Run("retrier hands the event back", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := newServer(h, hang(-1))
			res := adapters.NewRetrier(retryConfig()).Do(cancelOnArrival(s), h.adapter(t, s, retryConfig()), h.Event())
			if !res.Interrupted() || res.Exhausted || res.Attempts != 1 || !errors.Is(res.Err, context.Canceled) {
				t.Fatalf("result %+v; want interrupted after one attempt", res)
			}
		})
	})
}

// testTimeout: a vendor slower than retry.request_timeout gives a
// retryable "timed out" on each attempt, bounded by max_attempts; when it
// recovers, the next attempt settles the event (the vendor may have done a
// delete the client gave up on, so either final outcome will do).
func testTimeout(t *testing.T, h Harness) {
	cfg := retryConfig()
	cfg.RequestTimeout, cfg.MaxAttempts = 2*time.Second, 2
	t.Run("exhausted", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := newServer(h, hang(-1))
			ev := h.Event()
			start := time.Now()
			res := adapters.NewRetrier(cfg).Do(context.Background(), h.adapter(t, s, cfg), ev)
			if res.Outcome != adapters.Failed || !res.Exhausted || res.Attempts != 2 || res.Interrupted() {
				t.Fatalf("result %+v; want exhausted after 2 attempts", res)
			}
			ae := h.check(t, ev, res.Outcome, res.Err)
			if ae.Class != adapters.ClassRetryable || !strings.Contains(ae.Message, "timed out") {
				t.Errorf("error %v; want a retryable timeout", res.Err)
			}
			if took, want := time.Since(start), 2*cfg.RequestTimeout; took < want {
				t.Errorf("gave up after %s, before two timeouts of %s", took, cfg.RequestTimeout)
			}
		})
	})
	t.Run("recovers", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			s := newServer(h, hang(1))
			res := adapters.NewRetrier(cfg).Do(context.Background(), h.adapter(t, s, cfg), h.Event())
			if !res.Outcome.Final() || res.Attempts != 2 {
				t.Fatalf("result %+v; want a final outcome on attempt 2", res)
			}
		})
	})
}

// testRedirect: a 3xx is never followed, whatever the client (a bare
// transport, or a client with a timeout, which goes through
// http.Client's redirect machinery): following would repeat a DELETE or
// POST as a GET whose 200 reads as a deletion, and carry credential headers
// elsewhere. The 3xx itself is unexpected.
func testRedirect(t *testing.T, h Harness) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, timeout := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%d/client timeout %s", status, timeout), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					s := newServer(h)
					var followed atomic.Int32
					s.answer(func(w http.ResponseWriter, r *http.Request) bool {
						if r.URL.Path == "/elsewhere" {
							followed.Add(1)
							w.WriteHeader(http.StatusOK)
							return true
						}
						http.Redirect(w, r, "/elsewhere", status)
						return true
					})
					base, client := Serve(s)
					client.Timeout = timeout
					ev := h.Event()
					out, err := h.build(t, base, client, retryConfig()).Delete(context.Background(), ev)
					ae := h.check(t, ev, out, err)
					if ae == nil || ae.Class != adapters.ClassUnexpected || ae.Status != status {
						t.Errorf("Delete = %v, %v; want unexpected %d", out, err, status)
					}
					if n := followed.Load(); n != 0 {
						t.Errorf("redirect followed %d times", n)
					}
				})
			})
		}
	}
}

// testTransportFailure: a failed exchange is retryable, has no status,
// and its text names neither the URL's identifiers nor the credentials,
// even when the transport's error quotes them.
func testTransportFailure(t *testing.T, h Harness) {
	for _, timeout := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprintf("client timeout %s", timeout), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ev := h.Event()
				client := &http.Client{Transport: failingTransport{}, Timeout: timeout}
				out, err := h.build(t, "http://127.0.0.1:8080", client, retryConfig()).Delete(context.Background(), ev)
				ae := h.check(t, ev, out, err)
				if ae == nil || ae.Class != adapters.ClassRetryable || ae.Status != 0 {
					t.Errorf("Delete = %v, %v; want retryable without a status", out, err)
				}
			})
		})
	}
}

// testClassification: answers whose meaning does not depend on the
// vendor's page are classified alike everywhere, and every result keeps
// Classified's invariants. A 2xx the adapter cannot read is never a
// deletion.
func testClassification(t *testing.T, h Harness) {
	huge := strings.Repeat("x", adapters.MaxResponseBytes+1)
	for _, tc := range []struct {
		name       string
		status     int
		ctype      string
		body       string
		want       adapters.Class
		retryAfter string // sent as Retry-After, and then read as seconds
	}{
		{"proxy 502 page", 502, "text/html", "<html><body>Bad Gateway</body></html>", adapters.ClassRetryable, ""},
		{"503 empty", 503, "", "", adapters.ClassRetryable, ""},
		{"503 with Retry-After", 503, "text/plain", "Service Unavailable", adapters.ClassRetryable, "2"},
		{"504 empty", 504, "", "", adapters.ClassRetryable, ""},
		{"200 maintenance page", 200, "text/html", "<html>maintenance</html>", adapters.ClassUnexpected, ""},
		{"200 truncated JSON", 200, "application/json", `{"status":`, adapters.ClassUnexpected, ""},
		{"200 oversized", 200, "application/json", `{"pad":"` + huge + `"}`, adapters.ClassUnexpected, ""},
		{"418", 418, "text/plain", "teapot", adapters.ClassPermanent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := newServer(h)
				s.answer(func(w http.ResponseWriter, r *http.Request) bool {
					if tc.ctype != "" {
						w.Header().Set("Content-Type", tc.ctype)
					}
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, tc.body)
					return true
				})
				ev := h.Event()
				out, err := h.adapter(t, s, retryConfig()).Delete(context.Background(), ev)
				ae := h.check(t, ev, out, err)
				if ae == nil || ae.Class != tc.want || ae.Status != tc.status {
					t.Fatalf("Delete = %v, %v; want %v with status %d", out, err, tc.want, tc.status)
				}
				want, _ := adapters.ParseRetryAfter(tc.retryAfter, time.Now())
				if ae.RetryAfter != want {
					t.Errorf("RetryAfter = %s, want %s", ae.RetryAfter, want)
				}
			})
		})
	}
}

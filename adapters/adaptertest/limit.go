package adaptertest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

// LimitCase is one vendor sandbox under a limit, for EnforcesLimit.
type LimitCase struct {
	// Handler is the vendor's sandbox, whose Chaos is Chaos.
	Handler http.Handler
	Chaos   *sandbox.Chaos
	Limit   sandbox.Limit
	// Request returns a well-formed delete of the i-th profile, one the
	// sandbox answers 200 when admitted.
	Request func(i int) *http.Request
	// Throttled is a fragment of the vendor's own 429 body.
	Throttled string
}

// EnforcesLimit checks, through the vendor's real handler, that the
// sandbox admits exactly what c.Limit allows and answers the next request
// with the vendor's 429, with Retry-After and rate-limit fields as the
// limit says; then that the limit frees up again. A time-based limit runs
// on a fake clock, a concurrency cap in a synctest bubble, where held
// requests wait on fake time.
func EnforcesLimit(t *testing.T, c LimitCase) {
	t.Helper()
	if c.Limit.Shape == sandbox.Concurrency {
		synctest.Test(t, func(t *testing.T) { enforcesCap(t, c) })
		return
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // every window starts here
	c.Chaos.Set(sandbox.Knobs{Limit: c.Limit})
	c.Chaos.SetClock(func() time.Time { return now })
	next := 0
	for range c.Limit.N {
		if rec := c.serve(next); rec.Code != http.StatusOK {
			t.Fatalf("request %d of %d: %d %s", next+1, c.Limit.N, rec.Code, rec.Body)
		}
		next++
	}
	now = now.Add(c.Limit.Window - time.Millisecond)
	rec := c.serve(next)
	c.throttled(t, rec)
	if ra := rec.Header().Get("Retry-After"); (ra != "") == c.Limit.NoRetryAfter {
		t.Errorf("Retry-After %q with NoRetryAfter %v", ra, c.Limit.NoRetryAfter)
	}
	if c.Limit.XRateLimit != sandbox.XRateLimitOff {
		rl, err := adapters.ParseXRateLimit(rec.Header(), now)
		if err != nil || rl.Limit != c.Limit.N || rl.Remaining != 0 || rl.Reset <= 0 || rl.Reset > time.Second {
			t.Errorf("X-RateLimit fields %v read as %+v, %v", rec.Header(), rl, err)
		}
	} else if _, err := adapters.ParseXRateLimit(rec.Header(), now); !errors.Is(err, adapters.ErrNoRateLimit) {
		t.Errorf("X-RateLimit fields %v sent unasked", rec.Header())
	}
	now = now.Add(time.Millisecond)
	if rec := c.serve(next + 1); rec.Code != http.StatusOK {
		t.Fatalf("first request of the next window: %d %s", rec.Code, rec.Body)
	}
}

func enforcesCap(t *testing.T, c LimitCase) {
	const hold = time.Second
	c.Chaos.Set(sandbox.Knobs{Limit: c.Limit, Latency: hold})
	var wg sync.WaitGroup
	codes := make([]int, c.Limit.N)
	for i := range c.Limit.N {
		wg.Go(func() { codes[i] = c.serve(i).Code })
	}
	synctest.Wait() // all N are in flight, waiting out the latency
	rec := c.serve(c.Limit.N)
	c.throttled(t, rec)
	if ra := rec.Header().Get("Retry-After"); (ra != "") == c.Limit.NoRetryAfter {
		t.Errorf("Retry-After %q with NoRetryAfter %v", ra, c.Limit.NoRetryAfter)
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("held request %d: %d", i, code)
		}
	}
	if rec := c.serve(c.Limit.N + 1); rec.Code != http.StatusOK {
		t.Fatalf("request after the held ones ended: %d %s", rec.Code, rec.Body)
	}
}

func (c LimitCase) serve(i int) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	c.Handler.ServeHTTP(rec, c.Request(i))
	return rec
}

func (c LimitCase) throttled(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), c.Throttled) {
		t.Fatalf("request over the limit: %d %s, want 429 with %s", rec.Code, rec.Body, c.Throttled)
	}
}

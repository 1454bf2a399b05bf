package adaptertest

import (
	"context"
	"math"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

// LearnCase is a vendor adapter against its sandbox under a limit, for
// LearnsLimit.
type LearnCase struct {
	Harness Harness
	// Handler is the vendor's sandbox, whose Chaos is Chaos.
	Handler http.Handler
	Chaos   *sandbox.Chaos
	Limit   sandbox.Limit
	// Config is erasured's limit for the vendor (its DefaultLimit).
	Config adapters.LimitConfig
	// For is how long the run lasts on the bubble's clock; Latency each
	// answer's delay.
	For, Latency time.Duration
	// Workers is how many deletions run at once.
	Workers int
	// NewLimited, when set, builds an adapter that takes the limiter's
	// permits itself (CleverTap's batches), in place of Harness.New.
	NewLimited func(baseURL string, client *http.Client, retry adapters.RetryConfig, l *adapters.Limiter) (adapters.Adapter, error)
}

// LearnsLimit runs c.Workers deletions at a time through the vendor's real
// adapter, a Retrier and a Limiter (with the header fields wired as the
// daemon wires them) against the vendor's sandbox enforcing c.Limit, for
// c.For of fake time in a synctest bubble. It checks that every deletion
// ends deleted, that 429s stay under 3% of the answers after the first
// windows (none with header fields), and that the limiter learned
// something; it logs the counts.
func LearnsLimit(t *testing.T, c LearnCase) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		c.Chaos.Set(sandbox.Knobs{Limit: c.Limit, Latency: c.Latency})
		st := &statusCount{h: c.Handler, start: time.Now(), warmup: 2*c.Limit.Window + 10*time.Second}
		headers := c.Limit.XRateLimit != sandbox.XRateLimitOff || c.Limit.IETF
		if headers {
			st.warmup = c.Limit.Window
		}
		base, client := Serve(st)
		lim := adapters.NewLimiter(c.Config, c.Workers)
		client = lim.Wrap(client)
		retry := adapters.DefaultRetryConfig()
		retry.MaxElapsedTime = time.Hour // every deletion ends deleted
		var a adapters.Adapter
		var err error
		if c.NewLimited != nil {
			a, err = c.NewLimited(base, client, retry, lim)
		} else {
			a, err = c.Harness.New(base, client, retry)
		}
		if err != nil {
			t.Fatal(err)
		}
		r := adapters.NewRetrier(retry, adapters.WithLimiter(lim))
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(c.For))
		defer cancel()
		var wg sync.WaitGroup
		var mu sync.Mutex
		done, failed := 0, 0
		for range c.Workers {
			wg.Go(func() {
				for ctx.Err() == nil {
					res := r.Do(ctx, a, c.Harness.Event())
					mu.Lock()
					if res.Err == nil && res.Outcome.Final() {
						done++
					} else if ctx.Err() == nil {
						failed++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		s := lim.Stats()
		ok, throttled, lateOK, late429 := st.get()
		t.Logf("%d deleted, %d failed; vendor answered %d ok, %d 429; after warm-up %d ok, %d 429; limiter: rate %.1f, ceiling %.1f, cap %d",
			done, failed, ok, throttled, lateOK, late429, s.Limit, s.Ceiling, s.MaxConcurrency)
		if failed > 0 || done == 0 {
			t.Errorf("%d deletions failed, %d done", failed, done)
		}
		share := float64(late429) / float64(max(1, lateOK+late429))
		switch {
		case headers && c.Limit.Shape == sandbox.FixedWindow && late429 > 0:
			t.Errorf("%d 429s after the first window, with the budget in the header fields", late429)
		case share > 0.03:
			t.Errorf("429s after warm-up: %.2f%%, want under 3%%", 100*share)
		}
		if c.Limit.Shape == sandbox.Concurrency {
			if !math.IsInf(s.Limit, 1) || s.MaxConcurrency > c.Limit.N+1 {
				t.Errorf("a concurrency cap learned as rate %g, cap %d", s.Limit, s.MaxConcurrency)
			}
		} else if math.IsInf(s.Limit, 1) {
			t.Errorf("no rate learned: %+v", s)
		}
	})
}

// statusCount counts the sandbox's answers, and those after warm-up.
type statusCount struct {
	h      http.Handler
	start  time.Time
	warmup time.Duration

	mu                             sync.Mutex
	ok, throttled, lateOK, late429 int
}

func (s *statusCount) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	sw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
	s.h.ServeHTTP(sw, r)
	late := at.Sub(s.start) >= s.warmup
	s.mu.Lock()
	defer s.mu.Unlock()
	if sw.code == http.StatusTooManyRequests {
		s.throttled++
		if late {
			s.late429++
		}
	} else {
		s.ok++
		if late {
			s.lateOK++
		}
	}
}

func (s *statusCount) get() (int, int, int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok, s.throttled, s.lateOK, s.late429
}

type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) { w.code = code; w.ResponseWriter.WriteHeader(code) }

package adapters

import (
	"errors"
	"math"
	"net/http"
	"time"
)

// Pacing by header fields: a vendor that says its budget (RateLimit /
// RateLimit-Policy, or X-RateLimit-Limit/Remaining/Reset) is paced to
// spend what remains evenly until the reset, less the requests already in
// flight, and paused until the reset once nothing remains. Such a vendor
// sees no 429 after the first answer; while its fields keep coming the
// 429 learner stands aside (learn.go).
//
// Resets come in whole seconds, rounded up, so one answer bounds the
// reset instant from above only; the earliest bound seen in a window is
// kept (resetAt), which narrows to a few milliseconds after a few answers.

// policyPaceTo is how close under a stated policy's quota the pace holds:
// closer than that, the jitter of arrivals at a sliding window spends its
// last places before the window frees them, and each time, as Remaining
// reaches 0, the vendor is paused a tenth of its window (0.99 held a
// sliding window of 300 at 93-94% in the bench, 0.98 at 96-97%).
const policyPaceTo = 0.98

// Wrap makes client show l the header fields of every answer.
func (l *Limiter) Wrap(client *http.Client) *http.Client {
	next := client.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	client.Transport = paceTransport{next: next, l: l}
	return client
}

type paceTransport struct {
	next http.RoundTripper
	l    *Limiter
}

func (t paceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		t.l.Observe(resp.Header)
	}
	return resp, err
}

// Observe paces the vendor by an answer's rate-limit header fields, if it
// has any. It is called while the answer's request still holds its
// permit.
func (l *Limiter) Observe(h http.Header) {
	if !l.adaptive || (h.Get("RateLimit") == "" && h.Get("X-RateLimit-Remaining") == "") {
		return
	}
	now := l.now()
	rl, err := ParseRateLimitFields(h)
	if errors.Is(err, ErrNoRateLimit) {
		rl, err = ParseXRateLimit(h, now)
	}
	if err != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	bound := now.Add(rl.Reset)
	ls := &l.learn
	// The fields say the budget: no need to ramp up towards it.
	ls.slowStart = false
	if ls.resetAt.IsZero() || !now.Before(ls.resetAt) || bound.Before(ls.resetAt) || rl.Remaining > ls.lastRemaining {
		ls.resetAt = bound
	}
	ls.lastRemaining = rl.Remaining
	ls.headerUntil = now.Add(max(rl.Reset, time.Second))
	if rl.Limit > 0 && rl.Window > 0 {
		ls.ceiling = math.Min(l.maxRate, float64(rl.Limit)/rl.Window.Seconds())
	}
	left := float64(rl.Remaining) - float64(max(0, l.inFlight.Load()-1))
	until := ls.resetAt.Sub(now)
	ls.policyWindow = rl.Window
	if left <= 0 {
		if rl.Window > 0 {
			// A policy's reset may be when the whole quota is back (a
			// sliding window frees a place with each expiry): wait a
			// tenth of its window, not all of it.
			until = min(until, rl.Window/10)
		}
		l.pauseLocked(now, min(until, l.cfg.MaxPause))
		return
	}
	if until <= 0 {
		return
	}
	r := left / until.Seconds()
	if rl.Limit > 0 && rl.Window > 0 {
		// The policy says the quota per window: pace at just under it.
		// Spending what remains by the reset alone would settle at half a
		// sliding window's rate, whose reset is when the whole quota is
		// back, not when the next request is.
		r = math.Max(r, policyPaceTo*float64(rl.Limit)/rl.Window.Seconds())
	}
	l.setLimitLocked(math.Min(l.maxRate, math.Max(l.cfg.MinRate, r)), now)
}

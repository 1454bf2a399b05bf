package adapters

import (
	"math"
	"time"
)

// How the limiter learns a vendor's limit from its 429s, whatever shape
// the vendor enforces (token bucket, fixed or sliding window, cap on
// requests in flight):
//
//   - A 429 after a success starts an episode; its first 429 is an onset.
//     The rate the vendor sustains is what it accepted between two onsets
//     divided by the time between them: over a fixed window of N per W
//     that is N/W whatever was sent inside the window, and over a token
//     bucket it is the refill rate. Onsets closer than acceptWindow use the
//     accepted rate of the last acceptWindow instead. That measure is the
//     learned ceiling: the rate at which 429s began.
//   - At an onset the rate drops to DecreaseFactor × the ceiling, once per
//     episode: the other 429s of an episode are the same closed window,
//     not news about the rate.
//   - A 429 without Retry-After (Plivo) pauses every request for a probe
//     delay that doubles while the vendor keeps refusing (probeBase up to
//     probeMax), so a closed window is not hammered.
//   - While requests queue for tokens the rate climbs back towards
//     recoverTo × the ceiling, halving the gap every recoverHalfLife: a
//     second or two, not +1/s per second. Once there with no 429, the
//     ceiling itself creeps up, probeGrowth per second at first and
//     doubling each second to probeGrowthMax, in case the vendor allows
//     more than was measured.
//   - The rate never exceeds max_rate (times this replica's share, see
//     SetShare).
//
// With throttle: concurrency (CleverTap) a 429 means too many requests in
// flight: AIMD on the cap of requests in flight instead, as TCP does on
// its window and Netflix's concurrency-limits on in-flight requests. The
// ceiling is the count in flight when the vendor refused; the cap drops to
// DecreaseFactor × it, climbs back to one under it by halving the gap, and
// probes one more every capProbeEvery.
//
// Header fields, when sent, take over (pace.go).
const (
	recoverTo       = 0.97
	recoverHalfLife = 0.5 // seconds
	probeGrowth     = 0.01
	probeGrowthMax  = 0.1
	probeBase       = 100 * time.Millisecond
	probeMax        = time.Second
	onsetHorizon    = 2 * time.Minute
	capProbeEvery   = 10 * time.Second
)

// learnState is what the learner keeps between answers; Limiter.mu guards
// it.
type learnState struct {
	// share is this replica's part of the deployment's budget (SetShare);
	// configuredMax the unshared rate ceiling (+Inf: none); capShared says
	// the concurrency cap was configured, so it is shared too.
	share         float64
	configuredMax float64
	capShared     bool

	ceiling     float64 // learned rate at which 429s began; 0: unknown
	episode     bool
	onsetAt     time.Time
	sinceOnset  int
	probeStreak int
	probeEnd    time.Time
	probeFor    time.Duration // time spent probing above the ceiling since the last onset
	// pausedAtOnset is Limiter.pausedNs at the last onset.
	pausedAtOnset int64

	capCeiling int // requests in flight the vendor refused at; 0: unknown

	// Header pacing (pace.go).
	headerUntil   time.Time
	resetAt       time.Time
	lastRemaining int
	policyWindow  time.Duration // RateLimit-Policy's w, 0 when not sent
}

func (l *Limiter) headerModeLocked(now time.Time) bool { return now.Before(l.learn.headerUntil) }

// throttledLocked learns from a 429 to the request p let go.
func (l *Limiter) throttledLocked(p Permit, now time.Time, retryAfter bool) {
	if l.cfg.Throttle == ThrottleConcurrency {
		l.capThrottledLocked(p, now)
		return
	}
	if !retryAfter && !p.at.Before(l.learn.probeEnd) {
		d := min(probeMax, probeBase<<min(l.learn.probeStreak, 8))
		l.learn.probeStreak++
		l.learn.probeEnd = now.Add(d)
		if l.headerModeLocked(now) && l.learn.policyWindow == 0 && l.learn.resetAt.After(now) {
			l.learn.probeEnd = l.learn.resetAt
		}
		l.pauseLocked(now, l.learn.probeEnd.Sub(now))
	}
	if l.learn.episode || l.headerModeLocked(now) {
		// The header fields say the budget; the 429 says the window is shut,
		// which the pause covers.
		l.learn.episode = true
		return
	}
	l.learn.episode = true
	l.onsetLocked(now)
}

func (l *Limiter) onsetLocked(now time.Time) {
	est, ok := l.accepted.rate(now)
	if span := now.Sub(l.learn.onsetAt); !l.learn.onsetAt.IsZero() && span >= acceptWindow && span <= onsetHorizon && l.learn.sinceOnset > 0 {
		// The recent rate, when the pace bound it, is what the vendor
		// took just before refusing: between onsets the average is
		// dragged down by the learner's own dip after the last one. Over a
		// window longer than acceptWindow the recent rate overstates it,
		// and the average between onsets stands.
		between := float64(l.learn.sinceOnset) / span.Seconds()
		// A window that stayed shut for a good part of the span (paused
		// for more than a tenth of it) is longer than acceptWindow.
		recent := math.Min(est, l.limit)
		if paused := time.Duration(l.pausedNs - l.learn.pausedAtOnset); !ok || paused > span/10 {
			recent = 0
		}
		est, ok = math.Max(between, recent), true
	}
	l.learn.onsetAt, l.learn.sinceOnset, l.learn.pausedAtOnset = now, 0, l.pausedNs
	if !ok {
		if math.IsInf(l.limit, 1) {
			// Nothing accepted to measure: the pause (if any) is all the
			// vendor said.
			return
		}
		est = l.limit
	}
	if l.cfg.DecreaseFactor >= 1 {
		return
	}
	// An episode measuring a little under the last ceiling is noise (the
	// dip after the last onset is in it), not a lower limit.
	if c := l.learn.ceiling; c > 0 && est < c && est >= 0.9*c {
		est = 0.99 * c
	}
	est = min(est, l.maxRate)
	l.learn.ceiling = est
	l.learn.probeFor = 0
	l.decreases++
	l.lastDecrease = now
	l.lastAdjust = now
	l.saturated.Store(false)
	l.setLimitLocked(math.Max(l.cfg.MinRate, est*l.cfg.DecreaseFactor), now)
}

// acceptedLocked learns from an answer that passed the vendor's limit
// (success is true when it was a final answer); waiters says requests
// queued for a concurrency slot.
func (l *Limiter) acceptedLocked(p Permit, now time.Time, success, waiters bool) {
	l.learn.sinceOnset++
	if !p.at.After(l.learn.onsetAt) {
		// Sent before the episode began, admitted before the window
		// shut: it says nothing of whether the window has reopened.
		return
	}
	l.learn.episode = false
	l.learn.probeStreak = 0
	if l.headerModeLocked(now) {
		return
	}
	if l.cfg.Throttle == ThrottleConcurrency {
		l.capAcceptedLocked(now, waiters)
		return
	}
	if success {
		l.increaseLocked(now)
	}
}

// increaseLocked raises the rate if requests had to wait for tokens since
// the last adjustment. It acts at most every 100ms: the token bucket need
// not be re-set on every answer.
func (l *Limiter) increaseLocked(now time.Time) {
	if math.IsInf(l.limit, 1) || l.limit >= l.maxRate {
		return
	}
	if l.lastAdjust.IsZero() {
		// A configured rate never lowered: growth is measured from now.
		l.lastAdjust = now
		l.saturated.Store(false)
		return
	}
	dt := now.Sub(l.lastAdjust)
	if dt < 100*time.Millisecond {
		return
	}
	l.lastAdjust = now
	if !l.saturated.Swap(false) {
		return
	}
	if c := l.learn.ceiling; c > 0 {
		target := math.Min(l.maxRate, c*recoverTo)
		if l.limit < 0.995*target {
			next := target - (target-l.limit)*math.Exp2(-dt.Seconds()/recoverHalfLife)
			l.setLimitLocked(math.Max(l.limit, next), now)
			return
		}
		// Just under the ceiling and nothing refused: probe above it,
		// faster the longer nothing is refused (doubling each second, up
		// to probeGrowthMax), as BIC/CUBIC do, since a ceiling measured
		// across a Retry-After rounded up to whole seconds is low.
		l.learn.probeFor += dt
		g := math.Min(probeGrowthMax, probeGrowth*math.Exp2(l.learn.probeFor.Seconds()))
		l.learn.ceiling = c * (1 + g*dt.Seconds())
		l.setLimitLocked(math.Min(l.maxRate, l.learn.ceiling*recoverTo), now)
		return
	}
	// No 429 yet (a configured starting rate): additive growth.
	step := l.stepPerSec
	if step == 0 {
		step = l.cfg.IncreaseStep
	}
	if step == 0 {
		step = math.Max(l.limit/50, 0.1)
	}
	l.setLimitLocked(math.Min(l.maxRate, l.limit+step*dt.Seconds()), now)
}

// capThrottledLocked lowers the cap on requests in flight after a
// concurrency 429, once per round.
func (l *Limiter) capThrottledLocked(p Permit, now time.Time) {
	if !p.at.After(l.lastDecrease) {
		return
	}
	if l.gate == nil {
		l.gate = newGate(int(p.inFlight))
	}
	l.learn.capCeiling = int(p.inFlight)
	next := int(float64(min(l.gate.cap(), l.learn.capCeiling)) * l.cfg.DecreaseFactor)
	if l.cfg.DecreaseFactor >= 1 {
		return
	}
	l.gate.setLimit(max(1, next))
	l.decreases++
	l.lastDecrease = now
	l.lastAdjust = now
}

// capAcceptedLocked raises the cap when requests queue for it: back to
// one under the learned ceiling by halving the gap, then one more every
// capProbeEvery.
func (l *Limiter) capAcceptedLocked(now time.Time, waiters bool) {
	if l.gate == nil || l.learn.capCeiling == 0 || !waiters || now.Sub(l.lastAdjust) < 100*time.Millisecond {
		return
	}
	cur, top := l.gate.cap(), l.capMax()
	target := min(top, l.learn.capCeiling-1)
	switch {
	case cur < target:
		l.gate.setLimit(cur + max(1, (target-cur+1)/2))
	case now.Sub(l.lastAdjust) >= capProbeEvery && cur < top:
		l.learn.capCeiling++
		l.gate.setLimit(cur + 1)
	default:
		return
	}
	l.lastAdjust = now
}

// capMax is the cap on requests in flight this replica may use: the
// configured one times its share, or the vendor's connection count.
func (l *Limiter) capMax() int {
	if l.learn.capShared {
		return max(1, int(math.Round(float64(l.cfg.MaxConcurrency)*l.learn.share)))
	}
	return max(1, l.cfg.MaxConcurrency)
}

// SetShare gives this replica share (in (0, 1]) of the deployment's
// configured budget: max_rate and a configured max_concurrency are for the
// whole Deployment, and each replica takes assigned/total partitions of
// the main topic (the daemon calls this at every rebalance). What the
// limiter learned from 429s is left alone: a vendor's 429s already count
// every replica's requests.
func (l *Limiter) SetShare(share float64) {
	if !(share > 0) {
		return
	}
	share = math.Min(share, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.maxRate
	l.learn.share = share
	l.maxRate = l.learn.configuredMax * share
	now := l.now()
	if l.limit > l.maxRate || (l.limit >= old && !math.IsInf(l.limit, 1)) {
		l.setLimitLocked(l.maxRate, now)
	}
	if l.gate != nil && l.learn.capShared {
		l.gate.setLimit(l.capMax())
	}
}

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
//     bucket it is the refill rate. Onsets closer than acceptWindow use
//     what it accepted over the last second instead. That measure is the
//     learned ceiling: the rate at which 429s began. A measure within a
//     tenth of the ceiling confirms it (the ceiling moves halfway to it).
//   - At an onset the rate drops to DecreaseFactor × the ceiling (to
//     recoverTo × it when the measure confirms it), once per episode, and
//     never rises: the other 429s of an episode are the same closed
//     window, not news about the rate.
//   - A 429 without Retry-After (Plivo) pauses every request for a probe
//     delay that doubles while the vendor keeps refusing (probeBase up to
//     probeMax; after Retry-After: 1, probeBaseShort up to probeMaxShort),
//     so a closed window is not hammered.
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
	// recoverTo is how close under the ceiling the rate holds. Measured
	// over a whole second, a window's ceiling is its rate: 0.97 held a
	// sliding window of 300 at 291, 0.98 at 294, and 0.99 holds it at 297,
	// with about as many 429s each time (fake-time runs of every shape as
	// in TestLearnShapes and TestLearnWholeRun; 0.99 also in the bench's
	// sliding windows). Pacing by a stated policy keeps to policyPaceTo
	// (pace.go).
	recoverTo       = 0.99
	recoverHalfLife = 0.5 // seconds
	probeGrowth     = 0.01
	probeGrowthMax  = 0.1
	probeBase       = 100 * time.Millisecond
	probeMax        = time.Second
	// After Retry-After: 1 the probe pauses start at probeBaseShort and
	// stop doubling at probeMaxShort: a sliding window refusing at its
	// limit frees a place within a few requests' time (3 ms at 300/s), and
	// a refused probe there paused the vendor 100 ms, a tenth of its
	// second's quota, where 25 ms finds it open; a fixed window of a
	// second is still found open within probeMaxShort of its end.
	probeBaseShort = 25 * time.Millisecond
	probeMaxShort  = 200 * time.Millisecond
	// episodeRate paces the probes of an episode when no rate is known
	// yet (limit.go).
	episodeRate   = 50
	onsetHorizon  = 2 * time.Minute
	capProbeEvery = 10 * time.Second
	capHoldMax    = 2 * time.Minute
	// holdBase and holdMax bound how long the rate holds just under a
	// ceiling before probing above it, after a probe was refused there.
	holdBase = 2 * time.Second
	holdMax  = 30 * time.Second
	// A limiter with no rate configured starts at slowStartRate and
	// doubles it every slowStartDoubling while requests queue for it,
	// until the first 429 (then the learner takes over) or until
	// slowStartTop (then no rate at all): TCP's slow start, on the rate.
	// Starting unlimited sent as many requests as there are connections
	// (64) into the first window a vendor shut, and all of them were
	// refused: 3% of a run against 300 per 5 s, 14% against 120 a
	// minute. At the rate the ramp has reached when a window's quota
	// runs out, only the few sent while the first 429 comes back are. A
	// vendor that takes anything gets slowStartTop within a second.
	slowStartRate     = 100
	slowStartDoubling = 100 * time.Millisecond
	slowStartTop      = 12800
	// An episode as long as echoLong after the ramp's first 429 was a
	// window's, not a bucket's; the 429s of its echo (throttledLocked)
	// come for as long as the ramp ran, at most echoMax. A configured rate
	// has no ramp, and no echo.
	echoLong = 100 * time.Millisecond
	echoMax  = 500 * time.Millisecond
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

	ceiling float64 // learned rate at which 429s began; 0: unknown
	// slowStart says the rate is ramping up from slowStartRate: nothing
	// configured, no 429 yet, no header fields.
	slowStart   bool
	episode     bool
	endedAt     time.Time // when the last episode ended
	onsetAt     time.Time
	onsets      int
	sinceOnset  int
	probeStreak int
	probeEnd    time.Time
	probeFor    time.Duration // time spent probing above the ceiling since the last onset
	// probeFrom is the ceiling a probe above it began at (0: not
	// probing); heldSince is when the rate reached just under the ceiling,
	// hold how long it stays there before probing (longer each time a
	// probe is refused at the ceiling it began from).
	probeFrom float64
	heldSince time.Time
	hold      time.Duration
	// pausedAtOnset is Limiter.pausedNs at the last onset.
	pausedAtOnset int64
	// rampFor is how long the start-up ramp ran before its first 429;
	// echoUntil the end of the ramp's echo (throttledLocked).
	rampFor   time.Duration
	echoUntil time.Time

	capCeiling int // requests in flight the vendor refused at; 0: unknown
	// capProbeFrom is the ceiling a probe of one more in flight began at
	// (0: not probing); capHold how long the cap holds before a probe.
	capProbeFrom int
	capHold      time.Duration

	// Header pacing (pace.go).
	headerUntil   time.Time
	resetAt       time.Time
	lastRemaining int
	policyWindow  time.Duration // RateLimit-Policy's w, 0 when not sent

	// earlyReset: this episode's pauses for a long Retry-After end a
	// second early (onsetLocked).
	earlyReset bool
}

func (l *Limiter) headerModeLocked(now time.Time) bool { return now.Before(l.learn.headerUntil) }

// throttledLocked learns from a 429 to the request p let go.
// retryAfter says the vendor sent a Retry-After longer than probeMax
// (which pauses the vendor), shortRA one of at most probeMax ("1": up to a
// second), rounded one of whole seconds longer than probeMax.
func (l *Limiter) throttledLocked(p Permit, now time.Time, retryAfter, shortRA, rounded bool) {
	if l.cfg.Throttle == ThrottleConcurrency {
		l.capThrottledLocked(p, now)
		return
	}
	// A 429 to a request sent before the last episode ended is that
	// episode's: the window it found shut has reopened since.
	onset := !l.learn.episode && p.at.After(l.learn.endedAt)
	if !onset && !l.learn.episode {
		return
	}
	if onset && l.learn.slowStart && l.learn.onsets == 0 && !l.accepted.start.IsZero() {
		l.learn.rampFor = now.Sub(l.accepted.start)
	}
	// The ramp's echo: a sliding window frees its places as the requests
	// it admitted age out, so after the window the ramp's burst shut has
	// reopened, it frees them as slowly as the ramp began (100/s where the
	// pace is 270/s), for as long as the ramp took. Its 429s there pause
	// as any do, but measure the ramp, not the vendor: taken as onsets,
	// they cut a counted sliding window of 300/s to 245/s and set its
	// ceiling at 278, which took five seconds to probe back (fake time,
	// TestRampEchoIsNotAnOnset).
	echo := onset && now.Before(l.learn.echoUntil)
	l.learn.episode = true
	if !retryAfter && !p.at.Before(l.learn.probeEnd) {
		// Retry-After: 1 says the window reopens within the second:
		// probing every probeMaxShort at most finds it open soon after,
		// at the cost of one refused request per probe. Without
		// Retry-After the window may be long (Plivo's 5 s): back off to
		// probeMax.
		top := probeMax
		if shortRA {
			top = probeMaxShort
		}
		// The first 429 of an episode pauses nothing: the next request
		// alone probes at once (Acquire), which finds a sliding window or
		// a bucket open again within milliseconds and a fixed window shut
		// until its end; only a refused probe pauses.
		d := time.Duration(0)
		if l.learn.probeStreak > 0 {
			base := probeBase
			if shortRA {
				base = probeBaseShort
			}
			d = min(top, base<<min(l.learn.probeStreak-1, 8))
		}
		l.learn.probeStreak++
		l.learn.probeEnd = now.Add(d)
		if l.headerModeLocked(now) && l.learn.policyWindow == 0 && l.learn.resetAt.After(now) {
			l.learn.probeEnd = l.learn.resetAt
		}
		l.pauseLocked(now, l.learn.probeEnd.Sub(now))
	}
	if !onset || echo || l.headerModeLocked(now) {
		// The header fields say the budget; the 429 says the window is shut,
		// which the pause covers.
		return
	}
	l.onsetLocked(now, rounded)
}

func (l *Limiter) onsetLocked(now time.Time, rounded bool) {
	// What the vendor accepted in the last second, over a full second
	// even when the first answer came later: a window's quota taken in a
	// burst at start-up (300 in a third of a second) is 300 a second, not
	// 900, and the last second leaves out a probe pause or the dip after
	// the last onset early in acceptWindow. The buckets span a second or a
	// little more (the current one is partial), never less: a sliding
	// window of N per second admits N over any second, and N over the
	// 0.9-1 s the ten last buckets spanned read up to 11% over its rate
	// (a ceiling of 308-320 for a window of 300).
	est, ok := l.accepted.rateOver(now, acceptBuckets/2+1, true)
	// Not from the first onset: the window the first burst shut, and
	// the probes while it was, are start-up, not the vendor's period.
	if span := now.Sub(l.learn.onsetAt); l.learn.onsets >= 2 && span >= acceptWindow && span <= onsetHorizon && l.learn.sinceOnset > 0 {
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
			// A window of this span, paced from now at its average,
			// loses whatever of it the pause overshoots its reset, and
			// a Retry-After in whole seconds overshoots by up to one:
			// a fixed window of 300 per 5 s took 82% of the window
			// after this onset. So the episode's long pauses end a
			// second early, and the probe finds the reset within the
			// second (Retry-After: 1, short probe pauses), at the cost
			// of a few refused probes: worth it at 10 requests/s or
			// more, where half a second is worth more than they cost
			// (a window of 200 a minute gained nothing and was refused
			// three times as often).
			if rounded && between >= 10 {
				l.learn.earlyReset = true
				if l.pausedUntil.Sub(now) > time.Second {
					l.pausedUntil = l.pausedUntil.Add(-time.Second)
					l.pausedNs -= int64(time.Second)
				}
			}
		}
		est, ok = math.Max(between, recent), true
	}
	l.learn.onsetAt, l.learn.sinceOnset, l.learn.pausedAtOnset = now, 0, l.pausedNs
	l.learn.onsets++
	if !ok {
		if math.IsInf(l.limit, 1) || l.learn.slowStart {
			// Nothing accepted to measure: the pause (if any) is all the
			// vendor said.
			return
		}
		est = l.limit
	}
	if l.cfg.DecreaseFactor >= 1 {
		return
	}
	// An episode measuring within a tenth of the last ceiling, either
	// side, is noise (the dip after the last onset is in it, and the
	// jitter of arrivals a window counts), not a new limit. A refused probe
	// above the ceiling is not banded: the probe branch below decides.
	banded := false
	if c := l.learn.ceiling; c > 0 && l.learn.probeFrom == 0 {
		switch {
		case est <= 1.1*c && est >= 0.9*c && est >= 0.98*l.limit:
			// Unless the vendor took clearly less than the pace it
			// refused (then the measure is its limit: a sliding window
			// over-measured at start-up comes down at once). The refusal
			// confirms the ceiling: it moves halfway to the measure, and
			// the rate steps down with it, not by DecreaseFactor (which
			// would cost a dip at every stray 429). Stepping 1% down at
			// each instead walked a sliding window's ceiling down refusal
			// after refusal until one measured above it and took the
			// whole cut.
			est = (est + c) / 2
			banded = true
		case est < c:
			// A new, lower ceiling, not yet confirmed: probe above it soon.
			l.learn.hold = 0
		}
	}
	cut := l.cfg.DecreaseFactor
	if banded {
		cut = math.Max(cut, recoverTo)
	}
	if from := l.learn.probeFrom; from > 0 {
		// A probe above a ceiling the vendor took was refused: its limit
		// lies between the two. The measure says no less: what was
		// accepted since the last onset is dragged down by the pauses
		// after it and by the dip to DecreaseFactor (a sliding window
		// measured 120/s of its 300 that way), and the rate did run at
		// the old ceiling without a 429. The next probe waits longer, so
		// a vendor whose limit stands is probed less and less often, and
		// the rate goes back to where it held, not DecreaseFactor under
		// it: the probe, not the rate it held at, was too much.
		est = math.Max(from, math.Min(est, l.learn.ceiling))
		l.learn.hold = min(holdMax, max(holdBase, 2*l.learn.hold))
		cut = math.Max(cut, recoverTo)
	}
	est = min(est, l.maxRate)
	next := est * cut
	if !l.learn.slowStart {
		// A refusal never raises the rate: an onset soon after a cut,
		// the rate still climbing back, keeps the rate it found. (The
		// ramp's first 429 sets the rate from the measure, whatever the
		// ramp had reached.)
		next = math.Min(next, l.limit)
	}
	l.learn.ceiling = est
	l.learn.slowStart = false
	l.learn.probeFor, l.learn.probeFrom, l.learn.heldSince = 0, 0, time.Time{}
	l.decreases++
	l.lastDecrease = now
	l.lastAdjust = now
	l.saturated.Store(false)
	l.setLimitLocked(math.Max(l.cfg.MinRate, next), now)
	l.renewBucketLocked(now)
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
	if l.learn.episode {
		// The first episode, the ramp's, kept the vendor shut a while: a
		// window, not a bucket, which refills within milliseconds. Its
		// echo lasts as long as the ramp did, at most echoMax: a real
		// onset after a fixed window over-measured at start-up comes
		// later than that (0.9 s after its reopening on fake time).
		if l.learn.onsets == 1 && l.learn.echoUntil.IsZero() && now.Sub(l.learn.onsetAt) >= echoLong {
			l.learn.echoUntil = now.Add(min(l.learn.rampFor, echoMax))
		}
		l.learn.episode, l.learn.endedAt, l.learn.earlyReset = false, now, false
	}
	l.learn.probeStreak = 0
	if l.headerModeLocked(now) {
		return
	}
	if l.learn.slowStart {
		// Before the first 429 the rate ramps up whatever a 429 would
		// limit (a vendor capping requests in flight has a rate too).
		// An answer that failed (a 503) ends the ramp: the ramp spares
		// a healthy vendor's unknown quota, a failing vendor is its
		// breaker's to pace, and a ramp held at slowStartRate queued a
		// down vendor's parts for tokens until its breaker opened,
		// holding the other vendors' events in flight with them (the
		// outage bench kept 77-80% of its no-outage events/s so, 87-89%
		// ramping on failed answers too, 100-107% without a ramp).
		if success {
			l.slowStartLocked(now)
		} else {
			l.endSlowStartLocked(now)
		}
	}
	if l.cfg.Throttle == ThrottleConcurrency {
		l.capAcceptedLocked(now, waiters)
		return
	}
	if success && !l.learn.slowStart {
		l.increaseLocked(now)
	}
}

// slowStartLocked doubles the rate every slowStartDoubling while requests
// queue for it (at most fourfold at once, after a quiet spell), and lifts
// it altogether at slowStartTop.
func (l *Limiter) slowStartLocked(now time.Time) {
	if l.lastAdjust.IsZero() {
		l.lastAdjust = now
		l.saturated.Store(false)
		return
	}
	dt := now.Sub(l.lastAdjust)
	if dt < slowStartDoubling {
		return
	}
	l.lastAdjust = now
	if !l.saturated.Swap(false) {
		return
	}
	next := l.limit * math.Min(4, math.Exp2(float64(dt)/float64(slowStartDoubling)))
	if next >= slowStartTop {
		l.endSlowStartLocked(now)
		return
	}
	l.setLimitLocked(math.Min(next, l.maxRate), now)
}

// endSlowStartLocked ends the ramp with no rate but the ceiling (none
// while ramping: a configured one starts the limiter at it).
func (l *Limiter) endSlowStartLocked(now time.Time) {
	l.learn.slowStart = false
	l.setLimitLocked(l.maxRate, now)
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
		// Just under the ceiling and nothing refused: hold there a while
		// (the hold grows each time a probe is refused at this ceiling),
		// then probe above it, faster the longer nothing is refused
		// (doubling each second, up to probeGrowthMax), as BIC/CUBIC do,
		// since a ceiling measured across a Retry-After rounded up to
		// whole seconds is low.
		if l.learn.heldSince.IsZero() {
			l.learn.heldSince = now
		}
		if now.Sub(l.learn.heldSince) < l.learn.hold {
			return
		}
		if l.learn.probeFrom == 0 {
			l.learn.probeFrom = c
		}
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
// concurrency 429, once per round. The fewest in flight at a refusal in
// a round bound the vendor's cap, so a cold start that sent 64 at once
// settles in one round, not in one 0.9 cut per round.
func (l *Limiter) capThrottledLocked(p Permit, now time.Time) {
	if l.cfg.DecreaseFactor >= 1 {
		return
	}
	if l.learn.slowStart {
		// The vendor limits requests in flight, and the cap below now
		// does: the rate ramp has done its work.
		l.endSlowStartLocked(now)
	}
	// In flight when it was sent, itself included, or when its refusal
	// came back, whichever is more: the requests of a burst do not reach
	// the vendor in the order they were counted (one counted fifth may be
	// refused as the sixteenth), but those still unanswered when a quick
	// refusal comes back are the ones the vendor holds; a refusal as slow
	// as a success finds fewer left, and the count at sending stands.
	n := max(int(p.inFlight), int(l.inFlight.Load())+1)
	if l.gate == nil {
		l.gate = newGate(n)
	}
	cut := func(n int) int { return max(1, int(float64(n)*l.cfg.DecreaseFactor)) }
	if !p.at.After(l.lastDecrease) {
		// Another refusal of this round.
		if n < l.learn.capCeiling {
			l.learn.capCeiling = n
			l.gate.setLimit(min(l.gate.cap(), cut(n)))
		}
		return
	}
	if from := l.learn.capProbeFrom; from > 0 && n > from-1 {
		// A probe above the cap the vendor took was refused: back to
		// where it held, and hold longer before the next probe.
		l.learn.capCeiling, l.learn.capProbeFrom = from, 0
		l.learn.capHold = min(capHoldMax, 2*max(l.learn.capHold, capProbeEvery))
		l.gate.setLimit(max(1, from-1))
	} else {
		l.learn.capCeiling, l.learn.capProbeFrom = n, 0
		l.gate.setLimit(cut(min(l.gate.cap(), n)))
	}
	l.decreases++
	l.lastDecrease = now
	l.lastAdjust = now
}

// capAcceptedLocked raises the cap when requests queue for it: back to
// one under the learned ceiling by halving the gap, then, after holding
// there capHold (capProbeEvery at first, doubling each time a probe is
// refused), one more.
func (l *Limiter) capAcceptedLocked(now time.Time, waiters bool) {
	if l.gate == nil || l.learn.capCeiling == 0 || !waiters || now.Sub(l.lastAdjust) < 100*time.Millisecond {
		return
	}
	cur, top := l.gate.cap(), l.capMax()
	target := min(top, l.learn.capCeiling-1)
	switch {
	case cur < target:
		l.gate.setLimit(cur + max(1, (target-cur+1)/2))
	case now.Sub(l.lastAdjust) >= max(capProbeEvery, l.learn.capHold) && cur < top:
		if l.learn.capProbeFrom == 0 {
			l.learn.capProbeFrom = l.learn.capCeiling
		}
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

package adapters

import "time"

// ProbeBudget is the most requests the breaker lets reach a vendor that
// fails every one of them over d from the first: the consecutive failures
// that open the circuit, the requests already in flight when it opens (at
// most inFlight, the vendor's cap on requests in flight, less the one
// whose failure opened it), and then HalfOpenProbes per half-open spell,
// of which there is at most one per Cooldown (a spell ends at its first
// failure and the circuit stays open for another Cooldown). It bounds
// what an outage costs the vendor: with the defaults, 20 + 63 + 3 per 30
// seconds. A request its caller cancels is not counted by the breaker
// and, half-open, frees its probe for another: the bound assumes none is
// (a part parked while its probe is in flight). A breaker that is off, or
// opened by the failure ratio alone, has no budget (-1).
func (c BreakerConfig) ProbeBudget(inFlight int, d time.Duration) int {
	if !c.Enabled || c.ConsecutiveFailures <= 0 || c.Cooldown <= 0 {
		// Off, or opened only by the failure ratio, whose count before
		// opening depends on the window's history.
		return -1
	}
	return c.ConsecutiveFailures + max(inFlight, 1) - 1 + c.HalfOpenProbes*int(d/c.Cooldown)
}

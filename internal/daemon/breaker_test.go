package daemon_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
)

// TestDownVendorGetsOnlyProbes runs a workload with Exotel answering 503
// to every request, once with Exotel's circuit breaker and once without
// (the code before it). With it, the requests that reach Exotel stay
// within what the breaker lets through: the failures that open it, the
// requests already in flight then (at most Exotel's concurrency cap), and
// half_open_probes per half-open spell, counted from the transitions
// metric. Without it, every event's retry policy keeps calling, which the
// test shows is far above that budget. Either way the healthy vendors
// delete every profile with their circuits closed, and each event's
// Exotel part is parked on Exotel's retry topic: none lost. Then the
// outage ends and the same deletions come again, for other users (the
// first users' parts wait behind their parked ones for the retry
// worker): the circuit closes and Exotel deletes them all.
// Nothing is timed.
func TestDownVendorGetsOnlyProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	t.Parallel()
	const (
		n           = 150
		failures    = 5
		probes      = 2
		concurrency = 8
	)
	counts := map[bool]int{}
	var budgetWith int
	for _, withBreaker := range []bool{true, false} {
		t.Run(fmt.Sprintf("breaker=%v", withBreaker), func(t *testing.T) {
			knobs := map[string]sandbox.Knobs{
				"plivo":     {},
				"webex":     {},
				"exotel":    {Force: "503"},
				"clevertap": {Latency: time.Millisecond},
			}
			s := startStack(t, 3, knobs)
			cfg := testConfig(s)
			cfg.Kafka.MaxInFlight = 64
			daemon.Vendor[*exotel.Config](&cfg.Vendors).Retry.MaxElapsedTime = 4 * time.Second
			daemon.Vendor[*exotel.Config](&cfg.Vendors).Limit.MaxConcurrency = concurrency
			br := adapters.DefaultBreakerConfig()
			br.Enabled = withBreaker
			br.ConsecutiveFailures = failures
			br.MinRequests = 20
			br.Window = 10 * time.Second
			br.Cooldown = 500 * time.Millisecond
			br.HalfOpenProbes = probes
			daemon.Vendor[*exotel.Config](&cfg.Vendors).Breaker = br
			w := devstack.NewWorkload(n, n, 0)
			produce(t, s, w)
			m := startMember(t, cfg)

			acc := waitComplete(t, s, w, 90*time.Second)
			// The ledger first, then the metrics: half-open spells only
			// grow, so the budget read second covers every request
			// counted first.
			requests := s.Sandbox("exotel").Ledger.Requests()
			sc := scrapeMetrics(t, m.addr)
			counts[withBreaker] = requests

			for _, v := range []string{"plivo", "webex", "clevertap"} {
				if got := countDeleted(s, w, v); got != n {
					t.Errorf("%s deleted %d of %d: a down Exotel must not hold healthy vendors", v, got, n)
				}
				if withBreaker {
					if st := sc.sum("erasured_vendor_circuit_state", "vendor="+v); st != 0 {
						t.Errorf("%s circuit state = %g, want 0 (closed)", v, st)
					}
					if tr := sc.sum("erasured_vendor_circuit_transitions_total", "vendor="+v); tr != 0 {
						t.Errorf("%s circuit changed state %g times, want never", v, tr)
					}
				}
			}
			if acc.Complete != n || len(acc.Missing) != 0 {
				t.Errorf("complete %d of %d, missing %v: every event must be deleted, dead-lettered or parked", acc.Complete, n, first(acc.Missing, 5))
			}
			if got := acc.Parked["exotel"]; got != n {
				t.Errorf("parked at exotel: %d, want %d (each event's Exotel part)", got, n)
			}
			if got := len(acc.DeadLettered) - countZero(acc.DeadLettered); got != 0 {
				t.Errorf("dead-lettered %v, want nothing: an outage parks", acc.DeadLettered)
			}
			if got := countDeleted(s, w, "exotel"); got != 0 {
				t.Errorf("exotel deleted %d while answering 503 to everything", got)
			}

			halfOpens := int(sc.sum("erasured_vendor_circuit_transitions_total", "vendor=exotel", "from=open", "to=half_open"))
			opened := int(sc.sum("erasured_vendor_circuit_transitions_total", "vendor=exotel", "from=closed", "to=open"))
			refused := int(sc.sum("erasured_vendor_circuit_refused_total", "vendor=exotel"))
			budget := failures + concurrency - 1 + probes*halfOpens
			t.Logf("exotel: %d requests reached the sandbox for %d events; breaker opened %d times, half-opened %d times, refused %d attempts; budget %d + %d - 1 + %d x %d = %d",
				requests, n, opened, halfOpens, refused, failures, concurrency, probes, halfOpens, budget)
			if withBreaker {
				if opened != 1 {
					t.Errorf("closed->open transitions = %d, want 1: no probe can succeed", opened)
				}
				if requests > budget {
					t.Errorf("exotel received %d requests, above the breaker's budget %d", requests, budget)
				}
				// A part meeting the open circuit is parked before any
				// attempt, so the breaker refuses nothing itself: the
				// parks say it held the vendor back.
				if parkedOpen := sc.sum("erasured_parked_total", "vendor=exotel", "reason=circuit_open"); parkedOpen == 0 {
					t.Error("no part was parked for the open circuit: the breaker never held a request back")
				} else {
					t.Logf("parked because the circuit was open: %g", parkedOpen)
				}
				budgetWith = budget

				// The outage ends; the same events again: the circuit
				// half-opens, its probes succeed, it closes, and Exotel
				// deletes every one (the others answer 404, final).
				s.Sandbox("exotel").Chaos.Set(sandbox.Knobs{})
				for _, ev := range w.Events {
					ev.UserID = "after-" + ev.UserID
				}
				w = rebuild(t, w)
				produce(t, s, w)
				waitUntil(t, 60*time.Second, "exotel to delete every event after its recovery", func() bool {
					return countDeleted(s, w, "exotel") == n
				})
				sc := scrapeMetrics(t, m.addr)
				closed := int(sc.sum("erasured_vendor_circuit_transitions_total", "vendor=exotel", "from=half_open", "to=closed"))
				t.Logf("after recovery: exotel deleted %d of %d; circuit half_open->closed %d times, state %g",
					countDeleted(s, w, "exotel"), n, closed, sc.sum("erasured_vendor_circuit_state", "vendor=exotel"))
				if closed != 1 || sc.sum("erasured_vendor_circuit_state", "vendor=exotel") != 0 {
					t.Errorf("after recovery the circuit closed %d times, state %g; want closed once, state 0", closed, sc.sum("erasured_vendor_circuit_state", "vendor=exotel"))
				}
			}
		})
	}
	t.Logf("requests to the down vendor: with the breaker %d (budget %d), without %d", counts[true], budgetWith, counts[false])
	// Without the breaker the same run breaks the budget, or the
	// assertion on it would prove nothing.
	if counts[false] <= budgetWith {
		t.Errorf("without the breaker the down vendor got %d requests, within the budget %d: the test cannot tell a breaker from none", counts[false], budgetWith)
	}
}

func countZero(m map[dlq.Reason]int) int {
	n := 0
	for _, v := range m {
		if v == 0 {
			n++
		}
	}
	return n
}

package daemon_test

import (
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/retrytopic"
)

// outageRun is one pipeline of TestVendorDownParksItsParts: its own stack,
// workload and member, timed by the sandboxes' ledgers.
type outageRun struct {
	name  string
	down  string // the vendor answering 503 to everything, "" for none
	s     *devstack.Stack
	w     *devstack.Workload
	m     *member
	clock *devstack.Clock
}

// Proof 1's shape, shared by both runs: every sandbox answers in
// outageLatency, and 4 partitions x 4 events in flight allow at most 16
// events at once, under 640 events/s at 25ms. Throughput is then bound by
// the in-flight window, not by the CPU, so the two runs compare what the
// outage changes rather than how busy the machine is. (At 10ms, 1,600
// events/s at most, the two runs together kept a loaded 2-core machine
// busy and the ratio came out as low as 0.92.)
const (
	outagePartitions = 4
	outageInFlight   = 4
	outageLatency    = 25 * time.Millisecond
	// Every vendor's breaker, the same in both runs. The cooldown is
	// longer than the 1s Retry-After of the sandboxes' 503s: a shorter
	// one half-opens while the limiter still holds the vendor's requests
	// for that Retry-After, and the parts that meet the half-open
	// circuit then wait out the pause in their in-flight slots.
	outageConsecutiveFailures = 5
	outageCooldown            = 2 * time.Second
	outageProbes              = 2
)

var healthyVendors = []string{"plivo", "webex", "clevertap"}

func newOutageRun(t *testing.T, name, down string, n int) *outageRun {
	t.Helper()
	knobs := map[string]sandbox.Knobs{}
	for _, v := range adapters.Names() {
		knobs[v] = sandbox.Knobs{Latency: outageLatency}
	}
	if down != "" {
		knobs[down] = sandbox.Knobs{Latency: outageLatency, Force: "503"}
	}
	r := &outageRun{name: name, down: down, s: startStack(t, outagePartitions, knobs), w: devstack.NewWorkload(n, n, 0)}
	produce(t, r.s, r.w)
	return r
}

// outageBreaker is the breaker every vendor gets in both runs.
func outageBreaker() adapters.BreakerConfig {
	br := adapters.DefaultBreakerConfig()
	br.ConsecutiveFailures = outageConsecutiveFailures
	br.MinRequests = 20
	br.Window = 10 * time.Second
	br.Cooldown = outageCooldown
	br.HalfOpenProbes = outageProbes
	return br
}

func (r *outageRun) start(t *testing.T) {
	t.Helper()
	cfg := testConfig(r.s)
	cfg.Kafka.MaxInFlight = outageInFlight
	for _, v := range adapters.Names() {
		c := cfg.Vendors.Section(v).Shared()
		c.Breaker = outageBreaker()
	}
	r.clock = r.s.StartClock(healthyVendors...)
	r.m = startMember(t, cfg)
}

// done: every event deleted at the three healthy vendors and every
// offset committed (the down vendor's parts parked).
func (r *outageRun) done() bool {
	return r.clock.Deleted() >= len(healthyVendors)*len(r.w.Events) && committedAll(r.s, outagePartitions) == int64(len(r.w.Records))
}

// TestVendorDownParksItsParts is issue 11's proof 1 on kfake. Two
// pipelines of the same workload and configuration run side by side in
// this test: one with every vendor healthy, one with Exotel answering 503
// to everything for the whole run. In the outage run the three healthy
// vendors delete every event, at no less than 90% of the no-outage run's
// events/s (from the first vendor request to the last deletion at the
// healthy vendors); Exotel receives no more requests than its breaker's
// probe budget over the run (adapters.BreakerConfig.ProbeBudget); every
// event's Exotel part is on Exotel's retry topic; nothing is lost and
// every offset is committed.
//
// The runs go at the same time, not one after the other, so that a
// neighbour's load on a shared CI machine weighs on both alike; each is
// bound by its in-flight window (see outageLatency), not by the CPU.
// Under -race the CPU does bind (the detector slows everything several
// times over): the ratio is then printed, not asserted, and the run is
// smaller; make test-kafka asserts it with the 5,000 events on a
// real broker (internal/e2e TestVendorOutage).
func TestVendorDownParksItsParts(t *testing.T) {
	// Not parallel: the ratio compares two runs of this test, and other
	// tests starting and stopping in the middle of it would weigh on
	// one more than the other.
	if testing.Short() {
		t.Skip("integration test")
	}
	n := 5000
	if raceDetector {
		n = 1000
	}
	base := newOutageRun(t, "no outage", "", n)
	out := newOutageRun(t, "exotel down", "exotel", n)
	base.start(t)
	out.start(t)
	waitUntil(t, 3*time.Minute, "both runs: every event deleted at the healthy vendors and committed", func() bool {
		return base.done() && out.done()
	})
	// Requests first, then the duration: the budget read second covers
	// every request counted first.
	reqs := out.s.Sandbox("exotel").Ledger.Requests()
	span := time.Since(out.clock.First())
	// At most one Exotel request per event in flight: the window.
	inFlight := outagePartitions * outageInFlight
	budget := outageBreaker().ProbeBudget(inFlight, span)

	for _, r := range []*outageRun{base, out} {
		for _, v := range healthyVendors {
			if got := countDeleted(r.s, r.w, v); got != n {
				t.Errorf("%s: %s deleted %d of %d", r.name, v, got, n)
			}
		}
	}
	acc := waitComplete(t, out.s, out.w, 30*time.Second)
	recs := readParked(t, out.s, retrytopic.TopicFor(devstack.Topic, "exotel"), outagePartitions)
	ids, reasons := parkedEvents(recs)
	missing := 0
	for _, ev := range out.w.Events {
		if !ids[ev.EventID] {
			missing++
		}
	}
	baseRate, outRate := base.clock.Rate(n), out.clock.Rate(n)
	ratio := outRate / baseRate
	if raceDetector {
		t.Logf("under -race: %d events per run, not the issue's 5,000 (the real-broker suite runs 5,000)", n)
	}
	t.Logf("no outage: %d events in %s, %.0f events/s; exotel down: the healthy vendors finished %d events in %s, %.0f events/s; ratio %.2f",
		n, base.clock.Elapsed().Round(time.Millisecond), baseRate, n, out.clock.Elapsed().Round(time.Millisecond), outRate, ratio)
	t.Logf("exotel: %d requests over %s; probe budget %d = %d consecutive failures + %d in flight - 1 + %d probes x %d cooldowns of %s",
		reqs, span.Round(time.Millisecond), budget, outageConsecutiveFailures, inFlight, outageProbes, int(span/outageCooldown), outageCooldown)
	t.Logf("exotel retry topic: %d records, %d distinct events of %d, reasons %v; exotel deleted %d; counted: %s",
		len(recs), len(ids), n, reasons, countDeleted(out.s, out.w, "exotel"), acc)

	if !raceDetector && ratio < 0.9 {
		t.Errorf("with exotel down the healthy vendors ran at %.0f events/s, %.0f%% of the %.0f events/s without the outage; want at least 90%%", outRate, 100*ratio, baseRate)
	}
	if reqs > budget {
		t.Errorf("exotel received %d requests, above its breaker's probe budget %d over %s", reqs, budget, span.Round(time.Millisecond))
	}
	if missing > 0 {
		t.Errorf("%d events have no Exotel part on the retry topic", missing)
	}
	if reasons[retrytopic.ReasonCircuitOpen] == 0 {
		t.Error("no part was parked because the circuit was open")
	}
	// A down vendor deletes nothing, not even for a request the daemon
	// cancelled when the circuit opened (adapters/sandbox
	// TestChaosLatencyRespectsContext): every part is parked.
	if exDeleted := countDeleted(out.s, out.w, "exotel"); acc.Complete != n || len(acc.Missing) != 0 || acc.Parked["exotel"] != n || exDeleted != 0 {
		t.Errorf("complete %d of %d, parked at exotel %d, deleted at the down exotel %d, missing %v: none may be lost", acc.Complete, n, acc.Parked["exotel"], exDeleted, first(acc.Missing, 5))
	}
	if got := len(acc.DeadLettered) - countZero(acc.DeadLettered); got != 0 {
		t.Errorf("dead-lettered %v, want nothing: an outage parks", acc.DeadLettered)
	}
	for _, r := range recs {
		if r.Vendor != "exotel" || r.Due.Before(r.ParkedAt) || r.OriginalTopic != devstack.Topic {
			t.Fatalf("bad parked record: vendor %q due %v parked %v topic %q", r.Vendor, r.Due, r.ParkedAt, r.OriginalTopic)
		}
	}
}

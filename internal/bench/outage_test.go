package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestOutageScenarios: a healthy baseline and one with Exotel forced to
// 503, both against the naive consumer, bounded in time; the tracker and
// the table leave the down vendor out.
func TestOutageScenarios(t *testing.T) {
	t.Parallel()
	sc := OutageScenarios(1000, 50*time.Millisecond)
	if len(sc) != 2 || OutageScenarios(0, time.Millisecond) != nil {
		t.Fatalf("scenarios %+v", sc)
	}
	for _, s := range sc {
		if !s.Outage || !s.Naive || s.Timeout <= 0 || s.Latency != 50*time.Millisecond || s.Events != 1000 {
			t.Errorf("%s: %+v", s.Name, s)
		}
	}
	if sc[0].Down != "" || sc[1].Down != OutageDown {
		t.Errorf("down vendors %q, %q; want none, then %s", sc[0].Down, sc[1].Down, OutageDown)
	}
	k := sc[1].Knobs()
	if k[OutageDown].Force != "503" || k[OutageDown].Latency != 50*time.Millisecond || k["plivo"].Force != "" {
		t.Errorf("knobs %+v", k)
	}

	// The table: 90 s of drain for a baseline of 900 events is 10/s.
	res := func(s Scenario, impl string, deleted int, secs float64, complete bool, downReqs int) Result {
		return Result{Scenario: s, Broker: "kfake", Impl: impl, Deleted: deleted, Complete: complete,
			Elapsed: time.Duration(secs * float64(time.Second)), Statuses: map[string]map[int]int{OutageDown: {503: downReqs}}}
	}
	rs := []Result{
		res(sc[0], ImplErasured, 1000, 1, true, 0),
		res(sc[0], ImplNaive, 100, 10, false, 0),
		res(sc[1], ImplErasured, 1000, 1.25, true, 38),
		res(sc[1], ImplNaive, 0, 10, false, 344),
	}
	var out bytes.Buffer
	printOutage(&out, rs)
	for _, want := range []string{"outage scenario", "vs no outage", "80%", "100.0×", "naive stalled", "1000 of 1000", "0 of 1000*", "38", "344"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("outage table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestOutageRunFinishes runs the outage scenario end to end on a small
// backlog, erasured alone: with Exotel down, every event counts once the
// other three deleted it, and the run completes (Exotel's parts parked).
func TestOutageRunFinishes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process against kfake")
	}
	sc := OutageScenarios(200, time.Millisecond)[1]
	sc.Naive = false
	rs, err := Run(context.Background(), Options{Scenarios: []Scenario{sc}, Partitions: 2, RunTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	down := 0
	// A request the daemon cancelled (its part parked when the circuit
	// opened) while the sandbox waited out its latency is answered as if
	// nothing were forced: a few 200s among the 503s.
	for _, n := range r.Statuses[OutageDown] {
		down += n
	}
	t.Logf("complete %v, deleted at the healthy vendors %d of %d in %s, %s requests %d %v", r.Complete, r.Deleted, sc.Events, r.Elapsed, OutageDown, down, r.Statuses[OutageDown])
	if !r.Complete || r.Deleted != sc.Events || r.DeadLettered != 0 || r.Elapsed <= 0 {
		t.Errorf("complete %v, deleted %d of %d, dead-lettered %d, elapsed %s", r.Complete, r.Deleted, sc.Events, r.DeadLettered, r.Elapsed)
	}
	if down == 0 || down >= sc.Events {
		t.Errorf("%s got %d requests for %d events: its breaker should have opened", OutageDown, down, sc.Events)
	}
}

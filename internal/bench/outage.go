package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/erasured/erasured/adapters/exotel"
)

// OutageDown is the vendor the outage scenario takes down.
const OutageDown = exotel.Name

// outageTimeout bounds each run of the outage scenarios: the naive
// consumer retries the down vendor's first event of each partition for
// ever and never finishes (its row is then partial, its events/s over
// what it did), and on a healthy stack at the scenario's latency it would
// take minutes to drain the backlog one event at a time.
const outageTimeout = 45 * time.Second

// OutageScenarios are the outage scenarios: n events with every vendor
// answering in latency, once healthy ("outage-none") and once with
// Exotel answering 503 to everything for the whole run ("outage-exotel"),
// each for erasured and the naive consumer. An event counts once the
// healthy vendors deleted it; erasured's run ends when every offset is
// committed (Exotel's parts parked on its retry topic, which the retry
// worker, first due a minute later, leaves alone during the run).
func OutageScenarios(n int, latency time.Duration) []Scenario {
	if n <= 0 {
		return nil
	}
	return []Scenario{
		{Name: "outage-none", Events: n, Latency: latency, Naive: true, Outage: true, Timeout: outageTimeout},
		{Name: "outage-" + OutageDown, Events: n, Latency: latency, Naive: true, Outage: true, Timeout: outageTimeout, Down: OutageDown},
	}
}

// printOutage writes the outage table: per implementation, the healthy
// vendors' events/s without the outage and with one vendor down, the
// share of the no-outage figure kept, and erasured against the naive
// consumer in the same scenario; with the down vendor's requests.
func printOutage(w io.Writer, rs []Result) {
	type key struct{ broker, impl string }
	base := map[key]Result{}
	naive := naiveRuns(rs)
	var rows []Result
	for _, r := range rs {
		if !r.Scenario.Outage {
			continue
		}
		rows = append(rows, r)
		if r.Scenario.Down == "" {
			base[key{r.Broker, r.Impl}] = r
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := table(w)
	fmt.Fprintln(tw, "outage scenario\tbroker\timpl\tvendor down\thealthy vendors done\tdrain\thealthy events/s\tvs no outage\tvs naive\tdown vendor requests\t")
	for _, r := range rows {
		sc := r.Scenario
		down, reqs, vsBase, vsNaive := "none", "-", "-", "-"
		if sc.Down != "" {
			down = sc.Down
			n := 0
			for _, c := range r.Statuses[sc.Down] {
				n += c
			}
			reqs = thousands(float64(n))
			if b, ok := base[key{r.Broker, r.Impl}]; ok && b.EventsPerSec() > 0 {
				vsBase = fmt.Sprintf("%.0f%%", 100*r.EventsPerSec()/b.EventsPerSec())
			}
		}
		if nv, ok := naive[runKey(r)]; ok && r.Impl != ImplNaive {
			if nv.EventsPerSec() > 0 {
				vsNaive = fmt.Sprintf("%.1f×", r.EventsPerSec()/nv.EventsPerSec())
			} else {
				vsNaive = "naive stalled"
			}
		}
		done := fmt.Sprintf("%d of %d", r.Deleted, sc.Events)
		if !r.Complete {
			done += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", sc.Name, r.Broker, r.Impl, down, done,
			fmt.Sprintf("%.1fs", r.Elapsed.Seconds()), thousands(r.EventsPerSec()), vsBase, vsNaive, reqs)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nHealthy events/s: events deleted at every vendor but the one down, per second from the first vendor request. * the run was cut at %s: the naive consumer retries the down vendor's first event of each partition for ever, and drains a healthy backlog one event at a time. Target (issue 11): erasured with one vendor down at >= 90%% of its no-outage events/s.\n", outageTimeout)
}

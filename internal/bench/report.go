package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/erasured/erasured/internal/daemon"
)

// InFlightBound is the drain rate erasured's default in-flight limits
// allow when every vendor answers in latency: each event holds a request
// slot at every vendor for at least latency, and a vendor (other than
// CleverTap, which batches) runs at most max_conns_per_vendor requests at
// once, out of at most partitions × max_in_flight events in flight.
func InFlightBound(partitions int, latency time.Duration) float64 {
	if latency <= 0 {
		return 0
	}
	cfg := daemon.DefaultConfig()
	slots := min(partitions*cfg.Kafka.MaxInFlight, cfg.Vendors.MaxConnsPerVendor)
	return float64(slots) / latency.Seconds()
}

// Print writes the results as a table, each erasured row with its ratio to
// the naive row of the same scenario and broker, then the notes on the
// targets: the 50ms scenario against the in-flight bound, the throttled
// vendor's goodput and 429 share.
func Print(w io.Writer, partitions int, rs []Result) {
	naive := naiveRuns(rs)
	tw := table(w)
	fmt.Fprintln(tw, "scenario\tbroker\timpl\tevents\tdrain\tevents/s\tvendor calls/s\tp50\tp99\tpeak RSS\tallocs/event\tCPU/event\tdead-lettered\tvs naive\t")
	for _, r := range rs {
		ratio := ""
		if n, ok := naive[runKey(r)]; ok && r.Impl != ImplNaive && n.EventsPerSec() > 0 {
			ratio = fmt.Sprintf("%.1f×", r.EventsPerSec()/n.EventsPerSec())
		}
		events := fmt.Sprint(r.Scenario.Events)
		if !r.Complete {
			events = fmt.Sprintf("%d of %d*", r.Deleted, r.Scenario.Events)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n",
			r.Scenario.Name, r.Broker, r.Impl, events,
			fmt.Sprintf("%.1fs", r.Elapsed.Seconds()),
			thousands(r.EventsPerSec()), thousands(r.CallsPerSec()),
			short(r.P50), short(r.P99),
			fmt.Sprintf("%.0f MB", float64(r.PeakRSS)/(1<<20)),
			fmt.Sprintf("%.0f", perEvent(float64(r.Mallocs), r)),
			short(time.Duration(perEvent(float64(r.CPU), r))),
			r.DeadLettered, ratio)
	}
	tw.Flush()

	var notes []string
	for _, r := range rs {
		if r.Impl != ImplErasured {
			continue
		}
		sc := r.Scenario
		if bound := InFlightBound(partitions, sc.Latency); bound > 0 && sc.Throttled == "" {
			notes = append(notes, fmt.Sprintf("%s on %s: %s events/s is %.0f%% of the %s events/s that the in-flight limit allows (64 requests at once per vendor / %s).",
				sc.Name, r.Broker, thousands(r.EventsPerSec()), 100*r.EventsPerSec()/bound, thousands(bound), sc.Latency))
		}
		if sc.Throttled != "" && sc.Limit.Shape == 0 && sc.Ceiling == 0 {
			n := naive[runKey(r)]
			s := fmt.Sprintf("%s on %s: %s throttled at %s requests/s: erasured's goodput %s requests/s (%.0f%% of the limit), %.1f%% of its requests answered 429",
				sc.Name, r.Broker, sc.Throttled, thousands(sc.ThrottleRPS), thousands(r.Goodput()), 100*r.Goodput()/sc.ThrottleRPS, 100*r.Throttled429())
			if n.Impl != "" {
				s += fmt.Sprintf("; naive: %s requests/s, %.1f%% answered 429", thousands(n.Goodput()), 100*n.Throttled429())
			}
			notes = append(notes, s+".")
		}
		if !r.Complete {
			notes = append(notes, fmt.Sprintf("* %s on %s (%s) did not finish within the run timeout; its figures cover what it did.", sc.Name, r.Broker, r.Impl))
		}
	}
	for _, r := range rs {
		if r.Impl == ImplNaive && !r.Complete {
			notes = append(notes, fmt.Sprintf("* %s on %s (naive) did not finish within the run timeout; its figures cover what it did.", r.Scenario.Name, r.Broker))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
	printLimits(w, rs)
	printOutage(w, rs)
}

func perEvent(v float64, r Result) float64 {
	if r.Deleted == 0 {
		return 0
	}
	return v / float64(r.Deleted)
}

// thousands formats v rounded, with thin separators: 20,000.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// short formats d with two or three significant digits.
func short(d time.Duration) string {
	switch {
	case d <= 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// runKey names a result's scenario and broker: an erasured run and the
// naive run it is compared with share it.
func runKey(r Result) string { return r.Scenario.Name + "/" + r.Broker }

// naiveRuns maps runKey to the naive consumer's results in rs.
func naiveRuns(rs []Result) map[string]Result {
	naive := map[string]Result{}
	for _, r := range rs {
		if r.Impl == ImplNaive {
			naive[runKey(r)] = r
		}
	}
	return naive
}

// table is the tab writer every bench table is printed with.
func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
}

package devstack

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
)

// Counters is what the dev stack's summary line reads from the daemon's
// Prometheus registry: the same numbers /metrics serves, so the line and a
// dashboard never disagree, and nothing is counted twice.
type Counters struct {
	// At is when the registry was read.
	At time.Time
	// Done counts events finished with every vendor done
	// (erasured_events_finished_total{outcome="done"}).
	Done float64
	// Interrupted counts events handed back unfinished at a stop or a
	// rebalance, to be redelivered (outcome="interrupted").
	Interrupted float64
	// DeadLetters counts records written to the dead-letter topic
	// (erasured_dead_lettered_total, every reason).
	DeadLetters float64
	// Lag is the sum over assigned partitions of erasured_consumer_lag:
	// high watermark minus committed offset.
	Lag float64
	// Vendors holds each vendor's counters by name.
	Vendors map[string]*VendorCounters
}

// VendorCounters are one vendor's cumulative counts.
type VendorCounters struct {
	// Deleted counts final results deleted or already_absent
	// (erasured_vendor_results_total): the person is gone there.
	Deleted float64
	// Retried counts waits before a retry (erasured_retry_waits_total),
	// one per retry.
	Retried float64
	// Throttled counts 429 answers (erasured_vendor_throttled_total).
	Throttled float64
	// DeadLettered counts failed final results: the event went to the
	// dead-letter topic for this vendor (erasured_vendor_results_total
	// {outcome="failed"}; interrupted results are counted apart).
	DeadLettered float64
	// Parked counts results parked for later (erasured_vendor_results_total
	// {outcome="parked"}): parts the main flow wrote to the vendor's
	// retry topic (consumer.Metrics.Parked); the line shows it once it is
	// non-zero.
	Parked float64
}

// Metric names and outcome labels the summary reads.
const (
	metricFinished      = "erasured_events_finished_total"
	metricDeadLettered  = "erasured_dead_lettered_total"
	metricLag           = "erasured_consumer_lag"
	metricVendorResults = "erasured_vendor_results_total"
	metricRetryWaits    = "erasured_retry_waits_total"
	metricThrottled     = "erasured_vendor_throttled_total"
	outcomeParked       = "parked"
)

// ReadCounters gathers g once and picks out the summary's counters.
func ReadCounters(g prometheus.Gatherer, now time.Time) (Counters, error) {
	mfs, err := g.Gather()
	c := Counters{At: now, Vendors: map[string]*VendorCounters{}}
	if err != nil {
		return c, fmt.Errorf("reading the daemon's metrics: %w", err)
	}
	vendor := func(m *dto.Metric) *VendorCounters {
		name := label(m, "vendor")
		v := c.Vendors[name]
		if v == nil {
			v = &VendorCounters{}
			c.Vendors[name] = v
		}
		return v
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			val := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			switch mf.GetName() {
			case metricFinished:
				switch label(m, "outcome") {
				case "done":
					c.Done += val
				case "interrupted":
					c.Interrupted += val
				}
			case metricDeadLettered:
				c.DeadLetters += val
			case metricLag:
				c.Lag += val
			case metricVendorResults:
				switch v := vendor(m); label(m, "outcome") {
				case "deleted", "already_absent":
					v.Deleted += val
				case "failed":
					v.DeadLettered += val
				case outcomeParked:
					v.Parked += val
				}
			case metricRetryWaits:
				vendor(m).Retried += val
			case metricThrottled:
				vendor(m).Throttled += val
			}
		}
	}
	return c, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Summary is one summary line: the rate of events done since the last
// line, and where every count stands now.
type Summary struct {
	DonePerSecond float64
	Now           Counters
	// Note, when set, ends the line (the dev stack says there that its
	// backlog is deliberate).
	Note string
}

// Summarize compares cur with prev, the previous reading.
func Summarize(prev, cur Counters, note string) Summary {
	s := Summary{Now: cur, Note: note}
	if el := cur.At.Sub(prev.At).Seconds(); el > 0 {
		s.DonePerSecond = max(cur.Done-prev.Done, 0) / el
	}
	return s
}

func (s Summary) vendorNames() []string {
	names := make([]string, 0, len(s.Now.Vendors))
	for n := range s.Now.Vendors {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// String is the line a person reads:
//
//	9.8 events done/s | plivo 120 deleted, 4 dead-lettered | webex 118 deleted, 12 retried, 12 throttled | dead letters 7 | lag 3
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%.1f events done/s (%.0f in all)", s.DonePerSecond, s.Now.Done)
	for _, n := range s.vendorNames() {
		v := s.Now.Vendors[n]
		fmt.Fprintf(&b, " | %s %.0f deleted", n, v.Deleted)
		for _, part := range []struct {
			n    float64
			what string
		}{{v.Retried, "retried"}, {v.Throttled, "throttled"}, {v.Parked, "parked"}, {v.DeadLettered, "dead-lettered"}} {
			if part.n > 0 {
				fmt.Fprintf(&b, ", %.0f %s", part.n, part.what)
			}
		}
	}
	fmt.Fprintf(&b, " | dead letters %.0f | lag %.0f", s.Now.DeadLetters, s.Now.Lag)
	if s.Now.Interrupted > 0 {
		fmt.Fprintf(&b, " | %.0f interrupted, to be redelivered", s.Now.Interrupted)
	}
	if s.Note != "" {
		b.WriteString(" | " + s.Note)
	}
	return b.String()
}

// MarshalZerologObject writes the summary as fields, for JSON logs.
func (s Summary) MarshalZerologObject(e *zerolog.Event) {
	e.Float64("done_per_second", s.DonePerSecond).Float64("done", s.Now.Done).
		Float64("interrupted", s.Now.Interrupted).Float64("dead_letters", s.Now.DeadLetters).Float64("lag", s.Now.Lag)
	vs := zerolog.Dict()
	for _, n := range s.vendorNames() {
		v := s.Now.Vendors[n]
		vs = vs.Dict(n, zerolog.Dict().Float64("deleted", v.Deleted).Float64("retried", v.Retried).
			Float64("throttled", v.Throttled).Float64("parked", v.Parked).Float64("dead_lettered", v.DeadLettered))
	}
	e.Dict("vendors", vs)
	if s.Note != "" {
		e.Str("note", s.Note)
	}
}

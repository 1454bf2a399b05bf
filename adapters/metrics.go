package adapters

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// LimiterMetrics exports what each vendor's Limiter has learned. It reads
// the limiters when scraped, so requests pay nothing for it. Labels are
// vendor names only.
type LimiterMetrics struct {
	mu       sync.Mutex
	limiters []namedLimiter

	limit, inFlight                  *prometheus.Desc
	learned, concurrency, share      *prometheus.Desc
	throttled, decreases, paused, wt *prometheus.Desc
}

type namedLimiter struct {
	vendor string
	l      *Limiter
}

// NewLimiterMetrics registers the limiter metrics with reg.
func NewLimiterMetrics(reg prometheus.Registerer) *LimiterMetrics {
	v := []string{"vendor"}
	m := &LimiterMetrics{
		limit: prometheus.NewDesc("erasured_vendor_rate_limit",
			"Requests per second the vendor's adaptive limiter allows now: configured or learned from 429s; +Inf while none is in force.", v, nil),
		learned: prometheus.NewDesc("erasured_vendor_rate_limit_learned",
			"Requests per second at which the vendor began to refuse (learned from 429s) or that its rate-limit header fields state; 0 while unknown. The rate in force recovers to just under it.", v, nil),
		concurrency: prometheus.NewDesc("erasured_vendor_concurrency_limit",
			"Cap on the vendor's requests in flight now: configured, or learned by AIMD from concurrency 429s (throttle: concurrency); 0 for none.", v, nil),
		share: prometheus.NewDesc("erasured_vendor_limit_share",
			"This replica's part of the Deployment's configured rate and concurrency ceilings (assigned/total partitions).", v, nil),
		inFlight: prometheus.NewDesc("erasured_vendor_requests_in_flight",
			"Requests holding a permit of the vendor's limiter.", v, nil),
		throttled: prometheus.NewDesc("erasured_vendor_limiter_throttled_total",
			"429 answers the vendor's limiter learned from.", v, nil),
		decreases: prometheus.NewDesc("erasured_vendor_rate_limit_decreases_total",
			"Times a 429 lowered the vendor's rate limit.", v, nil),
		paused: prometheus.NewDesc("erasured_vendor_paused_seconds_total",
			"Time the vendor was paused for every event because it sent Retry-After.", v, nil),
		wt: prometheus.NewDesc("erasured_vendor_limiter_wait_seconds_total",
			"Time requests waited for a permit (concurrency slot, pause, rate token).", v, nil),
	}
	reg.MustRegister(m)
	return m
}

// Add exports l under vendor.
func (m *LimiterMetrics) Add(vendor string, l *Limiter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.limiters = append(m.limiters, namedLimiter{vendor, l})
}

// Describe implements prometheus.Collector.
func (m *LimiterMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.limit, m.learned, m.concurrency, m.share, m.inFlight, m.throttled, m.decreases, m.paused, m.wt} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *LimiterMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	ls := append([]namedLimiter(nil), m.limiters...)
	m.mu.Unlock()
	for _, nl := range ls {
		s := nl.l.Stats()
		ch <- prometheus.MustNewConstMetric(m.limit, prometheus.GaugeValue, s.Limit, nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.learned, prometheus.GaugeValue, s.Ceiling, nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.concurrency, prometheus.GaugeValue, float64(s.MaxConcurrency), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.share, prometheus.GaugeValue, s.Share, nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(s.InFlight), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.throttled, prometheus.CounterValue, float64(s.Throttled), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.decreases, prometheus.CounterValue, float64(s.Decreases), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.paused, prometheus.CounterValue, s.Paused.Seconds(), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.wt, prometheus.CounterValue, s.Waited.Seconds(), nl.vendor)
	}
}

// BreakerMetrics exports each vendor's circuit breaker, read when
// scraped. Every series exists from the start: the state at 0 (closed),
// each possible transition and the refusals at 0. Labels are vendor names
// and state names only.
type BreakerMetrics struct {
	mu       sync.Mutex
	breakers []*Breaker

	state, transitions, refused *prometheus.Desc
}

// NewBreakerMetrics registers the breaker metrics with reg.
func NewBreakerMetrics(reg prometheus.Registerer) *BreakerMetrics {
	m := &BreakerMetrics{
		state: prometheus.NewDesc("erasured_vendor_circuit_state",
			"The vendor's circuit breaker: 0 closed (requests flow), 1 half-open (probe requests only), 2 open (no request is sent).", []string{"vendor"}, nil),
		transitions: prometheus.NewDesc("erasured_vendor_circuit_transitions_total",
			"State changes of the vendor's circuit breaker, by from and to state (closed, half_open, open).", []string{"vendor", "from", "to"}, nil),
		refused: prometheus.NewDesc("erasured_vendor_circuit_refused_total",
			"Attempts the vendor's circuit breaker refused without sending a request (open, or half-open with its probes taken).", []string{"vendor"}, nil),
	}
	reg.MustRegister(m)
	return m
}

// Add exports b; a nil b (breaker disabled) exports nothing.
func (m *BreakerMetrics) Add(b *Breaker) {
	if b == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.breakers = append(m.breakers, b)
}

// Describe implements prometheus.Collector.
func (m *BreakerMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.state
	ch <- m.transitions
	ch <- m.refused
}

// Collect implements prometheus.Collector.
func (m *BreakerMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	bs := append([]*Breaker(nil), m.breakers...)
	m.mu.Unlock()
	for _, b := range bs {
		s := b.Stats()
		ch <- prometheus.MustNewConstMetric(m.state, prometheus.GaugeValue, float64(s.State), b.vendor)
		for _, tr := range CircuitTransitions {
			ch <- prometheus.MustNewConstMetric(m.transitions, prometheus.CounterValue,
				float64(s.Transitions[tr[0]][tr[1]]), b.vendor, tr[0].String(), tr[1].String())
		}
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(s.Refused), b.vendor)
	}
}

// SetShare gives every exported limiter share of its configured budget
// (Limiter.SetShare): the daemon calls it at each rebalance with this
// replica's assigned/total partitions.
func (m *LimiterMetrics) SetShare(share float64) {
	m.mu.Lock()
	ls := append([]namedLimiter(nil), m.limiters...)
	m.mu.Unlock()
	for _, n := range ls {
		n.l.SetShare(share)
	}
}

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
	for _, d := range []*prometheus.Desc{m.limit, m.inFlight, m.throttled, m.decreases, m.paused, m.wt} {
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
		ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(s.InFlight), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.throttled, prometheus.CounterValue, float64(s.Throttled), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.decreases, prometheus.CounterValue, float64(s.Decreases), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.paused, prometheus.CounterValue, s.Paused.Seconds(), nl.vendor)
		ch <- prometheus.MustNewConstMetric(m.wt, prometheus.CounterValue, s.Waited.Seconds(), nl.vendor)
	}
}

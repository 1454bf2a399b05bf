package consumer

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// RetryMetrics instruments the retry workers: what is parked per vendor,
// how old the oldest parked part is, and what became of parked records.
// Labels carry vendor names and outcomes only.
type RetryMetrics struct {
	reg      prometheus.Registerer
	parked   *prometheus.GaugeVec
	unparked *prometheus.CounterVec
	attempts *prometheus.CounterVec
	giveUp   *prometheus.GaugeVec
}

// NewRetryMetrics registers the retry workers' metrics with reg.
func NewRetryMetrics(reg prometheus.Registerer) *RetryMetrics {
	f := promauto.With(reg)
	return &RetryMetrics{
		reg: reg,
		parked: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "erasured_retry_parked",
			Help: "Parts pending in the vendor's retry topic, as its retry worker's group sees them: per partition, high watermark minus committed offset, summed over the partitions this member holds.",
		}, []string{"vendor"}),
		unparked: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_retry_unparked_total",
			Help: "Retry-topic records finished by a retry worker, by outcome (deleted, already_absent, not_applicable, rescheduled, dead_lettered).",
		}, []string{"vendor", "outcome"}),
		attempts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_retry_attempts_total",
			Help: "Requests a retry worker made to its vendor (refusals by an open circuit not counted).",
		}, []string{"vendor"}),
		giveUp: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "erasured_retry_give_up_after_seconds",
			Help: "vendors.<name>.retry.give_up_after: a parked part this old is dead-lettered. Alerts compare the oldest parked age with it.",
		}, []string{"vendor"}),
	}
}

// Init makes vendor's series exist at zero before anything happens, so
// alerts and rate() see them from the start, and exports its
// give_up_after.
func (m *RetryMetrics) Init(vendor string, giveUpAfter time.Duration) {
	m.giveUp.WithLabelValues(vendor).Set(giveUpAfter.Seconds())
	m.parked.WithLabelValues(vendor)
	m.attempts.WithLabelValues(vendor)
	for _, o := range []RetryOutcome{RetryDeleted, RetryAlreadyAbsent, RetryNotApplicable, RetryRescheduled, RetryDeadLettered} {
		m.unparked.WithLabelValues(vendor, string(o))
	}
}

// Oldest exports age, a worker's OldestParkedAge, as
// erasured_retry_oldest_parked_age_seconds{vendor}.
func (m *RetryMetrics) Oldest(vendor string, age func() time.Duration) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "erasured_retry_oldest_parked_age_seconds",
		Help:        "Age, from its first failure, of the oldest parked part the vendor's retry worker holds; 0 when none. At retry.give_up_after it is dead-lettered.",
		ConstLabels: prometheus.Labels{"vendor": vendor},
	}, func() float64 { return age().Seconds() }))
}

// Unparked implements RetryObserver.
func (m *RetryMetrics) Unparked(vendor string, o RetryOutcome) {
	m.unparked.WithLabelValues(vendor, string(o)).Inc()
}

// RetryAttempted implements RetryObserver.
func (m *RetryMetrics) RetryAttempted(vendor string) { m.attempts.WithLabelValues(vendor).Inc() }

// Group returns the Observer of vendor's retry group: its lag is
// erasured_retry_parked{vendor}. next, if not nil, hears everything too
// (readiness).
func (m *RetryMetrics) Group(vendor string, next Observer) Observer {
	if next == nil {
		next = nopObserver{}
	}
	return &retryGroupObserver{Observer: next, g: m.parked.WithLabelValues(vendor), lag: map[int]int64{}}
}

type retryGroupObserver struct {
	Observer
	g   prometheus.Gauge
	mu  sync.Mutex
	lag map[int]int64
}

func (o *retryGroupObserver) Lag(partition int, lag int64) {
	o.mu.Lock()
	o.lag[partition] = lag
	var sum int64
	for _, l := range o.lag {
		sum += l
	}
	o.g.Set(float64(sum))
	o.mu.Unlock()
	o.Observer.Lag(partition, lag)
}

func (o *retryGroupObserver) Assigned(gen int32, parts []int) {
	o.mu.Lock()
	// Partitions this member no longer holds are another member's to
	// report.
	held := map[int]bool{}
	for _, p := range parts {
		held[p] = true
	}
	var sum int64
	for p, l := range o.lag {
		if !held[p] {
			delete(o.lag, p)
			continue
		}
		sum += l
	}
	o.g.Set(float64(sum))
	o.mu.Unlock()
	o.Observer.Assigned(gen, parts)
}

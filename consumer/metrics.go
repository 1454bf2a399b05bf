package consumer

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/retrytopic"
)

// Metrics is erasured's Prometheus instrumentation. It observes the
// processor, the retrier, the dead-letter publisher and the group member.
// Labels carry vendor names, outcomes, classes and partitions: never an
// identifier.
type Metrics struct {
	consumed        prometheus.Counter
	inFlight        prometheus.Gauge
	finished        *prometheus.CounterVec
	eventDuration   prometheus.Histogram
	vendorResults   *prometheus.CounterVec
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	throttled       *prometheus.CounterVec
	retryWaits      *prometheus.CounterVec
	retryWaitSecs   *prometheus.CounterVec
	deadLettered    *prometheus.CounterVec
	dlqWriteFails   prometheus.Counter
	parked          *prometheus.CounterVec
	parkWriteFails  *prometheus.CounterVec
	commits         *prometheus.CounterVec
	commitDuration  prometheus.Histogram
	committedOffset *prometheus.GaugeVec
	lag             *prometheus.GaugeVec
	rebalances      prometheus.Counter
	assigned        prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		consumed: f.NewCounter(prometheus.CounterOpts{
			Name: "erasured_events_consumed_total",
			Help: "Records taken from the user-deleted topic, redeliveries included.",
		}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{
			Name: "erasured_events_in_flight",
			Help: "Records fetched and not yet finished or handed back.",
		}),
		finished: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_events_finished_total",
			Help: "Events finished, by outcome (done, dead_lettered, invalid, interrupted).",
		}, []string{"outcome"}),
		eventDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "erasured_event_duration_seconds",
			Help:    "Time from fetch-side dispatch to an event's end, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
		vendorResults: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_vendor_results_total",
			Help: "Per-vendor results, by vendor and outcome: deleted, already_absent, not_applicable, failed (dead-lettered), parked (on the vendor's retry topic), interrupted (cut short by a stop or rebalance; redelivered).",
		}, []string{"vendor", "outcome"}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_vendor_requests_total",
			Help: "Vendor request attempts per event, by vendor and status class (2xx, 4xx, 5xx, error for no answer). With CleverTap batching several events share one HTTP request, each counted here.",
		}, []string{"vendor", "status_class"}),
		requestDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "erasured_vendor_request_duration_seconds",
			Help:    "Vendor request latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"vendor"}),
		throttled: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_vendor_throttled_total",
			Help: "Vendor answers with HTTP 429.",
		}, []string{"vendor"}),
		retryWaits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_retry_waits_total",
			Help: "Waits before a retry, by vendor and source (backoff, retry_after).",
		}, []string{"vendor", "source"}),
		retryWaitSecs: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_retry_wait_seconds_total",
			Help: "Time spent waiting before retries, by vendor and source.",
		}, []string{"vendor", "source"}),
		deadLettered: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_dead_lettered_total",
			Help: "Records written to the dead-letter topic, by reason.",
		}, []string{"reason"}),
		dlqWriteFails: f.NewCounter(prometheus.CounterOpts{
			Name: "erasured_dead_letter_write_failures_total",
			Help: "Failed dead-letter write attempts (each is retried; nothing is dropped).",
		}),
		parked: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_parked_total",
			Help: "Vendor parts the main flow parked on the vendor's retry topic, by vendor and reason (inline_budget, circuit_open, paused, behind).",
		}, []string{"vendor", "reason"}),
		parkWriteFails: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_park_write_failures_total",
			Help: "Failed retry-topic write attempts, by vendor (each is retried; the event's offset is not committed meanwhile).",
		}, []string{"vendor"}),
		commits: f.NewCounterVec(prometheus.CounterOpts{
			Name: "erasured_offset_commits_total",
			Help: "Offset commits, by result (ok, error).",
		}, []string{"result"}),
		commitDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "erasured_offset_commit_duration_seconds",
			Help:    "Offset commit latency.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		committedOffset: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "erasured_committed_offset",
			Help: "Last committed offset, by partition.",
		}, []string{"partition"}),
		lag: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "erasured_consumer_lag",
			Help: "Records not yet committed, by partition: the high watermark minus the committed offset (the lag KEDA and kafka-consumer-groups see); in-flight events count until committed.",
		}, []string{"partition"}),
		rebalances: f.NewCounter(prometheus.CounterOpts{
			Name: "erasured_rebalances_total",
			Help: "Consumer-group generations joined.",
		}),
		assigned: f.NewGauge(prometheus.GaugeOpts{
			Name: "erasured_assigned_partitions",
			Help: "Partitions assigned to this member.",
		}),
	}
	// Series that alerts and rate() read exist from the start at 0, so an
	// alert on the first dead letter does not wait for a second one.
	for _, o := range []Outcome{OutcomeDone, OutcomeDeadLettered, OutcomeParked, OutcomeInvalid, OutcomeInterrupted} {
		m.finished.WithLabelValues(string(o))
	}
	for _, r := range []dlq.Reason{dlq.ReasonInvalidEvent, dlq.ReasonRetriesExhausted, dlq.ReasonPermanentError} {
		m.deadLettered.WithLabelValues(string(r))
	}
	m.commits.WithLabelValues("ok")
	m.commits.WithLabelValues("error")
	return m
}

// InitVendor creates a vendor's request, throttle and retry series at 0.
func (m *Metrics) InitVendor(vendor string) {
	for _, class := range []string{"2xx", "4xx", "5xx", "error"} {
		m.requests.WithLabelValues(vendor, class)
	}
	m.throttled.WithLabelValues(vendor)
	for _, r := range []retrytopic.Reason{retrytopic.ReasonInlineBudget, retrytopic.ReasonCircuitOpen, retrytopic.ReasonPaused, retrytopic.ReasonBehind} {
		m.parked.WithLabelValues(vendor, string(r))
	}
	m.parkWriteFails.WithLabelValues(vendor)
	for _, src := range []string{"backoff", "retry_after"} {
		m.retryWaits.WithLabelValues(vendor, src)
		m.retryWaitSecs.WithLabelValues(vendor, src)
	}
}

// Fetched implements Observer.
func (m *Metrics) Fetched(int) {
	m.consumed.Inc()
	m.inFlight.Inc()
}

// Released implements Observer.
func (m *Metrics) Released(int, bool) { m.inFlight.Dec() }

// Finished implements ProcessObserver.
func (m *Metrics) Finished(o Outcome, took time.Duration) {
	m.finished.WithLabelValues(string(o)).Inc()
	m.eventDuration.Observe(took.Seconds())
}

// VendorResult implements ProcessObserver. A result cut short by the
// caller's context counts as interrupted, so that failed counts only what
// the vendor's answers made fail (and was dead-lettered).
func (m *Metrics) VendorResult(r adapters.Result) {
	outcome := r.Outcome.String()
	if r.Interrupted() {
		outcome = VendorInterrupted
	}
	m.vendorResults.WithLabelValues(r.Vendor, outcome).Inc()
}

// Attempted implements adapters.Observer.
func (m *Metrics) Attempted(vendor string, err error, took time.Duration) {
	class := "2xx"
	if err != nil {
		class = "error"
		var ae *adapters.Error
		if errors.As(err, &ae) && ae.Status != 0 {
			class = strconv.Itoa(ae.Status/100) + "xx"
			if ae.Status == 429 {
				m.throttled.WithLabelValues(vendor).Inc()
			}
		}
	}
	m.requests.WithLabelValues(vendor, class).Inc()
	m.requestDuration.WithLabelValues(vendor).Observe(took.Seconds())
}

// Waiting implements adapters.Observer.
func (m *Metrics) Waiting(vendor string, wait time.Duration, fromRetryAfter bool) {
	src := "backoff"
	if fromRetryAfter {
		src = "retry_after"
	}
	m.retryWaits.WithLabelValues(vendor, src).Inc()
	m.retryWaitSecs.WithLabelValues(vendor, src).Add(wait.Seconds())
}

// VendorParked is the per-vendor outcome, in erasured_vendor_results_total,
// of a part parked on the vendor's retry topic.
const VendorParked = "parked"

// Parked implements retrytopic.Observer: a part is safe on its retry
// topic.
func (m *Metrics) Parked(vendor string, r retrytopic.Reason) {
	m.parked.WithLabelValues(vendor, string(r)).Inc()
	m.vendorResults.WithLabelValues(vendor, VendorParked).Inc()
}

// ParkFailed implements retrytopic.Observer.
func (m *Metrics) ParkFailed(vendor string, _ error) { m.parkWriteFails.WithLabelValues(vendor).Inc() }

// Published implements dlq.Observer.
func (m *Metrics) Published(r dlq.Reason) { m.deadLettered.WithLabelValues(string(r)).Inc() }

// WriteFailed implements dlq.Observer.
func (m *Metrics) WriteFailed(error) { m.dlqWriteFails.Inc() }

// Assigned implements Observer.
func (m *Metrics) Assigned(_ int32, parts []int) {
	m.rebalances.Inc()
	m.assigned.Set(float64(len(parts)))
	m.forgetPartitions()
}

// Revoked implements Observer. The partitions' series go: another member
// reports them now, and a stale copy here would count twice in a sum.
func (m *Metrics) Revoked(int32) {
	m.assigned.Set(0)
	m.forgetPartitions()
}

func (m *Metrics) forgetPartitions() {
	m.lag.Reset()
	m.committedOffset.Reset()
}

// Committed implements Observer.
func (m *Metrics) Committed(p int, off int64, took time.Duration, err error) {
	if err != nil {
		m.commits.WithLabelValues("error").Inc()
		return
	}
	m.commits.WithLabelValues("ok").Inc()
	m.commitDuration.Observe(took.Seconds())
	m.committedOffset.WithLabelValues(strconv.Itoa(p)).Set(float64(off))
}

// Lag implements Observer.
func (m *Metrics) Lag(p int, lag int64) { m.lag.WithLabelValues(strconv.Itoa(p)).Set(float64(lag)) }

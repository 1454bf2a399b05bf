package consumer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// Metrics is the observer of every part it instruments.
var (
	_ ProcessObserver   = (*Metrics)(nil)
	_ adapters.Observer = (*Metrics)(nil)
	_ dlq.Observer      = (*Metrics)(nil)
	_ Observer          = (*Metrics)(nil)
)

func TestMetricsCounters(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)

	m.Finished(OutcomeDone, time.Second)
	m.Finished(OutcomeDone, 2*time.Second)
	m.Finished(OutcomeDeadLettered, time.Second)
	m.Finished(OutcomeInterrupted, time.Second)

	m.VendorResult(adapters.Result{Vendor: "plivo", Outcome: adapters.Deleted})
	m.VendorResult(adapters.Result{Vendor: "plivo", Outcome: adapters.Failed, Err: permanent("plivo")})
	m.VendorResult(adapters.Result{Vendor: "webex", Outcome: adapters.AlreadyAbsent})

	m.Attempted("plivo", nil, 10*time.Millisecond)
	m.Attempted("plivo", &adapters.Error{Vendor: "plivo", Class: adapters.ClassRetryable, Status: 429}, time.Millisecond)
	m.Attempted("plivo", &adapters.Error{Vendor: "plivo", Class: adapters.ClassRetryable, Status: 503}, time.Millisecond)
	m.Attempted("plivo", &adapters.Error{Vendor: "plivo", Class: adapters.ClassPermanent, Status: 404}, time.Millisecond)
	m.Attempted("webex", &adapters.Error{Vendor: "webex", Class: adapters.ClassRetryable, Message: "connection refused"}, time.Millisecond)
	m.Attempted("webex", errors.New("dial tcp: refused"), time.Millisecond)

	m.Waiting("plivo", 2*time.Second, true)
	m.Waiting("plivo", 500*time.Millisecond, false)
	m.Waiting("plivo", 500*time.Millisecond, false)

	m.Published(dlq.ReasonPermanentError)
	m.Published(dlq.ReasonInvalidEvent)
	m.Published(dlq.ReasonInvalidEvent)
	m.WriteFailed(errors.New("broker down"))

	m.Assigned(3, []int{0, 2, 5})
	m.Committed(2, 1200, time.Millisecond, nil)
	m.Committed(2, 1300, time.Millisecond, errors.New("rebalance in progress"))
	m.Lag(5, 42)

	tests := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"finished done", m.finished.WithLabelValues("done"), 2},
		{"finished dead_lettered", m.finished.WithLabelValues("dead_lettered"), 1},
		{"finished interrupted", m.finished.WithLabelValues("interrupted"), 1},
		{"finished invalid", m.finished.WithLabelValues("invalid"), 0},
		{"plivo deleted", m.vendorResults.WithLabelValues("plivo", "deleted"), 1},
		{"plivo failed", m.vendorResults.WithLabelValues("plivo", "failed"), 1},
		{"webex already_absent", m.vendorResults.WithLabelValues("webex", "already_absent"), 1},
		{"plivo 2xx", m.requests.WithLabelValues("plivo", "2xx"), 1},
		{"plivo 4xx", m.requests.WithLabelValues("plivo", "4xx"), 2},
		{"plivo 5xx", m.requests.WithLabelValues("plivo", "5xx"), 1},
		{"webex no answer", m.requests.WithLabelValues("webex", "error"), 2},
		{"plivo throttled", m.throttled.WithLabelValues("plivo"), 1},
		{"webex throttled", m.throttled.WithLabelValues("webex"), 0},
		{"retry_after waits", m.retryWaits.WithLabelValues("plivo", "retry_after"), 1},
		{"backoff waits", m.retryWaits.WithLabelValues("plivo", "backoff"), 2},
		{"retry_after seconds", m.retryWaitSecs.WithLabelValues("plivo", "retry_after"), 2},
		{"backoff seconds", m.retryWaitSecs.WithLabelValues("plivo", "backoff"), 1},
		{"dead-lettered permanent", m.deadLettered.WithLabelValues("permanent_error"), 1},
		{"dead-lettered invalid", m.deadLettered.WithLabelValues("invalid_event"), 2},
		{"dead-letter write failures", m.dlqWriteFails, 1},
		{"rebalances", m.rebalances, 1},
		{"assigned", m.assigned, 3},
		{"commits ok", m.commits.WithLabelValues("ok"), 1},
		{"commits error", m.commits.WithLabelValues("error"), 1},
		// A failed commit does not move the gauge.
		{"committed offset", m.committedOffset.WithLabelValues("2"), 1200},
		{"lag", m.lag.WithLabelValues("5"), 42},
	}
	for _, tc := range tests {
		if got := value(t, tc.c); got != tc.want {
			t.Errorf("%s = %g, want %g", tc.name, got, tc.want)
		}
	}
	if n := countSeries(m.eventDuration); n != 1 {
		t.Errorf("event duration: %d series", n)
	}
	if n := countSeries(m.requestDuration); n != 2 {
		t.Errorf("request duration: %d series, want one per vendor", n)
	}

	m.Revoked(3)
	if got := value(t, m.assigned); got != 0 {
		t.Errorf("assigned after revoke = %g", got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := promlint.NewWithMetricFamilies(mfs).Lint(); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// TestMetricsLabelsCarryNoIdentifiers runs a processor whose vendors fail
// with errors that name the person, with Metrics as every observer, and
// checks no label value holds an identifier.
func TestMetricsLabelsCarryNoIdentifiers(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)

	leaky := func(vendor string) error {
		return &adapters.Error{Vendor: vendor, Class: adapters.ClassPermanent, Status: 400, Code: testUser, Message: "no profile someone@example.com " + testUser}
	}
	a := &fakeAdapter{name: "a", answer: always(adapters.Failed, leaky("a"))}
	b := &fakeAdapter{name: "b", answer: func(_ context.Context, n int) (adapters.Outcome, error) {
		if n == 1 {
			return adapters.Failed, &adapters.Error{Vendor: "b", Class: adapters.ClassRetryable, Status: 429, Message: testUser, RetryAfter: time.Millisecond}
		}
		return adapters.Deleted, nil
	}}
	cfg := fastRetry()
	vendors := []Vendor{
		{Adapter: a, Retrier: adapters.NewRetrier(cfg, adapters.WithObserver(m))},
		{Adapter: b, Retrier: adapters.NewRetrier(cfg, adapters.WithObserver(m))},
	}
	pub := dlq.NewPublisher(dlq.Config{Topic: "dlq", WriteTimeout: time.Second, RetryInitial: time.Millisecond, RetryMax: time.Millisecond},
		&flakyWriter{fails: 1}, zerolog.Nop(), m)
	p := NewProcessor(vendors, pub, event.DecodeOptions{}, zerolog.Nop(), m)

	msg := validRecord(t)
	ev, err := p.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatalf("Process = %v", err)
	}
	// And an invalid record whose value is the user id.
	bad := msg
	bad.Value = []byte(testUser)
	_, decErr := p.Decode(bad)
	if err := p.Process(context.Background(), bad, nil, decErr); err != nil {
		t.Fatalf("Process(invalid) = %v", err)
	}

	if got := value(t, m.deadLettered.WithLabelValues("permanent_error")); got != 1 {
		t.Errorf("dead-lettered permanent_error = %g, want 1", got)
	}
	if got := value(t, m.throttled.WithLabelValues("b")); got != 1 {
		t.Errorf("throttled b = %g, want 1", got)
	}
	if got := value(t, m.dlqWriteFails); got != 1 {
		t.Errorf("dead-letter write failures = %g, want 1", got)
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			series++
			for _, lp := range metric.GetLabel() {
				for _, secret := range []string{testUser, "someone@example.com", "ev-123"} {
					if strings.Contains(lp.GetValue(), secret) {
						t.Errorf("%s{%s=%q} holds an identifier", mf.GetName(), lp.GetName(), lp.GetValue())
					}
				}
			}
		}
	}
	if series < 5 {
		t.Fatalf("only %d series gathered; the run did not reach the metrics", series)
	}
}

// flakyWriter is a dlq.Writer that fails its first fails writes.
type flakyWriter struct {
	mu    sync.Mutex
	fails int
	msgs  []kafka.Message
}

func (w *flakyWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fails > 0 {
		w.fails--
		return errors.New("broker unavailable")
	}
	w.msgs = append(w.msgs, msgs...)
	return nil
}

func (w *flakyWriter) Close() error { return nil }

// value reads the one counter or gauge c collects. (testutil.ToFloat64 does
// the same, but testutil needs a module go.sum does not carry.)
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	var out []float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		switch {
		case d.Counter != nil:
			out = append(out, d.Counter.GetValue())
		case d.Gauge != nil:
			out = append(out, d.Gauge.GetValue())
		default:
			t.Fatalf("%s: neither counter nor gauge", m.Desc())
		}
	}
	if len(out) != 1 {
		t.Fatalf("collected %d metrics, want 1", len(out))
	}
	return out[0]
}

// countSeries counts the series c collects.
func countSeries(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}

func TestMetricsInFlightAndPartitions(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.InitVendor("plivo")

	// Series that alerts read exist before anything happens.
	for _, c := range []prometheus.Collector{
		m.finished.WithLabelValues("dead_lettered"), m.deadLettered.WithLabelValues("retries_exhausted"),
		m.commits.WithLabelValues("error"), m.throttled.WithLabelValues("plivo"),
		m.requests.WithLabelValues("plivo", "5xx"), m.retryWaits.WithLabelValues("plivo", "retry_after"),
	} {
		if got := value(t, c); got != 0 {
			t.Errorf("%v starts at %g", c, got)
		}
	}
	if n := countSeries(m.deadLettered); n != 3 {
		t.Errorf("dead-lettered series at start = %d, want one per reason (3)", n)
	}

	m.Fetched(0)
	m.Fetched(0)
	m.Fetched(1)
	m.Released(0, true)
	m.Released(1, false)
	if got := value(t, m.consumed); got != 3 {
		t.Errorf("consumed = %g, want 3", got)
	}
	if got := value(t, m.inFlight); got != 1 {
		t.Errorf("in flight = %g, want 1", got)
	}

	m.Assigned(1, []int{0, 1})
	m.Lag(0, 5)
	m.Lag(1, 7)
	m.Committed(0, 10, time.Millisecond, nil)
	if n := countSeries(m.lag); n != 2 {
		t.Fatalf("lag series = %d, want 2", n)
	}
	// After a revoke the partitions are another member's to report.
	m.Revoked(1)
	if n, c := countSeries(m.lag), countSeries(m.committedOffset); n != 0 || c != 0 {
		t.Errorf("after revoke: %d lag and %d committed-offset series remain, want none", n, c)
	}
	m.Assigned(2, []int{1})
	m.Lag(1, 3)
	if n := countSeries(m.lag); n != 1 {
		t.Errorf("lag series after reassignment = %d, want 1", n)
	}
}

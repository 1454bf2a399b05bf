package devstack

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/dlq"
)

// TestSummaryReadsTheDaemonsMetrics drives the daemon's own metrics and
// checks that the summary line says what they say.
func TestSummaryReadsTheDaemonsMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := consumer.NewMetrics(reg)
	for _, v := range []string{"plivo", "webex"} {
		m.InitVendor(v)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	prev, err := ReadCounters(reg, t0)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		m.Finished(consumer.OutcomeDone, time.Millisecond)
	}
	m.Finished(consumer.OutcomeDeadLettered, time.Millisecond)
	m.Finished(consumer.OutcomeInterrupted, time.Millisecond)
	for range 19 {
		m.VendorResult(adapters.Result{Vendor: "plivo", Outcome: adapters.Deleted})
	}
	m.VendorResult(adapters.Result{Vendor: "plivo", Outcome: adapters.AlreadyAbsent})
	m.VendorResult(adapters.Result{Vendor: "plivo", Outcome: adapters.Failed, Err: &adapters.Error{Class: adapters.ClassPermanent, Status: 400}})
	for range 21 {
		m.VendorResult(adapters.Result{Vendor: "webex", Outcome: adapters.Deleted})
	}
	m.Attempted("webex", &adapters.Error{Class: adapters.ClassRetryable, Status: 429}, time.Millisecond)
	m.Attempted("webex", &adapters.Error{Class: adapters.ClassRetryable, Status: 429}, time.Millisecond)
	m.Waiting("webex", time.Second, true)
	m.Waiting("webex", time.Second, false)
	m.Waiting("webex", time.Second, false)
	m.Published(dlq.ReasonPermanentError)
	m.Published(dlq.ReasonInvalidEvent)
	m.Assigned(1, []int{0, 1})
	m.Lag(0, 5)
	m.Lag(1, 7)

	cur, err := ReadCounters(reg, t0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(prev, cur, "")
	if s.DonePerSecond != 5 {
		t.Errorf("done/s = %g, want 5", s.DonePerSecond)
	}
	want := "5.0 events done/s (20 in all) | plivo 20 deleted, 1 dead-lettered | webex 21 deleted, 3 retried, 2 throttled | dead letters 2 | lag 12 | 1 interrupted, to be redelivered"
	if got := s.String(); got != want {
		t.Errorf("line\n got %q\nwant %q", got, want)
	}
	if got := Summarize(prev, cur, "backlog is deliberate").String(); !strings.HasSuffix(got, " | backlog is deliberate") {
		t.Errorf("note missing: %q", got)
	}

	// JSON logs get the same numbers as fields.
	var buf bytes.Buffer
	l := zerolog.New(&buf)
	l.Info().EmbedObject(s).Msg(s.String())
	var rec struct {
		Lag     float64                       `json:"lag"`
		Vendors map[string]map[string]float64 `json:"vendors"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if rec.Lag != 12 || rec.Vendors["webex"]["throttled"] != 2 || rec.Vendors["plivo"]["dead_lettered"] != 1 {
		t.Errorf("fields = %+v", rec)
	}
}

// TestSummaryParkedHook shows a parked count once the metric carries one.
func TestSummaryParkedHook(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	results := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricVendorResults, Help: "h"}, []string{"vendor", "outcome"})
	reg.MustRegister(results)
	results.WithLabelValues("webex", "parked").Add(3)
	c, err := ReadCounters(reg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := Summarize(c, c, "").String(); !strings.Contains(got, "webex 0 deleted, 3 parked") {
		t.Errorf("line %q lacks the parked count", got)
	}
}

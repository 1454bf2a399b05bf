package receipt

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
)

// Tracker follows the receipts topic and keeps the events that still owe
// a deletion somewhere, for the deadline metrics. Done events are
// dropped, so memory follows what is owed (an outage's worth), not the
// topic's size. Every replica runs one over the whole topic, so each
// exports the same figures: alert on max(), not sum().
type Tracker struct {
	mu       sync.Mutex
	owed     map[string]*Receipt
	deadline time.Duration
	vendors  []string
	now      func() time.Time
	// caughtUp is set once the first scan reached the topic's end.
	caughtUp bool

	descOwed, descOldest, descPast, descDeadline, descCaught *prometheus.Desc
}

// NewTracker returns a Tracker; vendors are the configured vendors, whose
// series are exported (as 0) even when nothing is owed there, and now is
// its clock (time.Now in the daemon, a fake in tests).
func NewTracker(deadline time.Duration, vendors []string, now func() time.Time) *Tracker {
	return &Tracker{
		owed: map[string]*Receipt{}, deadline: deadline, vendors: vendors, now: now,
		descOwed:     prometheus.NewDesc("erasured_owed_parts", "Vendor parts of events not yet final (parked, paused or dead-lettered), from the receipts topic.", []string{"vendor"}, nil),
		descOldest:   prometheus.NewDesc("erasured_owed_oldest_age_seconds", "Age (since occurred_at) of the oldest event with a part still owed at the vendor; 0 when none is.", []string{"vendor"}, nil),
		descPast:     prometheus.NewDesc("erasured_owed_past_deadline_parts", "Owed parts whose event is past its compliance deadline.", []string{"vendor"}, nil),
		descDeadline: prometheus.NewDesc("erasured_compliance_deadline_seconds", "compliance.deadline: the time from occurred_at by which every part must be final.", nil, nil),
		descCaught:   prometheus.NewDesc("erasured_receipts_tracker_caught_up", "1 once the receipts tracker has read the receipts topic to its end; the owed figures are partial before.", nil, nil),
	}
}

// Add folds one receipts-topic record in; malformed values and
// tombstones are ignored (erasured receipts counts them).
func (t *Tracker) Add(value []byte) {
	if len(value) == 0 {
		return
	}
	r, err := Decode(value)
	if err != nil {
		return
	}
	t.AddReceipt(r)
}

// AddReceipt folds r in.
func (t *Tracker) AddReceipt(r *Receipt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur, ok := t.owed[r.EventID]
	if !ok {
		if r.Done() {
			return
		}
		cp := &Receipt{}
		cp.Fold(r)
		cp.EventID = r.EventID
		t.owed[r.EventID] = cp
		return
	}
	cur.Fold(r)
	if cur.Done() {
		delete(t.owed, r.EventID)
	}
}

// CaughtUp records that the first scan reached the topic's end.
func (t *Tracker) CaughtUp() {
	t.mu.Lock()
	t.caughtUp = true
	t.mu.Unlock()
}

// VendorFigures are one vendor's owed figures at a moment.
type VendorFigures struct {
	Owed, PastDeadline int
	OldestAge          time.Duration
}

// Figures computes every vendor's figures now: the configured vendors,
// and any other vendor a receipt still owes.
func (t *Tracker) Figures() map[string]VendorFigures {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	out := map[string]VendorFigures{}
	for _, v := range t.vendors {
		out[v] = VendorFigures{}
	}
	for _, r := range t.owed {
		for v, p := range r.Vendors {
			if p.Outcome.Final() {
				continue
			}
			f := out[v]
			f.Owed++
			if !r.Deadline.IsZero() && now.After(r.Deadline) {
				f.PastDeadline++
			}
			if age := now.Sub(r.OccurredAt); age > f.OldestAge {
				f.OldestAge = age
			}
			out[v] = f
		}
	}
	return out
}

// Describe implements prometheus.Collector.
func (t *Tracker) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{t.descOwed, t.descOldest, t.descPast, t.descDeadline, t.descCaught} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the figures are computed at
// scrape time, so an age grows between receipts.
func (t *Tracker) Collect(ch chan<- prometheus.Metric) {
	for v, f := range t.Figures() {
		ch <- prometheus.MustNewConstMetric(t.descOwed, prometheus.GaugeValue, float64(f.Owed), v)
		ch <- prometheus.MustNewConstMetric(t.descOldest, prometheus.GaugeValue, f.OldestAge.Seconds(), v)
		ch <- prometheus.MustNewConstMetric(t.descPast, prometheus.GaugeValue, float64(f.PastDeadline), v)
	}
	ch <- prometheus.MustNewConstMetric(t.descDeadline, prometheus.GaugeValue, t.deadline.Seconds())
	t.mu.Lock()
	caught := 0.0
	if t.caughtUp {
		caught = 1
	}
	t.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(t.descCaught, prometheus.GaugeValue, caught)
}

// Run follows the receipts topic from its earliest record until ctx
// ends, and says CaughtUp once it has read what the topic held when it
// started. It reads the whole topic: an owed part must count however old
// it is, which is the point of the deadline-missed alert.
func (t *Tracker) Run(ctx context.Context, cfg dlq.ScanConfig, topic string) error {
	cfg.Follow = true
	var target, read int64
	err := dlq.Scan(ctx, cfg, topic, dlq.Start{Kind: dlq.StartEarliest}, func(n int64) {
		target = n
		if n == 0 {
			t.CaughtUp()
		}
	}, func(m kafka.Message) error {
		t.Add(m.Value)
		if read++; read == target {
			t.CaughtUp()
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

package consumer

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/receipt"
	"github.com/erasured/erasured/retrytopic"
)

// scriptAdapter answers per event id: fails[id] retryable 503s first,
// then final (or the error in final[id]); it records every call in order.
type scriptAdapter struct {
	mu    sync.Mutex
	fails map[string]int
	final map[string]error
	calls []string
	// down makes every call a 503 while set.
	down bool
	// throttled[id] 429s come before any fails[id] 503s, each with
	// Retry-After retryAfter (none when 0).
	throttled  map[string]int
	retryAfter time.Duration
}

func (*scriptAdapter) Name() string { return "fake" }

func (a *scriptAdapter) Delete(_ context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, ev.EventID)
	if a.throttled[ev.EventID] > 0 {
		a.throttled[ev.EventID]--
		return adapters.Failed, &adapters.Error{Vendor: "fake", Class: adapters.ClassRetryable, Status: 429, Message: "429", RetryAfter: a.retryAfter}
	}
	if a.down || a.fails[ev.EventID] > 0 {
		a.fails[ev.EventID]--
		return adapters.Failed, &adapters.Error{Vendor: "fake", Class: adapters.ClassRetryable, Status: 503, Message: "503"}
	}
	if err := a.final[ev.EventID]; err != nil {
		return adapters.Failed, err
	}
	return adapters.Deleted, nil
}

func (a *scriptAdapter) callLog() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

type doneRecorder struct {
	mu      sync.Mutex
	done    []string
	drained atomic.Int32
}

func (d *doneRecorder) Done(vendor, user string) {
	d.mu.Lock()
	d.done = append(d.done, vendor+"/"+user)
	d.mu.Unlock()
}

func (*doneRecorder) Parked(string, string) bool { return false }
func (*doneRecorder) Add(string, string)         {}
func (d *doneRecorder) Drained(string)           { d.drained.Add(1) }

func (d *doneRecorder) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.done)
}

type retryHarness struct {
	t       *testing.T
	brokers []string
	topic   string
	dl      *fakeDLQ
	a       *scriptAdapter
	idx     *doneRecorder
	obs     *lagObserver
	w       *RetryWorker
	stop    func() error
}

// startRetryWorker runs a retry worker for scriptAdapter on a kfake topic
// with one partition, with records already written by write.
func startRetryWorker(t *testing.T, a *scriptAdapter, rc adapters.RetryConfig, write func(h *retryHarness), opts ...RetryWorkerOption) *retryHarness {
	t.Helper()
	h := startRetryWorkerWith(t, Vendor{Adapter: a, Retrier: adapters.NewRetrier(rc)}, rc, write, opts...)
	h.a = a
	return h
}

func startRetryWorkerWith(t *testing.T, v Vendor, rc adapters.RetryConfig, write func(h *retryHarness), opts ...RetryWorkerOption) *retryHarness {
	t.Helper()
	topic := retrytopic.TopicFor("user-deleted", "fake")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	h := &retryHarness{t: t, brokers: cluster.ListenAddrs(), topic: topic, dl: &fakeDLQ{}, idx: &doneRecorder{},
		obs: &lagObserver{lag: map[int]int64{}, committed: map[int]int64{}}}
	write(h)
	cfg := DefaultConfig()
	cfg.Brokers, cfg.CommitInterval = h.brokers, 50*time.Millisecond
	cfg.HeartbeatInterval, cfg.SessionTimeout, cfg.RebalanceTimeout = 300*time.Millisecond, 6*time.Second, 6*time.Second
	cfg.DrainTimeout, cfg.RequestTimeout = 2*time.Second, 2*time.Second
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	w := NewRetryWorker(cfg, RetryWorkerConfig{Vendor: v, Topic: topic, GroupID: retrytopic.GroupFor("g", "fake"), Retry: rc},
		h.dl, NewKafkaRetryProducer(h.brokers, nil, 2*time.Second), event.DecodeOptions{}, nil, zerolog.Nop(),
		append([]RetryWorkerOption{WithParkedIndex(h.idx), WithGroupObserver(h.obs)}, opts...)...)
	h.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var runErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(3 * guard):
				runErr = fmt.Errorf("did not stop within %s of its context ending", 3*guard)
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("retry worker: %v", err)
		}
	})
	return h
}

// retryRecords reads every record of the retry topic's partition 0.
func (h *retryHarness) retryRecords() []retrytopic.Parked {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", h.brokers[0], h.topic, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close()
	_, last, err := conn.ReadOffsets()
	if err != nil {
		h.t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.brokers, Topic: h.topic, Partition: 0, MaxWait: 50 * time.Millisecond})
	defer r.Close()
	var out []retrytopic.Parked
	for off := int64(0); off < last; off++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		p, err := retrytopic.Decode(m)
		if err != nil {
			h.t.Fatalf("retry record at %d: %v", m.Offset, err)
		}
		out = append(out, p)
	}
	return out
}

func (h *retryHarness) write(msgs ...kafka.Message) {
	h.t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(h.brokers...), Topic: h.topic, Transport: &kafka.Transport{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		h.t.Fatal(err)
	}
}

// parked is a retry record for event id of user, due now, first failed
// at first.
func parked(t *testing.T, id, user string, first time.Time) kafka.Message {
	t.Helper()
	v, err := event.Encode(&event.UserDeleted{EventID: id, UserID: user, OccurredAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	p := retrytopic.Parked{Original: kafka.Message{Key: []byte(user), Value: v}, OriginalTopic: "user-deleted", OriginalPartition: 0, OriginalOffset: 1,
		EventID: id, Vendor: "fake", Reason: retrytopic.ReasonCircuitOpen, ParkedAt: first, Due: time.Now()}
	p.AddAttempt(retrytopic.Attempt{At: first, Status: 503, Class: "retryable", By: "inline"})
	return p.Message()
}

// waitFor polls cond until it holds, failing after guard.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fastRetryConfig() adapters.RetryConfig {
	rc := adapters.DefaultRetryConfig()
	rc.Schedule = []time.Duration{200 * time.Millisecond, 300 * time.Millisecond}
	rc.GiveUpAfter = time.Hour
	rc.MaxPending = 16
	return rc
}

// committedAt reports whether the group committed off on partition 0.
func (h *retryHarness) committedAt(off int64) bool {
	_, c, ok := h.obs.get(0)
	return ok && c == off
}

// TestRetryWorkerKeepsUserOrder: user A's first parked part fails once at
// the retry worker and is rescheduled; A's later parts, already in the
// partition, must not reach the vendor before it: they are rescheduled
// behind it. User B is not held by A.
func TestRetryWorkerKeepsUserOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	a := &scriptAdapter{fails: map[string]int{"a1": 1}}
	now := time.Now()
	h := startRetryWorker(t, a, fastRetryConfig(), func(h *retryHarness) {
		h.write(parked(t, "a1", "A", now), parked(t, "a2", "A", now), parked(t, "b1", "B", now), parked(t, "a3", "A", now))
	})
	waitFor(t, "every part deleted", func() bool { return h.idx.count() == 4 })
	calls := a.callLog()
	first := map[string]int{}
	for i, id := range calls {
		if _, ok := first[id]; !ok {
			first[id] = i
		}
	}
	last := 0
	for i, id := range calls {
		if id == "a1" {
			last = i
		}
	}
	if first["a2"] < last || first["a3"] < last || first["a3"] < first["a2"] {
		t.Fatalf("calls %v: a later part of A reached the vendor before A's rescheduled first part finished", calls)
	}
	if first["b1"] > last {
		t.Logf("b1 ran after a1's retry (allowed, though B does not wait on A)")
	}
	// 4 records + a1 rescheduled + a2, a3 behind it = 7.
	waitFor(t, "the commit at the end of the retry topic", func() bool { return h.committedAt(7) })
	if n := len(h.dl.records()); n != 0 {
		t.Fatalf("%d dead-lettered", n)
	}
	// Everything committed: the worker tells the index the topic is
	// drained, so no user there stays parked behind.
	waitFor(t, "the index told the retry topic is drained", func() bool { return h.idx.drained.Load() > 0 })
	t.Logf("calls in order: %v; retry topic 7 records, committed 7; parked index told Done %d times, Drained %d", calls, h.idx.count(), h.idx.drained.Load())
}

// TestRetryWorkerGivesUpWithHistory: a vendor down past give_up_after:
// the part is rescheduled on the schedule, each attempt in its history,
// then dead-lettered once with that history, and the commit passes it.
func TestRetryWorkerGivesUpWithHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	a := &scriptAdapter{fails: map[string]int{}, down: true}
	rc := fastRetryConfig()
	rc.Schedule = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	rc.GiveUpAfter = 1500 * time.Millisecond
	h := startRetryWorker(t, a, rc, func(h *retryHarness) { h.write(parked(t, "x1", "X", time.Now())) })
	waitFor(t, "the dead-letter record", func() bool { return len(h.dl.records()) == 1 })
	rec := h.dl.records()[0]
	calls := len(a.callLog())
	if rec.Reason != dlq.ReasonRetriesExhausted || len(rec.Failures) != 1 {
		t.Fatalf("dead-letter record: reason %s, failures %+v", rec.Reason, rec.Failures)
	}
	f := rec.Failures[0]
	if f.Vendor != "fake" || f.Attempts != calls+1 || f.Status != 503 || f.Class != "retryable" {
		t.Errorf("failure %+v, want vendor fake, %d attempts (1 inline + %d by the worker), status 503, class retryable", f, calls+1, calls)
	}
	if calls < 2 || !strings.Contains(rec.Detail, "gave up after 1.5s") || strings.Count(rec.Detail, "retry retryable 503") != calls {
		t.Errorf("calls %d; detail %q: want each worker attempt in the history", calls, rec.Detail)
	}
	if rec.FirstFailure.IsZero() || !rec.LastFailure.After(rec.FirstFailure) || rec.Original.Topic != "user-deleted" {
		t.Errorf("first %v last %v original topic %q", rec.FirstFailure, rec.LastFailure, rec.Original.Topic)
	}
	// 1 record + one rescheduled copy per worker attempt.
	waitFor(t, "the commit past the given-up part", func() bool { return h.committedAt(int64(1 + calls)) })
	if h.idx.count() != 1 {
		t.Errorf("parked index told %d times, want 1", h.idx.count())
	}
	t.Logf("vendor called %d times by the worker, rescheduled %d times, then dead-lettered: %s", calls, calls, rec.Detail)
}

// TestRetryWorkerDeadLettersAtOnce: a malformed retry record, a part the
// vendor refuses permanently and one with an invalid identifier are
// dead-lettered at once, without blocking the good part after them; a
// part the vendor does not know is final.
func TestRetryWorkerDeadLettersAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	a := &scriptAdapter{fails: map[string]int{}, final: map[string]error{
		"perm":  &adapters.Error{Vendor: "fake", Class: adapters.ClassPermanent, Status: 400, Message: "bad request"},
		"badid": &adapters.Error{Vendor: "fake", Class: adapters.ClassInvalidIdentifier, Message: "identifier shape"},
	}}
	now := time.Now()
	bad := parked(t, "mal", "M", now)
	for i, hd := range bad.Headers {
		if hd.Key == retrytopic.HeaderAttempts {
			bad.Headers[i].Value = []byte("many")
		}
	}
	h := startRetryWorker(t, a, fastRetryConfig(), func(h *retryHarness) {
		h.write(bad, parked(t, "perm", "P", now), parked(t, "badid", "I", now), parked(t, "good", "G", now))
	})
	waitFor(t, "three dead-letter records and the good part deleted", func() bool { return len(h.dl.records()) == 3 && h.idx.count() == 3 })
	waitFor(t, "the commit at the end", func() bool { return h.committedAt(4) })
	got := map[string]dlq.Reason{}
	for _, r := range h.dl.records() {
		key := r.EventID
		if key == "" {
			key = "malformed"
			if !strings.Contains(r.Detail, retrytopic.HeaderAttempts) || strings.Contains(r.Detail, "many") {
				t.Errorf("malformed record's detail %q: want the header named, never its value", r.Detail)
			}
		}
		got[key] = r.Reason
	}
	want := map[string]dlq.Reason{"malformed": dlq.ReasonInvalidEvent, "perm": dlq.ReasonPermanentError, "badid": dlq.ReasonPermanentError}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("dead-lettered %v, want %v", got, want)
	}
	if calls := a.callLog(); len(calls) != 3 {
		t.Errorf("vendor calls %v: want perm, badid and good once each, the malformed record never", calls)
	}
	t.Logf("dead-lettered %v; vendor calls %v; committed 4 of 4", got, a.callLog())
}

type switchPauser struct{ paused atomic.Bool }

func (p *switchPauser) Paused(string) bool { return p.paused.Load() }

// TestRetryWorkerWaitsWhilePaused: a paused vendor's worker holds its
// parked part (fetched, due) and calls nothing; once unpaused, it deletes
// it.
func TestRetryWorkerWaitsWhilePaused(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	a := &scriptAdapter{fails: map[string]int{}}
	pz := &switchPauser{}
	pz.paused.Store(true)
	h := startRetryWorker(t, a, fastRetryConfig(), func(h *retryHarness) { h.write(parked(t, "p1", "U", time.Now())) }, WithPauser(pz))
	waitFor(t, "the worker to hold the parked part", func() bool { return h.w.OldestParkedAge() > 0 })
	// Several of the worker's re-checks (one a second) pass while paused.
	time.Sleep(2500 * time.Millisecond)
	if calls := a.callLog(); len(calls) != 0 {
		t.Fatalf("paused vendor called: %v", calls)
	}
	held := h.w.OldestParkedAge()
	pz.paused.Store(false)
	waitFor(t, "the part deleted once unpaused", func() bool { return h.idx.count() == 1 })
	waitFor(t, "the commit", func() bool { return h.committedAt(1) })
	if h.w.OldestParkedAge() != 0 {
		t.Errorf("oldest parked age %s after the part finished, want 0", h.w.OldestParkedAge())
	}
	t.Logf("while paused: 0 calls, part held (oldest age %s); after unpause: calls %v, committed 1", held.Truncate(time.Millisecond), a.callLog())
}

// stateAdapter records, for each call, whether its breaker was open.
type stateAdapter struct {
	scriptAdapter
	b          *adapters.Breaker
	callsOpen  atomic.Int32
	callsTotal atomic.Int32
}

func (a *stateAdapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	a.callsTotal.Add(1)
	if a.b.State() == adapters.CircuitOpen {
		a.callsOpen.Add(1)
	}
	return a.scriptAdapter.Delete(ctx, ev)
}

// TestRetryWorkerWaitsWhileCircuitOpen: with the vendor's circuit open,
// the worker calls nothing and does not reschedule; once the breaker
// half-opens, its probe deletes the part.
func TestRetryWorkerWaitsWhileCircuitOpen(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	bc := adapters.DefaultBreakerConfig()
	bc.ConsecutiveFailures, bc.FailureRatio, bc.Cooldown = 1, 0, 2*time.Second
	b := adapters.NewBreaker("fake", bc)
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(context.Background(), &http.Response{StatusCode: 503}, nil)
	if b.State() != adapters.CircuitOpen {
		t.Fatalf("breaker %s after a 503, want open", b.State())
	}
	a := &stateAdapter{scriptAdapter: scriptAdapter{fails: map[string]int{}}, b: b}
	rc := fastRetryConfig()
	h := startRetryWorkerWith(t, Vendor{Adapter: a, Retrier: adapters.NewRetrier(rc, adapters.WithBreaker(b))}, rc,
		func(h *retryHarness) { h.write(parked(t, "c1", "U", time.Now())) })
	waitFor(t, "the part deleted after the circuit half-opened", func() bool { return h.idx.count() == 1 })
	waitFor(t, "the commit", func() bool { return h.committedAt(1) })
	if a.callsOpen.Load() != 0 || a.callsTotal.Load() != 1 {
		t.Fatalf("%d calls, %d of them while the circuit was open; want 1 probe after it half-opened", a.callsTotal.Load(), a.callsOpen.Load())
	}
	t.Logf("circuit open at the start: %d calls while open, %d in all, committed 1 (no reschedule)", a.callsOpen.Load(), a.callsTotal.Load())
}

// retryCounts is a RetryObserver that counts outcomes and attempts.
type retryCounts struct {
	mu       sync.Mutex
	outcomes map[RetryOutcome]int
	attempts int
}

func (c *retryCounts) Unparked(_ string, o RetryOutcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outcomes == nil {
		c.outcomes = map[RetryOutcome]int{}
	}
	c.outcomes[o]++
}

func (c *retryCounts) RetryAttempted(string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.attempts++
}

func (c *retryCounts) get() (map[RetryOutcome]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := map[RetryOutcome]int{}
	for k, v := range c.outcomes {
		o[k] = v
	}
	return o, c.attempts
}

// receiptLog is a ReceiptWriter that keeps what it is given.
type receiptLog struct {
	mu sync.Mutex
	rs []*receipt.Receipt
}

func (l *receiptLog) Write(_ context.Context, rs ...*receipt.Receipt) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rs = append(l.rs, rs...)
	return nil
}

func (l *receiptLog) all() []*receipt.Receipt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*receipt.Receipt(nil), l.rs...)
}

// TestRetryWorkerThrottled: a 429 at the retry worker is the vendor
// saying "later": the part keeps its step and is tried again in place
// after the Retry-After (or a floor), so the retry topic gets no second
// record; any other retryable failure (503) is still rescheduled at the
// next step. Receipts and metrics count every attempt.
func TestRetryWorkerThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	cases := []struct {
		name       string
		throttled  int
		fails      int
		retryAfter time.Duration
		// records on the retry topic at the end, the first included.
		wantRecords int
	}{
		{name: "429 with Retry-After", throttled: 1, retryAfter: time.Second, wantRecords: 1},
		{name: "429 without Retry-After, twice", throttled: 2, wantRecords: 1},
		{name: "503", fails: 1, wantRecords: 2},
		{name: "429 then 503", throttled: 1, retryAfter: time.Second, fails: 1, wantRecords: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &scriptAdapter{fails: map[string]int{"t1": tc.fails}, throttled: map[string]int{"t1": tc.throttled}, retryAfter: tc.retryAfter}
			rc := fastRetryConfig()
			// Longer than the Retry-After and the floor: a 429's wait
			// is theirs, not the schedule's.
			rc.Schedule = []time.Duration{2 * time.Second, 3 * time.Second}
			counts, receipts := &retryCounts{}, &receiptLog{}
			h := startRetryWorker(t, a, rc, func(h *retryHarness) { h.write(parked(t, "t1", "U", time.Now())) },
				WithRetryObserver(counts), WithRetryReceipts(Receipts{Writer: receipts, Deadline: adapters.ComplianceDeadline}, nil))
			waitFor(t, "the part deleted", func() bool { return h.idx.count() == 1 })
			waitFor(t, "the commit at the end of the retry topic", func() bool { return h.committedAt(int64(tc.wantRecords)) })

			calls := tc.throttled + tc.fails + 1
			if got := len(a.callLog()); got != calls {
				t.Errorf("vendor called %d times, want %d", got, calls)
			}
			outcomes, attempts := counts.get()
			if attempts != calls {
				t.Errorf("RetryAttempted %d times, want once per call (%d)", attempts, calls)
			}
			want := map[RetryOutcome]int{RetryDeleted: 1}
			if n := tc.wantRecords - 1; n > 0 {
				want[RetryRescheduled] = n
			}
			if fmt.Sprint(outcomes) != fmt.Sprint(want) {
				t.Errorf("outcomes %v, want %v", outcomes, want)
			}
			recs := h.retryRecords()
			if len(recs) != tc.wantRecords {
				t.Fatalf("%d records on the retry topic, want %d: a 429 must not reschedule", len(recs), tc.wantRecords)
			}
			if tc.fails > 0 {
				// The 503 moved the part one step on, with every
				// attempt before it (429s included) in its history.
				r := recs[len(recs)-1]
				if r.Step != 1 || r.Reason != retrytopic.ReasonRescheduled || r.Attempts != 1+tc.throttled+tc.fails || r.LastStatus != 503 {
					t.Errorf("rescheduled record: step %d, reason %s, attempts %d, last status %d; want step 1, rescheduled, %d attempts, 503",
						r.Step, r.Reason, r.Attempts, r.LastStatus, 1+tc.throttled+tc.fails)
				}
				got := 0
				for _, at := range r.History {
					if at.Status == 429 && at.By == "retry" {
						got++
					}
				}
				if got != tc.throttled {
					t.Errorf("history %+v: %d 429s, want %d", r.History, got, tc.throttled)
				}
			}
			rs := receipts.all()
			if len(rs) != 1 {
				t.Fatalf("%d receipts, want 1", len(rs))
			}
			// 1 inline attempt (the parked record's) + the worker's.
			if part := rs[0].Vendors["fake"]; part.Outcome != receipt.Deleted || part.Attempts != 1+calls || part.FirstAttempt == nil {
				t.Errorf("receipt part %+v, want deleted after %d attempts, with the first failure's time", part, 1+calls)
			}
			t.Logf("vendor calls %d, outcomes %v, retry-topic records %d", calls, outcomes, len(recs))
		})
	}
}

// TestRetryWorkerThrottleWait: a throttled part waits the vendor's
// Retry-After, a floor when there is none, and never longer than its
// step's schedule wait.
func TestRetryWorkerThrottleWait(t *testing.T) {
	t.Parallel()
	throttle := func(ra time.Duration) error {
		return &adapters.Error{Vendor: "fake", Class: adapters.ClassRetryable, Status: 429, RetryAfter: ra}
	}
	cases := []struct {
		name     string
		schedule []time.Duration
		step     int
		err      error
		want     time.Duration
	}{
		{"Retry-After", []time.Duration{time.Minute}, 0, throttle(time.Second), time.Second},
		{"Retry-After from a date, under a second", []time.Duration{time.Minute}, 0, throttle(300 * time.Millisecond), 300 * time.Millisecond},
		{"no Retry-After: the floor", []time.Duration{time.Minute}, 0, throttle(0), throttleFloor},
		{"vendor code 429 in the body", []time.Duration{time.Minute}, 0,
			&adapters.Error{Vendor: "fake", Class: adapters.ClassRetryable, Code: "429"}, throttleFloor},
		{"Retry-After past the step's wait, honoured", []time.Duration{time.Minute, 30 * time.Minute, 5 * time.Minute}, 0, throttle(10 * time.Minute), 10 * time.Minute},
		{"Retry-After past the schedule's longest wait", []time.Duration{time.Minute, 30 * time.Minute, 5 * time.Minute}, 0, throttle(24 * time.Hour), 30 * time.Minute},
		{"no Retry-After, at a later step", []time.Duration{time.Minute, 5 * time.Minute}, 1, throttle(0), throttleFloor},
		{"step past the schedule", []time.Duration{time.Minute, 5 * time.Minute}, 7, throttle(6 * time.Minute), 5 * time.Minute},
		{"schedule shorter than the floor", []time.Duration{500 * time.Millisecond}, 0, throttle(0), 500 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !adapters.IsThrottled(tc.err) {
				t.Fatalf("%v is not a throttle", tc.err)
			}
			rp := &retryProcessor{cfg: adapters.RetryConfig{Schedule: tc.schedule}}
			if got := rp.throttleWait(tc.err, tc.step); got != tc.want {
				t.Errorf("throttleWait = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestRetryWorkerStopsDuringThrottleWait: a part waiting out a long
// Retry-After is interrupted at once by a stop and left uncommitted, to
// be tried again on redelivery.
func TestRetryWorkerStopsDuringThrottleWait(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	a := &scriptAdapter{fails: map[string]int{}, throttled: map[string]int{"s1": 1}, retryAfter: time.Hour}
	rc := fastRetryConfig()
	rc.Schedule = []time.Duration{time.Hour}
	rc.GiveUpAfter = 2 * time.Hour
	counts := &retryCounts{}
	h := startRetryWorker(t, a, rc, func(h *retryHarness) { h.write(parked(t, "s1", "U", time.Now())) }, WithRetryObserver(counts))
	waitFor(t, "the throttled call", func() bool { return len(a.callLog()) == 1 })
	waitFor(t, "the worker to hold the part", func() bool { return h.w.OldestParkedAge() > 0 })
	if err := h.stop(); err != nil {
		t.Fatalf("retry worker: %v", err)
	}
	outcomes, attempts := counts.get()
	if len(outcomes) != 0 || attempts != 1 || h.committedAt(1) || len(h.dl.records()) != 0 || h.idx.count() != 0 {
		t.Fatalf("after the stop: outcomes %v, attempts %d, committed past the part %v, dead-lettered %d, done %d; want nothing but the one attempt",
			outcomes, attempts, h.committedAt(1), len(h.dl.records()), h.idx.count())
	}
	if recs := h.retryRecords(); len(recs) != 1 {
		t.Errorf("%d records on the retry topic, want the one, unrescheduled", len(recs))
	}
}

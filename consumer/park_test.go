package consumer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/retrytopic"
)

// fakeParker keeps what Park is given; fail, when set, decides its error.
type fakeParker struct {
	mu   sync.Mutex
	recs []retrytopic.Parked
	tops []string
	fail func(ctx context.Context) error
}

func (f *fakeParker) Park(ctx context.Context, topic string, rec retrytopic.Parked) error {
	if f.fail != nil {
		if err := f.fail(ctx); err != nil {
			return err
		}
	}
	// What the real publisher writes must decode.
	if _, err := retrytopic.Decode(rec.Message()); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, rec)
	f.tops = append(f.tops, topic)
	return nil
}

func (f *fakeParker) records() []retrytopic.Parked {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.recs)
}

func recordFor(t *testing.T, user, id string, offset int64) (kafka.Message, *event.UserDeleted) {
	t.Helper()
	ev := &event.UserDeleted{EventID: id, UserID: user, OccurredAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{"email": "someone@example.com"}}
	v, err := event.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := kafka.Message{Topic: "user-deleted", Partition: 0, Offset: offset, Key: []byte(user), Value: v}
	dec, err := event.Decode(msg.Key, msg.Value, nil, event.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return msg, dec
}

func parkingProcessor(vs []Vendor, pk *fakeParker, dl *fakeDLQ, ix ParkedIndex, pauses PauseSource) *Processor {
	return NewProcessor(vs, dl, event.DecodeOptions{}, zerolog.Nop(), nil,
		WithParking(Parking{Parker: pk, Index: ix, Pauses: pauses}))
}

// TestParkInlineBudget: a vendor slower than its inline budget is parked
// (reason inline_budget) and the event is finished; the healthy vendor is
// done; nothing is dead-lettered.
func TestParkInlineBudget(t *testing.T) {
	t.Parallel()
	slow := &fakeAdapter{name: "exotel", answer: func(ctx context.Context, _ int) (adapters.Outcome, error) {
		<-ctx.Done()
		return adapters.Failed, ctx.Err()
	}}
	ok := &fakeAdapter{name: "plivo", answer: always(adapters.Deleted, nil)}
	vs := vendorsOf(fastRetry(), slow, ok)
	vs[0].InlineBudget, vs[0].RetryTopic = 50*time.Millisecond, "user-deleted.retry.exotel"
	pk, dl := &fakeParker{}, &fakeDLQ{}
	p := parkingProcessor(vs, pk, dl, NewIndex(nil, 0, zerolog.Nop()), nil)
	msg, ev := recordFor(t, "u1", "ev-1", 7)
	if err := p.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatalf("Process: %v", err)
	}
	recs := pk.records()
	t.Logf("parked %d (topics %v), dead-lettered %d, slow vendor calls %d", len(recs), pk.tops, len(dl.records()), slow.calls.Load())
	if len(recs) != 1 || recs[0].Reason != retrytopic.ReasonInlineBudget || recs[0].Vendor != "exotel" || pk.tops[0] != "user-deleted.retry.exotel" {
		t.Fatalf("parked %+v to %v, want one exotel part, inline_budget", recs, pk.tops)
	}
	if r := recs[0]; r.OriginalOffset != 7 || r.EventID != "ev-1" || r.Due.Sub(r.ParkedAt) != retrytopic.DefaultFirstWait || r.Step != 1 {
		t.Errorf("record coordinates/due wrong: %+v", r)
	}
	if len(dl.records()) != 0 {
		t.Errorf("dead-lettered %d, want 0", len(dl.records()))
	}
}

// TestParkOutcomes: which results park, which dead-letter.
func TestParkOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		err      error
		park     retrytopic.Reason
		deadLtrs int
	}{
		{"retryable exhausted parks", retryable("exotel"), retrytopic.ReasonInlineBudget, 0},
		{"unexpected parks", &adapters.Error{Vendor: "exotel", Class: adapters.ClassUnexpected, Status: 299}, retrytopic.ReasonInlineBudget, 0},
		{"circuit refusals park as circuit_open", &adapters.Error{Vendor: "exotel", Class: adapters.ClassRetryable, Err: adapters.ErrCircuitOpen}, retrytopic.ReasonCircuitOpen, 0},
		{"permanent dead-letters", permanent("exotel"), "", 1},
		{"invalid identifier dead-letters", &adapters.Error{Vendor: "exotel", Class: adapters.ClassInvalidIdentifier}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &fakeAdapter{name: "exotel", answer: always(adapters.Failed, tc.err)}
			pk, dl := &fakeParker{}, &fakeDLQ{}
			p := parkingProcessor(vendorsOf(fastRetry(), a), pk, dl, nil, nil)
			msg, ev := recordFor(t, "u1", "ev-1", 1)
			if err := p.Process(context.Background(), msg, ev, nil); err != nil {
				t.Fatal(err)
			}
			recs := pk.records()
			if tc.park == "" && len(recs) != 0 || tc.park != "" && (len(recs) != 1 || recs[0].Reason != tc.park) {
				t.Errorf("parked %+v, want reason %q", recs, tc.park)
			}
			if len(dl.records()) != tc.deadLtrs {
				t.Errorf("dead-lettered %d, want %d", len(dl.records()), tc.deadLtrs)
			}
		})
	}
}

// TestParkBehindKeepsOrder: once a user's part is parked at a vendor,
// that user's later part there is parked behind it without a call, even
// with the vendor healthy again; another user's part runs; Done lets the
// user's next part run.
func TestParkBehindKeepsOrder(t *testing.T) {
	t.Parallel()
	var down sync.Mutex
	failing := true
	a := &fakeAdapter{name: "exotel", answer: func(context.Context, int) (adapters.Outcome, error) {
		down.Lock()
		defer down.Unlock()
		if failing {
			return adapters.Failed, retryable("exotel")
		}
		return adapters.Deleted, nil
	}}
	pk, dl := &fakeParker{}, &fakeDLQ{}
	ix := NewIndex([]string{"exotel"}, 0, zerolog.Nop())
	p := parkingProcessor(vendorsOf(fastRetry(), a), pk, dl, ix, nil)
	m1, e1 := recordFor(t, "alice", "ev-1", 1)
	if err := p.Process(context.Background(), m1, e1, nil); err != nil {
		t.Fatal(err)
	}
	down.Lock()
	failing = false
	down.Unlock()
	callsBefore := a.calls.Load()
	m2, e2 := recordFor(t, "alice", "ev-2", 2)
	if err := p.Process(context.Background(), m2, e2, nil); err != nil {
		t.Fatal(err)
	}
	m3, e3 := recordFor(t, "bob", "ev-3", 3)
	if err := p.Process(context.Background(), m3, e3, nil); err != nil {
		t.Fatal(err)
	}
	recs := pk.records()
	t.Logf("parked %d: %v/%v; calls for alice's second event %d; bob's calls %d", len(recs), recs[0].Reason, recs[len(recs)-1].Reason, a.calls.Load()-callsBefore-1, 1)
	if len(recs) != 2 || recs[0].EventID != "ev-1" || recs[1].EventID != "ev-2" || recs[1].Reason != retrytopic.ReasonBehind {
		t.Fatalf("parked %+v, want ev-1 then ev-2 behind it", recs)
	}
	if got := a.calls.Load() - callsBefore; got != 1 {
		t.Errorf("vendor called %d times after the park, want once (bob's event only)", got)
	}
	// Two records parked for alice: one finished is not enough.
	ix.Done("exotel", retrytopic.UserKey(m1, e1))
	if !ix.Parked("exotel", "alice") {
		t.Fatal("alice unparked while her second record is still parked")
	}
	ix.Done("exotel", retrytopic.UserKey(m2, e2))
	m4, e4 := recordFor(t, "alice", "ev-4", 4)
	if err := p.Process(context.Background(), m4, e4, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(pk.records()); n != 2 {
		t.Errorf("after Done, alice's next part parked again (%d parks)", n)
	}
}

// TestParkWriteFailsHoldsEvent: a retry-topic write that fails leaves the
// event unfinished, exactly as a failed dead-letter write does.
func TestParkWriteFailsHoldsEvent(t *testing.T) {
	t.Parallel()
	a := &fakeAdapter{name: "exotel", answer: always(adapters.Failed, retryable("exotel"))}
	writeErr := errors.New("retry-topic write to user-deleted.retry.exotel abandoned: unknown topic")
	pk := &fakeParker{fail: func(context.Context) error { return writeErr }}
	ix := NewIndex(nil, 0, zerolog.Nop())
	p := parkingProcessor(vendorsOf(fastRetry(), a), pk, &fakeDLQ{}, ix, nil)
	msg, ev := recordFor(t, "u1", "ev-1", 1)
	err := p.Process(context.Background(), msg, ev, nil)
	t.Logf("Process = %v", err)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, writeErr) {
		t.Fatalf("Process = %v, want ErrInterrupted and the write error", err)
	}
	if ix.Parked("exotel", "u1") {
		t.Error("a failed park marked the user parked")
	}
}

// TestParkCircuitOpensWhileWaiting: a part waiting on a long backoff at a
// vendor is parked as soon as that vendor's circuit opens, not when its
// budget runs out.
func TestParkCircuitOpensWhileWaiting(t *testing.T) {
	t.Parallel()
	bc := adapters.DefaultBreakerConfig()
	bc.ConsecutiveFailures, bc.FailureRatio, bc.Cooldown = 1, 0, time.Hour
	b := adapters.NewBreaker("exotel", bc)
	a := &fakeAdapter{name: "exotel", answer: always(adapters.Failed, retryable("exotel"))}
	rc := fastRetry()
	rc.InitialInterval, rc.MaxInterval, rc.MaxElapsedTime, rc.MaxAttempts = time.Hour, time.Hour, 2*time.Hour, 5
	vs := []Vendor{{Adapter: a, Retrier: adapters.NewRetrier(rc, adapters.WithBreaker(b)), Breaker: b, InlineBudget: time.Hour}}
	pk := &fakeParker{}
	p := parkingProcessor(vs, pk, &fakeDLQ{}, nil, nil)
	done := make(chan error, 1)
	msg, ev := recordFor(t, "u1", "ev-1", 1)
	go func() { done <- p.Process(context.Background(), msg, ev, nil) }()
	// The adapter is not behind the breaker's transport here, so open
	// the circuit the way a failing request would.
	time.Sleep(50 * time.Millisecond)
	d, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	d(context.Background(), nil, errors.New("connection refused"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	recs := pk.records()
	t.Logf("parked %d, reason %v, attempts %d", len(recs), recs[0].Reason, recs[0].Attempts)
	if len(recs) != 1 || recs[0].Reason != retrytopic.ReasonCircuitOpen {
		t.Fatalf("parked %+v, want one circuit_open", recs)
	}
}

// TestPauseFile: a vendor listed in the pause file is paused, and
// unpaused once the file drops it; configured pauses stay.
func TestPauseFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "paused")
	p := NewPauses([]string{"plivo", "webex", "exotel"}, map[string]bool{"plivo": true}, path, zerolog.Nop())
	if !p.Paused("plivo") || p.Paused("webex") {
		t.Fatal("before the file: want plivo (config) paused only")
	}
	if err := os.WriteFile(path, []byte("# incident 42\n Webex  # revoked token\nnope\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Reload()
	if !p.Paused("webex") || p.Paused("exotel") || !p.Paused("plivo") {
		t.Fatal("with the file: want plivo and webex paused")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	p.Reload()
	if p.Paused("webex") || !p.Paused("plivo") {
		t.Fatal("file removed: want webex unpaused, plivo still paused")
	}
	// Paused parts are parked without a call.
	a := &fakeAdapter{name: "webex", answer: always(adapters.Deleted, nil)}
	pk := &fakeParker{}
	if err := os.WriteFile(path, []byte("webex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Reload()
	proc := parkingProcessor(vendorsOf(fastRetry(), a), pk, &fakeDLQ{}, nil, p)
	msg, ev := recordFor(t, "u1", "ev-1", 1)
	if err := proc.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != 0 || len(pk.records()) != 1 || pk.records()[0].Reason != retrytopic.ReasonPaused {
		t.Errorf("paused vendor: calls %d, parks %+v", a.calls.Load(), pk.records())
	}
}

func FuzzParsePauseFile(f *testing.F) {
	f.Add([]byte("plivo\n# c\n webex # x\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, n := range ParsePauseFile(data) {
			if n == "" || n != n || len(n) > len(data) {
				t.Fatalf("bad name %q", n)
			}
		}
	})
}

// TestIndexCap: past its cap the index parks every user of the vendor
// behind until Drained.
func TestIndexCap(t *testing.T) {
	t.Parallel()
	ix := NewIndex([]string{"exotel"}, 2, zerolog.Nop())
	ix.Add("exotel", "a")
	ix.Add("exotel", "b")
	if ix.Parked("exotel", "c") {
		t.Fatal("c parked before the cap")
	}
	ix.Add("exotel", "c")
	st := ix.Stats("exotel")
	t.Logf("after the cap: %+v", st)
	if !st.Overflowed || !ix.Parked("exotel", "zzz") {
		t.Fatal("past the cap every user should read parked")
	}
	ix.Drained("exotel")
	if ix.Parked("exotel", "a") || ix.Stats("exotel").Overflowed {
		t.Fatal("Drained should clear the vendor")
	}
}

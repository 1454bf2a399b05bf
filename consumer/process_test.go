package consumer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// fakeAdapter answers each Delete with what answer says for that call
// (1-based), and counts calls.
type fakeAdapter struct {
	name   string
	answer func(ctx context.Context, call int) (adapters.Outcome, error)
	calls  atomic.Int32
}

func (a *fakeAdapter) Name() string { return a.name }

func (a *fakeAdapter) Delete(ctx context.Context, _ *event.UserDeleted) (adapters.Outcome, error) {
	n := int(a.calls.Add(1))
	return a.answer(ctx, n)
}

func always(o adapters.Outcome, err error) func(context.Context, int) (adapters.Outcome, error) {
	return func(context.Context, int) (adapters.Outcome, error) { return o, err }
}

// fakeDLQ records what Publish is given; fail, when set, decides Publish's
// error.
type fakeDLQ struct {
	mu   sync.Mutex
	recs []dlq.Record
	fail func(ctx context.Context) error
}

func (d *fakeDLQ) Publish(ctx context.Context, rec dlq.Record) error {
	if d.fail != nil {
		if err := d.fail(ctx); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs = append(d.recs, rec)
	return nil
}

func (d *fakeDLQ) records() []dlq.Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.recs)
}

// outcomeRecorder is a ProcessObserver that keeps what it hears.
type outcomeRecorder struct {
	mu       sync.Mutex
	outcomes []Outcome
	vendors  map[string]adapters.Outcome
}

func (o *outcomeRecorder) Finished(out Outcome, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes = append(o.outcomes, out)
}

func (o *outcomeRecorder) VendorResult(r adapters.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.vendors == nil {
		o.vendors = map[string]adapters.Outcome{}
	}
	o.vendors[r.Vendor] = r.Outcome
}

// fastRetry retries at once, twice at most.
func fastRetry() adapters.RetryConfig {
	return adapters.RetryConfig{
		InitialInterval: time.Millisecond,
		MaxInterval:     time.Millisecond,
		Multiplier:      1,
		MaxElapsedTime:  time.Minute,
		MaxAttempts:     2,
		RequestTimeout:  time.Minute,
		InlineBudget:    time.Minute,
		Schedule:        adapters.DefaultSchedule(),
		GiveUpAfter:     time.Hour,
		MaxPending:      16,
	}
}

func vendorsOf(cfg adapters.RetryConfig, as ...*fakeAdapter) []Vendor {
	vs := make([]Vendor, len(as))
	for i, a := range as {
		if err := cfg.Validate(); err != nil {
			panic(err)
		}
		vs[i] = Vendor{Adapter: a, Retrier: adapters.NewRetrier(cfg)}
	}
	return vs
}

const testUser = "user-7f3a9c-secret"

// validRecord returns a record carrying a valid plain-JSON event.
func validRecord(t *testing.T, headers ...kafka.Header) kafka.Message {
	t.Helper()
	v, err := event.Encode(&event.UserDeleted{
		EventID:     "ev-123",
		UserID:      testUser,
		OccurredAt:  time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{"email": "someone@example.com"},
	})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return kafka.Message{Topic: "user-deleted", Partition: 2, Offset: 41, Key: []byte(testUser), Value: v, Headers: headers}
}

func permanent(vendor string) error {
	return &adapters.Error{Vendor: vendor, Class: adapters.ClassPermanent, Status: 400, Code: "E_BAD_ID", Message: "invalid profile id"}
}

func retryable(vendor string) error {
	return &adapters.Error{Vendor: vendor, Class: adapters.ClassRetryable, Status: 503, Message: "service unavailable"}
}

func TestProcessorOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		a, b, c  func(context.Context, int) (adapters.Outcome, error)
		wantOut  Outcome
		reason   dlq.Reason // "" when nothing is dead-lettered
		failures []dlq.Failure
	}{
		{
			name: "all deleted",
			a:    always(adapters.Deleted, nil), b: always(adapters.Deleted, nil), c: always(adapters.Deleted, nil),
			wantOut: OutcomeDone,
		},
		{
			name: "not applicable and already absent are final",
			a:    always(adapters.NotApplicable, nil), b: always(adapters.AlreadyAbsent, nil), c: always(adapters.Deleted, nil),
			wantOut: OutcomeDone,
		},
		{
			name: "retryable failure that recovers",
			a:    always(adapters.Deleted, nil),
			b: func(_ context.Context, n int) (adapters.Outcome, error) {
				if n == 1 {
					return adapters.Failed, retryable("b")
				}
				return adapters.Deleted, nil
			},
			c:       always(adapters.Deleted, nil),
			wantOut: OutcomeDone,
		},
		{
			name: "one permanent error",
			a:    always(adapters.Deleted, nil), b: always(adapters.Failed, permanent("b")), c: always(adapters.AlreadyAbsent, nil),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonPermanentError,
			failures: []dlq.Failure{
				{Vendor: "b", Class: "permanent", Status: 400, Code: "E_BAD_ID", Message: "invalid profile id", Attempts: 1},
			},
		},
		{
			name: "retries exhausted",
			a:    always(adapters.Failed, retryable("a")), b: always(adapters.Deleted, nil), c: always(adapters.Deleted, nil),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonRetriesExhausted,
			failures: []dlq.Failure{
				{Vendor: "a", Class: "retryable", Status: 503, Message: "service unavailable", Attempts: 2},
			},
		},
		{
			name: "exhausted and permanent together are permanent",
			a:    always(adapters.Failed, retryable("a")), b: always(adapters.Deleted, nil), c: always(adapters.Failed, permanent("c")),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonPermanentError,
			failures: []dlq.Failure{
				{Vendor: "a", Class: "retryable", Status: 503, Message: "service unavailable", Attempts: 2},
				{Vendor: "c", Class: "permanent", Status: 400, Code: "E_BAD_ID", Message: "invalid profile id", Attempts: 1},
			},
		},
		{
			name: "adapter returning a non-final outcome without error is unexpected",
			a:    always(adapters.OutcomeUnknown, nil), b: always(adapters.Deleted, nil), c: always(adapters.Deleted, nil),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonPermanentError,
			failures: []dlq.Failure{
				{Vendor: "a", Class: "unexpected", Message: "adapter returned outcome unknown", Attempts: 1},
			},
		},
		{
			name: "plain error (not *adapters.Error) is retryable and carried as message",
			a:    always(adapters.Failed, errors.New("connection reset")), b: always(adapters.Deleted, nil), c: always(adapters.Deleted, nil),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonRetriesExhausted,
			failures: []dlq.Failure{
				{Vendor: "a", Class: "retryable", Message: "connection reset", Attempts: 2},
			},
		},
		{
			// Adapters redact their own messages; an error no adapter built
			// is redacted on its way into the dead-letter record.
			name:    "identifiers in an unclassified error are redacted",
			a:       always(adapters.Failed, errors.New("Delete \"https://api.example/profiles/"+testUser+"?email=someone@example.com\": connection reset")),
			b:       always(adapters.Failed, &adapters.Error{Vendor: "b", Class: adapters.ClassPermanent, Status: 404, Code: testUser, Message: "no profile someone@example.com"}),
			c:       always(adapters.Deleted, nil),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonPermanentError,
			failures: []dlq.Failure{
				{Vendor: "a", Class: "retryable", Message: `Delete "https://api.example/profiles/[redacted]?email=[redacted]": connection reset`, Attempts: 2},
				{Vendor: "b", Class: "permanent", Status: 404, Code: "[redacted]", Message: "no profile [redacted]", Attempts: 1},
			},
		},
		{
			// Only the event's own context ending is an interruption;
			// anything else would hold the commit point until a
			// rebalance.
			name: "context error made up by an adapter while the event's context is live",
			a:    always(adapters.Failed, context.Canceled), b: always(adapters.Deleted, nil), c: always(adapters.Deleted, nil),
			wantOut: OutcomeDeadLettered,
			reason:  dlq.ReasonRetriesExhausted,
			failures: []dlq.Failure{
				{Vendor: "a", Class: "retryable", Message: "context canceled", Attempts: 2},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &fakeAdapter{name: "a", answer: tc.a}
			b := &fakeAdapter{name: "b", answer: tc.b}
			c := &fakeAdapter{name: "c", answer: tc.c}
			dl := &fakeDLQ{}
			obs := &outcomeRecorder{}
			p := NewProcessor(vendorsOf(fastRetry(), a, b, c), dl, event.DecodeOptions{}, zerolog.Nop(), obs)

			msg := validRecord(t)
			ev, decErr := p.Decode(msg)
			if decErr != nil {
				t.Fatalf("Decode: %v", decErr)
			}
			if err := p.Process(context.Background(), msg, ev, nil); err != nil {
				t.Fatalf("Process = %v, want nil", err)
			}
			if fmt.Sprint(obs.outcomes) != fmt.Sprint([]Outcome{tc.wantOut}) {
				t.Fatalf("observed outcomes %v, want [%s]", obs.outcomes, tc.wantOut)
			}
			for _, f := range []*fakeAdapter{a, b, c} {
				if f.calls.Load() == 0 {
					t.Errorf("vendor %s was not called", f.name)
				}
			}
			recs := dl.records()
			if tc.reason == "" {
				if len(recs) != 0 {
					t.Fatalf("dead-lettered %+v, want nothing", recs)
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d dead-letter records, want 1", len(recs))
			}
			r := recs[0]
			if r.Reason != tc.reason {
				t.Errorf("Reason = %s, want %s", r.Reason, tc.reason)
			}
			if r.EventID != "ev-123" {
				t.Errorf("EventID = %q", r.EventID)
			}
			if r.Original.Offset != msg.Offset || string(r.Original.Value) != string(msg.Value) {
				t.Errorf("Original = %+v, want the processed record", r.Original)
			}
			got := slices.Clone(r.Failures)
			slices.SortFunc(got, func(x, y dlq.Failure) int { return strings.Compare(x.Vendor, y.Vendor) })
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.failures) {
				t.Errorf("Failures =\n %+v\nwant\n %+v", got, tc.failures)
			}
			if r.FirstFailure.IsZero() || r.LastFailure.IsZero() || r.LastFailure.Before(r.FirstFailure) {
				t.Errorf("FirstFailure %v, LastFailure %v: want both set, first <= last", r.FirstFailure, r.LastFailure)
			}
			for _, f := range r.Failures {
				for _, id := range []string{testUser, "someone@example.com"} {
					if strings.Contains(f.Message, id) || strings.Contains(f.Code, id) {
						t.Errorf("failure %+v names the person", f)
					}
				}
			}
		})
	}
}

// blockForever makes the retrier's wait never end on its own.
type blockForever struct{ c chan time.Time }

func (b *blockForever) Start(time.Duration) {}
func (b *blockForever) Stop()               {}
func (b *blockForever) C() <-chan time.Time { return b.c }

// cancelOnWait cancels the event's context when the retrier starts a wait.
type cancelOnWait struct{ cancel context.CancelFunc }

func (c cancelOnWait) Attempted(string, error, time.Duration) {}
func (c cancelOnWait) Waiting(string, time.Duration, bool)    { c.cancel() }

func TestProcessorInterrupted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// vendors builds the vendors; cancel ends the event's context.
		vendors func(cancel context.CancelFunc) []Vendor
	}{
		{
			name: "cancelled during a retry wait",
			vendors: func(cancel context.CancelFunc) []Vendor {
				cfg := fastRetry()
				cfg.MaxAttempts = 10
				a := &fakeAdapter{name: "a", answer: always(adapters.Failed, retryable("a"))}
				b := &fakeAdapter{name: "b", answer: always(adapters.Deleted, nil)}
				return []Vendor{
					{Adapter: a, Retrier: adapters.NewRetrier(cfg, adapters.WithObserver(cancelOnWait{cancel}), adapters.WithTimer(&blockForever{c: make(chan time.Time)}))},
					{Adapter: b, Retrier: adapters.NewRetrier(cfg)},
				}
			},
		},
		{
			name: "cancelled during an attempt",
			vendors: func(cancel context.CancelFunc) []Vendor {
				a := &fakeAdapter{name: "a", answer: func(ctx context.Context, _ int) (adapters.Outcome, error) {
					cancel()
					<-ctx.Done()
					return adapters.Failed, &adapters.Error{Vendor: "a", Class: adapters.ClassRetryable, Message: "request cancelled", Err: ctx.Err()}
				}}
				return vendorsOf(fastRetry(), a)
			},
		},
		{
			// The permanent failure is redone on redelivery; writing it
			// now would dead-letter an event whose other vendor never
			// finished.
			name: "interrupted vendor next to a permanent failure",
			vendors: func(cancel context.CancelFunc) []Vendor {
				a := &fakeAdapter{name: "a", answer: always(adapters.Failed, permanent("a"))}
				b := &fakeAdapter{name: "b", answer: func(ctx context.Context, _ int) (adapters.Outcome, error) {
					cancel()
					<-ctx.Done()
					return adapters.Failed, ctx.Err()
				}}
				return vendorsOf(fastRetry(), a, b)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dl := &fakeDLQ{}
			obs := &outcomeRecorder{}
			p := NewProcessor(tc.vendors(cancel), dl, event.DecodeOptions{}, zerolog.Nop(), obs)
			msg := validRecord(t)
			ev, _ := p.Decode(msg)
			err := p.Process(ctx, msg, ev, nil)
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("Process = %v, want ErrInterrupted", err)
			}
			if recs := dl.records(); len(recs) != 0 {
				t.Fatalf("dead-lettered %+v on interruption", recs)
			}
			if fmt.Sprint(obs.outcomes) != "[interrupted]" {
				t.Fatalf("observed %v, want [interrupted]", obs.outcomes)
			}
		})
	}
}

func TestProcessorDeadLetterAbandoned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		msg     func(t *testing.T) kafka.Message
		adapter func(context.Context, int) (adapters.Outcome, error)
	}{
		{name: "vendor failure", msg: func(t *testing.T) kafka.Message { return validRecord(t) }, adapter: always(adapters.Failed, permanent("a"))},
		{name: "invalid event", msg: func(*testing.T) kafka.Message { return kafka.Message{Offset: 3, Value: []byte("{")} }, adapter: always(adapters.Deleted, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			entered := make(chan struct{})
			// Publish keeps failing until its context ends, as
			// dlq.Publisher does while the broker is down.
			dl := &fakeDLQ{fail: func(ctx context.Context) error {
				close(entered)
				<-ctx.Done()
				return fmt.Errorf("dead-letter write abandoned: %w", ctx.Err())
			}}
			obs := &outcomeRecorder{}
			p := NewProcessor(vendorsOf(fastRetry(), &fakeAdapter{name: "a", answer: tc.adapter}), dl, event.DecodeOptions{}, zerolog.Nop(), obs)
			msg := tc.msg(t)
			ev, decErr := p.Decode(msg)
			done := make(chan error, 1)
			go func() { done <- p.Process(ctx, msg, ev, decErr) }()
			select {
			case <-entered:
			case <-time.After(guard):
				t.Fatal("Publish was not called")
			}
			cancel()
			var err error
			select {
			case err = <-done:
			case <-time.After(guard):
				t.Fatal("Process did not return after its context ended")
			}
			if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Process = %v, want ErrInterrupted wrapping context.Canceled", err)
			}
			if fmt.Sprint(obs.outcomes) != "[interrupted]" {
				t.Fatalf("observed %v, want [interrupted]", obs.outcomes)
			}
		})
	}
}

func TestProcessorInvalidEvent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		value  string
		detail []string // substrings Detail must hold
	}{
		{
			name:   "missing event_id",
			value:  `{"user_id":"` + testUser + `","occurred_at":"2025-03-01T12:00:00Z"}`,
			detail: []string{"missing_field", "event_id"},
		},
		{
			name:   "bad time",
			value:  `{"event_id":"e1","user_id":"` + testUser + `","occurred_at":"yesterday"}`,
			detail: []string{"invalid_field", "occurred_at"},
		},
		{name: "not JSON", value: testUser, detail: []string{"malformed"}},
		{name: "tombstone", value: "", detail: []string{"malformed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := &fakeAdapter{name: "a", answer: always(adapters.Deleted, nil)}
			dl := &fakeDLQ{}
			obs := &outcomeRecorder{}
			p := NewProcessor(vendorsOf(fastRetry(), a), dl, event.DecodeOptions{}, zerolog.Nop(), obs)
			msg := kafka.Message{Topic: "user-deleted", Offset: 9, Key: []byte(testUser), Value: []byte(tc.value)}
			ev, decErr := p.Decode(msg)
			if decErr == nil || ev != nil {
				t.Fatalf("Decode = %v, %v; want an error", ev, decErr)
			}
			if err := p.Process(context.Background(), msg, ev, decErr); err != nil {
				t.Fatalf("Process = %v", err)
			}
			if n := a.calls.Load(); n != 0 {
				t.Fatalf("vendor called %d times for an invalid event", n)
			}
			recs := dl.records()
			if len(recs) != 1 {
				t.Fatalf("%d dead-letter records, want 1", len(recs))
			}
			r := recs[0]
			if r.Reason != dlq.ReasonInvalidEvent || len(r.Failures) != 0 || r.EventID != "" {
				t.Fatalf("record %+v, want reason invalid_event, no failures, no event id", r)
			}
			for _, s := range tc.detail {
				if !strings.Contains(r.Detail, s) {
					t.Errorf("Detail %q does not say %q", r.Detail, s)
				}
			}
			if strings.Contains(r.Detail, testUser) {
				t.Errorf("Detail %q names the user", r.Detail)
			}
			if string(r.Original.Key) != testUser || string(r.Original.Value) != tc.value {
				t.Errorf("Original not kept: %+v", r.Original)
			}
			if fmt.Sprint(obs.outcomes) != "[invalid]" {
				t.Fatalf("observed %v, want [invalid]", obs.outcomes)
			}
		})
	}
}

// TestProcessorOnlyVendors: a signed restriction limits the vendors
// called; a vendor it names that this deployment does not call is
// dead-lettered as not configured, as the deletion there is still owed.
func TestProcessorOnlyVendors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vendors []string // nil: no header
		called  []string
		// deadLettered lists the vendors dead-lettered as not configured:
		// the deletion there is still owed.
		deadLettered string
	}{
		{name: "no header: all vendors", vendors: nil, called: []string{"a", "b", "c"}},
		{name: "one vendor", vendors: []string{"b"}, called: []string{"b"}},
		{name: "two vendors and an unknown name", vendors: []string{"c", "removed-vendor", "a"}, called: []string{"a", "c"}, deadLettered: "removed-vendor"},
		{name: "only unknown vendors: dead-lettered, nothing called", vendors: []string{"removed-vendor"}, called: nil, deadLettered: "removed-vendor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var as []*fakeAdapter
			for _, n := range []string{"a", "b", "c"} {
				as = append(as, &fakeAdapter{name: n, answer: always(adapters.Deleted, nil)})
			}
			dl := &fakeDLQ{}
			p := NewProcessor(vendorsOf(fastRetry(), as...), dl, event.DecodeOptions{}, zerolog.Nop(), nil)
			p.VerifyRestrictions(dlq.NewKeyring(testReplayKey), nil)
			msg := validRecord(t)
			if tc.vendors != nil {
				msg = replayed(t, testReplayKey, tc.vendors...)
			}
			ev, err := p.Decode(msg)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if err := p.Process(context.Background(), msg, ev, nil); err != nil {
				t.Fatalf("Process = %v", err)
			}
			var called []string
			for _, a := range as {
				switch n := a.calls.Load(); n {
				case 0:
				case 1:
					called = append(called, a.name)
				default:
					t.Errorf("vendor %s called %d times", a.name, n)
				}
			}
			if fmt.Sprint(called) != fmt.Sprint(tc.called) {
				t.Fatalf("called %v, want %v", called, tc.called)
			}
			recs := dl.records()
			if tc.deadLettered == "" {
				if len(recs) != 0 {
					t.Fatal("dead-lettered")
				}
				return
			}
			if len(recs) != 1 {
				t.Fatalf("%d dead-letter records, want 1", len(recs))
			}
			r := recs[0]
			if r.Reason != dlq.ReasonPermanentError || len(r.Failures) != 1 ||
				r.Failures[0].Vendor != tc.deadLettered || r.Failures[0].Class != dlq.ClassNotConfigured {
				t.Fatalf("dead-letter record %+v, want %s as %s", r, tc.deadLettered, dlq.ClassNotConfigured)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestProcessorVendorsInParallel: each adapter waits for the other to have
// started, which only ends if they run at the same time.
func TestProcessorVendorsInParallel(t *testing.T) {
	t.Parallel()
	started := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	meet := func(self, other string) func(context.Context, int) (adapters.Outcome, error) {
		return func(ctx context.Context, _ int) (adapters.Outcome, error) {
			close(started[self])
			select {
			case <-started[other]:
				return adapters.Deleted, nil
			case <-time.After(guard):
				t.Errorf("vendor %s: vendor %s never started while %s ran: vendors run one at a time", self, other, self)
				return adapters.Failed, permanent(self)
			}
		}
	}
	a := &fakeAdapter{name: "a", answer: meet("a", "b")}
	b := &fakeAdapter{name: "b", answer: meet("b", "a")}
	dl := &fakeDLQ{}
	p := NewProcessor(vendorsOf(fastRetry(), a, b), dl, event.DecodeOptions{}, zerolog.Nop(), nil)
	msg := validRecord(t)
	ev, _ := p.Decode(msg)
	if err := p.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatalf("Process = %v", err)
	}
	if len(dl.records()) != 0 {
		t.Fatal("dead-lettered")
	}
}

// TestProcessorCarriesHeadersToDecode: Decode sees the record's headers, so
// a CloudEvents binary-mode record decodes.
func TestProcessorDecodeHeaders(t *testing.T) {
	t.Parallel()
	p := NewProcessor(nil, &fakeDLQ{}, event.DecodeOptions{}, zerolog.Nop(), nil)
	msg := kafka.Message{
		Key:   []byte(testUser),
		Value: []byte(`{"user_id":"` + testUser + `"}`),
		Headers: []kafka.Header{
			{Key: "ce_specversion", Value: []byte("1.0")},
			{Key: "ce_id", Value: []byte("ce-1")},
			{Key: "ce_source", Value: []byte("/accounts")},
			{Key: "ce_type", Value: []byte(event.TypeUserDeleted)},
			{Key: "ce_time", Value: []byte("2025-03-01T12:00:00Z")},
		},
	}
	ev, err := p.Decode(msg)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if ev.EventID != "ce-1" || ev.UserID != testUser {
		t.Fatalf("Decode = %+v", ev)
	}
	// Without the headers the same value is not an event.
	msg.Headers = nil
	if _, err := p.Decode(msg); err == nil {
		t.Fatal("Decode accepted a value without event_id")
	}
}

// logLines decodes what a JSON logger wrote, one record a line.
func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestProcessorLogLevels: a person watching at info sees what went wrong,
// not a line per event; debug shows every event.
func TestProcessorLogLevels(t *testing.T) {
	t.Parallel()
	valid := func(t *testing.T) kafka.Message { return validRecord(t) }
	tests := []struct {
		name      string
		adapter   func(context.Context, int) (adapters.Outcome, error)
		record    func(t *testing.T) kafka.Message
		wantLevel string // of the event's line; "" for none at info
		wantMsg   string
	}{
		{"done", always(adapters.Deleted, nil), valid, "debug", "event done"},
		{"already absent", always(adapters.AlreadyAbsent, nil), valid, "debug", "event done"},
		{"dead-lettered", always(adapters.Failed, permanent("a")), valid, "warn", "event dead-lettered"},
		{"invalid", always(adapters.Deleted, nil), func(*testing.T) kafka.Message { return kafka.Message{Offset: 3, Value: []byte("{")} }, "warn", "invalid event dead-lettered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, level := range []zerolog.Level{zerolog.InfoLevel, zerolog.DebugLevel} {
				var buf bytes.Buffer
				log := zerolog.New(&buf).Level(level)
				p := NewProcessor(vendorsOf(fastRetry(), &fakeAdapter{name: "a", answer: tc.adapter}), &fakeDLQ{}, event.DecodeOptions{}, log, nil)
				msg := tc.record(t)
				ev, decErr := p.Decode(msg)
				if err := p.Process(context.Background(), msg, ev, decErr); err != nil {
					t.Fatal(err)
				}
				lines := logLines(t, buf.String())
				if level == zerolog.InfoLevel && tc.wantLevel == "debug" {
					if len(lines) != 0 {
						t.Errorf("at info, logged %v; per-event lines belong at debug", lines)
					}
					continue
				}
				if len(lines) != 1 || lines[0]["level"] != tc.wantLevel || lines[0]["message"] != tc.wantMsg {
					t.Errorf("at %s, logged %v; want one %s line %q", level, lines, tc.wantLevel, tc.wantMsg)
				}
			}
		})
	}
}

// TestProcessorInterruptedVendorsSayInterrupted: an event handed back at a
// stop names the vendors it did not finish as interrupted, not as failed,
// in its log line and in the vendor results metric.
func TestProcessorInterruptedVendorsSayInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := fastRetry()
	cfg.MaxAttempts = 10
	// "waiting" is cancelled in a retry wait, "queued" while waiting for
	// its limiter, before any attempt: the line said attempts 0, failed.
	waiting := &fakeAdapter{name: "waiting", answer: always(adapters.Failed, retryable("waiting"))}
	queued := &fakeAdapter{name: "queued", answer: always(adapters.Deleted, nil)}
	full := adapters.NewLimiter(adapters.LimitConfig{}, 1)
	hold, err := full.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer full.Release(hold, nil)
	vendors := []Vendor{
		{Adapter: waiting, Retrier: adapters.NewRetrier(cfg, adapters.WithObserver(cancelOnWait{cancel}), adapters.WithTimer(&blockForever{c: make(chan time.Time)}))},
		{Adapter: queued, Retrier: adapters.NewRetrier(cfg, adapters.WithLimiter(full))},
	}
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	p := NewProcessor(vendors, &fakeDLQ{}, event.DecodeOptions{}, zerolog.New(&buf).Level(zerolog.DebugLevel), m)
	msg := validRecord(t)
	ev, _ := p.Decode(msg)
	if err := p.Process(ctx, msg, ev, nil); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Process = %v, want ErrInterrupted", err)
	}
	lines := logLines(t, buf.String())
	if len(lines) != 1 {
		t.Fatalf("logged %v, want one line", lines)
	}
	vs, _ := lines[0]["vendors"].(map[string]any)
	for _, name := range []string{"waiting", "queued"} {
		if d, _ := vs[name].(map[string]any); d["outcome"] != "interrupted" {
			t.Errorf("vendor %s: outcome %v, want interrupted (line %v)", name, d["outcome"], lines[0])
		}
		if got := value(t, m.vendorResults.WithLabelValues(name, "interrupted")); got != 1 {
			t.Errorf("erasured_vendor_results_total{vendor=%q,outcome=\"interrupted\"} = %g, want 1", name, got)
		}
	}
}

// TestLogEventVendorOutcomes labels each vendor of an interrupted event's
// line: what finished or failed says so, what was cut short says
// interrupted. (Process cannot order a cancel after other vendors' last
// check of their context, so the mix is built here.)
func TestLogEventVendorOutcomes(t *testing.T) {
	t.Parallel()
	results := []adapters.Result{
		{Vendor: "done", Outcome: adapters.Deleted, Attempts: 1},
		{Vendor: "perm", Outcome: adapters.Failed, Attempts: 1, Err: permanent("perm")},
		{Vendor: "cut", Outcome: adapters.Failed, Attempts: 0, Err: context.Canceled},
	}
	for _, tc := range []struct {
		outcome Outcome
		want    map[string]string
	}{
		{OutcomeInterrupted, map[string]string{"done": "deleted", "perm": "failed", "cut": "interrupted"}},
		{OutcomeDeadLettered, map[string]string{"perm": "failed", "cut": "failed"}},
	} {
		var buf bytes.Buffer
		p := NewProcessor(nil, &fakeDLQ{}, event.DecodeOptions{}, zerolog.New(&buf), nil)
		msg := validRecord(t)
		ev, _ := p.Decode(msg)
		p.logEvent(zerolog.WarnLevel, msg, ev, results, tc.outcome, time.Now()).Msg("x")
		lines := logLines(t, buf.String())
		vs, _ := lines[0]["vendors"].(map[string]any)
		if len(vs) != len(tc.want) {
			t.Errorf("%s: vendors %v, want %v", tc.outcome, vs, tc.want)
		}
		for name, want := range tc.want {
			if d, _ := vs[name].(map[string]any); d["outcome"] != want {
				t.Errorf("%s: vendor %s outcome %v, want %s", tc.outcome, name, d["outcome"], want)
			}
		}
	}
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, r := range results {
		m.VendorResult(r)
	}
	for name, want := range map[string]string{"done": "deleted", "perm": "failed", "cut": "interrupted"} {
		if got := value(t, m.vendorResults.WithLabelValues(name, want)); got != 1 {
			t.Errorf("vendor results {%s,%s} = %g, want 1", name, want, got)
		}
	}
}

// TestProcessorDeadLetterLineNamesFailures: the warning lists the vendors
// that failed, not the ones that finished.
func TestProcessorDeadLetterLineNamesFailures(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	ok := &fakeAdapter{name: "ok", answer: always(adapters.Deleted, nil)}
	bad := &fakeAdapter{name: "bad", answer: always(adapters.Failed, permanent("bad"))}
	p := NewProcessor(vendorsOf(fastRetry(), ok, bad), &fakeDLQ{}, event.DecodeOptions{}, zerolog.New(&buf), nil)
	msg := validRecord(t)
	ev, _ := p.Decode(msg)
	if err := p.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatal(err)
	}
	lines := logLines(t, buf.String())
	if len(lines) != 1 {
		t.Fatalf("logged %v", lines)
	}
	vs, _ := lines[0]["vendors"].(map[string]any)
	if _, has := vs["ok"]; has || len(vs) != 1 {
		t.Errorf("vendors %v, want only the failed one", vs)
	}
	if d, _ := vs["bad"].(map[string]any); d["class"] != "permanent" || d["status"] != 400.0 {
		t.Errorf("failed vendor %v", vs["bad"])
	}
}

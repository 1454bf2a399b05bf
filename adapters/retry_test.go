package adapters

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// step is one scripted answer of fakeAdapter.
type step struct {
	out Outcome
	err error
	// block waits for the attempt's context and returns its error, as an
	// adapter stuck on a slow vendor does.
	block bool
	// before runs at the start of the attempt.
	before func()
}

// fakeAdapter answers from a script; the last step repeats.
type fakeAdapter struct {
	mu    sync.Mutex
	steps []step
	calls int
}

func (f *fakeAdapter) Name() string { return "fake" }

func (f *fakeAdapter) Delete(ctx context.Context, _ *event.UserDeleted) (Outcome, error) {
	f.mu.Lock()
	s := f.steps[min(f.calls, len(f.steps)-1)]
	f.calls++
	f.mu.Unlock()
	if s.before != nil {
		s.before()
	}
	if s.block {
		<-ctx.Done()
		return Failed, ctx.Err()
	}
	return s.out, s.err
}

func (f *fakeAdapter) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeTimer records the waits asked for. It fires at once, or, with hold,
// never, telling started instead, so a test can act mid-wait.
type fakeTimer struct {
	mu      sync.Mutex
	waits   []time.Duration
	c       chan time.Time
	hold    bool
	started chan time.Duration
}

func newFakeTimer(hold bool) *fakeTimer {
	return &fakeTimer{c: make(chan time.Time, 1), hold: hold, started: make(chan time.Duration, 16)}
}

func (t *fakeTimer) Start(d time.Duration) {
	t.mu.Lock()
	t.waits = append(t.waits, d)
	t.mu.Unlock()
	if t.hold {
		t.started <- d
		return
	}
	t.c <- time.Now()
}

func (t *fakeTimer) Stop()                  {}
func (t *fakeTimer) C() <-chan time.Time    { return t.c }
func (t *fakeTimer) Waits() []time.Duration { t.mu.Lock(); defer t.mu.Unlock(); return t.waits }

type waitCall struct {
	d              time.Duration
	fromRetryAfter bool
}

type recordingObserver struct {
	mu       sync.Mutex
	attempts []error
	waits    []waitCall
}

func (o *recordingObserver) Attempted(vendor string, err error, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if vendor != "fake" || took < 0 {
		panic(fmt.Sprintf("Attempted(%q, _, %s)", vendor, took))
	}
	o.attempts = append(o.attempts, err)
}

func (o *recordingObserver) Waiting(vendor string, d time.Duration, fromRetryAfter bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if vendor != "fake" {
		panic("Waiting for " + vendor)
	}
	o.waits = append(o.waits, waitCall{d, fromRetryAfter})
}

// testRetryConfig has no jitter, so waits are exact: 1s, 2s, 4s...
func testRetryConfig() RetryConfig {
	return RetryConfig{
		InitialInterval:     time.Second,
		MaxInterval:         time.Hour,
		Multiplier:          2,
		RandomizationFactor: 0,
		MaxElapsedTime:      24 * time.Hour,
		MaxAttempts:         5,
		RequestTimeout:      5 * time.Second,
		InlineBudget:        24 * time.Hour,
		Schedule:            DefaultSchedule(),
		GiveUpAfter:         72 * time.Hour,
		MaxPending:          100,
	}
}

func retryable(msg string) *Error {
	return &Error{Vendor: "fake", Class: ClassRetryable, Status: 503, Message: msg}
}

var testEvent = &event.UserDeleted{EventID: "e1", UserID: "u1"}

func TestRetrierDo(t *testing.T) {
	t.Parallel()
	permanent := &Error{Vendor: "fake", Class: ClassPermanent, Status: 400, Message: "bad"}
	unexpected := &Error{Vendor: "fake", Class: ClassUnexpected, Status: 200, Message: "what"}
	r1, r2, r3 := retryable("one"), retryable("two"), retryable("three")
	throttled := &Error{Vendor: "fake", Class: ClassRetryable, Status: 429, RetryAfter: 7 * time.Second}
	tooLong := &Error{Vendor: "fake", Class: ClassRetryable, Status: 429, RetryAfter: 2 * time.Hour}

	tests := []struct {
		name   string
		mutate func(*RetryConfig)
		steps  []step

		wantOutcome   Outcome
		wantErr       error // compared with errors.Is; nil means none
		wantClass     Class // checked when wantErr is nil and the outcome is Failed
		wantAttempts  int
		wantExhausted bool
		wantWaits     []waitCall
		wantFailures  bool
	}{
		{
			name:         "success first try",
			steps:        []step{{out: Deleted}},
			wantOutcome:  Deleted,
			wantAttempts: 1,
		},
		{
			name:         "already absent is final",
			steps:        []step{{out: AlreadyAbsent}},
			wantOutcome:  AlreadyAbsent,
			wantAttempts: 1,
		},
		{
			name:         "not applicable is final",
			steps:        []step{{out: NotApplicable}},
			wantOutcome:  NotApplicable,
			wantAttempts: 1,
		},
		{
			name:         "retryable then success",
			steps:        []step{{out: Failed, err: r1}, {out: Failed, err: r2}, {out: Deleted}},
			wantOutcome:  Deleted,
			wantAttempts: 3,
			wantWaits:    []waitCall{{time.Second, false}, {2 * time.Second, false}},
			wantFailures: true,
		},
		{
			name:         "plain error counts as retryable",
			steps:        []step{{out: Failed, err: errors.New("connection reset")}, {out: AlreadyAbsent}},
			wantOutcome:  AlreadyAbsent,
			wantAttempts: 2,
			wantWaits:    []waitCall{{time.Second, false}},
			wantFailures: true,
		},
		{
			name:         "permanent stops at once",
			steps:        []step{{out: Failed, err: permanent}, {out: Deleted}},
			wantOutcome:  Failed,
			wantErr:      permanent,
			wantAttempts: 1,
			wantFailures: true,
		},
		{
			name:         "unexpected stops at once",
			steps:        []step{{out: Failed, err: unexpected}, {out: Deleted}},
			wantOutcome:  Failed,
			wantErr:      unexpected,
			wantAttempts: 1,
			wantFailures: true,
		},
		{
			name:         "permanent after retryable is not exhausted",
			steps:        []step{{out: Failed, err: r1}, {out: Failed, err: permanent}},
			wantOutcome:  Failed,
			wantErr:      permanent,
			wantAttempts: 2,
			wantWaits:    []waitCall{{time.Second, false}},
			wantFailures: true,
		},
		{
			name:          "max attempts reached",
			mutate:        func(c *RetryConfig) { c.MaxAttempts = 3 },
			steps:         []step{{out: Failed, err: r1}, {out: Failed, err: r2}, {out: Failed, err: r3}, {out: Deleted}},
			wantOutcome:   Failed,
			wantErr:       r3,
			wantAttempts:  3,
			wantExhausted: true,
			wantWaits:     []waitCall{{time.Second, false}, {2 * time.Second, false}},
			wantFailures:  true,
		},
		{
			name:          "one attempt allowed",
			mutate:        func(c *RetryConfig) { c.MaxAttempts = 1 },
			steps:         []step{{out: Failed, err: r1}, {out: Deleted}},
			wantOutcome:   Failed,
			wantErr:       r1,
			wantAttempts:  1,
			wantExhausted: true,
			wantFailures:  true,
		},
		{
			// Waits of 1m then 2m: the second would end past 90s.
			name: "max elapsed time reached",
			mutate: func(c *RetryConfig) {
				c.InitialInterval = time.Minute
				c.MaxElapsedTime = 90 * time.Second
				c.MaxAttempts = 100
			},
			steps:         []step{{out: Failed, err: r1}, {out: Failed, err: r2}, {out: Deleted}},
			wantOutcome:   Failed,
			wantErr:       r2,
			wantAttempts:  2,
			wantExhausted: true,
			wantWaits:     []waitCall{{time.Minute, false}},
			wantFailures:  true,
		},
		{
			name:         "retry-after replaces the next wait only",
			steps:        []step{{out: Failed, err: throttled}, {out: Failed, err: r1}, {out: Deleted}},
			wantOutcome:  Deleted,
			wantAttempts: 3,
			// The exponential schedule went on underneath: 2s is its second step.
			wantWaits:    []waitCall{{7 * time.Second, true}, {2 * time.Second, false}},
			wantFailures: true,
		},
		{
			name:          "retry-after past max elapsed time gives up at once",
			mutate:        func(c *RetryConfig) { c.MaxElapsedTime = time.Hour },
			steps:         []step{{out: Failed, err: tooLong}, {out: Deleted}},
			wantOutcome:   Failed,
			wantErr:       tooLong,
			wantAttempts:  1,
			wantExhausted: true,
			wantFailures:  true,
		},
		{
			name:         "non-final outcome with nil error is unexpected",
			steps:        []step{{out: OutcomeUnknown}, {out: Deleted}},
			wantOutcome:  Failed,
			wantClass:    ClassUnexpected,
			wantAttempts: 1,
			wantFailures: true,
		},
		{
			name:         "failed with nil error is unexpected",
			steps:        []step{{out: Failed}, {out: Deleted}},
			wantOutcome:  Failed,
			wantClass:    ClassUnexpected,
			wantAttempts: 1,
			wantFailures: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testRetryConfig()
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			if err := cfg.Validate(); err != nil {
				t.Fatalf("test config invalid: %v", err)
			}
			a := &fakeAdapter{steps: tc.steps}
			timer := newFakeTimer(false)
			obs := &recordingObserver{}
			res := NewRetrier(cfg, WithTimer(timer), WithObserver(obs)).Do(context.Background(), a, testEvent)

			if res.Vendor != "fake" {
				t.Errorf("Vendor = %q", res.Vendor)
			}
			if res.Outcome != tc.wantOutcome {
				t.Errorf("Outcome = %v, want %v (err %v)", res.Outcome, tc.wantOutcome, res.Err)
			}
			if res.Attempts != tc.wantAttempts || a.Calls() != tc.wantAttempts {
				t.Errorf("Attempts = %d, adapter calls = %d, want %d", res.Attempts, a.Calls(), tc.wantAttempts)
			}
			if res.Exhausted != tc.wantExhausted {
				t.Errorf("Exhausted = %v, want %v", res.Exhausted, tc.wantExhausted)
			}
			if res.Interrupted() {
				t.Errorf("Interrupted() = true without a cancelled context")
			}
			switch {
			case tc.wantErr != nil:
				if res.Err != tc.wantErr {
					t.Errorf("Err = %#v, want exactly %#v", res.Err, tc.wantErr)
				}
			case tc.wantClass != 0:
				var ae *Error
				if !errors.As(res.Err, &ae) || ae.Class != tc.wantClass || ae.Vendor != "fake" {
					t.Errorf("Err = %#v, want an *Error of class %v", res.Err, tc.wantClass)
				}
			default:
				if res.Err != nil {
					t.Errorf("Err = %v, want nil", res.Err)
				}
			}
			if got := res.FirstFailure.IsZero(); got == tc.wantFailures {
				t.Errorf("FirstFailure = %v, want set: %v", res.FirstFailure, tc.wantFailures)
			}
			if res.LastFailure.Before(res.FirstFailure) || res.LastFailure.IsZero() != res.FirstFailure.IsZero() {
				t.Errorf("LastFailure %v inconsistent with FirstFailure %v", res.LastFailure, res.FirstFailure)
			}
			if res.Duration < 0 {
				t.Errorf("Duration = %s", res.Duration)
			}

			var wantDurations []time.Duration
			for _, w := range tc.wantWaits {
				wantDurations = append(wantDurations, w.d)
			}
			if got := timer.Waits(); !reflect.DeepEqual(got, wantDurations) {
				t.Errorf("timer waits = %v, want %v", got, wantDurations)
			}
			if !reflect.DeepEqual(obs.waits, tc.wantWaits) {
				t.Errorf("observer waits = %+v, want %+v", obs.waits, tc.wantWaits)
			}
			if len(obs.attempts) != tc.wantAttempts {
				t.Fatalf("observer saw %d attempts, want %d", len(obs.attempts), tc.wantAttempts)
			}
			last := obs.attempts[len(obs.attempts)-1]
			if (last == nil) != res.Outcome.Final() {
				t.Errorf("last observed attempt error = %v with outcome %v", last, res.Outcome)
			}
		})
	}
}

func TestRetrierCancelledDuringWait(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	timer := newFakeTimer(true)
	go func() {
		<-timer.started
		cancel()
	}()
	a := &fakeAdapter{steps: []step{{out: Failed, err: retryable("down")}}}
	res := NewRetrier(testRetryConfig(), WithTimer(timer)).Do(ctx, a, testEvent)

	if res.Outcome != Failed || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("Outcome %v, Err %v; want Failed, context.Canceled", res.Outcome, res.Err)
	}
	var ae *Error
	if errors.As(res.Err, &ae) {
		t.Errorf("Err is a vendor *Error (%v); a shutdown must not be dead-lettered", ae)
	}
	if !res.Interrupted() {
		t.Error("Interrupted() = false")
	}
	if res.Exhausted {
		t.Error("Exhausted = true for an interrupted delete")
	}
	if res.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", res.Attempts)
	}
}

func TestRetrierCancelledDuringAttempt(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The adapter sees the caller give up mid-request and reports what it
	// got, which may even look like a vendor verdict.
	a := &fakeAdapter{steps: []step{{before: cancel, block: true}}}
	res := NewRetrier(testRetryConfig(), WithTimer(newFakeTimer(false))).Do(ctx, a, testEvent)
	if !res.Interrupted() || res.Err != context.Canceled || res.Exhausted || res.Attempts != 1 {
		t.Fatalf("got %+v; want interrupted by context.Canceled after 1 attempt", res)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	a2 := &fakeAdapter{steps: []step{{before: cancel2, out: Failed, err: retryable("reset")}}}
	res = NewRetrier(testRetryConfig(), WithTimer(newFakeTimer(false))).Do(ctx2, a2, testEvent)
	if !res.Interrupted() || res.Err != context.Canceled || res.Exhausted {
		t.Fatalf("got %+v; want interrupted by context.Canceled", res)
	}
}

func TestRetrierParentDeadlineIsNotATimeout(t *testing.T) {
	t.Parallel()
	// The caller's own deadline, shorter than RequestTimeout, must read as
	// an interruption, not as the vendor timing out.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	cfg := testRetryConfig()
	cfg.RequestTimeout = time.Hour
	a := &fakeAdapter{steps: []step{{block: true}}}
	res := NewRetrier(cfg, WithTimer(newFakeTimer(false))).Do(ctx, a, testEvent)
	if !res.Interrupted() || !errors.Is(res.Err, context.DeadlineExceeded) || res.Exhausted {
		t.Fatalf("got %+v; want interrupted by context.DeadlineExceeded", res)
	}
}

func TestRetrierRequestTimeout(t *testing.T) {
	t.Parallel()
	cfg := testRetryConfig()
	cfg.RequestTimeout = 10 * time.Millisecond
	cfg.MaxAttempts = 3
	a := &fakeAdapter{steps: []step{{block: true}, {block: true}, {out: Deleted}}}
	obs := &recordingObserver{}
	res := NewRetrier(cfg, WithTimer(newFakeTimer(false)), WithObserver(obs)).Do(context.Background(), a, testEvent)
	if res.Outcome != Deleted || res.Attempts != 3 || res.Err != nil {
		t.Fatalf("got %+v; want Deleted on the third attempt", res)
	}
	for i, err := range obs.attempts[:2] {
		var ae *Error
		if !errors.As(err, &ae) || ae.Class != ClassRetryable || !strings.Contains(ae.Message, "timed out") || ae.Vendor != "fake" {
			t.Errorf("attempt %d error = %#v, want a retryable *Error saying timed out", i, err)
		}
	}

	// Every attempt timing out exhausts the policy with that error.
	a = &fakeAdapter{steps: []step{{block: true}}}
	res = NewRetrier(cfg, WithTimer(newFakeTimer(false))).Do(context.Background(), a, testEvent)
	var ae *Error
	if res.Interrupted() || !res.Exhausted || !errors.As(res.Err, &ae) || !strings.Contains(ae.Error(), "timed out") {
		t.Fatalf("got %+v; want exhausted with a timed-out *Error", res)
	}
	if res.Attempts != 3 {
		t.Errorf("Attempts = %d, want 3", res.Attempts)
	}
}

func TestResultInterrupted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		res  Result
		want bool
	}{
		{Result{Outcome: Failed, Err: context.Canceled}, true},
		{Result{Outcome: Failed, Err: context.DeadlineExceeded}, true},
		{Result{Outcome: Failed, Err: fmt.Errorf("wrapped: %w", context.Canceled)}, true},
		// A vendor error that happens to wrap a context error was the
		// vendor's word (a per-attempt timeout), not the caller's.
		{Result{Outcome: Failed, Err: &Error{Class: ClassRetryable, Err: context.DeadlineExceeded}}, false},
		{Result{Outcome: Failed, Err: retryable("x")}, false},
		{Result{Outcome: Deleted, Err: context.Canceled}, false},
		{Result{Outcome: Failed}, false},
	}
	for i, tc := range tests {
		if got := tc.res.Interrupted(); got != tc.want {
			t.Errorf("%d: Interrupted(%+v) = %v, want %v", i, tc.res, got, tc.want)
		}
	}
}

func TestErrorClassAndFormat(t *testing.T) {
	t.Parallel()
	perm := &Error{Vendor: "v", Class: ClassPermanent, Status: 401, Code: "E1", Message: "denied", Err: errors.New("cause")}
	classes := []struct {
		err  error
		want Class
	}{
		{nil, 0},
		{errors.New("x"), ClassRetryable},
		{perm, ClassPermanent},
		{fmt.Errorf("wrapped: %w", perm), ClassPermanent},
		{&Error{Class: ClassUnexpected}, ClassUnexpected},
	}
	for _, tc := range classes {
		if got := ErrorClass(tc.err); got != tc.want {
			t.Errorf("ErrorClass(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}

	texts := []struct {
		err  *Error
		want string
	}{
		{perm, "v: permanent (HTTP 401, code E1): denied: cause"},
		{&Error{Vendor: "v", Class: ClassRetryable, Status: 503}, "v: retryable (HTTP 503)"},
		{&Error{Vendor: "v", Class: ClassPermanent, Code: "1010"}, "v: permanent (code 1010)"},
		{&Error{Vendor: "v", Class: ClassUnexpected, Message: "odd"}, "v: unexpected: odd"},
		{&Error{Vendor: "v", Class: Class(9)}, "v: class(9)"},
	}
	for _, tc := range texts {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if !errors.Is(perm, perm.Err) {
		t.Error("*Error does not unwrap to its cause")
	}

	for o, want := range map[Outcome]struct {
		name  string
		final bool
	}{
		OutcomeUnknown: {"unknown", false},
		Deleted:        {"deleted", true},
		AlreadyAbsent:  {"already_absent", true},
		NotApplicable:  {"not_applicable", true},
		Failed:         {"failed", false},
		Outcome(-1):    {"outcome(-1)", false},
		Outcome(42):    {"outcome(42)", false},
	} {
		if o.String() != want.name || o.Final() != want.final {
			t.Errorf("Outcome %d: String %q Final %v, want %q %v", int(o), o.String(), o.Final(), want.name, want.final)
		}
	}
}

func TestDefaultRetryConfigValidates(t *testing.T) {
	t.Parallel()
	c := DefaultRetryConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestRetryConfigValidate(t *testing.T) {
	t.Parallel()
	yamlName := map[string]bool{}
	rt := reflect.TypeOf(RetryConfig{})
	for i := range rt.NumField() {
		yamlName[rt.Field(i).Tag.Get("yaml")] = true
	}
	tests := []struct {
		field  string
		mutate func(*RetryConfig)
	}{
		{"initial_interval", func(c *RetryConfig) { c.InitialInterval = -time.Second }},
		{"initial_interval", func(c *RetryConfig) { c.InitialInterval = 0 }},
		{"max_interval", func(c *RetryConfig) { c.MaxInterval = c.InitialInterval - 1 }},
		{"multiplier", func(c *RetryConfig) { c.Multiplier = 0.5 }},
		{"randomization_factor", func(c *RetryConfig) { c.RandomizationFactor = -0.1 }},
		{"randomization_factor", func(c *RetryConfig) { c.RandomizationFactor = 1 }},
		{"max_elapsed_time", func(c *RetryConfig) { c.MaxElapsedTime = -1 }},
		{"max_attempts", func(c *RetryConfig) { c.MaxAttempts = 0 }},
		{"max_attempts", func(c *RetryConfig) { c.MaxAttempts = -3 }},
		{"request_timeout", func(c *RetryConfig) { c.RequestTimeout = 0 }},
		{"inline_budget", func(c *RetryConfig) { c.InlineBudget = 0 }},
		{"inline_budget", func(c *RetryConfig) { c.InlineBudget = -time.Second }},
		{"", func(c *RetryConfig) { c.RandomizationFactor = 0; c.Multiplier = 1; c.MaxAttempts = 1 }},
		{"schedule", func(c *RetryConfig) { c.Schedule = nil }},
		{"schedule[1]", func(c *RetryConfig) { c.Schedule = []time.Duration{time.Second, 0} }},
		{"give_up_after", func(c *RetryConfig) { c.GiveUpAfter = 0 }},
		// The compliance deadline is 30 days: give_up_after must end
		// before it, leaving time to act on the dead-letter record.
		{"give_up_after", func(c *RetryConfig) { c.GiveUpAfter = ComplianceDeadline }},
		{"", func(c *RetryConfig) { c.GiveUpAfter = ComplianceDeadline - time.Hour }},
		{"max_pending", func(c *RetryConfig) { c.MaxPending = 0 }},
		{"max_pending", func(c *RetryConfig) { c.MaxPending = 100001 }},
		{"", func(c *RetryConfig) {
			c.Schedule = []time.Duration{time.Second, 2 * time.Second}
			c.GiveUpAfter = time.Minute
		}},
	}
	for _, tc := range tests {
		c := DefaultRetryConfig()
		tc.mutate(&c)
		err := c.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%+v: unexpected error %v", c, err)
			}
			continue
		}
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%+v: error %v, want a FieldError on %s", c, err, tc.field)
			continue
		}
		if name, _, _ := strings.Cut(fe.Field, "["); !yamlName[name] {
			t.Errorf("field %q is not a yaml name of RetryConfig", fe.Field)
		}
		// As a vendor's section nests it.
		if got := config.Nest("retry", err).Error(); !strings.HasPrefix(got, "retry."+tc.field+": ") {
			t.Errorf("nested error %q does not name retry.%s", got, tc.field)
		}
	}
}

// TestScheduleWait: the retry worker's waits follow the schedule, and
// its last step repeats.
func TestScheduleWait(t *testing.T) {
	t.Parallel()
	c := DefaultRetryConfig()
	var got []time.Duration
	for step := range 8 {
		got = append(got, c.ScheduleWait(step))
	}
	want := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour, 6 * time.Hour}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
	if c.GiveUpAfter != 72*time.Hour {
		t.Errorf("give_up_after defaults to %s, want 72h", c.GiveUpAfter)
	}
	for _, tc := range []struct {
		schedule []time.Duration
		want     time.Duration
	}{
		{nil, 6 * time.Hour}, // the default's
		{[]time.Duration{time.Minute, 30 * time.Minute, 5 * time.Minute}, 30 * time.Minute},
	} {
		c := RetryConfig{Schedule: tc.schedule}
		if got := c.LongestWait(); got != tc.want {
			t.Errorf("LongestWait of %v = %s, want %s", tc.schedule, got, tc.want)
		}
	}
}

func TestRetryConfigDecode(t *testing.T) {
	t.Parallel()
	var c RetryConfig
	doc := "initial_interval: 100ms\nmax_interval: 1m30s\nmultiplier: 3\nrandomization_factor: 0.25\nmax_elapsed_time: 10m\nmax_attempts: 4\nrequest_timeout: 2s\ninline_budget: 45s\ntopic: erasure.retry.fake\n" +
		"schedule: [1s, 2s]\ngive_up_after: 1h\nmax_pending: 50\n"
	if err := config.Decode(strings.NewReader(doc), &c); err != nil {
		t.Fatal(err)
	}
	want := RetryConfig{InitialInterval: 100 * time.Millisecond, MaxInterval: 90 * time.Second, Multiplier: 3, RandomizationFactor: 0.25,
		MaxElapsedTime: 10 * time.Minute, MaxAttempts: 4, RequestTimeout: 2 * time.Second, InlineBudget: 45 * time.Second, Topic: "erasure.retry.fake",
		Schedule: []time.Duration{time.Second, 2 * time.Second}, GiveUpAfter: time.Hour, MaxPending: 50}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("decoded %+v, want %+v", c, want)
	}
	if err := config.Decode(strings.NewReader("max_attempt: 4\n"), &c); err == nil || !strings.Contains(err.Error(), "max_attempt") {
		t.Errorf("misspelt key: error %v, want one naming it", err)
	}
}

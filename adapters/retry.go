package adapters

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// RetryConfig is the retry policy for one vendor.
type RetryConfig struct {
	// InitialInterval is the first wait after a retryable failure.
	InitialInterval time.Duration `yaml:"initial_interval"`
	// MaxInterval caps one exponential wait (not a Retry-After).
	MaxInterval time.Duration `yaml:"max_interval"`
	// Multiplier grows the wait after each failure.
	Multiplier float64 `yaml:"multiplier"`
	// RandomizationFactor spreads waits by ±factor so that many events
	// throttled together do not retry together.
	RandomizationFactor float64 `yaml:"randomization_factor"`
	// MaxElapsedTime bounds the time spent on one event at this vendor,
	// waits included; past it the failure is dead-lettered.
	MaxElapsedTime time.Duration `yaml:"max_elapsed_time"`
	// MaxAttempts bounds the attempts, the first included.
	MaxAttempts int `yaml:"max_attempts"`
	// RequestTimeout bounds one attempt.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// InlineBudget bounds the time the main flow spends on one event at
	// this vendor, waits included; a part not final by then is parked on
	// the vendor's retry topic, so one slow or failing vendor never holds
	// an event's offset (and the other vendors' work) beyond it.
	InlineBudget time.Duration `yaml:"inline_budget"`
	// Topic is the vendor's retry topic; empty means
	// <kafka.topic>.retry.<vendor> (retrytopic.TopicFor).
	Topic string `yaml:"topic"`

	// Schedule is the retry worker's waits between attempts at a part
	// parked on the vendor's retry topic: the first wait after the
	// first retry-worker failure, then the next; the last repeats. A
	// 429 is no failure here: the part waits its Retry-After (at most
	// the schedule's longest wait) and keeps its step (consumer.retryProcessor).
	Schedule []time.Duration `yaml:"schedule"`
	// GiveUpAfter bounds how long a parked part is retried, counted from
	// its first failure; past it the part is dead-lettered with its
	// history. It must stay below ComplianceDeadline.
	GiveUpAfter time.Duration `yaml:"give_up_after"`
	// MaxPending bounds the parked records a retry worker holds per
	// partition of the retry topic (waiting for their due time or
	// running); past it the worker stops fetching that partition.
	MaxPending int `yaml:"max_pending"`
}

// ComplianceDeadline is the longest a deletion may stay owed: GDPR's
// one month, read as 30 days. give_up_after must end before it, so that a
// part given up is dead-lettered with time left for a person to act.
// (A configurable compliance.deadline is to come; until then, this.)
const ComplianceDeadline = 30 * 24 * time.Hour

// DefaultSchedule is the retry worker's default waits: 1m, 5m, 30m, 2h,
// 6h, then every 6h.
func DefaultSchedule() []time.Duration {
	return []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour}
}

// ScheduleWait is the wait before the retry worker's attempt after step
// failures at the retry topic: Schedule[step], the last entry once step
// runs past it.
func (c *RetryConfig) ScheduleWait(step int) time.Duration {
	s := c.schedule()
	return s[min(max(step, 0), len(s)-1)]
}

// LongestWait is the longest wait in the schedule.
func (c *RetryConfig) LongestWait() time.Duration { return slices.Max(c.schedule()) }

// schedule is Schedule, or DefaultSchedule when it is empty.
func (c *RetryConfig) schedule() []time.Duration {
	if len(c.Schedule) == 0 {
		return DefaultSchedule()
	}
	return c.Schedule
}

// DefaultRetryConfig is the policy used where configuration is silent.
// Configuration is decoded over it, so a field the operator sets, zero
// included (randomization_factor: 0 retries without jitter), is kept; a
// new field's default goes here.
func DefaultRetryConfig() RetryConfig {
	return RetryConfig{
		InitialInterval:     250 * time.Millisecond,
		MaxInterval:         30 * time.Second,
		Multiplier:          2,
		RandomizationFactor: 0.5,
		MaxElapsedTime:      5 * time.Minute,
		MaxAttempts:         12,
		RequestTimeout:      10 * time.Second,
		InlineBudget:        30 * time.Second,
		Schedule:            DefaultSchedule(),
		GiveUpAfter:         72 * time.Hour,
		MaxPending:          1000,
	}
}

// Validate reports the first invalid field, named as in YAML.
func (c *RetryConfig) Validate() error {
	var errs config.Errors
	if c.InitialInterval <= 0 {
		errs.Invalid("initial_interval", "must be positive, got %s", c.InitialInterval)
	}
	if c.MaxInterval < c.InitialInterval {
		errs.Invalid("max_interval", "must be at least initial_interval (%s), got %s", c.InitialInterval, c.MaxInterval)
	}
	if c.Multiplier < 1 {
		errs.Invalid("multiplier", "must be at least 1, got %g", c.Multiplier)
	}
	if c.RandomizationFactor < 0 || c.RandomizationFactor >= 1 {
		errs.Invalid("randomization_factor", "must be in [0, 1), got %g", c.RandomizationFactor)
	}
	if c.MaxElapsedTime <= 0 {
		errs.Invalid("max_elapsed_time", "must be positive, got %s", c.MaxElapsedTime)
	}
	if c.MaxAttempts < 1 {
		errs.Invalid("max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
	if c.RequestTimeout <= 0 {
		errs.Invalid("request_timeout", "must be positive, got %s", c.RequestTimeout)
	}
	if c.InlineBudget <= 0 {
		errs.Invalid("inline_budget", "must be positive, got %s", c.InlineBudget)
	}
	if len(c.Schedule) == 0 {
		errs.Invalid("schedule", "must list at least one wait, such as [1m, 5m, 30m, 2h, 6h]")
	}
	for i, d := range c.Schedule {
		if d <= 0 {
			errs.Invalid(fmt.Sprintf("schedule[%d]", i), "must be positive, got %s", d)
		}
	}
	if c.GiveUpAfter <= 0 || c.GiveUpAfter >= ComplianceDeadline {
		errs.Invalid("give_up_after", "must be positive and below the compliance deadline (%s), got %s", ComplianceDeadline, c.GiveUpAfter)
	}
	if c.MaxPending < 1 || c.MaxPending > 100000 {
		errs.Invalid("max_pending", "must be in [1, 100000], got %d", c.MaxPending)
	}
	return errs.Err()
}

// Result is the final word on one vendor for one event.
type Result struct {
	Vendor  string
	Outcome Outcome
	// Err is the last error when Outcome is Failed: an *Error from the
	// vendor, or the context's error when the caller gave up (shutdown,
	// rebalance), which is not a vendor failure and must not be
	// dead-lettered.
	Err error
	// Exhausted is true when a retryable failure outlived the policy.
	Exhausted bool
	// Attempts counts requests made.
	Attempts int
	// Refused counts attempts the vendor's circuit breaker refused
	// without sending anything (see ErrCircuitOpen); the retry policy
	// counts them as retryable failures, Attempts does not.
	Refused int
	// FirstFailure and LastFailure bound the failed attempts (zero if none).
	FirstFailure, LastFailure time.Time
	// Duration is the time from first attempt to the result, waits included.
	Duration time.Duration
	// Reference is the vendor's own id for the request that settled the
	// event, and BatchSize the size of its batch for a batching vendor
	// (see NoteReference); empty when its answer carries none.
	Reference string
	BatchSize int
}

// Interrupted reports whether the caller's context ended the work before a
// final outcome: the event must be handed back, not dead-lettered.
func (r Result) Interrupted() bool {
	var ae *Error
	return r.Outcome == Failed && !errors.As(r.Err, &ae) &&
		(errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded))
}

// Observer hears about attempts and waits, for metrics. Calls must be cheap
// and safe for concurrent use.
type Observer interface {
	// Attempted is called after each attempt with its error (nil on a
	// final outcome) and duration.
	Attempted(vendor string, err error, took time.Duration)
	// Waiting is called before a retry wait; fromRetryAfter says the
	// vendor set it.
	Waiting(vendor string, wait time.Duration, fromRetryAfter bool)
}

type nopObserver struct{}

func (nopObserver) Attempted(string, error, time.Duration) {}
func (nopObserver) Waiting(string, time.Duration, bool)    {}

// Retrier applies a RetryConfig to an Adapter.
type Retrier struct {
	cfg      RetryConfig
	observer Observer
	timer    backoff.Timer
	limiter  *Limiter
	breaker  *Breaker
	log      zerolog.Logger
}

// Sources of the wait before a retry, as logged (and, for the first two,
// as erasured_retry_waits_total's source label).
const (
	// WaitBackoff is the exponential backoff's wait.
	WaitBackoff = "backoff"
	// WaitRetryAfter is the wait the vendor's Retry-After asked for.
	WaitRetryAfter = "retry_after"
	// WaitLimiter is the time the retry then waited for the vendor's
	// shared limiter: a slot, a pause another event's Retry-After began, or
	// a rate token.
	WaitLimiter = "limiter"
)

// RetrierOption adjusts a Retrier.
type RetrierOption func(*Retrier)

// WithObserver reports attempts and waits to o.
func WithObserver(o Observer) RetrierOption { return func(r *Retrier) { r.observer = o } }

// WithLogger logs every retry at debug: vendor, event id, the attempt it
// leads to, the wait and its source (WaitBackoff, WaitRetryAfter,
// WaitLimiter), and the failure's class and status. Never a message: a
// vendor's words may quote what identifies the person.
func WithLogger(l zerolog.Logger) RetrierOption { return func(r *Retrier) { r.log = l } }

// WithTimer replaces the wait timer, for tests.
func WithTimer(t backoff.Timer) RetrierOption { return func(r *Retrier) { r.timer = t } }

// WithConcurrency caps the requests in flight to the vendor at n, shared
// by every event the Retrier serves, and does nothing else (WithLimiter
// adds the learned rate and Retry-After pauses). The wait for a slot is not
// part of an attempt's RequestTimeout: without the cap, hundreds of
// in-flight events queue inside the HTTP transport for a connection and
// time out there, which looks like a failing vendor and only adds retries.
func WithConcurrency(n int) RetrierOption {
	return func(r *Retrier) {
		if n > 0 {
			r.limiter = newLimiter(LimitConfig{MaxConcurrency: n}, false)
		}
	}
}

// WithLimiter makes every attempt take a permit from l, the vendor's
// shared limiter, and tell it the outcome. Waiting for the permit is not
// part of the attempt's RequestTimeout. An adapter that is SelfLimited
// takes permits itself, per request, and the Retrier leaves it alone.
func WithLimiter(l *Limiter) RetrierOption { return func(r *Retrier) { r.limiter = l } }

// WithBreaker makes the Retrier ask b before each attempt: while the
// circuit is open the attempt fails at once as retryable, with
// ErrCircuitOpen, without taking a limiter permit or calling the adapter,
// and the policy waits and retries as for any retryable failure. b must
// also sit in the adapter's HTTP transport (Breaker.Wrap), which is where
// requests are counted and half-open probes are handed out.
func WithBreaker(b *Breaker) RetrierOption { return func(r *Retrier) { r.breaker = b } }

// SelfLimited is implemented by an adapter whose one request serves
// several events (CleverTap's batched delete): it takes the vendor's
// limiter permits and bounds each request's time itself, per request. For
// it the Retrier takes no permit and does not bound the attempt's context
// with RequestTimeout, which would otherwise also run while the batch
// waits for a permit.
type SelfLimited interface {
	SelfLimited() bool
}

func selfLimited(a Adapter) bool {
	s, ok := a.(SelfLimited)
	return ok && s.SelfLimited()
}

// NewRetrier returns a Retrier for cfg, which must be valid.
func NewRetrier(cfg RetryConfig, opts ...RetrierOption) *Retrier {
	r := &Retrier{cfg: cfg, observer: nopObserver{}, log: zerolog.Nop()}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Do deletes ev at a, retrying retryable failures with exponential backoff
// and jitter. A Retry-After the vendor sends replaces the next wait; if
// that wait would end past MaxElapsedTime, Do gives up at once rather than
// sleep for nothing. Permanent and unexpected errors stop at once. ctx ends
// attempts and waits.
func (r *Retrier) Do(ctx context.Context, a Adapter, ev *event.UserDeleted) Result {
	start := time.Now()
	res := Result{Vendor: a.Name(), Outcome: Failed}

	exp := backoff.NewExponentialBackOff()
	exp.InitialInterval = r.cfg.InitialInterval
	exp.MaxInterval = r.cfg.MaxInterval
	exp.Multiplier = r.cfg.Multiplier
	exp.RandomizationFactor = r.cfg.RandomizationFactor
	exp.MaxElapsedTime = r.cfg.MaxElapsedTime
	exp.Reset()
	ra := &retryAfterBackOff{exp: exp, start: start, maxElapsed: r.cfg.MaxElapsedTime}
	b := backoff.WithContext(backoff.WithMaxRetries(ra, uint64(r.cfg.MaxAttempts-1)), ctx)

	self := selfLimited(a)
	var lastErr error
	// refused records an attempt the circuit refused: a retryable
	// failure for the policy, not a request.
	refused := func(err error) error {
		res.Refused++
		now := time.Now()
		if res.FirstFailure.IsZero() {
			res.FirstFailure = now
		}
		res.LastFailure = now
		lastErr = err
		return err
	}
	op := func() error {
		if r.breaker.Refuses() {
			return refused(circuitOpenError(a.Name()))
		}
		var permit Permit
		if r.limiter != nil && !self {
			t0 := time.Now()
			p, err := r.limiter.Acquire(ctx)
			if err != nil {
				return backoff.Permanent(ctx.Err())
			}
			permit = p
			if waited := time.Since(t0); res.Attempts > 0 && waited >= minLoggedLimiterWait {
				r.logRetry(a.Name(), ev, res.Attempts+1, waited, WaitLimiter, lastErr)
			}
		}
		res.Attempts++
		actx, cancel := ctx, context.CancelFunc(func() {})
		if !self {
			actx, cancel = context.WithTimeout(ctx, r.cfg.RequestTimeout)
		}
		t0 := time.Now()
		actx, note := withReferenceNote(actx)
		out, err := a.Delete(actx, ev)
		cancel()
		if r.limiter != nil && !self {
			r.limiter.Release(permit, err)
		}
		if err != nil && ctx.Err() == nil && errors.Is(err, ErrCircuitOpen) {
			// Refused in the transport: opened meanwhile, or the
			// half-open probes were taken.
			res.Attempts--
			return refused(err)
		}
		if err == nil && !out.Final() {
			err = &Error{Vendor: a.Name(), Class: ClassUnexpected, Message: "adapter returned outcome " + out.String()}
		}
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = &Error{Vendor: a.Name(), Class: ClassRetryable, Message: "request timed out after " + r.cfg.RequestTimeout.String()}
		}
		r.observer.Attempted(a.Name(), err, time.Since(t0))
		if err == nil {
			res.Outcome = out
			res.Reference, res.BatchSize = note.get()
			return nil
		}
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		now := time.Now()
		if res.FirstFailure.IsZero() {
			res.FirstFailure = now
		}
		res.LastFailure = now
		if ErrorClass(err) != ClassRetryable {
			return backoff.Permanent(err)
		}
		lastErr = err
		var ae *Error
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			ra.override = ae.RetryAfter
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		r.observer.Waiting(a.Name(), wait, ra.lastFromHeader)
		src := WaitBackoff
		if ra.lastFromHeader {
			src = WaitRetryAfter
		}
		r.logRetry(a.Name(), ev, res.Attempts+1, wait, src, err)
	}

	err := backoff.RetryNotifyWithTimer(op, b, notify, r.timer)
	res.Duration = time.Since(start)
	if err == nil {
		res.Err = nil
		return res
	}
	res.Err = err
	if ctx.Err() != nil && (errors.Is(err, ctx.Err()) || ErrorClass(err) == ClassRetryable) {
		// The caller gave up mid-wait or mid-attempt: not the vendor's word.
		res.Err = ctx.Err()
		return res
	}
	res.Exhausted = ErrorClass(err) == ClassRetryable
	return res
}

// Once makes at most one attempt at a, through the same breaker and
// limiter as Do: a retry worker's call, whose waits between attempts are
// the retry schedule's, not the inline backoff's. A refusal by the open
// circuit comes back as a Failed result wrapping ErrCircuitOpen, with
// Attempts 0.
func (r *Retrier) Once(ctx context.Context, a Adapter, ev *event.UserDeleted) Result {
	one := *r
	one.cfg.MaxAttempts = 1
	return one.Do(ctx, a, ev)
}

// CircuitOpen reports whether the vendor's circuit is open: a call now
// would be refused without reaching the vendor.
func (r *Retrier) CircuitOpen() bool { return r.breaker.Refuses() }

// minLoggedLimiterWait is the shortest limiter wait worth a line: taking a
// free permit takes microseconds.
const minLoggedLimiterWait = time.Millisecond

// logRetry logs one wait before attempt; err is the failure retried.
func (r *Retrier) logRetry(vendor string, ev *event.UserDeleted, attempt int, wait time.Duration, source string, err error) {
	e := r.log.Debug()
	if e == nil {
		return
	}
	e = e.Str("vendor", vendor).Str("event_id", ev.EventID).Int("attempt", attempt).
		Dur("wait_ms", wait).Str("source", source)
	var ae *Error
	if errors.As(err, &ae) {
		e = e.Str("class", ae.Class.String())
		if ae.Status != 0 {
			e = e.Int("status", ae.Status)
		}
	}
	if errors.Is(err, ErrCircuitOpen) {
		e = e.Bool("circuit_open", true)
	}
	msg := "retrying after " + source
	if source == WaitLimiter {
		msg = "retry held by the vendor's limiter"
	}
	e.Msg(msg)
}

// retryAfterBackOff lets a vendor's Retry-After replace the next
// exponential wait.
type retryAfterBackOff struct {
	exp            *backoff.ExponentialBackOff
	start          time.Time
	maxElapsed     time.Duration
	override       time.Duration
	lastFromHeader bool
}

func (b *retryAfterBackOff) NextBackOff() time.Duration {
	next := b.exp.NextBackOff()
	b.lastFromHeader = false
	if b.override > 0 {
		next, b.override = b.override, 0
		b.lastFromHeader = true
		if time.Since(b.start)+next > b.maxElapsed {
			return backoff.Stop
		}
	}
	return next
}

func (b *retryAfterBackOff) Reset() {
	b.exp.Reset()
	b.override = 0
}

package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// Vendor pairs an adapter with its retry policy and, when the Processor
// parks (WithParking), what parking needs to know about it.
type Vendor struct {
	Adapter adapters.Adapter
	Retrier *adapters.Retrier
	// Breaker is the vendor's circuit breaker, also in Retrier; nil when
	// off. A part meeting an open circuit is parked at once, and parts
	// waiting on a retry are parked as soon as it opens.
	Breaker *adapters.Breaker
	// RetryTopic is where the vendor's parts are parked
	// (vendors.<name>.retry.topic).
	RetryTopic string
	// InlineBudget is vendors.<name>.retry.inline_budget: a part not
	// final within it is parked.
	InlineBudget time.Duration
	// Paused is vendors.<name>.paused: every part is parked, unsent.
	Paused bool
}

// DeadLetterer durably records what could not be done. Publish returns nil
// only once the record is safe (acks from all in-sync replicas); it retries
// by itself and fails only when ctx ends.
type DeadLetterer interface {
	Publish(ctx context.Context, rec dlq.Record) error
}

// ErrInterrupted is returned by Process when its context ended before the
// record was finished; the record's offset must not be committed.
var ErrInterrupted = errors.New("processing interrupted")

// Outcome of one record, for metrics.
type Outcome string

const (
	OutcomeDone         Outcome = "done"
	OutcomeDeadLettered Outcome = "dead_lettered"
	// OutcomeParked: every vendor is final or parked, at least one
	// parked, none dead-lettered.
	OutcomeParked      Outcome = "parked"
	OutcomeInvalid     Outcome = "invalid"
	OutcomeInterrupted Outcome = "interrupted"
)

// ProcessObserver hears about finished records, for metrics.
type ProcessObserver interface {
	Finished(outcome Outcome, took time.Duration)
	VendorResult(res adapters.Result)
}

type nopProcessObserver struct{}

func (nopProcessObserver) Finished(Outcome, time.Duration) {}
func (nopProcessObserver) VendorResult(adapters.Result)    {}

// Processor carries one record to its end: decode, fan out to every vendor
// in parallel, dead-letter what failed.
type Processor struct {
	vendors  []Vendor
	dlq      DeadLetterer
	decode   event.DecodeOptions
	log      zerolog.Logger
	observer ProcessObserver
	// restrictions verifies replay's vendor restrictions; see
	// VerifyRestrictions.
	restrictions restrictionCheck
	// fp names the user in logs; see WithFingerprinter.
	fp *event.Fingerprinter
	// parking, when set, parks instead of holding; see WithParking.
	parking *Parking
	// receipts, when set, are written before an event is reported
	// finished (WithReceipts).
	receipts *Receipts
}

// NewProcessor returns a Processor. o may be nil.
func NewProcessor(vendors []Vendor, dl DeadLetterer, decode event.DecodeOptions, log zerolog.Logger, o ProcessObserver, opts ...ProcessorOption) *Processor {
	if o == nil {
		o = nopProcessObserver{}
	}
	p := &Processor{vendors: vendors, dlq: dl, decode: decode, log: log, observer: o}
	for _, opt := range opts {
		opt(p)
	}
	if p.fp == nil {
		p.fp = event.RandomFingerprinter()
	}
	return p
}

// Decode reads a record into an event. It is cheap, and done on the
// partition's fetch loop so that events can be ordered by user.
func (p *Processor) Decode(msg kafka.Message) (*event.UserDeleted, error) {
	return event.Decode(msg.Key, msg.Value, eventHeaders(msg.Headers), p.decode)
}

// Process returns nil when msg is finished: every applicable vendor reached
// a final outcome, or is durably parked on its retry topic (WithParking),
// or the failures are durably dead-lettered. ev and decErr
// are what Decode returned for msg. Process returns an error wrapping
// ErrInterrupted when ctx ended first.
func (p *Processor) Process(ctx context.Context, msg kafka.Message, ev *event.UserDeleted, decErr error) error {
	start := time.Now()
	if decErr != nil {
		return p.invalid(ctx, msg, decErr, start)
	}

	vendors, unconfigured := p.selectVendors(msg, ev)
	parts := make([]part, len(vendors))
	var wg sync.WaitGroup
	for i, v := range vendors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = p.runVendor(ctx, v, msg, ev)
		}()
	}
	wg.Wait()
	results := make([]adapters.Result, len(parts))
	var parked *zerolog.Event
	var parkErr error
	for i, pt := range parts {
		results[i] = pt.res
		if pt.parked == "" {
			continue
		}
		if parked == nil {
			parked = zerolog.Dict()
		}
		parked = parked.Str(pt.res.Vendor, string(pt.parked))
		if pt.parkErr != nil {
			parkErr = errors.Join(parkErr, pt.parkErr)
		}
	}

	var failures []dlq.Failure
	var first, last time.Time
	reason := dlq.ReasonRetriesExhausted
	interrupted := false
	for i, r := range results {
		if parts[i].parked != "" {
			// Counted by the parker once safe (parked_total and
			// vendor_results{outcome="parked"}).
			continue
		}
		p.observer.VendorResult(r)
		if r.Outcome.Final() {
			continue
		}
		if r.Interrupted() && ctx.Err() != nil {
			// Only our own context ending is an interruption. A context
			// error an adapter made up while ctx is live would otherwise
			// leave the record unfinished, and hold the partition's
			// commit point, until the next rebalance: it is a failure
			// like any other and is dead-lettered.
			interrupted = true
			continue
		}
		failures = append(failures, failureOf(r, personalValues(ev)))
		if first.IsZero() || (!r.FirstFailure.IsZero() && r.FirstFailure.Before(first)) {
			first = r.FirstFailure
		}
		if r.LastFailure.After(last) {
			last = r.LastFailure
		}
		if !r.Exhausted {
			reason = dlq.ReasonPermanentError
		}
	}
	// A replay asked for vendors this deployment does not call (disabled
	// for an incident, say): the deletion there is still owed, so it goes
	// back to the dead-letter topic, ready for a replay once enabled.
	for _, name := range unconfigured {
		failures = append(failures, dlq.Failure{Vendor: name, Class: dlq.ClassNotConfigured, Message: "vendor not enabled in this deployment"})
		reason = dlq.ReasonPermanentError
	}

	if interrupted {
		// Debug, like "event done": a stop hands back every in-flight
		// event at once, and the drain's own warning counts them.
		p.logEvent(zerolog.DebugLevel, msg, ev, results, OutcomeInterrupted, start).Msg("event interrupted; it will be redelivered")
		p.observer.Finished(OutcomeInterrupted, time.Since(start))
		return ErrInterrupted
	}
	if parkErr != nil {
		// Exactly as for a failed dead-letter write: the event is not
		// finished and the commit point holds. The parts parked already
		// are parked again on redelivery (the retry worker deletes
		// twice; deletes are idempotent).
		p.logEvent(zerolog.WarnLevel, msg, ev, results, OutcomeInterrupted, start).Func(withParked(parked)).Err(parkErr).Msg("event not finished: retry-topic write abandoned; it will be redelivered")
		p.observer.Finished(OutcomeInterrupted, time.Since(start))
		return errors.Join(ErrInterrupted, parkErr)
	}
	if len(failures) == 0 {
		if err := p.writeReceipt(ctx, ev, parts, unconfigured); err != nil {
			return p.receiptFailed(msg, ev, results, start, err)
		}
		outcome, msgText := OutcomeDone, "event done"
		if parked != nil {
			outcome, msgText = OutcomeParked, "event finished: parts parked on retry topics"
		}
		// One line per event is a flood at info (and an outage parks
		// every event); the dev stack's summary and the metrics count
		// them instead.
		p.logEvent(zerolog.DebugLevel, msg, ev, results, outcome, start).Func(withParked(parked)).Msg(msgText)
		p.observer.Finished(outcome, time.Since(start))
		return nil
	}
	rec := dlq.Record{
		Original: msg, EventID: ev.EventID, Reason: reason, Failures: failures,
		FirstFailure: first, LastFailure: last,
	}
	if err := p.dlq.Publish(ctx, rec); err != nil {
		p.logEvent(zerolog.WarnLevel, msg, ev, results, OutcomeInterrupted, start).Err(err).Msg("event not finished: dead-letter write abandoned; it will be redelivered")
		p.observer.Finished(OutcomeInterrupted, time.Since(start))
		return errors.Join(ErrInterrupted, err)
	}
	// The dead-letter record is durable before the receipt says so.
	if err := p.writeReceipt(ctx, ev, parts, unconfigured); err != nil {
		return p.receiptFailed(msg, ev, results, start, err)
	}
	p.logEvent(zerolog.WarnLevel, msg, ev, results, OutcomeDeadLettered, start).Func(withParked(parked)).Str("reason", string(reason)).Msg("event dead-lettered")
	p.observer.Finished(OutcomeDeadLettered, time.Since(start))
	return nil
}

// receiptFailed leaves an event unfinished because its receipt could not
// be written: exactly as for a failed dead-letter write, the commit point
// holds and the event is redelivered (its vendors are called again;
// deletes are idempotent).
func (p *Processor) receiptFailed(msg kafka.Message, ev *event.UserDeleted, results []adapters.Result, start time.Time, err error) error {
	p.logEvent(zerolog.WarnLevel, msg, ev, results, OutcomeInterrupted, start).Err(err).Msg("event not finished: receipt write abandoned; it will be redelivered")
	p.observer.Finished(OutcomeInterrupted, time.Since(start))
	return errors.Join(ErrInterrupted, err)
}

// invalid dead-letters a record that could not be decoded.
func (p *Processor) invalid(ctx context.Context, msg kafka.Message, decErr error, start time.Time) error {
	// DecodeError's text names fields and sizes, never their values.
	detail := decErr.Error()
	rec := dlq.Record{Original: msg, Reason: dlq.ReasonInvalidEvent, Detail: detail}
	l := p.log.With().Int("partition", msg.Partition).Int64("offset", msg.Offset).Int("bytes", len(msg.Value)).Logger()
	if err := p.dlq.Publish(ctx, rec); err != nil {
		l.Warn().Err(err).Msg("invalid event not finished: dead-letter write abandoned; it will be redelivered")
		p.observer.Finished(OutcomeInterrupted, time.Since(start))
		return errors.Join(ErrInterrupted, err)
	}
	l.Warn().Str("reason", string(dlq.ReasonInvalidEvent)).Str("detail", detail).Msg("invalid event dead-lettered")
	p.observer.Finished(OutcomeInvalid, time.Since(start))
	return nil
}

// VendorInterrupted is the per-vendor outcome, in logs and in
// erasured_vendor_results_total, of a vendor whose work was cut short by a
// stop or a rebalance: the event is redelivered, and the vendor called
// again.
const VendorInterrupted = "interrupted"

// failureOf describes a vendor's failure for the dead-letter record: the
// class, status, the vendor's code and its documented description, the
// adapter's own message, and what the vendor wrote (VendorMessage, which
// the publisher keeps only when dead_letter.include_vendor_message is
// set). Each is masked again with the person's identifiers and the shapes
// of personal data: adapters mask what they write, but an error no adapter
// built (a raw library error, say) may quote a URL holding an identifier,
// and the dead-letter record outlives the deletion.
func failureOf(r adapters.Result, personal []string) dlq.Failure {
	f := dlq.Failure{Vendor: r.Vendor, Attempts: r.Attempts, Class: adapters.ErrorClass(r.Err).String()}
	var ae *adapters.Error
	if errors.As(r.Err, &ae) {
		f.Status, f.Code, f.Description, f.Message, f.VendorMessage = ae.Status, ae.Code, ae.Description, ae.Message, ae.VendorMessage
	} else if r.Err != nil {
		f.Message = r.Err.Error()
	}
	f.Code = adapters.Excerpt([]byte(f.Code), personal...)
	f.Description = adapters.Excerpt([]byte(f.Description), personal...)
	f.Message = adapters.Excerpt([]byte(f.Message), personal...)
	f.VendorMessage = adapters.Excerpt([]byte(f.VendorMessage), personal...)
	return f
}

// personalValues lists what identifies the person in ev. Their order does
// not matter: adapters.Excerpt hides every occurrence of each at once.
func personalValues(ev *event.UserDeleted) []string {
	vs := make([]string, 0, 1+len(ev.Identifiers))
	vs = append(vs, ev.UserID)
	for _, v := range ev.Identifiers {
		vs = append(vs, v)
	}
	return vs
}

// logEvent starts the one line logged per finished event. It names the
// person only by a fingerprint. In an interrupted event, the vendors that
// did not finish say interrupted, not failed: nothing failed there. A
// dead-lettered event's line lists only the vendors that failed.
func (p *Processor) logEvent(level zerolog.Level, msg kafka.Message, ev *event.UserDeleted, results []adapters.Result, o Outcome, start time.Time) *zerolog.Event {
	if p.log.GetLevel() > level {
		return nil // zerolog's disabled event: nothing below is built
	}
	vendors := zerolog.Dict()
	for _, r := range results {
		if o == OutcomeDeadLettered && r.Outcome.Final() {
			// A warning says what went wrong; the vendors that
			// finished only make the line long.
			continue
		}
		outcome := r.Outcome.String()
		if o == OutcomeInterrupted && r.Interrupted() {
			outcome = VendorInterrupted
		}
		d := zerolog.Dict().Str("outcome", outcome).Int("attempts", r.Attempts).Dur("took_ms", r.Duration)
		var ae *adapters.Error
		if errors.As(r.Err, &ae) {
			d = d.Str("class", ae.Class.String()).Int("status", ae.Status)
			if ae.Code != "" {
				d = d.Str("code", ae.Code)
			}
		}
		vendors = vendors.Dict(r.Vendor, d)
	}
	return p.log.WithLevel(level).
		Str("event_id", ev.EventID).
		Str("user", p.fp.Fingerprint(ev.UserID)).
		Int("partition", msg.Partition).
		Int64("offset", msg.Offset).
		Str("outcome", string(o)).
		Dur("took_ms", time.Since(start)).
		Dict("vendors", vendors)
}

// withParked adds the parked vendors and their reasons to a line, when
// any was parked.
func withParked(parked *zerolog.Event) func(*zerolog.Event) {
	return func(e *zerolog.Event) {
		if parked != nil {
			e.Dict("parked", parked)
		}
	}
}

func eventHeaders(hs []kafka.Header) []event.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]event.Header, len(hs))
	for i, h := range hs {
		out[i] = event.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

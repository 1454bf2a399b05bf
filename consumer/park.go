package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/retrytopic"
)

// Parker durably sets a vendor's part of an event aside on the vendor's
// retry topic. Park returns nil only once the record is safe (acks from
// all in-sync replicas); it retries by itself and fails only when ctx
// ends. retrytopic.Publisher is the daemon's.
type Parker interface {
	Park(ctx context.Context, topic string, rec retrytopic.Parked) error
}

// Parking is how a Processor parks instead of holding: see WithParking.
type Parking struct {
	// Parker writes the records; required.
	Parker Parker
	// Index orders a user's parts at a vendor behind a parked one; nil
	// keeps no order across parks (tests only).
	Index ParkedIndex
	// Pauses says which vendors are paused; nil: none.
	Pauses PauseSource
	// FirstWait is the wait before a retry worker first tries a new
	// park: the first step of the vendor's retry schedule
	// (retrytopic.DefaultFirstWait when 0).
	FirstWait func(vendor string) time.Duration
}

// WithParking makes the Processor park a vendor's part on the vendor's
// retry topic (Vendor.RetryTopic) instead of holding the event: when the
// vendor is paused, when the user already has a part parked there, when
// its circuit is open (at once, or as soon as it opens while the part
// waits on a retry), when the part is not final within the vendor's
// inline budget, or when its retries ran out. Permanent failures and
// invalid identifiers are still dead-lettered: retrying cannot help them.
// Without it, the Processor holds the event until every vendor is final,
// then dead-letters what failed.
func WithParking(pk Parking) ProcessorOption {
	return func(p *Processor) {
		if pk.FirstWait == nil {
			pk.FirstWait = func(string) time.Duration { return retrytopic.DefaultFirstWait }
		}
		p.parking = &pk
	}
}

// Causes of a vendor's inline run ending early, read back with
// context.Cause.
var (
	errInlineBudget = errors.New("inline budget spent")
	errCircuitOpen  = errors.New("vendor circuit opened")
)

// part is one vendor's share of an event: its result, and why it was
// parked (empty if it was not).
type part struct {
	res    adapters.Result
	parked retrytopic.Reason
	// parkErr is the failed park write: the event is not finished.
	parkErr error
	// parkedAt is when the part was parked (the record's ParkedAt): its
	// receipt's time, although the receipt is written when the event
	// finishes, which may be after the retry worker settled the part.
	parkedAt time.Time
}

// runVendor carries ev to v: at once to the retry topic when the vendor is
// paused, the user is parked there already, or the circuit is open;
// otherwise through the vendor's retries, within its inline budget and
// only while its circuit stays closed, then to the retry topic if not
// final.
func (p *Processor) runVendor(ctx context.Context, v Vendor, msg kafka.Message, ev *event.UserDeleted) part {
	if p.parking == nil {
		return part{res: v.Retrier.Do(ctx, v.Adapter, ev)}
	}
	name := v.Adapter.Name()
	user := retrytopic.UserKey(msg, ev)
	var reason retrytopic.Reason
	switch {
	case v.Paused || (p.parking.Pauses != nil && p.parking.Pauses.Paused(name)):
		reason = retrytopic.ReasonPaused
	case p.parking.Index != nil && p.parking.Index.Parked(name, user):
		reason = retrytopic.ReasonBehind
	case v.Breaker.Refuses():
		reason = retrytopic.ReasonCircuitOpen
	}
	if reason != "" {
		res := adapters.Result{Vendor: name, Outcome: adapters.Failed}
		return p.park(ctx, v, msg, ev, user, res, reason)
	}

	budget := v.InlineBudget
	if budget <= 0 {
		budget = adapters.DefaultRetryConfig().InlineBudget
	}
	// Taken before the first attempt: an opening between here and the
	// select below is not missed.
	opened := v.Breaker.Opened()
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	vctx, cancelBudget := context.WithTimeoutCause(cctx, budget, errInlineBudget)
	defer cancelBudget()
	stop := make(chan struct{})
	defer close(stop)
	if opened != nil {
		go func() {
			select {
			case <-opened:
				// Parts waiting on a retry here are parked now,
				// not when their budget runs out.
				cancel(errCircuitOpen)
			case <-stop:
			}
		}()
	}
	res := v.Retrier.Do(vctx, v.Adapter, ev)
	if res.Outcome.Final() || ctx.Err() != nil {
		// Done, or our own caller ended the work (an interruption).
		return part{res: res}
	}
	if vctx.Err() != nil {
		reason = retrytopic.ReasonInlineBudget
		if errors.Is(context.Cause(vctx), errCircuitOpen) {
			reason = retrytopic.ReasonCircuitOpen
		}
		return p.park(ctx, v, msg, ev, user, res, reason)
	}
	switch adapters.ErrorClass(res.Err) {
	case adapters.ClassPermanent, adapters.ClassInvalidIdentifier:
		// The same answer every time: dead-lettered, as before.
		return part{res: res}
	}
	// Retries ran out (or an answer nobody could read): when in doubt,
	// call the vendor again, later.
	reason = retrytopic.ReasonInlineBudget
	if errors.Is(res.Err, adapters.ErrCircuitOpen) {
		reason = retrytopic.ReasonCircuitOpen
	}
	return p.park(ctx, v, msg, ev, user, res, reason)
}

// park writes v's part of ev to v's retry topic.
func (p *Processor) park(ctx context.Context, v Vendor, msg kafka.Message, ev *event.UserDeleted, user string, res adapters.Result, reason retrytopic.Reason) part {
	name := v.Adapter.Name()
	now := time.Now()
	rec := retrytopic.Parked{
		Original:          msg,
		OriginalTopic:     msg.Topic,
		OriginalPartition: msg.Partition,
		OriginalOffset:    msg.Offset,
		OriginalTimestamp: msg.Time,
		EventID:           ev.EventID,
		Vendor:            name,
		Reason:            reason,
		// Step 1: the first wait of the schedule is spent before the
		// worker's first try (Due); a failure there waits the second.
		Step:     1,
		ParkedAt: now,
		Due:      now.Add(p.parking.FirstWait(name)),
	}
	if res.Attempts > 0 || res.Refused > 0 {
		// The history holds the inline run's last answer; Attempts
		// counts requests actually sent.
		a := retrytopic.Attempt{At: res.LastFailure, By: "inline"}
		if a.At.IsZero() {
			a.At = now
		}
		var ae *adapters.Error
		if errors.As(res.Err, &ae) {
			a.Status, a.Class, a.Code = ae.Status, ae.Class.String(), adapters.Excerpt([]byte(ae.Code), personalValues(ev)...)
		} else if res.Err != nil {
			a.Class = adapters.ErrorClass(res.Err).String()
		}
		rec.AddAttempt(a)
		rec.Attempts = res.Attempts
		rec.FirstFailure = res.FirstFailure
	}
	topic := v.RetryTopic
	if topic == "" {
		topic = retrytopic.TopicFor(msg.Topic, name)
	}
	if err := p.parking.Parker.Park(ctx, topic, rec); err != nil {
		return part{res: res, parked: reason, parkErr: err}
	}
	if p.parking.Index != nil {
		p.parking.Index.Add(name, user)
	}
	return part{res: res, parked: reason, parkedAt: now}
}

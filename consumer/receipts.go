package consumer

import (
	"context"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/receipt"
	"github.com/erasured/erasured/retrytopic"
)

// ReceiptWriter writes receipts durably (acks from every in-sync
// replica); *receipt.Writer is one.
type ReceiptWriter interface {
	Write(ctx context.Context, rs ...*receipt.Receipt) error
}

// Receipts makes the processor write an event's receipt before it
// reports the event finished, so no committed event lacks one.
type Receipts struct {
	Writer ReceiptWriter
	// Deadline is compliance.deadline.
	Deadline time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// WithReceipts turns receipts on.
func WithReceipts(r Receipts) ProcessorOption {
	return func(p *Processor) {
		if r.Now == nil {
			r.Now = time.Now
		}
		p.receipts = &r
	}
}

// writeReceipt records how each vendor's part of ev ended: final, parked
// (paused when the vendor was paused), or dead-lettered. It is called
// once everything else about the event is durable; its error leaves the
// event unfinished.
func (p *Processor) writeReceipt(ctx context.Context, ev *event.UserDeleted, parts []part, unconfigured []string) error {
	if p.receipts == nil {
		return nil
	}
	now := p.receipts.Now()
	r := receipt.New(ev, p.fp, p.receipts.Deadline, now)
	for _, pt := range parts {
		otherwise := receipt.DeadLettered
		switch {
		case pt.parked == retrytopic.ReasonPaused:
			otherwise = receipt.Paused
		case pt.parked != "":
			otherwise = receipt.Parked
		}
		// A parked part is recorded as of its parking, not of this
		// write: the retry worker may already have settled it (its
		// first try comes FirstWait after the park, while this event
		// may still wait on a slow vendor), and readers fold parts by
		// recorded time, so a later time here would let "parked"
		// override the worker's "deleted" for good. FirstWait also
		// absorbs clock skew between this member and another's worker.
		at := now
		if pt.parked != "" && !pt.parkedAt.IsZero() {
			at = pt.parkedAt
		}
		r.Set(pt.res.Vendor, receipt.PartOf(pt.res, otherwise, at))
	}
	for _, name := range unconfigured {
		r.Set(name, receipt.PartOf(adapters.Result{Vendor: name, Outcome: adapters.Failed}, receipt.DeadLettered, now))
	}
	return p.receipts.Writer.Write(ctx, r)
}

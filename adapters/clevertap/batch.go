package clevertap

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/erasured/erasured/adapters"
)

// batcher coalesces concurrent deletes into one request of up to size
// ids. A batch opens with its first id and is sent when it is full, or
// when wait has passed and the vendor's limiter grants a permit, whichever
// is first: while requests queue for the limiter the batch keeps filling,
// so a throttled CleverTap gets fewer, fuller requests. CleverTap answers
// for the request as a whole, so its one answer is every member's.
//
// Each member's context is its own: a member whose context ends leaves
// (its id is dropped if the batch has not gone yet) and the others carry
// on; a batch every member left is not sent, or its request is cancelled.
type batcher struct {
	size    int
	wait    time.Duration
	limiter *adapters.Limiter
	send    func(ctx context.Context, ids []string) (adapters.Outcome, error)

	mu   sync.Mutex
	open *batch
}

type batch struct {
	// at is when CleverTap answered the batch: with its size, the
	// receipt's reference (its answer carries no id of its own).
	at time.Time
	// sent is how many ids the request carried.
	sent   int
	ctx    context.Context
	cancel context.CancelFunc
	full   chan struct{} // closed when size distinct ids joined
	done   chan struct{} // closed once out and err are set

	// Guarded by batcher.mu.
	members map[string]int // id -> members waiting on it
	order   []string       // ids in arrival order; those left have no members
	ids     int            // distinct ids with members
	waiting int            // members waiting
	gone    bool           // no longer open to joiners

	out adapters.Outcome
	err error
}

func newBatcher(size int, wait time.Duration, limiter *adapters.Limiter, send func(context.Context, []string) (adapters.Outcome, error)) *batcher {
	return &batcher{size: size, wait: wait, limiter: limiter, send: send}
}

// delete adds id to the open batch (opening one if none is) and waits for
// the batch's answer or for ctx to end.
func (b *batcher) delete(ctx context.Context, id string) (adapters.Outcome, error) {
	b.mu.Lock()
	bt := b.open
	if bt == nil {
		bctx, cancel := context.WithCancel(context.Background())
		bt = &batch{ctx: bctx, cancel: cancel, full: make(chan struct{}), done: make(chan struct{}), members: map[string]int{}}
		b.open = bt
		go b.run(bt)
	}
	if bt.members[id] == 0 {
		bt.order = append(bt.order, id)
		bt.ids++
	}
	bt.members[id]++
	bt.waiting++
	if bt.ids >= b.size {
		b.open = nil
		bt.gone = true
		close(bt.full)
	}
	b.mu.Unlock()

	select {
	case <-bt.done:
		return bt.answer(ctx)
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-bt.done:
		// Answered while we were leaving: the answer is the truth.
		return bt.answer(ctx)
	default:
	}
	bt.members[id]--
	if bt.members[id] == 0 {
		bt.ids--
	}
	bt.waiting--
	if bt.waiting == 0 {
		// Nobody is left to tell: do not send, or stop sending.
		if b.open == bt {
			b.open = nil
			bt.gone = true
		}
		bt.cancel()
	}
	return adapters.Failed, ctx.Err()
}

// run sends bt once it is full, or once wait has passed and a permit is
// granted.
func (b *batcher) run(bt *batch) {
	defer bt.cancel()
	t := time.NewTimer(b.wait)
	select {
	case <-t.C:
	case <-bt.full:
		t.Stop()
	case <-bt.ctx.Done():
		t.Stop()
	}
	var permit adapters.Permit
	if b.limiter != nil {
		p, err := b.limiter.Acquire(bt.ctx)
		if err != nil {
			b.finish(bt, adapters.Failed, err)
			return
		}
		permit = p
	}
	b.mu.Lock()
	if b.open == bt {
		b.open = nil
	}
	bt.gone = true
	// An id that left and joined again stands in order twice; send it
	// once.
	ids := make([]string, 0, bt.ids)
	sent := make(map[string]bool, bt.ids)
	for _, id := range bt.order {
		if bt.members[id] > 0 && !sent[id] {
			sent[id] = true
			ids = append(ids, id)
		}
	}
	b.mu.Unlock()

	if len(ids) == 0 {
		if b.limiter != nil {
			b.limiter.Release(permit, context.Canceled)
		}
		b.finish(bt, adapters.Failed, context.Canceled)
		return
	}
	bt.sent = len(ids)
	out, err := b.send(bt.ctx, ids)
	if b.limiter != nil {
		b.limiter.Release(permit, err)
	}
	b.finish(bt, out, err)
}

func (b *batcher) finish(bt *batch, out adapters.Outcome, err error) {
	bt.out, bt.err, bt.at = out, err, time.Now().UTC()
	close(bt.done)
}

// errTimeout reports whether err is a request's own deadline, as opposed
// to a member leaving.
func errTimeout(ctx context.Context, err error) bool {
	return ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded)
}

// answer is the batch's outcome for one member, with the time CleverTap
// accepted the batch and its size noted for the member's receipt.
func (bt *batch) answer(ctx context.Context) (adapters.Outcome, error) {
	if bt.err == nil {
		adapters.NoteReference(ctx, bt.at.Format(time.RFC3339Nano), bt.sent)
	}
	return bt.out, bt.err
}

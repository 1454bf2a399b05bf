package consumer

import (
	"fmt"
	"sync"
)

// offsetTracker knows, for one partition, which fetched offsets are
// finished, and so the highest offset that can be committed without
// skipping an unfinished event. Offsets are tracked in the order they are
// fetched (increasing); they finish in any order.
//
// The commit point is the offset of the oldest unfinished event, or one
// past the newest tracked event when all are finished: Kafka's committed
// offset is the next one to read.
type offsetTracker struct {
	mu sync.Mutex
	// pending holds tracked offsets in fetch order; done marks the finished
	// ones among them. The head is dropped as soon as it finishes, so the
	// queue never holds more than the in-flight limit plus the finished
	// events stuck behind an unfinished one.
	pending []int64
	done    map[int64]bool
	// next is the commit point once pending is empty.
	next int64
	// committed is the last commit point handed out by commitPoint and
	// confirmed by markCommitted.
	committed int64
}

// newOffsetTracker starts a tracker whose commit point is start, the offset
// the partition is read from. A negative start (no committed offset yet;
// the reader starts at the log's first or last offset) means unknown: the
// first tracked offset sets it, and nothing is committable before.
func newOffsetTracker(start int64) *offsetTracker {
	if start < 0 {
		start = -1
	}
	return &offsetTracker{done: map[int64]bool{}, next: start, committed: start}
}

// track records a fetched offset. Offsets must increase.
func (t *offsetTracker) track(off int64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.pending); n > 0 && off <= t.pending[n-1] {
		return fmt.Errorf("offset %d tracked after %d", off, t.pending[n-1])
	}
	if t.next < 0 {
		// The start was unknown (no commit yet; the reader resolved
		// "earliest" or "latest"). The first fetched offset is committable
		// at once, unfinished: committing it pins the start, so that a
		// successor does not resolve "latest" again past this record.
		t.next = off
	}
	if len(t.pending) == 0 && off < t.next {
		return fmt.Errorf("offset %d tracked below commit point %d", off, t.next)
	}
	t.pending = append(t.pending, off)
	return nil
}

// finish marks a tracked offset done.
func (t *offsetTracker) finish(off int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[off] = true
	for len(t.pending) > 0 && t.done[t.pending[0]] {
		head := t.pending[0]
		delete(t.done, head)
		t.pending = t.pending[1:]
		t.next = head + 1
	}
	if len(t.pending) == 0 {
		// Let the backing array go instead of growing forever.
		t.pending = nil
	}
}

// commitPoint returns the offset to commit and whether it moved past the
// last confirmed commit.
func (t *offsetTracker) commitPoint() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.next
	if len(t.pending) > 0 {
		p = t.pending[0]
	}
	return p, p >= 0 && p > t.committed
}

// markCommitted records that off was committed.
func (t *offsetTracker) markCommitted(off int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if off > t.committed {
		t.committed = off
	}
}

// lastCommitted returns the last confirmed commit point: the offset the
// partition started from before the first commit, -1 if unknown.
func (t *offsetTracker) lastCommitted() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.committed
}

// inFlight returns how many tracked events are not finished.
func (t *offsetTracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending) - len(t.done)
}

// window returns how many tracked offsets are held: unfinished ones and
// finished ones waiting behind an unfinished one.
func (t *offsetTracker) window() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

package consumer

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/event"
)

// guard bounds a wait that only a bug makes long: it fails the test rather
// than hanging it. Nothing asserts how quick anything is.
const guard = 10 * time.Second

// fakeFetcher hands out the records sent on msgs.
type fakeFetcher struct {
	msgs chan kafka.Message
	// err, when set, is returned once msgs is drained and closed.
	err error
	// onFetch runs at the start of every FetchMessage call.
	onFetch func()
	// calls is signalled at the start of every FetchMessage call: the
	// worker only asks for record N+1 once record N is dispatched.
	calls chan struct{}
	// delivered counts records returned.
	delivered atomic.Int64
}

func newFakeFetcher(buf int) *fakeFetcher {
	return &fakeFetcher{msgs: make(chan kafka.Message, buf), calls: make(chan struct{}, 4096)}
}

func (f *fakeFetcher) FetchMessage(ctx context.Context) (kafka.Message, error) {
	f.calls <- struct{}{}
	if f.onFetch != nil {
		f.onFetch()
	}
	select {
	case m, ok := <-f.msgs:
		if !ok {
			if f.err != nil {
				return kafka.Message{}, f.err
			}
			<-ctx.Done()
			return kafka.Message{}, ctx.Err()
		}
		f.delivered.Add(1)
		return m, nil
	case <-ctx.Done():
		return kafka.Message{}, ctx.Err()
	}
}

// rec builds a record for user at off; user "" makes it undecodable.
func rec(off int64, user string) kafka.Message {
	return kafka.Message{Partition: 0, Offset: off, Key: []byte(user)}
}

// gateProc is a recordProcessor whose Process blocks until the record's
// gate is opened (or ctx ends), and which checks the lane rules as it goes.
type gateProc struct {
	t *testing.T

	mu       sync.Mutex
	gates    map[int64]chan struct{}
	active   map[string]int     // users inside Process now
	order    map[string][]int64 // offsets each user entered Process with
	maxLanes int                // most distinct lanes inside Process at once

	// entered receives each offset as it enters Process.
	entered chan int64
	// completed counts records that returned nil from Process.
	completed atomic.Int64
}

func newGateProc(t *testing.T) *gateProc {
	return &gateProc{
		t:       t,
		gates:   map[int64]chan struct{}{},
		active:  map[string]int{},
		order:   map[string][]int64{},
		entered: make(chan int64, 1024),
	}
}

func (p *gateProc) gate(off int64) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.gates[off]
	if !ok {
		g = make(chan struct{})
		p.gates[off] = g
	}
	return g
}

func (p *gateProc) open(offs ...int64) {
	for _, o := range offs {
		close(p.gate(o))
	}
}

// Decode reads the key as the user; an empty key does not decode.
func (p *gateProc) Decode(msg kafka.Message) (*event.UserDeleted, error) {
	if len(msg.Key) == 0 {
		return nil, errors.New("undecodable")
	}
	return &event.UserDeleted{EventID: fmt.Sprint("ev-", msg.Offset), UserID: string(msg.Key)}, nil
}

func (p *gateProc) Process(ctx context.Context, msg kafka.Message, ev *event.UserDeleted, decErr error) error {
	lane := laneKey(msg, ev)
	if (ev == nil) != (decErr != nil) {
		p.t.Errorf("offset %d: Process got ev %v with decErr %v", msg.Offset, ev, decErr)
	}
	p.mu.Lock()
	p.active[lane]++
	if p.active[lane] > 1 {
		p.t.Errorf("lane %q: two records inside Process at once (offset %d)", lane, msg.Offset)
	}
	if prev := p.order[lane]; len(prev) > 0 && prev[len(prev)-1] >= msg.Offset {
		p.t.Errorf("lane %q: offset %d entered after %d", lane, msg.Offset, prev[len(prev)-1])
	}
	p.order[lane] = append(p.order[lane], msg.Offset)
	p.maxLanes = max(p.maxLanes, len(p.active))
	p.mu.Unlock()
	p.entered <- msg.Offset

	g := p.gate(msg.Offset)
	var err error
	select {
	case <-g:
		p.completed.Add(1)
	case <-ctx.Done():
		err = fmt.Errorf("offset %d: %w", msg.Offset, ErrInterrupted)
	}
	p.mu.Lock()
	if p.active[lane]--; p.active[lane] == 0 {
		delete(p.active, lane)
	}
	p.mu.Unlock()
	return err
}

func (p *gateProc) laneOrder(lane string) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.order[lane]...)
}

// harness runs a partitionWorker's fetch loop against fakes.
type harness struct {
	t         *testing.T
	f         *fakeFetcher
	p         *gateProc
	w         *partitionWorker
	finished  chan finishedRec
	fetchStop context.CancelFunc
	workStop  context.CancelFunc
	fetchErr  chan error
	calls     int // FetchMessage calls seen by waitDispatched
}

type finishedRec struct {
	off int64
	err error
}

func startWorker(t *testing.T, start int64, maxInFlight int, setup func(*harness)) *harness {
	t.Helper()
	h := &harness{t: t, f: newFakeFetcher(1024), p: newGateProc(t), finished: make(chan finishedRec, 1024), fetchErr: make(chan error, 1)}
	h.w = newPartitionWorker(0, h.f, h.p, start, maxInFlight, zerolog.Nop())
	h.w.onFinish = func(m kafka.Message, err error) { h.finished <- finishedRec{m.Offset, err} }
	if setup != nil {
		setup(h)
	}
	fetchCtx, fetchStop := context.WithCancel(context.Background())
	workCtx, workStop := context.WithCancel(context.Background())
	h.fetchStop, h.workStop = fetchStop, workStop
	go func() { h.fetchErr <- h.w.fetch(fetchCtx, workCtx) }()
	t.Cleanup(func() {
		fetchStop()
		workStop()
		h.w.drain()
	})
	return h
}

func (h *harness) feed(msgs ...kafka.Message) {
	for _, m := range msgs {
		h.f.msgs <- m
	}
}

// waitDispatched waits until the first n records fed are tracked and in
// their lanes, which is when the worker asks for record n+1.
func (h *harness) waitDispatched(n int) {
	h.t.Helper()
	timeout := time.After(guard)
	for h.calls <= n {
		select {
		case <-h.f.calls:
			h.calls++
		case <-timeout:
			h.t.Fatalf("only %d records dispatched, want %d", h.calls-1, n)
		}
	}
}

// waitEntered waits for n records to enter Process and returns their offsets.
func (h *harness) waitEntered(n int) []int64 {
	h.t.Helper()
	var got []int64
	timeout := time.After(guard)
	for len(got) < n {
		select {
		case o := <-h.p.entered:
			got = append(got, o)
		case <-timeout:
			h.t.Fatalf("only %d of %d records entered Process: %v", len(got), n, got)
		}
	}
	return got
}

// waitFinished waits for n records to leave run.
func (h *harness) waitFinished(n int) []finishedRec {
	h.t.Helper()
	var got []finishedRec
	timeout := time.After(guard)
	for len(got) < n {
		select {
		case r := <-h.finished:
			got = append(got, r)
		case <-timeout:
			h.t.Fatalf("only %d of %d records finished: %v", len(got), n, got)
		}
	}
	return got
}

func (h *harness) stopFetch() error {
	h.t.Helper()
	h.fetchStop()
	select {
	case err := <-h.fetchErr:
		return err
	case <-time.After(guard):
		h.t.Fatal("fetch did not return after its context was cancelled")
		return nil
	}
}

func TestPartitionSameUserInOffsetOrder(t *testing.T) {
	t.Parallel()
	h := startWorker(t, 0, 8, nil)
	// Open every gate first, newest first: lanes that ran concurrently or
	// out of order would show it.
	h.p.open(4, 3, 2, 1, 0)
	h.feed(rec(0, "u"), rec(1, "u"), rec(2, "u"), rec(3, "u"), rec(4, "u"))
	got := h.waitFinished(5)
	for i, r := range got {
		if r.off != int64(i) || r.err != nil {
			t.Fatalf("finish %d = offset %d (err %v), want offset %d", i, r.off, r.err, i)
		}
	}
	if order := h.p.laneOrder("u"); fmt.Sprint(order) != "[0 1 2 3 4]" {
		t.Fatalf("Process order = %v", order)
	}
	if p, moved := h.w.tracker.commitPoint(); p != 5 || !moved {
		t.Fatalf("commitPoint = %d, %v; want 5, true", p, moved)
	}
}

func TestPartitionDifferentUsersConcurrent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msgs []kafka.Message
	}{
		{"two users", []kafka.Message{rec(0, "alice"), rec(1, "bob")}},
		// An undecodable record has no user: each gets a lane of its own.
		{"two undecodable records", []kafka.Message{rec(0, ""), rec(1, "")}},
		{"user and undecodable", []kafka.Message{rec(0, "alice"), rec(1, "")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startWorker(t, 0, 4, nil)
			h.feed(tc.msgs...)
			// Neither gate is open: both can only be inside Process
			// together if they run concurrently.
			h.waitEntered(2)
			h.p.mu.Lock()
			both := h.p.maxLanes
			h.p.mu.Unlock()
			if both != 2 {
				t.Fatalf("%d lanes inside Process at once, want 2", both)
			}
			h.p.open(0, 1)
			h.waitFinished(2)
		})
	}
}

func TestLaneKey(t *testing.T) {
	t.Parallel()
	ev := func(u string) *event.UserDeleted { return &event.UserDeleted{UserID: u} }
	tests := []struct {
		name     string
		a, b     kafka.Message
		ea, eb   *event.UserDeleted
		sameLane bool
	}{
		{"same user, different offsets", rec(1, "x"), rec(2, "x"), ev("u1"), ev("u1"), true},
		{"different users", rec(1, "x"), rec(2, "x"), ev("u1"), ev("u2"), false},
		{"undecodable records", rec(1, ""), rec(2, ""), nil, nil, false},
		{"undecodable and a user", rec(1, ""), rec(2, ""), nil, ev("1"), false},
		// The key is not the lane: a record keyed otherwise still follows
		// its user.
		{"same user, different keys", rec(1, "k1"), rec(2, "k2"), ev("u1"), ev("u1"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ka, kb := laneKey(tc.a, tc.ea), laneKey(tc.b, tc.eb)
			if (ka == kb) != tc.sameLane {
				t.Fatalf("laneKey = %q and %q; same lane = %v, want %v", ka, kb, ka == kb, tc.sameLane)
			}
		})
	}
}

// TestPartitionInFlightBound checks, at every fetch, that fewer than
// maxInFlight records are fetched and unfinished: the fetcher is never
// asked for record N+1 while N are in flight.
func TestPartitionInFlightBound(t *testing.T) {
	t.Parallel()
	const maxInFlight = 3
	const total = 200
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))

	var h *harness
	var fetches atomic.Int64
	h = startWorker(t, 0, maxInFlight, func(h *harness) {
		h.f.onFetch = func() {
			fetches.Add(1)
			unfinished := h.f.delivered.Load() - h.p.completed.Load()
			if unfinished >= maxInFlight {
				t.Errorf("fetch asked with %d records unfinished, limit %d", unfinished, maxInFlight)
			}
			if n := h.w.tracker.inFlight(); n >= maxInFlight {
				t.Errorf("fetch asked with %d tracked records unfinished, limit %d", n, maxInFlight)
			}
		}
	})

	// First, the limit itself: three blocked records fill every slot.
	h.feed(rec(0, "a"), rec(1, "b"), rec(2, "c"), rec(3, "d"))
	h.waitEntered(3)
	if n := h.w.tracker.inFlight(); n != maxInFlight {
		t.Fatalf("inFlight = %d, want %d", n, maxInFlight)
	}
	h.p.open(1)
	if got := h.waitEntered(1); got[0] != 3 {
		t.Fatalf("entered %v after a slot freed, want offset 3", got)
	}

	// Then many records over few users, finished in random order.
	users := []string{"a", "b", "c", "d", "e"}
	for off := int64(4); off < total; off++ {
		h.feed(rec(off, users[rng.Intn(len(users))]))
	}
	waiting := []int64{0, 2, 3} // entered Process, gate closed
	done := 1                   // offset 1
	timeout := time.After(guard)
	for done < total {
		select {
		case o := <-h.p.entered:
			waiting = append(waiting, o)
			continue
		default:
		}
		if len(waiting) == 0 {
			select {
			case o := <-h.p.entered:
				waiting = append(waiting, o)
			case <-timeout:
				t.Fatalf("stuck with %d of %d records done", done, total)
			}
			continue
		}
		i := rng.Intn(len(waiting))
		h.p.open(waiting[i])
		waiting = append(waiting[:i], waiting[i+1:]...)
		done++
	}
	h.waitFinished(total)
	if p, _ := h.w.tracker.commitPoint(); p != total {
		t.Fatalf("commitPoint = %d, want %d", p, total)
	}
	if fetches.Load() < total {
		t.Fatalf("%d fetches for %d records", fetches.Load(), total)
	}
	for _, u := range users {
		order := h.p.laneOrder(u)
		for i := 1; i < len(order); i++ {
			if order[i] <= order[i-1] {
				t.Fatalf("user %s ran out of order: %v", u, order)
			}
		}
	}
}

// TestPartitionBlockedUser: a record that does not finish holds back its
// own user and the commit point, nothing else.
func TestPartitionBlockedUser(t *testing.T) {
	t.Parallel()
	h := startWorker(t, 0, 5, nil)
	h.p.open(1, 2, 3)
	h.feed(rec(0, "stuck"), rec(1, "b"), rec(2, "c"), rec(3, "b"), rec(4, "stuck"))
	// 0 to 3 enter Process; 4 waits in the stuck user's lane.
	h.waitDispatched(5)
	h.waitEntered(4)
	got := h.waitFinished(3)
	seen := map[int64]bool{}
	for _, r := range got {
		if r.err != nil {
			t.Fatalf("offset %d: %v", r.off, r.err)
		}
		seen[r.off] = true
	}
	if !seen[1] || !seen[2] || !seen[3] {
		t.Fatalf("finished %v, want offsets 1, 2 and 3", got)
	}
	// Offset 4 is the stuck user's next record: it waits in the lane.
	if order := h.p.laneOrder("stuck"); fmt.Sprint(order) != "[0]" {
		t.Fatalf("stuck user's lane ran %v, want only [0]", order)
	}
	if p, moved := h.w.tracker.commitPoint(); p != 0 || moved {
		t.Fatalf("commitPoint = %d, %v while offset 0 runs; want 0, false", p, moved)
	}
	if n := h.w.tracker.inFlight(); n != 2 {
		t.Fatalf("inFlight = %d, want 2 (offsets 0 and 4)", n)
	}

	h.p.open(0)
	h.waitFinished(1)
	if p, moved := h.w.tracker.commitPoint(); p != 4 || !moved {
		t.Fatalf("commitPoint = %d, %v after offset 0 finished; want 4, true", p, moved)
	}
	h.p.open(4)
	h.waitFinished(1)
	if p, moved := h.w.tracker.commitPoint(); p != 5 || !moved {
		t.Fatalf("commitPoint = %d, %v; want 5, true", p, moved)
	}
}

// TestPartitionStopAndDrain: fetch returns nil when its context ends, and
// drain returns once the work context ends; interrupted records stay
// unfinished so they are redelivered.
func TestPartitionStopAndDrain(t *testing.T) {
	t.Parallel()
	h := startWorker(t, 20, 8, nil)
	h.p.open(21)
	// 20 blocks; 21 finishes; 22 blocks; 23 waits behind 20 in its lane.
	h.feed(rec(20, "a"), rec(21, "b"), rec(22, "c"), rec(23, "a"))
	h.waitDispatched(4)
	h.waitEntered(3)
	if r := h.waitFinished(1); r[0].off != 21 || r[0].err != nil {
		t.Fatalf("finished %v, want offset 21", r)
	}

	// The fetcher is now waiting for a record that never comes.
	if err := h.stopFetch(); err != nil {
		t.Fatalf("fetch returned %v after its context was cancelled, want nil", err)
	}
	// Records in flight are not disturbed by the fetch stop.
	h.p.open(22)
	if r := h.waitFinished(1); r[0].off != 22 || r[0].err != nil {
		t.Fatalf("finished %v, want offset 22", r)
	}

	drained := make(chan struct{})
	go func() { h.w.drain(); close(drained) }()
	h.workStop()
	select {
	case <-drained:
	case <-time.After(guard):
		t.Fatal("drain did not return after the work context was cancelled")
	}

	got := map[int64]error{}
	for _, r := range h.waitFinished(2) {
		got[r.off] = r.err
	}
	for _, off := range []int64{20, 23} {
		if err, ok := got[off]; !ok || !errors.Is(err, ErrInterrupted) {
			t.Fatalf("offset %d: err %v (reported %v), want ErrInterrupted", off, err, ok)
		}
	}
	if p, _ := h.w.tracker.commitPoint(); p != 20 {
		t.Fatalf("commitPoint = %d, want 20: interrupted records must not be finished", p)
	}
	if n := h.w.tracker.inFlight(); n != 2 {
		t.Fatalf("inFlight = %d, want 2", n)
	}
}

func TestPartitionFetchErrors(t *testing.T) {
	t.Parallel()
	readerErr := errors.New("reader closed")
	tests := []struct {
		name    string
		msgs    []kafka.Message
		err     error // the fetcher's error after msgs
		wantErr bool
		// wantDone lists offsets that must finish before fetch stops.
		wantDone int
	}{
		{name: "reader error is returned", msgs: []kafka.Message{rec(0, "a")}, err: readerErr, wantErr: true, wantDone: 1},
		{name: "offset going backwards stops the fetch", msgs: []kafka.Message{rec(5, "a"), rec(4, "b")}, wantErr: true, wantDone: 1},
		{name: "repeated offset stops the fetch", msgs: []kafka.Message{rec(5, "a"), rec(5, "a")}, wantErr: true, wantDone: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := startWorker(t, 0, 4, func(h *harness) { h.f.err = tc.err })
			h.p.open(4, 5)
			h.feed(tc.msgs...)
			close(h.f.msgs)
			var err error
			select {
			case err = <-h.fetchErr:
			case <-time.After(guard):
				t.Fatal("fetch did not return")
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("fetch = %v, want error %v", err, tc.wantErr)
			}
			if tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("fetch = %v, want %v", err, tc.err)
			}
			h.p.open(0)
			h.waitFinished(tc.wantDone)
			h.w.drain()
			// A rejected record was never dispatched.
			select {
			case r := <-h.finished:
				t.Fatalf("unexpected finish %v", r)
			default:
			}
		})
	}
}

// The fakes stand in for what production wires: *kafka.Reader and
// *Processor.
var (
	_ fetcher         = (*fakeFetcher)(nil)
	_ fetcher         = (*kafka.Reader)(nil)
	_ recordProcessor = (*gateProc)(nil)
	_ recordProcessor = (*Processor)(nil)
)

// countingObserver counts Fetched and Released calls.
type countingObserver struct {
	nopObserver
	mu                          sync.Mutex
	fetched, finished, released int
	partitions                  map[int]bool
}

func (o *countingObserver) Fetched(p int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fetched++
	o.partitions[p] = true
}

func (o *countingObserver) Released(p int, finished bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.released++
	if finished {
		o.finished++
	}
	if o.released > o.fetched {
		panic("released a record never fetched")
	}
}

func (o *countingObserver) counts() (fetched, finished, released int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetched, o.finished, o.released
}

// TestPartitionObserverBalances checks the in-flight bookkeeping: every
// fetched record is released exactly once, whether it finished, was
// undecodable or was interrupted, and only finished ones say so.
func TestPartitionObserverBalances(t *testing.T) {
	t.Parallel()
	o := &countingObserver{partitions: map[int]bool{}}
	h := startWorker(t, 0, 8, func(h *harness) { h.w.observer = o })
	h.p.open(0, 1, 2)
	// 0..2 finish (2 is undecodable and still finishes: it is
	// dead-lettered); 3 blocks; 4 waits behind 3 in lane "a".
	h.feed(rec(0, "a"), rec(1, "b"), rec(2, ""), rec(3, "a"), rec(4, "a"))
	h.waitDispatched(5)
	h.waitFinished(3)
	if f, fin, r := o.counts(); f != 5 || fin != 3 || r != 3 {
		t.Fatalf("fetched %d finished %d released %d, want 5 3 3", f, fin, r)
	}
	if err := h.stopFetch(); err != nil {
		t.Fatal(err)
	}
	h.workStop()
	h.w.drain()
	h.waitFinished(2)
	if f, fin, r := o.counts(); f != 5 || fin != 3 || r != 5 {
		t.Fatalf("after drain: fetched %d finished %d released %d, want 5 3 5 (interrupted records are released, not finished)", f, fin, r)
	}
	if !o.partitions[0] || len(o.partitions) != 1 {
		t.Fatalf("partitions reported %v, want only 0", o.partitions)
	}
}

// TestPartitionWindowBound: while one record stays unfinished, finished
// records behind it pile up in the tracker; the worker stops fetching once
// windowPerSlot*maxInFlight are tracked, and resumes when it finishes.
func TestPartitionWindowBound(t *testing.T) {
	t.Parallel()
	const maxInFlight = 2
	limit := windowPerSlot * maxInFlight
	h := startWorker(t, 0, maxInFlight, nil)
	msgs := []kafka.Message{rec(0, "stuck")}
	var open []int64
	for off := int64(1); off <= int64(limit+20); off++ {
		msgs = append(msgs, rec(off, fmt.Sprint("u", off)))
		open = append(open, off)
	}
	h.p.open(open...)
	h.feed(msgs...)
	h.waitFinished(limit - 1) // every record in the window but offset 0
	// The worker must not take more than the window; give it every chance
	// to overreach before looking.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := h.w.tracker.window(); n > limit {
			t.Fatalf("tracked window %d exceeds %d", n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.f.delivered.Load(); got != int64(limit) {
		t.Fatalf("fetched %d records with the window full, want %d", got, limit)
	}
	h.p.open(0)
	h.waitFinished(22) // offset 0 and the 21 records beyond the window
	if p, _ := h.w.tracker.commitPoint(); p != int64(limit+21) {
		t.Fatalf("commitPoint = %d, want %d", p, limit+21)
	}
}

package bench

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/erasured/erasured/internal/devstack"
)

// tracker learns from the sandboxes' ledgers when each event's first
// request arrived and when its last vendor deleted it. Vendor ids of a
// devstack workload end in digits that encode the event's sequence
// number, so no map from id to event is needed, whatever the backlog.
type tracker struct {
	n      int
	first  []atomic.Int64 // unix ns of the first request naming the event
	last   []atomic.Int64 // unix ns of its last deletion
	mask   []atomic.Uint32
	all    uint32
	done   atomic.Int64
	start  atomic.Int64 // first request of the run
	finish atomic.Int64 // last event deleted everywhere
}

// vendorSeq maps a vendor's id back to the event's sequence number.
type vendorSeq struct {
	bit    uint32
	offset int64
}

// An event is done once every vendor but except (a vendor down for the
// run, "" for none) deleted it.
func newTracker(s *devstack.Stack, w *devstack.Workload, except string) *tracker {
	t := &tracker{n: len(w.Events), first: make([]atomic.Int64, len(w.Events)), last: make([]atomic.Int64, len(w.Events)), mask: make([]atomic.Uint32, len(w.Events))}
	// The ids of event 0 give each vendor's offset.
	ids0 := devstack.VendorIDs(devstack.NewWorkload(1, 1, 0).Events[0])
	bit := uint32(1)
	for vendor, ledger := range s.Ledgers() {
		if vendor == except {
			// Its requests still start an event's clock.
			ledger.Observe(func(id string, deleted bool) {
				if !deleted {
					t.observe(vendorSeq{offset: trailingNumber(ids0[vendor])}, id, false)
				}
			})
			continue
		}
		vs := vendorSeq{bit: bit, offset: trailingNumber(ids0[vendor])}
		t.all |= bit
		bit <<= 1
		ledger.Observe(func(id string, deleted bool) { t.observe(vs, id, deleted) })
	}
	return t
}

func (t *tracker) observe(vs vendorSeq, id string, deleted bool) {
	seq := trailingNumber(id) - vs.offset
	if seq < 0 || seq >= int64(t.n) {
		return
	}
	now := time.Now().UnixNano()
	if !deleted {
		casMin(&t.first[seq], now)
		casMin(&t.start, now)
		return
	}
	casMax(&t.last[seq], now)
	if old := t.mask[seq].Or(vs.bit); old|vs.bit == t.all && old != t.all {
		t.done.Add(1)
		casMax(&t.finish, now)
	}
}

// trailingNumber reads the last (up to 18) digits of s.
func trailingNumber(s string) int64 {
	var n, mul int64 = 0, 1
	for i := len(s) - 1; i >= 0 && len(s)-i <= 18; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			break
		}
		n += int64(c-'0') * mul
		mul *= 10
	}
	return n
}

func casMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old != 0 && old <= v {
			return
		}
		if a.CompareAndSwap(old, v) {
			return
		}
	}
}

func casMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v {
			return
		}
		if a.CompareAndSwap(old, v) {
			return
		}
	}
}

// latencies returns, for the events deleted everywhere, the time from the
// first request naming the event to its last deletion, sorted.
func (t *tracker) latencies() []time.Duration {
	out := make([]time.Duration, 0, t.done.Load())
	for i := 0; i < t.n; i++ {
		if t.mask[i].Load() == t.all {
			out = append(out, time.Duration(t.last[i].Load()-t.first[i].Load()))
		}
	}
	slices.Sort(out)
	return out
}

// percentile returns the p-th percentile (0..100) of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

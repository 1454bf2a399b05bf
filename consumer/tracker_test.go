package consumer

import (
	"math/rand"
	"slices"
	"testing"
	"time"
)

// step is one operation on a tracker, with what must hold after it.
type step struct {
	track  int64 // offset to track, or -1
	finish int64 // offset to finish, or -1
	commit int64 // offset to mark committed, or -1
	// wantErr says track must fail.
	wantErr bool
	// wantPoint and wantMoved are commitPoint's answer after the step.
	wantPoint int64
	wantMoved bool
	// wantInFlight is inFlight after the step.
	wantInFlight int
}

func tr(off int64, point int64, moved bool, inFlight int) step {
	return step{track: off, finish: -1, commit: -1, wantPoint: point, wantMoved: moved, wantInFlight: inFlight}
}

func trErr(off int64, point int64, moved bool, inFlight int) step {
	s := tr(off, point, moved, inFlight)
	s.wantErr = true
	return s
}

func fin(off int64, point int64, moved bool, inFlight int) step {
	return step{track: -1, finish: off, commit: -1, wantPoint: point, wantMoved: moved, wantInFlight: inFlight}
}

func mark(off int64, point int64, moved bool, inFlight int) step {
	return step{track: -1, finish: -1, commit: off, wantPoint: point, wantMoved: moved, wantInFlight: inFlight}
}

func TestOffsetTracker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		start int64
		steps []step
	}{
		{
			name:  "in-order finishes move the commit point one by one",
			start: 0,
			steps: []step{
				tr(0, 0, false, 1), tr(1, 0, false, 2), tr(2, 0, false, 3),
				fin(0, 1, true, 2), fin(1, 2, true, 1), fin(2, 3, true, 0),
			},
		},
		{
			name:  "out-of-order finishes wait for the oldest unfinished",
			start: 10,
			steps: []step{
				tr(10, 10, false, 1), tr(11, 10, false, 2), tr(12, 10, false, 3), tr(13, 10, false, 4),
				fin(12, 10, false, 3), // 10 and 11 still run: nothing committable
				fin(13, 10, false, 2),
				fin(10, 11, true, 1), // 11 still blocks 12 and 13
				fin(11, 14, true, 0), // everything done: one past the newest
			},
		},
		{
			name:  "markCommitted stops the point counting as moved",
			start: 0,
			steps: []step{
				tr(0, 0, false, 1), tr(1, 0, false, 2),
				fin(0, 1, true, 1),
				mark(1, 1, false, 1),
				mark(0, 1, false, 1), // an older commit never moves it back
				fin(1, 2, true, 0),
				mark(2, 2, false, 0),
			},
		},
		{
			name:  "unknown start (-1) is set by the first track",
			start: -1,
			steps: []step{
				{track: -1, finish: -1, commit: -1, wantPoint: -1, wantMoved: false},
				tr(500, 500, true, 1),
				fin(500, 501, true, 0),
			},
		},
		{
			name:  "unknown start (-2, first offset) is set by the first track",
			start: -2,
			steps: []step{
				{track: -1, finish: -1, commit: -1, wantPoint: -1, wantMoved: false},
				// 7 is committable while unfinished: it pins the start so a
				// successor cannot resolve "latest" past it.
				tr(7, 7, true, 1), mark(7, 7, false, 1), tr(8, 7, false, 2),
				fin(8, 7, false, 1),
				fin(7, 9, true, 0),
			},
		},
		{
			name:  "track rejects non-increasing offsets",
			start: 0,
			steps: []step{
				tr(3, 3, true, 1), // 0..2 are not in the log: committing 3 skips nothing
				trErr(3, 3, true, 1),
				trErr(2, 3, true, 1),
				tr(4, 3, true, 2),
				trErr(4, 3, true, 2),
			},
		},
		{
			name:  "track rejects an offset below the commit point once all are done",
			start: 0,
			steps: []step{
				tr(0, 0, false, 1), tr(1, 0, false, 2),
				fin(0, 1, true, 1), fin(1, 2, true, 0),
				trErr(1, 2, true, 0),
				tr(2, 2, true, 1),
			},
		},
		{
			name:  "gaps from a compacted topic",
			start: 5,
			steps: []step{
				tr(5, 5, false, 1), tr(9, 5, false, 2), tr(12, 5, false, 3),
				fin(9, 5, false, 2),
				fin(5, 12, true, 1), // 9 is done too; 12 is the oldest unfinished
				mark(12, 12, false, 1),
				fin(12, 13, true, 0),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tk := newOffsetTracker(tc.start)
			for i, s := range tc.steps {
				switch {
				case s.track >= 0:
					err := tk.track(s.track)
					if (err != nil) != s.wantErr {
						t.Fatalf("step %d: track(%d) error = %v, want error %v", i, s.track, err, s.wantErr)
					}
				case s.finish >= 0:
					tk.finish(s.finish)
				case s.commit >= 0:
					tk.markCommitted(s.commit)
				}
				p, moved := tk.commitPoint()
				if p != s.wantPoint || moved != s.wantMoved {
					t.Fatalf("step %d: commitPoint() = %d, %v; want %d, %v", i, p, moved, s.wantPoint, s.wantMoved)
				}
				if got := tk.inFlight(); got != s.wantInFlight {
					t.Fatalf("step %d: inFlight() = %d, want %d", i, got, s.wantInFlight)
				}
			}
		})
	}
}

// TestOffsetTrackerRandomOrder finishes gapped offsets in random orders and
// checks after every finish that the commit point is the lowest unfinished
// offset, or one past the newest when all are finished.
func TestOffsetTrackerRandomOrder(t *testing.T) {
	t.Parallel()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for round := range 300 {
		start := int64(rng.Intn(1000))
		if rng.Intn(4) == 0 {
			start = -2 // no committed offset yet
		}
		first := max(start, 0) + int64(rng.Intn(3))
		n := 1 + rng.Intn(60)
		offs := make([]int64, n)
		next := first
		for i := range offs {
			offs[i] = next
			next += 1 + int64(rng.Intn(4)) // gaps, as on a compacted topic
		}

		tk := newOffsetTracker(start)
		for _, o := range offs {
			if err := tk.track(o); err != nil {
				t.Fatalf("round %d: track(%d): %v", round, o, err)
			}
		}
		order := rng.Perm(n)
		unfinished := slices.Clone(offs) // sorted
		// With no committed offset, nothing counts as committed: the first
		// fetched offset is committable at once, to pin the start.
		committed := max(start, -1)
		for _, i := range order {
			off := offs[i]
			tk.finish(off)
			j := slices.Index(unfinished, off)
			unfinished = slices.Delete(unfinished, j, j+1)

			want := offs[n-1] + 1
			if len(unfinished) > 0 {
				want = unfinished[0]
			}
			p, moved := tk.commitPoint()
			if p != want {
				t.Fatalf("round %d: offsets %v, finished %d: commitPoint = %d, want %d", round, offs, off, p, want)
			}
			for _, u := range unfinished {
				if p > u {
					t.Fatalf("round %d: commit point %d passes unfinished %d", round, p, u)
				}
			}
			if moved != (p > committed) {
				t.Fatalf("round %d: moved = %v with point %d, committed %d", round, moved, p, committed)
			}
			if rng.Intn(3) == 0 {
				tk.markCommitted(p)
				committed = p
			}
			if got := tk.inFlight(); got != len(unfinished) {
				t.Fatalf("round %d: inFlight = %d, want %d", round, got, len(unfinished))
			}
		}
	}
}

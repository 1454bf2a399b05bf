package adapters

import (
	"context"
	"runtime"
	"testing"
)

// TestGateRelease pins what release reports: whether requests waited (the
// learner's "the cap bounds the work") and whether one was handed the slot
// (Limiter.Release then yields to it).
func TestGateRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		waiters     int
		lowerTo     int // cap set after the waiters queued; 0 leaves it
		wantWaiting bool
		wantWoke    bool
		wantQueued  int
	}{
		{name: "nobody waits", wantWaiting: false, wantWoke: false},
		{name: "one waits", waiters: 1, wantWaiting: true, wantWoke: true},
		{name: "two wait, one goes", waiters: 2, wantWaiting: true, wantWoke: true, wantQueued: 1},
		// Over a lowered cap the freed slot is not handed on: requests
		// waited, but none was woken.
		{name: "cap lowered", waiters: 1, lowerTo: 1, wantWaiting: true, wantWoke: false, wantQueued: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newGate(2)
			for range 2 {
				if err := g.acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			granted := make(chan struct{}, tt.waiters)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for range tt.waiters {
				go func() {
					if g.acquire(ctx) == nil {
						granted <- struct{}{}
					}
				}()
			}
			waitQueued(t, g, tt.waiters)
			if tt.lowerTo > 0 {
				g.setLimit(tt.lowerTo)
			}
			waiting, woke := g.release()
			if waiting != tt.wantWaiting || woke != tt.wantWoke {
				t.Errorf("release() = waiting %v, woke %v; want %v, %v", waiting, woke, tt.wantWaiting, tt.wantWoke)
			}
			if tt.wantWoke {
				<-granted
			}
			g.mu.Lock()
			queued, held := len(g.waiters), g.held
			g.mu.Unlock()
			wantHeld := 1
			if tt.wantWoke {
				wantHeld = 2
			}
			if queued != tt.wantQueued || held != wantHeld {
				t.Errorf("after release: %d queued, %d held; want %d, %d", queued, held, tt.wantQueued, wantHeld)
			}
		})
	}
}

// waitQueued waits until n requests wait at g.
func waitQueued(t testing.TB, g *gate, n int) {
	t.Helper()
	for {
		g.mu.Lock()
		q := len(g.waiters)
		g.mu.Unlock()
		if q >= n {
			return
		}
		runtime.Gosched()
	}
}

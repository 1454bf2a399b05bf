package adapters

import (
	"context"
	"sync"
)

// gate caps requests in flight at a limit that can change while requests
// wait. golang.org/x/sync/semaphore.Weighted, used before, has a fixed
// size: the concurrency learner (learn.go) must lower and raise the cap,
// which it cannot, so this small FIFO gate replaces it.
type gate struct {
	mu      sync.Mutex
	limit   int
	held    int
	waiters []chan struct{}
}

func newGate(limit int) *gate { return &gate{limit: max(1, limit)} }

// acquire waits for a slot or for ctx to end.
func (g *gate) acquire(ctx context.Context) error {
	g.mu.Lock()
	if g.held < g.limit && len(g.waiters) == 0 {
		g.held++
		g.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	g.waiters = append(g.waiters, ch)
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		for i, w := range g.waiters {
			if w == ch {
				g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
				return ctx.Err()
			}
		}
		// Granted meanwhile: give the slot on.
		g.held--
		g.wakeLocked()
		return ctx.Err()
	}
}

// release frees a slot and reports whether requests were waiting for one,
// which says the cap, not the work, bounds the requests in flight, and
// whether it handed the slot to one of them.
func (g *gate) release() (waiting, woke bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	waiting = len(g.waiters) > 0
	g.held--
	return waiting, g.wakeLocked() > 0
}

// setLimit changes the cap; requests in flight above a lowered cap finish,
// and no new one starts until the count is below it.
func (g *gate) setLimit(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.limit = max(1, n)
	g.wakeLocked()
}

func (g *gate) cap() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// wakeLocked grants free slots to the first waiters and returns how many
// it woke.
func (g *gate) wakeLocked() int {
	n := 0
	for g.held < g.limit && len(g.waiters) > 0 {
		g.held++
		close(g.waiters[0])
		g.waiters = g.waiters[1:]
		n++
	}
	return n
}

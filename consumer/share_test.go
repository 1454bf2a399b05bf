package consumer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

type shareLog struct {
	mu   sync.Mutex
	last [2]int // assigned, total
	n    int
}

func (s *shareLog) set(a, t int) { s.mu.Lock(); s.last = [2]int{a, t}; s.n++; s.mu.Unlock() }
func (s *shareLog) get() ([2]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.n
}

// TestOnShareFollowsRebalances: each member hears its assigned/total
// partitions of the main topic at every generation: alone 6 of 6, then
// 3 of 6 each once a second member joins.
func TestOnShareFollowsRebalances(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	const topic = "share-test"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.CommitInterval = cluster.ListenAddrs(), topic, "share-group", 50*time.Millisecond
	cfg.HeartbeatInterval, cfg.SessionTimeout, cfg.RebalanceTimeout = 300*time.Millisecond, 6*time.Second, 6*time.Second
	cfg.DrainTimeout, cfg.RequestTimeout = 2*time.Second, 2*time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := func(s *shareLog) func() {
		proc := NewProcessor([]Vendor{{Adapter: &fakeAdapter{name: "a"}, Retrier: adapters.NewRetrier(adapters.DefaultRetryConfig())}}, &fakeDLQ{}, event.DecodeOptions{}, zerolog.Nop(), nil)
		c := New(cfg, proc, nil, zerolog.Nop(), nil)
		c.OnShare(s.set)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(runCtx) }()
		return func() { stop(); <-done }
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: never seen", what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	var one, two shareLog
	stop1 := start(&one)
	defer stop1()
	wait("the only member takes 6 of 6", func() bool { s, _ := one.get(); return s == [2]int{6, 6} })
	stop2 := start(&two)
	defer stop2()
	wait("two members take 3 of 6 each", func() bool {
		a, _ := one.get()
		b, _ := two.get()
		return a == [2]int{3, 6} && b == [2]int{3, 6}
	})
	a, na := one.get()
	b, nb := two.get()
	t.Logf("member one: %d of %d after %d reports; member two: %d of %d after %d", a[0], a[1], na, b[0], b[1], nb)
}

package consumer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

// lagObserver keeps the last lag and commit reported per partition.
type lagObserver struct {
	nopObserver
	mu        sync.Mutex
	lag       map[int]int64
	committed map[int]int64
}

func (o *lagObserver) Lag(p int, lag int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lag[p] = lag
}

func (o *lagObserver) Committed(p int, off int64, _ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil {
		o.committed[p] = off
	}
}

func (o *lagObserver) get(p int) (lag, committed int64, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	l, okL := o.lag[p]
	c, okC := o.committed[p]
	return l, c, okL && okC
}

// gatedAdapter deletes events whose id is below open at once, and holds
// the others until release is closed.
type gatedAdapter struct {
	open    int
	release chan struct{}
}

func (*gatedAdapter) Name() string { return "gated" }

func (a *gatedAdapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	var n int
	fmt.Sscanf(ev.EventID, "ev-%d", &n)
	if n >= a.open {
		select {
		case <-a.release:
		case <-ctx.Done():
			return adapters.Failed, ctx.Err()
		}
	}
	return adapters.Deleted, nil
}

// TestConsumerLagIsWatermarkMinusCommitted runs the consumer on kfake with
// events in flight and the commit behind them: erasured_consumer_lag must
// be the high watermark minus the committed offset, as KEDA computes it,
// not the reader's lag, which counts fetched records as done.
func TestConsumerLagIsWatermarkMinusCommitted(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake integration test")
	}
	t.Parallel()
	const topic, total, open, inFlight = "lag-test", 60, 10, 8
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Transport: &kafka.Transport{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := range total {
		// One user each: the events run concurrently, so the in-flight
		// limit, not a lane, holds them.
		v, err := event.Encode(&event.UserDeleted{EventID: fmt.Sprintf("ev-%d", i), UserID: fmt.Sprintf("u-%d", i), OccurredAt: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("u-%d", i)), Value: v})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	a := &gatedAdapter{open: open, release: make(chan struct{})}
	retry := adapters.DefaultRetryConfig()
	proc := NewProcessor([]Vendor{{Adapter: a, Retrier: adapters.NewRetrier(retry)}}, &fakeDLQ{}, event.DecodeOptions{}, zerolog.Nop(), nil)
	cfg := DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.GroupID, cfg.MaxInFlight, cfg.CommitInterval = brokers, topic, "lag-group", inFlight, 50*time.Millisecond
	cfg.HeartbeatInterval, cfg.SessionTimeout, cfg.RebalanceTimeout = 300*time.Millisecond, 6*time.Second, 6*time.Second
	cfg.DrainTimeout, cfg.RequestTimeout = 2*time.Second, 2*time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	obs := &lagObserver{lag: map[int]int64{}, committed: map[int]int64{}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- New(cfg, proc, nil, zerolog.Nop(), obs).Run(runCtx) }()
	defer func() { stop(); <-done }()

	// Under load: events open.. are in flight, so the commit stays at open
	// while the partition's end is at total.
	waitLag := func(what string, want func(lag, committed int64) bool) (int64, int64) {
		t.Helper()
		deadline := time.After(guard)
		var last string
		for {
			lag, committed, ok := obs.get(0)
			if ok && want(lag, committed) {
				return lag, committed
			}
			last = fmt.Sprintf("lag %d, committed %d (reported: %v)", lag, committed, ok)
			select {
			case <-deadline:
				t.Fatalf("%s: never seen; last %s", what, last)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	lag, committed := waitLag("commit behind the in-flight events, lag reported", func(lag, committed int64) bool {
		return committed == open && lag == total-open
	})
	t.Logf("under load: committed %d, high watermark %d, lag %d", committed, total, lag)

	close(a.release)
	lag, committed = waitLag("lag back to 0 once all is committed", func(lag, committed int64) bool {
		return committed == total && lag == 0
	})
	t.Logf("drained: committed %d, lag %d", committed, lag)
}

func TestPartitionLag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		high, first, committed int64
		fromEarliest           bool
		want                   int64
	}{
		{"commit behind", 60, 0, 10, true, 50},
		{"all committed", 60, 0, 60, true, 0},
		{"nothing committed, earliest", 60, 5, -1, true, 55},
		{"nothing committed, latest", 60, 5, -1, false, 0},
		{"committed past a truncated end", 10, 0, 12, true, 0},
	}
	for _, tc := range tests {
		if got := partitionLag(tc.high, tc.first, tc.committed, tc.fromEarliest); got != tc.want {
			t.Errorf("%s: partitionLag = %d, want %d", tc.name, got, tc.want)
		}
	}
}

package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// The lag erasured reports is what KEDA's Kafka scaler and
// kafka-consumer-groups see: per partition, the high watermark minus the
// group's committed offset. The reader's own lag (Reader.Stats().Lag) is
// not that: it counts from what the reader fetched, so events in flight,
// and finished ones not yet committed, look done, and its high watermark is
// only as fresh as the last fetch, which stops while the in-flight limit
// is reached. Under load it read 0 while the commits were far behind.

// watermarks reads partitions' high watermarks with one ListOffsets
// request per refresh, on a pooled connection.
type watermarks struct {
	client    *kafka.Client
	transport *kafka.Transport
	topic     string
}

func newWatermarks(cfg Config, d *kafka.Dialer) *watermarks {
	t := transportFor(d)
	return &watermarks{client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: t, Timeout: cfg.RequestTimeout}, transport: t, topic: cfg.Topic}
}

// close lets the pooled connections go.
func (w *watermarks) close() { w.transport.CloseIdleConnections() }

// read returns each partition's first offset and high watermark.
func (w *watermarks) read(ctx context.Context, parts []int) (first, high map[int]int64, err error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	resp, err := w.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{w.topic: reqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("listing offsets of %s: %w", w.topic, err)
	}
	first, high = map[int]int64{}, map[int]int64{}
	for _, po := range resp.Topics[w.topic] {
		if po.Error != nil {
			continue // that partition's lag stays as last reported
		}
		first[po.Partition], high[po.Partition] = po.FirstOffset, po.LastOffset
	}
	return first, high, nil
}

// partitionLag is a partition's high watermark minus its committed offset.
// committed < 0 means nothing is committed yet (the tracker's unknown
// start): then, reading from the earliest record, everything from the
// log's start is owed; reading from the latest, nothing is.
func partitionLag(high, first, committed int64, fromEarliest bool) int64 {
	if committed < 0 {
		if !fromEarliest {
			return 0
		}
		committed = first
	}
	return max(high-committed, 0)
}

// lagLoop reports every partition's lag to the observer each interval
// until ctx ends. It runs beside the commit loop, so a slow broker answer
// never delays a commit.
func (g *generation) lagLoop(ctx context.Context, interval time.Duration) {
	wm := newWatermarks(g.c.cfg, g.c.dialer)
	defer wm.close()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.mu.Lock()
		trackers := make(map[int]*offsetTracker, len(g.workers))
		parts := make([]int, 0, len(g.workers))
		for p, w := range g.workers {
			trackers[p] = w.tracker
			parts = append(parts, p)
		}
		g.mu.Unlock()
		if len(parts) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, g.c.cfg.RequestTimeout)
		first, high, err := wm.read(rctx, parts)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				g.c.log.Debug().Err(err).Msg("cannot read high watermarks; lag not updated")
			}
			continue
		}
		for p, tr := range trackers {
			if h, ok := high[p]; ok {
				g.c.observer.Lag(p, partitionLag(h, first[p], tr.lastCommitted(), g.c.cfg.StartOffset != "latest"))
			}
		}
	}
}

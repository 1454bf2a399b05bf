package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/daemon"
)

// runNaive is the baseline: what a first version of erasured would be. One
// kafka-go Reader per partition reads one event at a time; each vendor is
// called in turn, a retryable failure is retried after its Retry-After (or
// 100ms) until it succeeds; then the offset is committed, synchronously,
// before the next event is read. It uses the same vendor adapters as
// erasured, without batching, and an HTTP client per vendor that keeps a
// connection per partition (so the comparison is about the processing
// model, not connection churn).
//
// The readers are plain partition readers and commit to the group with
// kafka-go's Client (a "simple" group, no membership): a group of one
// Reader per partition would spend its first seconds rebalancing.
func runNaive(ctx context.Context, cfg *daemon.Config, partitions int, log zerolog.Logger) error {
	var vendors []adapters.Adapter
	for _, spec := range adapters.Specs() {
		a, err := spec.New(cfg.Vendors.Section(spec.Name), adapters.Deps{Client: adapters.NewHTTPClient(partitions), Unbatched: true})
		if err != nil {
			return err
		}
		vendors = append(vendors, a)
	}
	client := &kafka.Client{Addr: kafka.TCP(cfg.Kafka.Brokers...), Timeout: 10 * time.Second}
	offsets, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: cfg.Kafka.GroupID, Topics: map[string][]int{cfg.Kafka.Topic: seq(partitions)}})
	if err != nil {
		return err
	}
	start := map[int]int64{}
	for _, p := range offsets.Topics[cfg.Kafka.Topic] {
		start[p.Partition] = p.CommittedOffset
	}

	var wg sync.WaitGroup
	errs := make(chan error, partitions)
	for p := 0; p < partitions; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := naivePartition(ctx, cfg, client, p, start[p], vendors); err != nil && ctx.Err() == nil {
				log.Error().Err(err).Int("partition", p).Msg("naive consumer stopped")
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func naivePartition(ctx context.Context, cfg *daemon.Config, client *kafka.Client, p int, from int64, vendors []adapters.Adapter) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic, Partition: p,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: time.Second,
	})
	defer r.Close()
	if from < 0 {
		from = kafka.FirstOffset
	}
	if err := r.SetOffset(from); err != nil {
		return err
	}
	decode := cfg.DecodeOptions()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return err
		}
		if ev, err := event.Decode(m.Key, m.Value, nil, decode); err == nil {
			for _, a := range vendors {
				deleteUntilFinal(ctx, a, ev)
			}
		}
		resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
			GroupID: cfg.Kafka.GroupID, GenerationID: -1,
			Topics: map[string][]kafka.OffsetCommit{cfg.Kafka.Topic: {{Partition: p, Offset: m.Offset + 1}}},
		})
		if err != nil {
			return err
		}
		for _, pc := range resp.Topics[cfg.Kafka.Topic] {
			if pc.Error != nil {
				return pc.Error
			}
		}
	}
}

// deleteUntilFinal calls a until it gives a final answer, a permanent
// failure, or ctx ends.
func deleteUntilFinal(ctx context.Context, a adapters.Adapter, ev *event.UserDeleted) {
	for ctx.Err() == nil {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := a.Delete(actx, ev)
		cancel()
		if err == nil && out.Final() {
			return
		}
		if adapters.ErrorClass(err) != adapters.ClassRetryable {
			return
		}
		wait := 100 * time.Millisecond
		var ae *adapters.Error
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

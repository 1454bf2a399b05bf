package consumer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/retrytopic"
)

// Overflow makes vendor's index answer Parked true for every user until
// Drained: what it does past its cap, and what RebuildIndex does for a
// vendor whose retry topic it could not read in time.
func (ix *Index) Overflow(vendor string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vi := ix.vendor(vendor)
	if !vi.overflowed {
		vi.overflowed = true
		vi.overflows++
		vi.users = map[[16]byte]uint32{}
	}
}

// RebuildSource says where RebuildIndex reads.
type RebuildSource struct {
	Brokers   []string
	Dialer    *kafka.Dialer
	Transport kafka.RoundTripper
	// Topics maps vendor to retry topic; Groups maps vendor to its retry
	// worker's consumer group.
	Topics, Groups map[string]string
	Decode         event.DecodeOptions
	Timeout        time.Duration
}

// RebuildIndex fills ix from the retry topics, so that order holds across
// restarts and rebalances: every record from the retry group's committed
// offset (the earliest kept, without one) to the high-water mark is a
// part not yet final, and its user is parked. A vendor whose topic cannot
// be read within src.Timeout is overflowed (every part there parks
// behind, until the worker reports it drained): conservative, never
// lossy. It returns how many records it read per vendor.
func RebuildIndex(ctx context.Context, ix *Index, src RebuildSource, log zerolog.Logger) map[string]int {
	read := map[string]int{}
	vendors := make([]string, 0, len(src.Topics))
	for v := range src.Topics {
		vendors = append(vendors, v)
	}
	sort.Strings(vendors)
	for _, v := range vendors {
		rctx, cancel := context.WithTimeout(ctx, src.Timeout)
		users, n, err := rebuildVendorRetrying(rctx, src, v)
		cancel()
		read[v] = n
		for _, u := range users {
			ix.Add(v, u)
		}
		if err != nil {
			ix.Overflow(v)
			log.Warn().Err(err).Str("vendor", v).Str("topic", src.Topics[v]).Int("records_read", n).
				Msg("could not read the retry topic at startup: every part for this vendor parks behind until its retry topic drains")
			continue
		}
		log.Info().Str("vendor", v).Str("topic", src.Topics[v]).Int("records", n).Int("users", ix.Stats(v).Users).
			Msg("parked-user index rebuilt from the retry topic")
	}
	return read
}

// rebuildVendorRetrying reads vendor's retry topic until a read succeeds
// or ctx ends: a broker that has just created the topic, or is moving a
// leader, answers "not leader" for a while (seen on Kafka 3.9), and one
// such answer would otherwise park every part for the vendor behind
// until its retry topic drains. Users come back only from the read that
// succeeded, so a retry counts no record twice.
func rebuildVendorRetrying(ctx context.Context, src RebuildSource, vendor string) ([]string, int, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 200*time.Millisecond, 2*time.Second, 0
	for {
		users, n, err := rebuildVendor(ctx, src, vendor)
		if err == nil {
			return users, n, nil
		}
		// Only the broker's retriable answers are worth the wait: a
		// refused login or a missing topic is not, and the consumer
		// reports those at once.
		var ke kafka.Error
		if !errors.As(err, &ke) || !ke.Temporary() {
			return nil, n, err
		}
		select {
		case <-ctx.Done():
			return nil, n, err
		case <-time.After(b.NextBackOff()):
		}
	}
}

func rebuildVendor(ctx context.Context, src RebuildSource, vendor string) ([]string, int, error) {
	topic := src.Topics[vendor]
	cl := &kafka.Client{Addr: kafka.TCP(src.Brokers...), Transport: src.Transport}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, 0, fmt.Errorf("metadata: %w", err)
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name == topic && t.Error == nil {
			for _, p := range t.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	if len(parts) == 0 {
		return nil, 0, errors.New("no partitions")
	}
	committed := map[int]int64{}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: src.Groups[vendor], Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, 0, fmt.Errorf("committed offsets of %s: %w", src.Groups[vendor], err)
	}
	for _, p := range of.Topics[topic] {
		if p.Error == nil {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	offsets := func(req func(int) kafka.OffsetRequest) (map[int]kafka.PartitionOffsets, error) {
		rs := make([]kafka.OffsetRequest, len(parts))
		for i, p := range parts {
			rs[i] = req(p)
		}
		resp, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: rs}})
		if err != nil {
			return nil, err
		}
		out := map[int]kafka.PartitionOffsets{}
		for _, po := range resp.Topics[topic] {
			if po.Error != nil {
				return nil, po.Error
			}
			out[po.Partition] = po
		}
		return out, nil
	}
	firsts, err := offsets(kafka.FirstOffsetOf)
	if err != nil {
		return nil, 0, fmt.Errorf("earliest offsets: %w", err)
	}
	lasts, err := offsets(kafka.LastOffsetOf)
	if err != nil {
		return nil, 0, fmt.Errorf("high-water marks: %w", err)
	}
	n := 0
	var users []string
	for _, p := range parts {
		start, end := firsts[p].FirstOffset, lasts[p].LastOffset
		if c, ok := committed[p]; ok && c >= 0 && c > start {
			start = c
		}
		if start >= end {
			continue
		}
		got, err := readRange(ctx, src, topic, p, start, end, func(m kafka.Message) {
			rec, err := retrytopic.Decode(m)
			if err != nil || rec.Vendor != vendor {
				// The worker dead-letters what it cannot read; it holds
				// no user here.
				return
			}
			ev, derr := event.Decode(rec.Original.Key, rec.Original.Value, eventHeaders(rec.Original.Headers), src.Decode)
			if derr != nil {
				ev = nil
			}
			users = append(users, retrytopic.UserKey(rec.Original, ev))
		})
		n += got
		if err != nil {
			return nil, n, fmt.Errorf("reading %s[%d] %d..%d: %w", topic, p, start, end, err)
		}
	}
	return users, n, nil
}

func readRange(ctx context.Context, src RebuildSource, topic string, partition int, start, end int64, f func(kafka.Message)) (int, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: src.Brokers, Topic: topic, Partition: partition, Dialer: src.Dialer,
		MinBytes: 1, MaxBytes: 10 << 20, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return 0, err
	}
	n := 0
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return n, err
		}
		n++
		f(m)
		if m.Offset >= end-1 {
			return n, nil
		}
	}
}

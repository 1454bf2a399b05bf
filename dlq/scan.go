package dlq

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// ErrUnknownTopic is returned when a topic replay or inspect needs does not
// exist: a configuration mistake, not an outage.
var ErrUnknownTopic = errors.New("unknown topic")

// cluster is the part of Kafka replay and inspect talk to besides the
// readers and the writer: metadata, offsets and a group's commits.
type cluster struct {
	client  *kafka.Client
	brokers []string
	dialer  *kafka.Dialer
}

func newCluster(brokers []string, dialer *kafka.Dialer, transport kafka.RoundTripper, timeout time.Duration) *cluster {
	return &cluster{
		client:  &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: timeout, Transport: transport},
		brokers: brokers,
		dialer:  dialer,
	}
}

// partitions lists topic's partitions, sorted.
func (c *cluster) partitions(ctx context.Context, topic string) ([]int, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				return nil, fmt.Errorf("%w %s", ErrUnknownTopic, topic)
			}
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		parts := make([]int, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
		if len(parts) == 0 {
			return nil, fmt.Errorf("%w %s", ErrUnknownTopic, topic)
		}
		sort.Ints(parts)
		return parts, nil
	}
	return nil, fmt.Errorf("%w %s", ErrUnknownTopic, topic)
}

// listOffsets asks for one kind of offset of every partition. One kind per
// request: a broker may refuse a partition named twice in one request.
func (c *cluster) listOffsets(ctx context.Context, topic string, reqs []kafka.OffsetRequest) (map[int]kafka.PartitionOffsets, error) {
	resp, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int]kafka.PartitionOffsets{}
	for _, po := range resp.Topics[topic] {
		out[po.Partition] = po
	}
	for _, r := range reqs {
		if _, ok := out[r.Partition]; !ok {
			return nil, fmt.Errorf("list offsets of %s: no answer for partition %d", topic, r.Partition)
		}
	}
	return out, nil
}

// bounds returns each partition's first kept offset and its high
// watermark (the offset the next record will get).
func (c *cluster) bounds(ctx context.Context, topic string, parts []int) (first, last map[int]int64, err error) {
	fr := make([]kafka.OffsetRequest, len(parts))
	lr := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		fr[i], lr[i] = kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p)
	}
	fo, err := c.listOffsets(ctx, topic, fr)
	if err != nil {
		return nil, nil, err
	}
	lo, err := c.listOffsets(ctx, topic, lr)
	if err != nil {
		return nil, nil, err
	}
	first, last = map[int]int64{}, map[int]int64{}
	for _, p := range parts {
		if e := fo[p].Error; e != nil {
			return nil, nil, fmt.Errorf("first offset of %s/%d: %w", topic, p, e)
		}
		if e := lo[p].Error; e != nil {
			return nil, nil, fmt.Errorf("last offset of %s/%d: %w", topic, p, e)
		}
		first[p], last[p] = fo[p].FirstOffset, lo[p].LastOffset
	}
	return first, last, nil
}

// offsetsAt returns, per partition, the first offset whose record was
// written at or after t; -1 where there is none.
func (c *cluster) offsetsAt(ctx context.Context, topic string, parts []int, t time.Time) (map[int]int64, error) {
	rs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		rs[i] = kafka.TimeOffsetOf(p, t)
	}
	res, err := c.listOffsets(ctx, topic, rs)
	if err != nil {
		return nil, err
	}
	out := map[int]int64{}
	for _, p := range parts {
		po := res[p]
		if po.Error != nil {
			return nil, fmt.Errorf("offset at %s of %s/%d: %w", t.Format(time.RFC3339), topic, p, po.Error)
		}
		// kafka-go files a found offset under Offsets; a broker with no
		// record that recent answers -1, which kafka-go files as
		// LastOffset instead.
		out[p] = -1
		for off := range po.Offsets {
			if off >= 0 {
				out[p] = off
			}
		}
	}
	return out, nil
}

// committed returns group's committed offsets of topic; partitions with
// none are absent.
func (c *cluster) committed(ctx context.Context, group, topic string, parts []int) (map[int]int64, error) {
	resp, err := c.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	out := map[int]int64{}
	if resp.Error != nil {
		if errors.Is(resp.Error, kafka.GroupIdNotFound) {
			return out, nil
		}
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, resp.Error)
	}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of group %s on %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			out[p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}

// span is the part of a partition a run reads: [start, end), or from
// start on when end is -1 (following).
type span struct {
	start, end int64
}

func (s span) following() bool { return s.end < 0 }

func (s span) records() int64 {
	if s.following() || s.end <= s.start {
		return 0
	}
	return s.end - s.start
}

// snapshot is what a run learns about the topic before it reads.
type snapshot struct {
	parts       []int
	first, last map[int]int64
	// at holds the offsets at the start time, with StartTime.
	at map[int]int64
}

func (c *cluster) snapshot(ctx context.Context, topic string, from Start) (*snapshot, error) {
	parts, err := c.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	s := &snapshot{parts: parts}
	if s.first, s.last, err = c.bounds(ctx, topic, parts); err != nil {
		return nil, err
	}
	if from.Kind == StartOffsets {
		for p := range from.Offsets {
			if _, ok := s.last[p]; !ok {
				return nil, fmt.Errorf("%w: start offset for partition %d, but %s has partitions %d..%d", ErrBadStart, p, topic, parts[0], parts[len(parts)-1])
			}
		}
	}
	if from.Kind == StartTime {
		if s.at, err = c.offsetsAt(ctx, topic, parts, from.Time); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// inScope reports whether a run reads partition p at all: an offsets
// start point leaves unlisted partitions alone.
func inScope(from Start, p int) bool {
	if from.Kind != StartOffsets {
		return true
	}
	_, ok := from.Offsets[p]
	return ok
}

// startOf resolves where partition p starts under from; committed is the
// group's offset, -1 if none.
func (s *snapshot) startOf(from Start, p int, committed int64) int64 {
	var start int64
	switch from.Kind {
	case StartEarliest:
		start = s.first[p]
	case StartLatest:
		start = s.last[p]
	case StartOffsets:
		start = from.Offsets[p]
	case StartTime:
		start = s.at[p]
		if start < 0 {
			start = s.last[p]
		}
	default:
		start = committed
		if start < 0 {
			start = s.first[p]
		}
	}
	// Below the first kept offset the records are gone (retention);
	// past the end there is nothing to read.
	return min(max(start, s.first[p]), s.last[p])
}

// spanOf is partition p's span from start.
func (s *snapshot) spanOf(p int, start int64, follow bool) span {
	if follow {
		return span{start: start, end: -1}
	}
	return span{start: start, end: s.last[p]}
}

// fetched is what a partition's fetcher hands the single handling loop.
type fetched struct {
	msg       kafka.Message
	partition int
	// done: the partition's span is read; msg is unset.
	done bool
	err  error
}

// consume reads every span, one fetcher per partition, and hands each
// record to handle on the calling goroutine, in offset order per
// partition. It returns nil once every span is read and handled (never
// while following), handle's error, a fetch error, or ctx's error.
func (c *cluster) consume(ctx context.Context, topic string, spans map[int]span, fetchWait time.Duration, handle func(kafka.Message) error) error {
	remaining := map[int]bool{}
	for p, s := range spans {
		if s.following() || s.start < s.end {
			remaining[p] = true
		}
	}
	if len(remaining) == 0 {
		return nil
	}
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	ch := make(chan fetched, 64)
	done := make(chan struct{})
	n := 0
	for p := range remaining {
		n++
		go func() {
			defer func() { done <- struct{}{} }()
			c.fetch(fctx, topic, p, spans[p], fetchWait, ch)
		}()
	}
	defer func() {
		stop()
		for range n {
			<-done
		}
	}()
	for len(remaining) > 0 {
		var f fetched
		select {
		case <-ctx.Done():
			return ctx.Err()
		case f = <-ch:
		}
		switch {
		case f.err != nil:
			return f.err
		case f.done:
			delete(remaining, f.partition)
			continue
		}
		if err := handle(f.msg); err != nil {
			return err
		}
		if s := spans[f.partition]; !s.following() && f.msg.Offset+1 >= s.end {
			delete(remaining, f.partition)
		}
	}
	return nil
}

// fetch reads one partition's span into ch.
func (c *cluster) fetch(ctx context.Context, topic string, p int, s span, fetchWait time.Duration, ch chan<- fetched) {
	send := func(f fetched) bool {
		select {
		case ch <- f:
			return true
		case <-ctx.Done():
			return false
		}
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   c.brokers,
		Topic:     topic,
		Partition: p,
		Dialer:    c.dialer,
		MinBytes:  1,
		MaxBytes:  10 << 20,
		// See consumer.Config.FetchMaxWait: below a second a busy broker's
		// late answer to an empty fetch breaks the connection.
		MaxWait:         fetchWait,
		ReadLagInterval: -1,
		QueueCapacity:   64,
	})
	defer r.Close()
	if err := r.SetOffset(s.start); err != nil {
		send(fetched{partition: p, err: fmt.Errorf("positioning reader on %s/%d at %d: %w", topic, p, s.start, err)})
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				send(fetched{partition: p, err: fmt.Errorf("reading %s/%d: %w", topic, p, err)})
			}
			return
		}
		if !s.following() && m.Offset >= s.end {
			// The records before the end were gone (compaction, or
			// transaction markers): the span is read.
			send(fetched{partition: p, done: true})
			return
		}
		if !send(fetched{msg: m, partition: p}) {
			return
		}
		if !s.following() && m.Offset+1 >= s.end {
			return
		}
	}
}

// ScanConfig says where Scan reads.
type ScanConfig struct {
	Brokers        []string
	Dialer         *kafka.Dialer
	Transport      kafka.RoundTripper
	RequestTimeout time.Duration
	FetchMaxWait   time.Duration
	// Follow keeps reading what arrives after the end until ctx ends.
	Follow bool
}

// Scan reads topic from a start point (StartResume means earliest: Scan
// has no group) to its end as of the call, handing each record to handle
// in offset order per partition. total, called once before the first
// record, is how many records the run will read, for progress. Inspect,
// and other topics' readers such as `erasured receipts`, share it.
func Scan(ctx context.Context, cfg ScanConfig, topic string, from Start, total func(int64), handle func(kafka.Message) error) error {
	cl := newCluster(cfg.Brokers, cfg.Dialer, cfg.Transport, cfg.RequestTimeout)
	return cl.scan(ctx, topic, from, cfg.Follow, cfg.FetchMaxWait, total, handle)
}

// scan is Scan on a cluster; follow keeps reading past the end.
func (c *cluster) scan(ctx context.Context, topic string, from Start, follow bool, fetchWait time.Duration, total func(int64), handle func(kafka.Message) error) error {
	if !from.Explicit() {
		from = Start{Kind: StartEarliest}
	}
	snap, err := c.snapshot(ctx, topic, from)
	if err != nil {
		return err
	}
	spans := map[int]span{}
	var n int64
	for _, p := range snap.parts {
		if inScope(from, p) {
			spans[p] = snap.spanOf(p, snap.startOf(from, p, -1), follow)
			n += spans[p].records()
		}
	}
	if total != nil {
		total(n)
	}
	return c.consume(ctx, topic, spans, fetchWait, handle)
}

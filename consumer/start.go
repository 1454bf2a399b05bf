package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
)

// positions returns assigned with a concrete start offset for every
// partition the group has no commit for, committed for the group before
// anything is read from it.
//
// kafka-go hands such a partition over as "first" or "last" offset, to be
// resolved by the reader. A member that resolves "last", reads nothing
// and leaves commits nothing, so the next holder resolves "last" again,
// past every record written in between: deletions lost. Committing the
// resolved offset first makes the group's start a fact every later holder
// resumes from.
//
// Which end: "earliest" always; "latest" only while the group has no
// commit on the topic at all, that is when the group starts. A partition
// without a commit in a group that has started is one added to the topic
// since (or one whose commit expired), and what it holds was written
// while the group ran: it starts at its earliest offset, never skipping.
//
// It retries until it succeeds or the generation or root ends; a member
// that cannot commit its start reads nothing, and is not ready.
func (g *generation) positions(root, genCtx context.Context, assigned []kafka.PartitionAssignment) ([]kafka.PartitionAssignment, error) {
	var missing []int
	started := false
	for _, a := range assigned {
		if a.Offset < 0 {
			missing = append(missing, a.ID)
		} else {
			started = true
		}
	}
	if len(missing) == 0 {
		return assigned, nil
	}
	ctx, cancel := context.WithCancel(genCtx)
	defer cancel()
	defer context.AfterFunc(root, cancel)()

	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 200*time.Millisecond, 5*time.Second, 0
	var starts map[int]int64
	err := backoff.RetryNotify(func() error {
		var err error
		starts, err = g.commitStarts(ctx, missing, started)
		return err
	}, backoff.WithContext(b, ctx), func(err error, next time.Duration) {
		g.c.log.Warn().Err(err).Ints("partitions", missing).Dur("retry_in", next).
			Msg("cannot commit the start offsets of partitions without a commit; they are not read until it works")
	})
	if err != nil {
		return nil, err
	}
	out := slices.Clone(assigned)
	for i := range out {
		if off, ok := starts[out[i].ID]; ok {
			out[i].Offset = off
		}
	}
	return out, nil
}

// commitStarts resolves and commits the start offsets of parts, which have
// no commit. started says the group is known to have a commit on the
// topic.
func (g *generation) commitStarts(ctx context.Context, parts []int, started bool) (map[int]int64, error) {
	c := g.c
	topic := c.cfg.Topic
	// A transport per call: these calls are rare (a new group, new
	// partitions), and a long-lived transport answers from a metadata
	// cache that may not know a partition added a moment ago.
	tr := transportFor(c.dialer)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: c.cfg.RequestTimeout, Transport: tr}

	earliest := c.cfg.StartOffset != "latest" || started
	if !earliest {
		var err error
		if earliest, err = groupHasCommits(ctx, client, c.cfg.GroupID, topic); err != nil {
			return nil, err
		}
	}
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = kafka.LastOffsetOf(p)
		if earliest {
			reqs[i] = kafka.FirstOffsetOf(p)
		}
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("listing start offsets: %w", err)
	}
	starts := make(map[int]int64, len(parts))
	for _, po := range resp.Topics[topic] {
		off := po.LastOffset
		if earliest {
			off = po.FirstOffset
		}
		if po.Error != nil {
			return nil, fmt.Errorf("listing the start offset of partition %d: %w", po.Partition, po.Error)
		}
		if off < 0 {
			return nil, fmt.Errorf("listing the start offset of partition %d: no offset in the answer", po.Partition)
		}
		starts[po.Partition] = off
	}
	for _, p := range parts {
		if _, ok := starts[p]; !ok {
			return nil, fmt.Errorf("listing the start offset of partition %d: partition missing from the answer", p)
		}
	}

	g.commitMu.Lock()
	t0 := time.Now()
	err = g.gen.CommitOffsets(map[string]map[int]int64{topic: starts})
	took := time.Since(t0)
	g.commitMu.Unlock()
	if err != nil {
		for p, off := range starts {
			c.observer.Committed(p, off, took, err)
		}
		return nil, fmt.Errorf("committing start offsets: %w", err)
	}
	// Reported once the generation is announced: Assigned resets the
	// per-partition series.
	g.startsCommitted = func() {
		for p, off := range starts {
			c.observer.Committed(p, off, took, nil)
		}
	}
	from := "latest"
	if earliest {
		from = "earliest"
	}
	c.log.Info().Str("from", from).Interface("offsets", starts).Msg("start offsets committed for partitions the group had no commit for")
	return starts, nil
}

// groupHasCommits reports whether group has committed an offset for any
// partition of topic.
func groupHasCommits(ctx context.Context, client *kafka.Client, group, topic string) (bool, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, fmt.Errorf("reading the topic's partitions: %w", err)
	}
	var ids []int
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return false, fmt.Errorf("reading the topic's partitions: %w", t.Error)
		}
		for _, p := range t.Partitions {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		return false, errors.New("reading the topic's partitions: none in the answer")
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ids}})
	if err != nil {
		return false, fmt.Errorf("reading the group's offsets: %w", err)
	}
	if errors.Is(resp.Error, kafka.GroupIdNotFound) {
		// Some brokers say so for a group that never committed.
		return false, nil
	}
	if resp.Error != nil {
		return false, fmt.Errorf("reading the group's offsets: %w", resp.Error)
	}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return false, fmt.Errorf("reading the group's offset of partition %d: %w", p.Partition, p.Error)
		}
		if p.CommittedOffset >= 0 {
			return true, nil
		}
	}
	return false, nil
}

// transportFor returns a transport that reaches the brokers as dialer d
// does (TLS, SASL); d may be nil (plain TCP). Every kafka.Client the
// consumer opens beside the group (start offsets, watermarks) uses one.
func transportFor(d *kafka.Dialer) *kafka.Transport {
	t := &kafka.Transport{IdleTimeout: time.Second}
	if d != nil {
		t.ClientID, t.TLS, t.SASL = d.ClientID, d.TLS, d.SASLMechanism
		if d.Timeout > 0 {
			t.DialTimeout = d.Timeout
		}
		// kafkaauth does the TLS handshake in DialFunc (so a rotated CA
		// file takes effect) and leaves d.TLS nil: without the dial
		// function this transport would speak plain TCP to a TLS port.
		t.Dial = d.DialFunc
	}
	return t
}

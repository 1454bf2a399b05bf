package dlq

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/event"
)

// source returns the record to republish for dead-letter record dead and
// the decision, changed to a refusal when it cannot be replayed. That is
// dead itself, unless dead was written without its value: then the
// original is read back from its erasured-original-* coordinates and,
// when it is still there and is the same event (same key, same value
// size, same event id), replayed with its own key, value and headers. An
// error is a failure to read, not a verdict: the run stops and the
// record is read again next time.
func (r *Replayer) source(ctx context.Context, dead kafka.Message, e *Entry, d Decision) (kafka.Message, Decision, error) {
	if d.Action != ActionReplay || !e.ValueOmitted {
		return dead, d, nil
	}
	gone := Decision{Action: ActionRefuse, Refusal: RefuseValueOmittedOriginalGone}
	if e.OriginalTopic == "" || e.OriginalPartition < 0 || e.OriginalOffset < 0 {
		return dead, gone, nil
	}
	orig, ok, err := r.cl.readOne(ctx, e.OriginalTopic, e.OriginalPartition, e.OriginalOffset, r.cfg.FetchMaxWait)
	if err != nil || !ok {
		return dead, gone, err
	}
	if !sameEvent(orig, dead, e, r.cfg.AcceptedTypes) {
		return dead, gone, nil
	}
	src := kafka.Message{Topic: dead.Topic, Partition: dead.Partition, Offset: dead.Offset, Key: orig.Key, Value: orig.Value}
	for _, h := range orig.Headers {
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			src.Headers = append(src.Headers, h)
		}
	}
	for _, h := range dead.Headers {
		if strings.HasPrefix(h.Key, HeaderPrefix) {
			src.Headers = append(src.Headers, h)
		}
	}
	return src, d, nil
}

// sameEvent reports whether orig, read back at dead's original
// coordinates, is the record dead was made from.
func sameEvent(orig, dead kafka.Message, e *Entry, acceptedTypes []string) bool {
	if int64(len(orig.Value)) != e.OmittedValueBytes {
		return false
	}
	// The dead-letter record keeps the key unless it was too large.
	if len(dead.Key) > 0 && !bytes.Equal(dead.Key, orig.Key) {
		return false
	}
	if e.EventID == "" {
		// An invalid event: no id to compare.
		return e.Reason == ReasonInvalidEvent
	}
	hs := make([]event.Header, len(orig.Headers))
	for i, h := range orig.Headers {
		hs[i] = event.Header{Key: h.Key, Value: h.Value}
	}
	ev, err := event.Decode(orig.Key, orig.Value, hs, event.DecodeOptions{MaxBytes: len(orig.Value), AcceptedTypes: acceptedTypes})
	return err == nil && ev.EventID == e.EventID
}

// readOne reads the record at offset of topic's partition. ok is false
// when the topic, the partition or the offset is not there any more
// (deleted, past retention, compacted away).
func (c *cluster) readOne(ctx context.Context, topic string, partition int, offset int64, fetchWait time.Duration) (kafka.Message, bool, error) {
	parts, err := c.partitions(ctx, topic)
	if errors.Is(err, ErrUnknownTopic) {
		return kafka.Message{}, false, nil
	}
	if err != nil {
		return kafka.Message{}, false, err
	}
	if !slices.Contains(parts, partition) {
		return kafka.Message{}, false, nil
	}
	first, last, err := c.bounds(ctx, topic, []int{partition})
	if err != nil {
		return kafka.Message{}, false, err
	}
	if offset < first[partition] || offset >= last[partition] {
		return kafka.Message{}, false, nil
	}
	var got kafka.Message
	found := false
	err = c.consume(ctx, topic, map[int]span{partition: {start: offset, end: offset + 1}}, fetchWait, func(m kafka.Message) error {
		if m.Offset == offset {
			got, found = m, true
		}
		return nil
	})
	return got, found, err
}

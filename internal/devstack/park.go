package devstack

import (
	"context"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/retrytopic"
)

// Park writes every record of w to vendor's retry topic as the main
// flow's parking would (reason circuit_open, one inline attempt failed
// with a 503 at first), due at due. Tests of the retry workers use it
// when they need parked parts without the main flow parking them.
func (s *Stack) Park(ctx context.Context, w *Workload, vendor string, due time.Time) error {
	now := time.Now()
	recs := make([]kafka.Message, 0, len(w.Records))
	for i, m := range w.Records {
		p := retrytopic.Parked{
			Original: m, OriginalTopic: s.Topic, OriginalPartition: 0, OriginalOffset: int64(i), OriginalTimestamp: now,
			Vendor: vendor, Reason: retrytopic.ReasonCircuitOpen, ParkedAt: now, Due: due,
		}
		p.AddAttempt(retrytopic.Attempt{At: now, Status: 503, Class: "retryable", By: "inline"})
		recs = append(recs, p.Message())
	}
	return Produce(ctx, s.Brokers, retrytopic.TopicFor(s.Topic, vendor), recs)
}

package retrytopic

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
)

// DefaultFirstWait is the wait before a retry worker first tries a part
// the main flow parked: the first step of the default retry schedule. The
// main flow sets a new park's due time to now plus the first step of the
// vendor's schedule; until the schedule is configurable this is it.
const DefaultFirstWait = time.Minute

// NewWriter returns a kafka-go Writer for the retry topics, with the
// dead-letter writer's settings (acks from every in-sync replica, no
// batching delay worth the name, the broker judging size): a park gates an
// offset commit exactly as a dead-letter write does. It names no topic:
// each message carries its vendor's.
func NewWriter(cfg dlq.Config, brokers []string, transport kafka.RoundTripper) *kafka.Writer {
	cfg.Topic = ""
	return dlq.NewWriter(cfg, brokers, transport)
}

// Observer hears about parks, for metrics and readiness.
type Observer interface {
	// Parked is called once a record is safe on its retry topic.
	Parked(vendor string, reason Reason)
	// ParkFailed is called after each failed write attempt.
	ParkFailed(vendor string, err error)
}

type nopObserver struct{}

func (nopObserver) Parked(string, Reason)    {}
func (nopObserver) ParkFailed(string, error) {}

// Publisher writes parked records synchronously.
type Publisher struct {
	cfg      dlq.Config
	w        dlq.Writer
	log      zerolog.Logger
	observer Observer
}

// NewPublisher returns a Publisher writing with w (see NewWriter); cfg's
// write_timeout and retry bounds pace its attempts. o may be nil.
func NewPublisher(cfg dlq.Config, w dlq.Writer, log zerolog.Logger, o Observer) *Publisher {
	if o == nil {
		o = nopObserver{}
	}
	return &Publisher{cfg: cfg, w: w, log: log, observer: o}
}

// Park writes p to topic and returns once the broker has acknowledged it
// from all in-sync replicas. A failed write is retried with backoff until
// it succeeds or ctx ends; then Park returns an error and the caller must
// not commit the original's offset.
func (p *Publisher) Park(ctx context.Context, topic string, rec Parked) error {
	msg := rec.Message()
	msg.Topic = topic
	write := func(wctx context.Context) error { return p.w.WriteMessages(wctx, msg) }
	failed := func(attempt int, err error) {
		p.observer.ParkFailed(rec.Vendor, err)
		p.log.Warn().Err(err).Str("topic", topic).Str("vendor", rec.Vendor).Int("attempt", attempt).
			Str("event_id", rec.EventID).Str("reason", string(rec.Reason)).
			Msg("retry-topic write failed; retrying, offset not committed")
	}
	r := dlq.WriteRetry{WriteTimeout: p.cfg.WriteTimeout, Initial: p.cfg.RetryInitial, Max: p.cfg.RetryMax}
	if err := dlq.WriteUntilAcked(ctx, "retry-topic write to "+topic, r, write, failed); err != nil {
		return err
	}
	p.observer.Parked(rec.Vendor, rec.Reason)
	return nil
}

// Close closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }

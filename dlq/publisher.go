package dlq

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
)

// Config configures the dead-letter publisher.
type Config struct {
	// Topic is the dead-letter topic.
	Topic string `yaml:"topic"`
	// WriteTimeout bounds one write attempt.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// RetryInitial and RetryMax bound the waits between failed writes.
	// A failed write is retried until it succeeds or the caller gives up;
	// it is never dropped.
	RetryInitial time.Duration `yaml:"retry_initial"`
	RetryMax     time.Duration `yaml:"retry_max"`
	// IncludeVendorMessage keeps, in each erasured-vendor-* header, an
	// excerpt of what the vendor wrote back (vendor_message), masked:
	// emails, phone numbers, long digit runs and the event's identifiers
	// in any case or escaping. Off by default: a vendor may echo the
	// person's data in ways no mask foresees, and the status, the vendor's
	// code and its documented description are there without it.
	IncludeVendorMessage bool `yaml:"include_vendor_message"`
}

// DefaultConfig is the configuration YAML and the environment are
// decoded over; a new field's default goes here.
func DefaultConfig() Config {
	return Config{
		Topic:        DefaultTopic,
		WriteTimeout: 10 * time.Second,
		RetryInitial: 200 * time.Millisecond,
		RetryMax:     10 * time.Second,
	}
}

// Validate names the first wrong field.
func (c *Config) Validate() error {
	var errs config.Errors
	if strings.TrimSpace(c.Topic) == "" {
		errs.Invalid("topic", "must be set")
	}
	if c.WriteTimeout <= 0 {
		errs.Invalid("write_timeout", "must be positive, got %s", c.WriteTimeout)
	}
	if c.RetryInitial <= 0 {
		errs.Invalid("retry_initial", "must be positive, got %s", c.RetryInitial)
	}
	if c.RetryMax < c.RetryInitial {
		errs.Invalid("retry_max", "must be at least retry_initial (%s), got %s", c.RetryInitial, c.RetryMax)
	}
	return errs.Err()
}

// Writer is the part of *kafka.Writer the publisher uses.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// NewWriter returns a kafka-go Writer for the dead-letter topic that waits
// for every in-sync replica before it reports success, and sends each
// record without waiting for a batch to fill: a dead-letter write gates an
// offset commit, so latency matters more than batching.
func NewWriter(cfg Config, brokers []string, transport kafka.RoundTripper) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        cfg.Topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		// Let the broker judge a large record: kafka-go's own 1 MiB cap is
		// below what a main topic may carry.
		BatchBytes: 16 << 20,
		// The publisher retries without end; kafka-go's own attempts only
		// smooth over a leader change within one write.
		MaxAttempts:  3,
		WriteTimeout: cfg.WriteTimeout,
		Transport:    transport,
	}
}

// Observer hears about publishes, for metrics and readiness.
type Observer interface {
	Published(reason Reason)
	WriteFailed(err error)
}

type nopObserver struct{}

func (nopObserver) Published(Reason)  {}
func (nopObserver) WriteFailed(error) {}

// Publisher writes dead-letter records synchronously.
type Publisher struct {
	cfg      Config
	w        Writer
	log      zerolog.Logger
	observer Observer
	now      func() time.Time
}

// NewPublisher returns a Publisher writing with w.
func NewPublisher(cfg Config, w Writer, log zerolog.Logger, o Observer) *Publisher {
	if o == nil {
		o = nopObserver{}
	}
	return &Publisher{cfg: cfg, w: w, log: log, observer: o, now: time.Now}
}

// Publish writes rec and returns once the broker has acknowledged it from
// all in-sync replicas. A failed write is retried with backoff until it
// succeeds or ctx ends; then Publish returns an error and the caller must
// not commit the record's offset.
func (p *Publisher) Publish(ctx context.Context, rec Record) error {
	if !p.cfg.IncludeVendorMessage {
		rec.Failures = withoutVendorMessages(rec.Failures)
	}
	msg := rec.Message(p.now())
	shrunk := 0
	write := func(wctx context.Context) error { return p.w.WriteMessages(wctx, msg) }
	failed := func(attempt int, err error) {
		if tooLarge(err) && shrunk < 2 {
			// The record cannot fit in the dead-letter topic as it is, and
			// retrying it would pin the partition for good. Keep
			// everything that says where it is and why, first without the
			// value, then without the original's own headers too and
			// with the diagnostics cut short (MinimalMessage): the
			// original stays in its topic at the offset the headers name,
			// and replay reads it back from there. These are the only
			// cases where the original is not copied whole.
			shrunk++
			if shrunk == 1 {
				p.log.Error().Err(err).Str("topic", p.cfg.Topic).Int("value_bytes", len(msg.Value)).
					Str("event_id", rec.EventID).Str("reason", string(rec.Reason)).
					Msg("dead-letter record too large for the topic; writing it without its value")
				msg = withoutValue(msg)
			} else {
				p.log.Error().Err(err).Str("topic", p.cfg.Topic).Int("headers", len(rec.Original.Headers)).
					Str("event_id", rec.EventID).Str("reason", string(rec.Reason)).
					Msg("dead-letter record too large for the topic even without its value; writing it without the original's headers, diagnostics cut short")
				msg = rec.MinimalMessage(p.now())
			}
			return
		}
		p.observer.WriteFailed(err)
		p.log.Warn().Err(err).Str("topic", p.cfg.Topic).Int("attempt", attempt).
			Str("event_id", rec.EventID).Str("reason", string(rec.Reason)).
			Msg("dead-letter write failed; retrying, offset not committed")
	}
	if err := WriteUntilAcked(ctx, "dead-letter write", p.cfg.writeRetry(), write, failed); err != nil {
		return err
	}
	p.observer.Published(rec.Reason)
	return nil
}

// tooLarge reports whether err says the message can never be written as
// it is: kafka-go's own size check, or the broker's.
func tooLarge(err error) bool {
	var mtl kafka.MessageTooLargeError
	if errors.As(err, &mtl) || errors.Is(err, kafka.MessageSizeTooLarge) {
		return true
	}
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && tooLarge(e) {
				return true
			}
		}
	}
	return false
}

// withoutValue drops a message's value (and an oversized key) and says so
// in HeaderValueOmitted.
func withoutValue(m kafka.Message) kafka.Message {
	size := len(m.Value)
	m.Value = nil
	if len(m.Key) > maxKeptKeyBytes {
		m.Key = nil
	}
	m.Headers = append(append([]kafka.Header(nil), m.Headers...),
		kafka.Header{Key: HeaderValueOmitted, Value: []byte(strconv.Itoa(size))})
	return m
}

// Close closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }

// withoutVendorMessages returns fs with no VendorMessage, leaving fs alone.
func withoutVendorMessages(fs []Failure) []Failure {
	out := make([]Failure, len(fs))
	for i, f := range fs {
		f.VendorMessage = ""
		out[i] = f
	}
	return out
}

func (c Config) writeRetry() WriteRetry {
	return WriteRetry{WriteTimeout: c.WriteTimeout, Initial: c.RetryInitial, Max: c.RetryMax}
}

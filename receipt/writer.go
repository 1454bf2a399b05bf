package receipt

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
)

// WriterConfig says where receipts go.
type WriterConfig struct {
	Brokers   []string
	Topic     string
	Transport kafka.RoundTripper
	// WriteTimeout bounds one attempt; Write retries past it, waiting
	// RetryInitial, doubling up to RetryMax, until its context ends.
	WriteTimeout           time.Duration
	RetryInitial, RetryMax time.Duration
}

// Writer writes receipts synchronously, each acknowledged by every
// in-sync replica before Write returns: a receipt gates the offset
// commit that finishes its event, exactly as a dead-letter write does,
// and like it Write never gives up on its own.
type Writer struct {
	w       *kafka.Writer
	cfg     WriterConfig
	log     zerolog.Logger
	written prometheus.Counter
	failed  prometheus.Counter
}

// NewWriter returns a Writer. Receipts are keyed by event id, so every
// receipt of an event lands in one partition, in order. reg may be nil.
func NewWriter(cfg WriterConfig, log zerolog.Logger, reg prometheus.Registerer) *Writer {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.RetryInitial <= 0 {
		cfg.RetryInitial = 100 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 5 * time.Second
	}
	w := &Writer{cfg: cfg, log: log,
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "erasured_receipts_written_total", Help: "Receipts written to the receipts topic and acknowledged by every in-sync replica."}),
		failed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "erasured_receipt_write_failures_total", Help: "Failed receipt write attempts; each is retried and holds its event's offset."}),
		w: &kafka.Writer{
			Addr:         kafka.TCP(cfg.Brokers...),
			Topic:        cfg.Topic,
			Balancer:     &kafka.Hash{},
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: 2 * time.Millisecond,
			MaxAttempts:  3,
			WriteTimeout: cfg.WriteTimeout,
			Transport:    cfg.Transport,
		}}
	if reg != nil {
		reg.MustRegister(w.written, w.failed)
	}
	return w
}

// Message is the record a receipt is written as.
func Message(r *Receipt) (kafka.Message, error) {
	b, err := Encode(r)
	if err != nil {
		return kafka.Message{}, err
	}
	return kafka.Message{Key: []byte(r.EventID), Value: b}, nil
}

// Write writes receipts and returns once all are durable, or with ctx's
// error (wrapped) when ctx ends first. A receipt that does not encode is
// a bug, returned at once.
func (w *Writer) Write(ctx context.Context, rs ...*Receipt) error {
	msgs := make([]kafka.Message, 0, len(rs))
	for _, r := range rs {
		m, err := Message(r)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	write := func(wctx context.Context) error { return w.w.WriteMessages(wctx, msgs...) }
	failed := func(attempt int, err error) {
		w.failed.Inc()
		w.log.Warn().Err(err).Str("topic", w.cfg.Topic).Int("attempt", attempt).Int("receipts", len(msgs)).
			Msg("receipt write failed; retrying, offset not committed")
	}
	r := dlq.WriteRetry{WriteTimeout: w.cfg.WriteTimeout, Initial: w.cfg.RetryInitial, Max: w.cfg.RetryMax}
	if err := dlq.WriteUntilAcked(ctx, "receipt write to "+w.cfg.Topic, r, write, failed); err != nil {
		return err
	}
	w.written.Add(float64(len(msgs)))
	return nil
}

// Close flushes and closes the writer.
func (w *Writer) Close() error { return w.w.Close() }

package receipt

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// WriterConfig says where receipts go.
type WriterConfig struct {
	Brokers      []string
	Topic        string
	Transport    kafka.RoundTripper
	WriteTimeout time.Duration
}

// Writer writes receipts synchronously, each acknowledged by every
// in-sync replica before Write returns: a receipt gates the offset
// commit that finishes its event, exactly as a dead-letter write does.
type Writer struct {
	w *kafka.Writer
}

// NewWriter returns a Writer. Receipts are keyed by event id, so every
// receipt of an event lands in one partition, in order.
func NewWriter(cfg WriterConfig) *Writer {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	return &Writer{w: &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
		WriteTimeout: cfg.WriteTimeout,
		Transport:    cfg.Transport,
	}}
}

// Message is the record a receipt is written as.
func Message(r *Receipt) (kafka.Message, error) {
	b, err := Encode(r)
	if err != nil {
		return kafka.Message{}, err
	}
	return kafka.Message{Key: []byte(r.EventID), Value: b}, nil
}

// Write writes receipts and returns once all are durable.
func (w *Writer) Write(ctx context.Context, rs ...*Receipt) error {
	msgs := make([]kafka.Message, 0, len(rs))
	for _, r := range rs {
		m, err := Message(r)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := w.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("writing %d receipts to %s: %w", len(rs), w.w.Topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (w *Writer) Close() error { return w.w.Close() }

package dlq

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
)

// guard bounds a wait that only a bug makes long.
const guard = 10 * time.Second

// fakeWriter fails its first fails writes, then succeeds. onFail runs on
// each failure.
type fakeWriter struct {
	mu       sync.Mutex
	fails    int
	err      error
	onFail   func(attempt int)
	attempts int
	written  []kafka.Message
	// deadlines says whether each attempt's context had a deadline.
	deadlines []bool
	closed    bool
}

func (w *fakeWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	w.attempts++
	attempt := w.attempts
	_, ok := ctx.Deadline()
	w.deadlines = append(w.deadlines, ok)
	if attempt <= w.fails {
		w.mu.Unlock()
		if w.onFail != nil {
			w.onFail(attempt)
		}
		if w.err != nil {
			return w.err
		}
		return errors.New("kafka: leader not available")
	}
	defer w.mu.Unlock()
	w.written = append(w.written, msgs...)
	return nil
}

func (w *fakeWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return nil
}

// countingObserver counts what a Publisher reports.
type countingObserver struct {
	mu        sync.Mutex
	published []Reason
	failed    int
	// onFailed runs on each WriteFailed.
	onFailed func()
}

func (o *countingObserver) Published(r Reason) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.published = append(o.published, r)
}

func (o *countingObserver) WriteFailed(error) {
	o.mu.Lock()
	o.failed++
	f := o.onFailed
	o.mu.Unlock()
	if f != nil {
		f()
	}
}

func (o *countingObserver) counts() (published []Reason, failed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Reason(nil), o.published...), o.failed
}

func fastConfig() Config {
	return Config{Topic: "dlq", WriteTimeout: time.Minute, RetryInitial: time.Millisecond, RetryMax: 2 * time.Millisecond}
}

func testRecord() Record {
	return Record{
		Original: kafka.Message{Topic: "user-deleted", Partition: 1, Offset: 77, Key: []byte("k"), Value: []byte("v")},
		EventID:  "e-77", Reason: ReasonRetriesExhausted,
		Failures: []Failure{{Vendor: "plivo", Class: "retryable", Status: 503, Attempts: 12}},
	}
}

func TestPublisherRetriesUntilWritten(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fails int
		err   error
	}{
		{name: "first write succeeds", fails: 0},
		{name: "one failure", fails: 1},
		{name: "many failures", fails: 7},
		// An attempt that hits WriteTimeout is retried: only the caller's
		// context ending stops Publish.
		{name: "attempt timeouts", fails: 2, err: context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &fakeWriter{fails: tc.fails, err: tc.err}
			obs := &countingObserver{}
			p := NewPublisher(fastConfig(), w, zerolog.Nop(), obs)
			p.now = func() time.Time { return now }
			if err := p.Publish(context.Background(), testRecord()); err != nil {
				t.Fatalf("Publish = %v", err)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.attempts != tc.fails+1 {
				t.Errorf("%d attempts, want %d", w.attempts, tc.fails+1)
			}
			if len(w.written) != 1 {
				t.Fatalf("%d messages written, want 1", len(w.written))
			}
			for i, ok := range w.deadlines {
				if !ok {
					t.Errorf("attempt %d had no deadline: WriteTimeout not applied", i+1)
				}
			}
			m := w.written[0]
			if v, _ := Header(m.Headers, HeaderReason); v != string(ReasonRetriesExhausted) {
				t.Errorf("reason header %q", v)
			}
			if v, _ := Header(m.Headers, HeaderDeadLetteredAt); v != now.UTC().Format(time.RFC3339Nano) {
				t.Errorf("dead-lettered-at %q", v)
			}
			pub, failed := obs.counts()
			if len(pub) != 1 || pub[0] != ReasonRetriesExhausted {
				t.Errorf("Published %v, want [retries_exhausted]", pub)
			}
			if failed != tc.fails {
				t.Errorf("WriteFailed %d times, want %d", failed, tc.fails)
			}
		})
	}
}

func TestPublisherGivesUpOnlyWithContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup arranges for cancel to be called at some point.
		setup   func(w *fakeWriter, obs *countingObserver, cfg *Config, cancel context.CancelFunc)
		wantErr error
		// wantFailed counts the write failures reported: a write that
		// failed because the caller gave up is not one.
		wantFailed int
	}{
		{
			name: "cancelled during a failing write",
			setup: func(w *fakeWriter, _ *countingObserver, _ *Config, cancel context.CancelFunc) {
				w.onFail = func(attempt int) {
					if attempt == 3 {
						cancel()
					}
				}
			},
			wantErr:    context.Canceled,
			wantFailed: 2,
		},
		{
			name: "cancelled during the wait between writes",
			setup: func(_ *fakeWriter, obs *countingObserver, cfg *Config, cancel context.CancelFunc) {
				cfg.RetryInitial, cfg.RetryMax = time.Hour, time.Hour
				obs.onFailed = cancel
			},
			wantErr:    context.Canceled,
			wantFailed: 1,
		},
		{
			name:    "cancelled before the first write",
			setup:   func(_ *fakeWriter, _ *countingObserver, _ *Config, cancel context.CancelFunc) { cancel() },
			wantErr: context.Canceled,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &fakeWriter{fails: 1 << 30}
			obs := &countingObserver{}
			cfg := fastConfig()
			tc.setup(w, obs, &cfg, cancel)
			p := NewPublisher(cfg, w, zerolog.Nop(), obs)

			done := make(chan error, 1)
			go func() { done <- p.Publish(ctx, testRecord()) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(guard):
				t.Fatal("Publish did not return after its context ended")
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Publish = %v, want it to wrap %v", err, tc.wantErr)
			}
			pub, failed := obs.counts()
			if len(pub) != 0 {
				t.Fatalf("Published %v after giving up", pub)
			}
			if failed != tc.wantFailed {
				t.Fatalf("WriteFailed %d times, want %d", failed, tc.wantFailed)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.written) != 0 {
				t.Fatalf("wrote %d messages", len(w.written))
			}
		})
	}
}

func TestPublisherClose(t *testing.T) {
	t.Parallel()
	w := &fakeWriter{}
	if err := NewPublisher(fastConfig(), w, zerolog.Nop(), nil).Close(); err != nil {
		t.Fatal(err)
	}
	if !w.closed {
		t.Fatal("Close did not close the writer")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	def := DefaultConfig()
	want := Config{Topic: "user-deleted.dlq", WriteTimeout: 10 * time.Second, RetryInitial: 200 * time.Millisecond, RetryMax: 10 * time.Second}
	if def != want {
		t.Fatalf("defaults %+v, want %+v", def, want)
	}

	tests := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"retry max equal to initial", func(c *Config) { c.RetryMax = c.RetryInitial }, ""},
		{"blank topic", func(c *Config) { c.Topic = "\t" }, "topic"},
		{"zero write timeout", func(c *Config) { c.WriteTimeout = 0 }, "write_timeout"},
		{"negative retry initial", func(c *Config) { c.RetryInitial = -1 }, "retry_initial"},
		{"retry max below initial", func(c *Config) { c.RetryMax = c.RetryInitial - 1 }, "retry_max"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := def
			tc.mutate(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("Validate = %v, want a FieldError on %q", err, tc.field)
			}
		})
	}
}

func TestNewWriter(t *testing.T) {
	t.Parallel()
	cfg := fastConfig()
	w := NewWriter(cfg, []string{"a:9092", "b:9092"}, nil)
	defer w.Close()
	if w.RequiredAcks != kafka.RequireAll {
		t.Errorf("RequiredAcks = %v, want RequireAll: a dead-letter record must survive a broker loss", w.RequiredAcks)
	}
	if w.Async {
		t.Error("Async writer: Publish would report records safe before the broker has them")
	}
	if w.Topic != cfg.Topic || w.WriteTimeout != cfg.WriteTimeout {
		t.Errorf("Topic %q WriteTimeout %s", w.Topic, w.WriteTimeout)
	}
	if w.Addr.String() != "a:9092,b:9092" {
		t.Errorf("Addr = %s", w.Addr)
	}
}

// tooLargeWriter refuses any message with a value, as a broker refuses one
// over its size limit.
type tooLargeWriter struct {
	mu      sync.Mutex
	written []kafka.Message
	refused int
}

func (w *tooLargeWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, m := range msgs {
		if len(m.Value) > 0 {
			w.refused++
			return kafka.WriteErrors{kafka.MessageSizeTooLarge}
		}
	}
	w.written = append(w.written, msgs...)
	return nil
}

func (w *tooLargeWriter) Close() error { return nil }

func TestPublishWritesTooLargeRecordWithoutValue(t *testing.T) {
	t.Parallel()
	w := &tooLargeWriter{}
	cfg := DefaultConfig()
	cfg.Topic = "dlq"
	cfg.RetryInitial, cfg.RetryMax = time.Millisecond, time.Millisecond
	p := NewPublisher(cfg, w, zerolog.Nop(), nil)
	value := bytes.Repeat([]byte("x"), 2<<20)
	rec := Record{Original: kafka.Message{Topic: "user-deleted", Partition: 3, Offset: 42, Key: []byte("k"), Value: value}, Reason: ReasonInvalidEvent, Detail: "oversized"}
	if err := p.Publish(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if w.refused != 1 || len(w.written) != 1 {
		t.Fatalf("refused %d, written %d; want 1 and 1", w.refused, len(w.written))
	}
	m := w.written[0]
	if m.Value != nil || string(m.Key) != "k" {
		t.Errorf("written value %d bytes, key %q; want no value and the key", len(m.Value), m.Key)
	}
	if v, _ := Header(m.Headers, HeaderValueOmitted); v != strconv.Itoa(len(value)) {
		t.Errorf("%s = %q, want %d", HeaderValueOmitted, v, len(value))
	}
	if v, _ := Header(m.Headers, HeaderOriginalOffset); v != "42" {
		t.Errorf("original offset header = %q, want 42", v)
	}
}

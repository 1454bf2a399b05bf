package dlq

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestPublishToBroker writes a record with the production writer to an
// in-process Kafka and reads it back with kafka-go.
func TestPublishToBroker(t *testing.T) {
	t.Parallel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "dlq"))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	cfg := DefaultConfig()
	cfg.Topic = "dlq"
	cfg.RetryInitial, cfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	w := NewWriter(cfg, brokers, nil)
	obs := &countingObserver{}
	p := NewPublisher(cfg, w, zerolog.Nop(), obs)
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := testRecord()
	rec.Original.Headers = []kafka.Header{{Key: "traceparent", Value: []byte("00-1-2-01")}}
	if err := p.Publish(ctx, rec); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if pub, _ := obs.counts(); len(pub) != 1 {
		t.Fatalf("Published %v", pub)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "dlq", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	if !bytes.Equal(m.Key, rec.Original.Key) || !bytes.Equal(m.Value, rec.Original.Value) {
		t.Errorf("key %q value %q", m.Key, m.Value)
	}
	want := map[string]string{
		"traceparent":           "00-1-2-01",
		HeaderOriginalTopic:     "user-deleted",
		HeaderOriginalPartition: "1",
		HeaderOriginalOffset:    "77",
		HeaderEventID:           "e-77",
		HeaderReason:            "retries_exhausted",
		HeaderFailedVendors:     "plivo",
		HeaderReplayCount:       "0",
	}
	for k, v := range want {
		if got, ok := Header(m.Headers, k); !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	fs, err := ParseFailures(m.Headers)
	if err != nil || len(fs) != 1 || fs[0] != rec.Failures[0] {
		t.Errorf("ParseFailures = %+v, %v; want %+v", fs, err, rec.Failures)
	}
}

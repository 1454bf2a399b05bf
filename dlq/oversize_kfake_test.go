package dlq

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// smallDeadLetterTopic starts an in-process Kafka whose dead-letter topic
// takes records of at most maxBytes, and returns its brokers.
func smallDeadLetterTopic(t *testing.T, topic string, maxBytes int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "user-deleted"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Timeout: 10 * time.Second}
	resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic: topic, NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(maxBytes)}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatal(err)
	}
	return c.ListenAddrs()
}

// TestPublishRecordWhoseHeadersAloneAreTooLarge: a record whose own
// headers exceed the dead-letter topic's max.message.bytes (8 KiB here)
// must still be dead-lettered, without its value and its headers, instead
// of being retried for ever and pinning its partition.
func TestPublishRecordWhoseHeadersAloneAreTooLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	const topic = "user-deleted.dlq.small"
	brokers := smallDeadLetterTopic(t, topic, 8<<10)
	cfg := DefaultConfig()
	cfg.Topic = topic
	cfg.RetryInitial, cfg.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	w := NewWriter(cfg, brokers, nil)
	defer w.Close()
	p := NewPublisher(cfg, w, zerolog.Nop(), nil)

	big := strings.Repeat("h", 4<<10)
	orig := kafka.Message{
		Topic: "user-deleted", Partition: 0, Offset: 77, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Key: []byte("user-1"), Value: []byte(`{"event_id":"e-1"}`),
		Headers: []kafka.Header{{Key: "trace-a", Value: []byte(big)}, {Key: "trace-b", Value: []byte(big)}, {Key: "trace-c", Value: []byte(big)}},
	}
	rec := Record{
		Original: orig, EventID: "e-1", Reason: ReasonPermanentError,
		// Diagnostics as long as a confused vendor can make them.
		Detail: strings.Repeat("d", 6<<10),
		Failures: []Failure{
			{Vendor: "plivo", Class: "permanent", Status: 400, Code: strings.Repeat("c", 3<<10), Message: strings.Repeat("m", 6<<10), Attempts: 1},
			{Vendor: "webex", Class: "retryable", Status: 503, Message: strings.Repeat("n", 6<<10), Attempts: 4},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.Publish(ctx, rec); err != nil {
		t.Fatalf("Publish: %v (the record would be retried for ever and pin its partition)", err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: time.Second})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	size := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		size += len(h.Key) + len(h.Value)
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			t.Errorf("original header %s kept", h.Key)
		}
	}
	t.Logf("dead-letter record: %d headers, %d bytes of keys, values and headers", len(m.Headers), size)
	for k, want := range map[string]string{
		HeaderOriginalTopic: "user-deleted", HeaderOriginalPartition: "0", HeaderOriginalOffset: "77",
		HeaderEventID: "e-1", HeaderReason: string(ReasonPermanentError), HeaderFailedVendors: "plivo,webex",
		HeaderValueOmitted: "18", "erasured-headers-omitted": "3", "erasured-headers-omitted-bytes": "12309",
	} {
		if got, _ := Header(m.Headers, k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	// What replay depends on still reads.
	e := ParseEntry(m)
	if e.Malformed() || len(e.Failures) != 2 || e.Failures[0].Status != 400 || e.Failures[1].Attempts != 4 {
		t.Errorf("entry %+v (problems %v): replay could not use it", e, e.Problems)
	}
}

// TestDiagnosticsAreBounded: whatever a failure says, the record's
// erasured-* headers stay within bounds, and the minimal form of the
// largest possible record fits in 8 KiB.
func TestDiagnosticsAreBounded(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("é", 50<<10)
	var fs []Failure
	for i := range 4 + MaxRestrictedVendors {
		fs = append(fs, Failure{Vendor: strings.Repeat(string(rune('a'+i)), MaxVendorNameBytes), Class: "permanent", Status: 400, Code: huge, Message: huge, Attempts: 1 << 30})
	}
	rec := Record{
		Original: kafka.Message{Topic: strings.Repeat("t", 249), Partition: 1 << 30, Offset: 1 << 62, Time: time.Now(),
			Key: []byte(strings.Repeat("k", 1<<10)), Value: []byte(huge),
			Headers: []kafka.Header{{Key: "big", Value: []byte(huge)}, {Key: HeaderReplayCount, Value: []byte("3")}}},
		EventID: strings.Repeat("e", 256), Reason: ReasonPermanentError, Detail: huge, Failures: fs,
		FirstFailure: time.Now(), LastFailure: time.Now(),
	}
	m := rec.Message(time.Now())
	for _, h := range m.Headers {
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			continue
		}
		if !utf8.Valid(h.Value) {
			t.Errorf("%s is not valid UTF-8 after the cut", h.Key)
		}
		limit := MaxDetailBytes
		if strings.HasPrefix(h.Key, HeaderVendorPrefix) {
			limit = MaxFailureMessageBytes + MaxFailureCodeBytes + 200
		}
		if len(h.Value) > limit {
			t.Errorf("%s is %d bytes, over %d", h.Key, len(h.Value), limit)
		}
	}
	slim := rec.MinimalMessage(time.Now())
	size := len(slim.Key) + len(slim.Value)
	for _, h := range slim.Headers {
		size += len(h.Key) + len(h.Value) + 10 // varint lengths, generously
	}
	if size > 8<<10 {
		t.Errorf("minimal record of the largest failure set is %d bytes, over 8 KiB", size)
	}
	e := ParseEntry(slim)
	if e.Malformed() || len(e.Failures) != len(fs) || e.ReplayCount != 3 || !e.ValueOmitted || e.HeadersOmitted != 1 {
		t.Errorf("minimal record reads as %+v, problems %v", e, e.Problems)
	}
	t.Logf("minimal record with %d failures: %d bytes", len(fs), size)
}

func FuzzTruncate(f *testing.F) {
	f.Add("héllo wörld", 5)
	f.Add(strings.Repeat("é", 10), 4)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 4 || n > 1<<16 {
			return
		}
		got := truncate(s, n)
		if len(got) > n && len(got) > len(s) {
			t.Fatalf("truncate(%q, %d) = %q, longer than both", s, n, got)
		}
		if len(s) <= n && got != s {
			t.Fatalf("truncate cut a short string: %q -> %q", s, got)
		}
		if len(s) > n && (len(got) > n || !strings.HasPrefix(s, strings.TrimSuffix(got, "…"))) {
			t.Fatalf("truncate(%q, %d) = %q", s, n, got)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("truncate broke UTF-8: %q", got)
		}
	})
}

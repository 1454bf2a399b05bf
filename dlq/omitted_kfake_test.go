package dlq

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/event"
)

// writeRaw writes msgs to topic as they are.
func (w *replayWorld) writeRaw(topic string, msgs ...kafka.Message) {
	w.t.Helper()
	kw := &kafka.Writer{Addr: kafka.TCP(w.brokers...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer kw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kw.WriteMessages(ctx, msgs...); err != nil {
		w.t.Fatal(err)
	}
}

func encodedEvent(t *testing.T, id, user string) []byte {
	t.Helper()
	v, err := event.Encode(&event.UserDeleted{EventID: id, UserID: user, OccurredAt: t0, Identifiers: map[string]string{"webex_key": "k-" + user}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReplayOfValueOmittedDeadLetter: a dead-letter record written
// without its value (too large for the dead-letter topic) is replayed
// with the original record, read back from its erasured-original-*
// coordinates; when that record is gone or is another event, replay
// refuses it with its own reason instead of republishing an empty value,
// which the daemon would dead-letter as invalid_event, losing the
// deletion owed at the failed vendors.
func TestReplayOfValueOmittedDeadLetter(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 1, 1)
	// The originals, at offsets 0 and 1 of the main topic's only partition.
	a := kafka.Message{Key: []byte("user-a"), Value: encodedEvent(t, "e-a", "user-a"), Headers: []kafka.Header{{Key: "traceparent", Value: []byte("tp-a")}}}
	b := kafka.Message{Key: []byte("user-b"), Value: encodedEvent(t, "e-b", "user-b")}
	w.writeRaw(mainTopic, a, b)

	omitted := func(id string, topic string, offset int64, orig kafka.Message) kafka.Message {
		orig.Topic, orig.Partition, orig.Offset, orig.Time = topic, 0, offset, t0
		rec := Record{Original: orig, EventID: id, Reason: ReasonRetriesExhausted,
			Failures: []Failure{{Vendor: "webex", Class: "retryable", Status: 503, Attempts: 4}}, FirstFailure: t0, LastFailure: t0}
		return withoutValue(rec.Message(t0))
	}
	w.writeRaw(deadTopic,
		omitted("e-a", mainTopic, 0, a),          // still retained: replayed with its value
		omitted("e-c", mainTopic, 1, b),          // offset 1 holds another event
		omitted("e-d", mainTopic, 50, b),         // beyond the end
		omitted("e-e", "user-deleted.old", 0, b), // topic gone
	)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const gone = Refusal("value_omitted_original_gone")
	dry := w.config("replay-omitted-dry")
	dry.DryRun = true
	sum, err, _, _ := w.run(ctx, dry, nil)
	if err != nil || sum.Replayed != 1 || sum.Refused[gone] != 3 {
		t.Errorf("dry run: replayed %d, refused %v (err %v); want 1 replayed, 3 refused as %s", sum.Replayed, sum.Refused, err, gone)
	}
	sum, err, lines, _ := w.run(ctx, w.config("replay-omitted"), nil)
	if err != nil || sum.Replayed != 1 || sum.Refused[gone] != 3 {
		t.Errorf("replay: replayed %d, refused %v (err %v); want 1 replayed, 3 refused as %s", sum.Replayed, sum.Refused, err, gone)
	}
	for _, l := range lines {
		if want := map[string]Action{"e-a": ActionReplay}[l.EventID]; want == "" && (l.Action != ActionRefuse || l.Refusal != gone) {
			t.Errorf("%s: %s, want refuse:%s", l.EventID, l.Decision, gone)
		}
	}
	var replayed []kafka.Message
	for _, m := range w.readAll(mainTopic) {
		if _, ok := Header(m.Headers, HeaderReplayCount); ok {
			replayed = append(replayed, m)
		}
	}
	if len(replayed) != 1 {
		t.Fatalf("%d replayed records in the main topic, want 1", len(replayed))
	}
	m := replayed[0]
	if !bytes.Equal(m.Value, a.Value) || !bytes.Equal(m.Key, a.Key) {
		t.Errorf("replayed key %q value %q; want the original's %q, %q", m.Key, m.Value, a.Key, a.Value)
	}
	for k, want := range map[string]string{"traceparent": "tp-a", HeaderOnlyVendors: "webex", HeaderReplayedFromOffset: "0", HeaderReplayCount: "1"} {
		if got, _ := Header(m.Headers, k); got != want {
			t.Errorf("replayed header %s = %q, want %q", k, got, want)
		}
	}
	if vs, rej := CheckRestriction(m, "e-a", testKeys); rej != "" || len(vs) != 1 || vs[0] != "webex" {
		t.Errorf("the daemon would read the restriction as %q, rejected %q", vs, rej)
	}
	if _, ok := Header(m.Headers, HeaderValueOmitted); ok {
		t.Errorf("replayed record carries %s", HeaderValueOmitted)
	}
}

package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/config"
)

const (
	mainTopic = "user-deleted"
	deadTopic = "user-deleted.dlq"
)

// replayWorld is an in-process Kafka with a main topic and a dead-letter
// topic, and the dead-letter records a test wrote into it.
type replayWorld struct {
	t       *testing.T
	cluster *kfake.Cluster
	brokers []string
	dead    []Record
}

func newReplayWorld(t *testing.T, mainParts, deadParts int32) *replayWorld {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(mainParts, mainTopic), kfake.SeedTopics(deadParts, deadTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &replayWorld{t: t, cluster: c, brokers: c.ListenAddrs()}
}

// deadLetter writes records to the dead-letter topic as the daemon would,
// stamped at now.
func (w *replayWorld) deadLetter(now time.Time, recs ...Record) {
	w.t.Helper()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = r.Message(now)
		msgs[i].Time = now
	}
	kw := &kafka.Writer{Addr: kafka.TCP(w.brokers...), Topic: deadTopic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer kw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kw.WriteMessages(ctx, msgs...); err != nil {
		w.t.Fatal(err)
	}
	w.dead = append(w.dead, recs...)
}

// readAll reads every record of topic's partitions.
func (w *replayWorld) readAll(topic string) []kafka.Message {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newCluster(w.brokers, nil, nil, 10*time.Second)
	parts, err := cl.partitions(ctx, topic)
	if err != nil {
		w.t.Fatal(err)
	}
	first, last, err := cl.bounds(ctx, topic, parts)
	if err != nil {
		w.t.Fatal(err)
	}
	spans := map[int]span{}
	for _, p := range parts {
		spans[p] = span{start: first[p], end: last[p]}
	}
	var out []kafka.Message
	if err := cl.consume(ctx, topic, spans, time.Second, func(m kafka.Message) error {
		out = append(out, m)
		return nil
	}); err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *replayWorld) committed(group string) map[int]int64 {
	w.t.Helper()
	gi := w.cluster.GroupInfo(group)
	out := map[int]int64{}
	if gi == nil {
		return out
	}
	for p, c := range gi.Commits[deadTopic] {
		out[int(p)] = c.Offset
	}
	return out
}

func (w *replayWorld) ends(topic string) map[int]int64 {
	w.t.Helper()
	cl := newCluster(w.brokers, nil, nil, 10*time.Second)
	parts, err := cl.partitions(context.Background(), topic)
	if err != nil {
		w.t.Fatal(err)
	}
	_, last, err := cl.bounds(context.Background(), topic, parts)
	if err != nil {
		w.t.Fatal(err)
	}
	return last
}

// config returns a replay configuration for the world, quick to join.
func (w *replayWorld) config(group string) ReplayConfig {
	c := DefaultReplayConfig()
	c.Brokers, c.DeadLetterTopic, c.Topic, c.GroupID = w.brokers, deadTopic, mainTopic, group
	c.HeartbeatInterval, c.SessionTimeout, c.RebalanceTimeout = 300*time.Millisecond, 6*time.Second, 6*time.Second
	c.Keys = testKeys
	return c
}

// testKeys sign the kfake tests' restrictions.
var testKeys = NewKeyring([]byte("replay-kfake-test-key-0123456789"))

// run replays with cfg, through w's writer (wrapped by wrap, when set),
// and returns the summary, the error and the JSON lines printed.
func (w *replayWorld) run(ctx context.Context, cfg ReplayConfig, wrap func(Writer) Writer) (Summary, error, []RecordLine, SummaryLine) {
	w.t.Helper()
	if err := cfg.Validate(); err != nil {
		w.t.Fatalf("config: %v", err)
	}
	var out bytes.Buffer
	rep := NewReport(ReportOptions{Out: &out, Format: FormatJSON, Records: true})
	var wr Writer
	if !cfg.DryRun {
		kw := NewReplayWriter(cfg, nil)
		defer kw.Close()
		wr = kw
		if wrap != nil {
			wr = wrap(kw)
		}
	}
	sum, err := NewReplayer(cfg, wr, nil, nil, rep).Run(ctx)
	recs, sl := parseLines(w.t, out.String())
	return sum, err, recs, sl
}

func parseLines(t *testing.T, out string) ([]RecordLine, SummaryLine) {
	t.Helper()
	var recs []RecordLine
	var sl SummaryLine
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var probe struct{ Type string }
		if err := json.Unmarshal([]byte(line), &probe); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, line)
		}
		switch probe.Type {
		case "record":
			var r RecordLine
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		case "summary":
			n++
			if err := json.Unmarshal([]byte(line), &sl); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("line of unknown type %q: %s", probe.Type, line)
		}
	}
	if n != 1 {
		t.Fatalf("%d summary lines, want 1:\n%s", n, out)
	}
	return recs, sl
}

// outage returns n records dead-lettered after vendor kept failing, with
// original offsets spread over partitions 0..3 of the main topic.
func outage(n int, vendor string, base int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		seq := base + i
		recs[i] = Record{
			Original: kafka.Message{
				Topic: mainTopic, Partition: seq % 4, Offset: int64(seq), Time: t0,
				Key: []byte(fmt.Sprintf("user-%d", seq)), Value: []byte(fmt.Sprintf(`{"event_id":"e-%d"}`, seq)),
				Headers: []kafka.Header{{Key: "traceparent", Value: []byte(fmt.Sprintf("tp-%d", seq))}},
			},
			EventID: fmt.Sprintf("e-%d", seq), Reason: ReasonRetriesExhausted,
			Failures:     []Failure{{Vendor: vendor, Class: "retryable", Status: 503, Attempts: 4}},
			FirstFailure: t0, LastFailure: t0.Add(time.Second),
		}
	}
	return recs
}

func eventIDs(msgs []kafka.Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		var v struct {
			EventID string `json:"event_id"`
		}
		_ = json.Unmarshal(m.Value, &v)
		out[v.EventID]++
	}
	return out
}

func TestReplayRepublishesOnlyWhatShouldBe(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 4, 3)
	recs := outage(20, "webex", 0)
	// Two vendors failed: the replay goes to both.
	recs[3].Failures = append(recs[3].Failures, Failure{Vendor: "clevertap", Class: "permanent", Status: 401, Attempts: 1})
	recs[3].Reason = ReasonPermanentError
	// Replayed five times already: refused.
	tired := outage(1, "webex", 100)[0]
	tired.Original.Headers = append(tired.Original.Headers, kafka.Header{Key: HeaderReplayCount, Value: []byte("5")})
	// Invalid: refused by default.
	invalid := Record{Original: kafka.Message{Topic: mainTopic, Partition: 1, Offset: 500, Key: []byte("poison"), Value: []byte("{")},
		Reason: ReasonInvalidEvent, Detail: "value: not JSON"}
	w.deadLetter(t0.Add(time.Hour), append(recs, tired, invalid)...)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err, lines, sl := w.run(ctx, w.config("replay-a"), nil)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sum.Replayed != 20 || sum.Refused[RefuseMaxReplays] != 1 || sum.Refused[RefuseInvalidEvent] != 1 || !sum.Complete {
		t.Errorf("summary %+v", sum)
	}
	if sl.Replayed != 20 || sl.ByVendor["webex"] != 20 || sl.ByVendor["clevertap"] != 1 || sl.ByReason[ReasonRetriesExhausted] != 20 {
		t.Errorf("summary line %+v", sl.Summary)
	}
	if len(lines) != 22 {
		t.Errorf("%d record lines, want 22 (20 replayed, 2 refused)", len(lines))
	}

	out := w.readAll(mainTopic)
	if len(out) != 20 {
		t.Fatalf("main topic has %d records, want 20", len(out))
	}
	byID := map[string]kafka.Message{}
	for _, m := range out {
		byID[string(m.Value)] = m
	}
	for i, r := range recs {
		m, ok := byID[string(r.Original.Value)]
		if !ok {
			t.Errorf("event %s not replayed", r.EventID)
			continue
		}
		if !bytes.Equal(m.Key, r.Original.Key) {
			t.Errorf("%s: key %q, want %q", r.EventID, m.Key, r.Original.Key)
		}
		if m.Partition != r.Original.Partition {
			t.Errorf("%s: replayed to partition %d, want the original %d", r.EventID, m.Partition, r.Original.Partition)
		}
		want := map[string]string{
			"traceparent":               fmt.Sprintf("tp-%d", i),
			HeaderOnlyVendors:           "webex",
			HeaderReplayCount:           "1",
			HeaderReplayedFromTopic:     mainTopic,
			HeaderReplayedFromPartition: fmt.Sprint(r.Original.Partition),
			HeaderReplayedFromOffset:    fmt.Sprint(r.Original.Offset),
		}
		if i == 3 {
			want[HeaderOnlyVendors] = "clevertap,webex"
		}
		for k, v := range want {
			if got, _ := Header(m.Headers, k); got != v {
				t.Errorf("%s: header %s = %q, want %q", r.EventID, k, got, v)
			}
		}
		for _, h := range []string{HeaderReason, HeaderFailedVendors, HeaderEventID, HeaderDeadLetteredAt, HeaderVendorPrefix + "webex"} {
			if _, ok := Header(m.Headers, h); ok {
				t.Errorf("%s: replayed record keeps dead-letter header %s", r.EventID, h)
			}
		}
		if vs, rej := CheckRestriction(m, r.EventID, testKeys); rej != "" || strings.Join(vs, ",") != want[HeaderOnlyVendors] {
			t.Errorf("%s: the daemon would read the restriction as %q, rejected %q", r.EventID, vs, rej)
		}
		if v, _ := Header(m.Headers, HeaderReplayedFromDeadLetter); !strings.HasPrefix(v, deadTopic+"/") {
			t.Errorf("%s: %s = %q", r.EventID, HeaderReplayedFromDeadLetter, v)
		}
	}
	if c, e := w.committed("replay-a"), w.ends(deadTopic); fmt.Sprint(c) != fmt.Sprint(e) {
		t.Errorf("committed %v, want the ends %v", c, e)
	}

	// A second run resumes at the end: nothing more.
	sum, err, _, _ = w.run(ctx, w.config("replay-a"), nil)
	if err != nil || sum.Read != 0 || sum.Replayed != 0 {
		t.Errorf("re-run read %d, replayed %d (err %v); want nothing", sum.Read, sum.Replayed, err)
	}
	// -from earliest wins over the committed offsets.
	cfg := w.config("replay-a")
	cfg.From = Start{Kind: StartEarliest}
	cfg.MaxReplays = 10
	sum, err, _, _ = w.run(ctx, cfg, nil)
	if err != nil || sum.Replayed != 21 {
		t.Errorf("-from earliest -max-replays 10 replayed %d (err %v), want 21", sum.Replayed, err)
	}
}

func TestDryRunWritesAndCommitsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 4, 2)
	w.deadLetter(t0, outage(10, "plivo", 0)...)
	w.deadLetter(t0, outage(5, "exotel", 10)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := w.config("replay-dry")
	cfg.DryRun = true
	sum, err, lines, sl := w.run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mode != "dry-run" || sl.Mode != "dry-run" || sl.Replayed != 15 || sl.ByVendor["plivo"] != 10 || sl.ByVendor["exotel"] != 5 || sl.ByReason[ReasonRetriesExhausted] != 15 {
		t.Errorf("summary %+v", sl.Summary)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		if l.Action != ActionReplay || len(l.Vendors) != 1 || len(l.Failures) != 1 || l.Failures[0].Vendor != l.Vendors[0] || l.Failures[0].Status != 503 {
			t.Errorf("record line %+v", l)
		}
		ids[l.EventID] = true
	}
	if len(ids) != 15 {
		t.Errorf("%d distinct events listed, want 15", len(ids))
	}
	if n := len(w.readAll(mainTopic)); n != 0 {
		t.Errorf("dry run wrote %d records", n)
	}
	if gi := w.cluster.GroupInfo("replay-dry"); gi != nil && len(gi.Commits) > 0 {
		t.Errorf("dry run committed offsets: %v", gi.Commits)
	}
}

func TestReplayVendorFilterNarrowsTheReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 4, 1)
	both := outage(4, "plivo", 0)
	for i := range both {
		both[i].Failures = append(both[i].Failures, Failure{Vendor: "webex", Class: "permanent", Status: 401, Attempts: 1})
	}
	w.deadLetter(t0, both...)
	w.deadLetter(t0, outage(3, "exotel", 10)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := w.config("replay-vendor")
	cfg.Filter = Filter{Vendors: []string{"webex"}}
	sum, err, _, _ := w.run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Replayed != 4 || sum.Skipped != 3 {
		t.Errorf("replayed %d skipped %d, want 4 and 3", sum.Replayed, sum.Skipped)
	}
	for _, m := range w.readAll(mainTopic) {
		if v, _ := Header(m.Headers, HeaderOnlyVendors); v != "webex" {
			t.Errorf("only-vendors = %q, want webex alone (plivo is outside the filter)", v)
		}
	}
}

// cancelAfter cancels the run's context once n writes are acknowledged,
// as an SRE's Ctrl-C would between two records.
type cancelAfter struct {
	Writer
	n      int64
	cancel context.CancelFunc
	writes atomic.Int64
}

func (c *cancelAfter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	err := c.Writer.WriteMessages(ctx, msgs...)
	if err == nil && c.writes.Add(1) == c.n {
		c.cancel()
	}
	return err
}

// failAfter fails every write after the first n, as a broker outage would.
type failAfter struct {
	Writer
	n      int64
	writes atomic.Int64
}

func (f *failAfter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	if f.writes.Add(1) > f.n {
		return errors.New("broker gone")
	}
	return f.Writer.WriteMessages(ctx, msgs...)
}

func TestInterruptedReplayResumesLosingNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 4, 3)
	recs := outage(300, "plivo", 0)
	w.deadLetter(t0, recs...)
	want := map[string]bool{}
	for _, r := range recs {
		want[string(r.Original.Value)] = true
	}

	// Interrupted (Ctrl-C) after 70 writes.
	ctx1, cancel1 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel1()
	sum, err, _, _ := w.run(ctx1, w.config("replay-int"), func(kw Writer) Writer {
		return &cancelAfter{Writer: kw, n: 70, cancel: cancel1}
	})
	if !errors.Is(err, context.Canceled) || sum.Complete {
		t.Fatalf("first run: err %v complete %v; want interrupted", err, sum.Complete)
	}
	// A failing broker after 150 more writes: the run gives up.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel2()
	cfg := w.config("replay-int")
	cfg.WriteRetryFor = 300 * time.Millisecond
	sum, err, _, _ = w.run(ctx2, cfg, func(kw Writer) Writer { return &failAfter{Writer: kw, n: 150} })
	if err == nil || errors.Is(err, context.Canceled) || sum.Complete {
		t.Fatalf("second run: err %v complete %v; want a write failure", err, sum.Complete)
	}
	// Then a run to the end.
	ctx3, cancel3 := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel3()
	sum, err, _, _ = w.run(ctx3, w.config("replay-int"), nil)
	if err != nil || !sum.Complete {
		t.Fatalf("third run: err %v complete %v", err, sum.Complete)
	}

	got := map[string]int{}
	for _, m := range w.readAll(mainTopic) {
		got[string(m.Value)]++
	}
	dups := 0
	for v := range want {
		switch n := got[v]; {
		case n == 0:
			t.Errorf("record %s lost: never replayed", v)
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("300 records over three runs (interrupted, write failure, to the end): %d replayed twice", dups)
	// Every run commits what it handled before it stops, so nothing is
	// redone.
	if dups > 0 {
		t.Errorf("%d duplicates; a run that stops commits what it finished", dups)
	}
}

func TestReplayFromStartPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 4, 1)
	w.deadLetter(t0, outage(10, "plivo", 0)...) // offsets 0..9
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mid := t0.Add(time.Hour)
	w.deadLetter(mid.Add(time.Minute), outage(5, "plivo", 10)...) // offsets 10..14, written later

	tests := []struct {
		name string
		from Start
		want int
	}{
		{"offsets", Start{Kind: StartOffsets, Offsets: map[int]int64{0: 7}}, 8},
		{"time", Start{Kind: StartTime, Time: mid}, 5},
		{"latest", Start{Kind: StartLatest}, 0},
		{"earliest", Start{Kind: StartEarliest}, 15},
	}
	for _, tc := range tests {
		cfg := w.config("replay-from-" + tc.name)
		cfg.From = tc.from
		cfg.DryRun = true
		sum, err, _, _ := w.run(ctx, cfg, nil)
		if err != nil || sum.Replayed != tc.want {
			t.Errorf("%s: would replay %d (err %v), want %d", tc.name, sum.Replayed, err, tc.want)
		}
	}
	// A real run with an explicit -from sets the group there first.
	cfg := w.config("replay-from-real")
	cfg.From = Start{Kind: StartOffsets, Offsets: map[int]int64{0: 12}}
	sum, err, _, _ := w.run(ctx, cfg, nil)
	if err != nil || sum.Replayed != 3 {
		t.Errorf("replayed %d (err %v), want 3", sum.Replayed, err)
	}
	if c := w.committed("replay-from-real"); c[0] != 15 {
		t.Errorf("committed %v, want 0:15", c)
	}
	// Unknown partition in -from: a configuration error.
	cfg.From = Start{Kind: StartOffsets, Offsets: map[int]int64{9: 1}}
	if _, err, _, _ := w.run(ctx, cfg, nil); !errors.Is(err, ErrBadStart) {
		t.Errorf("partition 9 of a 1-partition topic: err %v, want ErrBadStart", err)
	}
	// Unknown target topic: ErrUnknownTopic, before anything is read.
	cfg = w.config("replay-from-real")
	cfg.Topic = "nope"
	if _, err, _, _ := w.run(ctx, cfg, nil); !errors.Is(err, ErrUnknownTopic) {
		t.Errorf("unknown topic: err %v, want ErrUnknownTopic", err)
	}
}

func TestReplayFollowsNewRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 4, 2)
	w.deadLetter(t0, outage(3, "plivo", 0)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := w.config("replay-follow")
	cfg.Follow = true
	var wg sync.WaitGroup
	var sum Summary
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		var out bytes.Buffer
		kw := NewReplayWriter(cfg, nil)
		defer kw.Close()
		sum, err = NewReplayer(cfg, kw, nil, nil, NewReport(ReportOptions{Out: &out})).Run(ctx)
	}()
	waitFor(t, "the first three replayed", func() bool { return len(w.readAll(mainTopic)) == 3 })
	w.deadLetter(t0, outage(2, "plivo", 3)...)
	waitFor(t, "the two later ones replayed", func() bool { return len(w.readAll(mainTopic)) == 5 })
	cancel()
	wg.Wait()
	if err != nil || sum.Replayed != 5 || sum.Complete {
		t.Errorf("follow: err %v, replayed %d, complete %v; want nil, 5, false", err, sum.Replayed, sum.Complete)
	}
}

func TestInspectListsAndCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	t.Parallel()
	w := newReplayWorld(t, 1, 2)
	w.deadLetter(t0, outage(4, "plivo", 0)...)
	w.deadLetter(t0, outage(2, "exotel", 4)...)
	w.deadLetter(t0, Record{Original: kafka.Message{Topic: mainTopic, Key: []byte("secret-user"), Value: []byte("{")}, Reason: ReasonInvalidEvent, Detail: "value: not JSON"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, format := range []Format{FormatJSON, FormatTable} {
		var out bytes.Buffer
		cfg := DefaultInspectConfig()
		cfg.Brokers, cfg.Topic = w.brokers, deadTopic
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		sum, err := Inspect(ctx, cfg, nil, nil, NewReport(ReportOptions{Out: &out, Format: format, Records: true}))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Read != 7 || sum.ByVendor["plivo"] != 4 || sum.ByVendor["exotel"] != 2 || sum.ByReason[ReasonInvalidEvent] != 1 || sum.ByClass["retryable"] != 6 {
			t.Errorf("%s: summary %+v", format, sum)
		}
		if strings.Contains(out.String(), "secret-user") || strings.Contains(out.String(), "user-1") {
			t.Errorf("%s: output shows a key:\n%s", format, out.String())
		}
		if format == FormatJSON {
			lines, _ := parseLines(t, out.String())
			ids := []string{}
			for _, l := range lines {
				ids = append(ids, l.EventID)
			}
			sort.Strings(ids)
			if fmt.Sprint(ids) != "[ e-0 e-1 e-2 e-3 e-4 e-5]" {
				t.Errorf("event ids %v", ids)
			}
		} else if !strings.Contains(out.String(), "plivo:retryable/503") || !strings.Contains(out.String(), "value: not JSON") {
			t.Errorf("table lacks decoded failures:\n%s", out.String())
		}
	}
	// Nothing changed: no group, nothing written.
	if n := len(w.readAll(mainTopic)); n != 0 {
		t.Errorf("inspect wrote %d records", n)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplayWithoutSigningKey: a real run refuses to start without a key,
// as its restrictions would be ignored; a dry run needs none.
func TestReplayWithoutSigningKey(t *testing.T) {
	t.Parallel()
	cfg := DefaultReplayConfig()
	cfg.Brokers = []string{"127.0.0.1:1"}
	if err := cfg.Validate(); !errors.Is(err, config.ErrInvalid) || !strings.HasPrefix(err.Error(), "replay.signing_key: ") {
		t.Errorf("Validate without a key = %v, want a replay.signing_key error", err)
	}
	cfg.DryRun = true
	if err := cfg.Validate(); err != nil {
		t.Errorf("dry run without a key: %v", err)
	}
}

package dlq

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
)

// deadMessage is a dead-letter record as the daemon writes it, read back
// from the dead-letter topic.
func deadMessage(r Record, at time.Time) kafka.Message {
	m := r.Message(at)
	m.Topic, m.Partition, m.Offset, m.Time = "user-deleted.dlq", 2, 40, at
	return m
}

func twoVendorRecord() Record {
	return Record{
		Original: kafka.Message{
			Topic: "user-deleted", Partition: 3, Offset: 1234, Time: t0,
			Key: []byte("user-1"), Value: []byte(`{"event_id":"e1"}`),
			Headers: []kafka.Header{{Key: "traceparent", Value: []byte("00-abc")}, {Key: "ce_subject", Value: []byte("user-1")}},
		},
		EventID: "e1", Reason: ReasonRetriesExhausted,
		Failures: []Failure{
			{Vendor: "webex", Class: "retryable", Status: 503, Attempts: 4},
			{Vendor: "plivo", Class: "permanent", Status: 401, Code: "auth", Attempts: 1},
		},
		FirstFailure: t0.Add(time.Second), LastFailure: t0.Add(time.Minute),
	}
}

func TestParseEntryReadsWhatTheDaemonWrites(t *testing.T) {
	t.Parallel()
	m := deadMessage(twoVendorRecord(), now)
	e := ParseEntry(m)
	if len(e.Problems) != 0 || e.Malformed() {
		t.Fatalf("problems %v", e.Problems)
	}
	want := Entry{
		Topic: "user-deleted.dlq", Partition: 2, Offset: 40, Timestamp: now.UTC(),
		EventID: "e1", Reason: ReasonRetriesExhausted,
		FailedVendors: []string{"plivo", "webex"},
		Failures: []Failure{
			{Vendor: "plivo", Class: "permanent", Status: 401, Code: "auth", Attempts: 1},
			{Vendor: "webex", Class: "retryable", Status: 503, Attempts: 4},
		},
		OriginalTopic: "user-deleted", OriginalPartition: 3, OriginalOffset: 1234, OriginalTimestamp: t0,
		FirstFailure: t0.Add(time.Second), LastFailure: t0.Add(time.Minute), DeadLetteredAt: now.UTC(),
		OtherHeaders: []string{"traceparent", "ce_subject"},
	}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("ParseEntry =\n%+v\nwant\n%+v", e, want)
	}
}

func TestParseEntryProblems(t *testing.T) {
	t.Parallel()
	base := deadMessage(twoVendorRecord(), now)
	set := func(k, v string) kafka.Message {
		m := base
		m.Headers = append(append([]kafka.Header(nil), base.Headers...), kafka.Header{Key: k, Value: []byte(v)})
		return m
	}
	drop := func(k string) kafka.Message {
		m := base
		m.Headers = nil
		for _, h := range base.Headers {
			if h.Key != k {
				m.Headers = append(m.Headers, h)
			}
		}
		return m
	}
	tests := []struct {
		name      string
		msg       kafka.Message
		malformed bool
	}{
		{"replay count not a number", set(HeaderReplayCount, "many"), true},
		{"replay count negative", set(HeaderReplayCount, "-1"), true},
		{"vendor failure not JSON", set(HeaderVendorPrefix+"webex", "{"), true},
		{"vendor failure missing", drop(HeaderVendorPrefix + "webex"), true},
		{"bad vendor name", set(HeaderFailedVendors, "plivo,We bex"), true},
		{"reason missing", drop(HeaderReason), true},
		{"unknown reason", set(HeaderReason, "gremlins"), true},
		{"bad timestamp", set(HeaderDeadLetteredAt, "yesterday"), false},
		{"bad original offset", set(HeaderOriginalOffset, "x"), false},
	}
	for _, tc := range tests {
		e := ParseEntry(tc.msg)
		if len(e.Problems) == 0 {
			t.Errorf("%s: no problem reported", tc.name)
		}
		if e.Malformed() != tc.malformed {
			t.Errorf("%s: Malformed = %v, want %v (problems %v)", tc.name, e.Malformed(), tc.malformed, e.Problems)
		}
	}
	// A problem quotes little of the bad value.
	e := ParseEntry(set(HeaderReplayCount, strings.Repeat("9", 500)+"x"))
	if len(e.Problems) != 1 || len(e.Problems[0]) > 120 {
		t.Errorf("problem %q", e.Problems)
	}
}

// FuzzParseEntry feeds arbitrary erasured-* header values: ParseEntry must
// not panic, must count only readable failures, and must never put the
// record's key, value or other headers' values into what it returns.
func FuzzParseEntry(f *testing.F) {
	m := deadMessage(twoVendorRecord(), now)
	f.Add("plivo,webex", `{"class":"permanent","status":401,"attempts":1}`, "3", "retries_exhausted", "2025-03-01T12:00:00Z")
	f.Add("", "", "", "", "")
	f.Add(",,webex,", "null", "-1", "invalid_event", "x")
	f.Add("a,b,c", `{"class":1}`, "99999999999999999999", "permanent_error", "2025-03-01T12:00:00.123456789+01:00")
	f.Fuzz(func(t *testing.T, vendors, failure, replays, reason, ts string) {
		msg := m
		msg.Key = []byte("SECRET-KEY")
		msg.Value = []byte("SECRET-VALUE")
		msg.Headers = []kafka.Header{
			{Key: "ce_subject", Value: []byte("SECRET-HEADER")},
			{Key: HeaderFailedVendors, Value: []byte(vendors)},
			{Key: HeaderVendorPrefix + "plivo", Value: []byte(failure)},
			{Key: HeaderVendorPrefix + "a", Value: []byte(failure)},
			{Key: HeaderReplayCount, Value: []byte(replays)},
			{Key: HeaderReason, Value: []byte(reason)},
			{Key: HeaderDeadLetteredAt, Value: []byte(ts)},
		}
		e := ParseEntry(msg)
		if len(e.Failures) > len(e.FailedVendors) {
			t.Fatalf("%d failures for %d vendors", len(e.Failures), len(e.FailedVendors))
		}
		if e.ReplayCount < 0 {
			t.Fatalf("replay count %d", e.ReplayCount)
		}
		for _, v := range e.FailedVendors {
			if !ValidVendorName(v) {
				t.Fatalf("vendor name %q kept", v)
			}
		}
		var out bytes.Buffer
		r := NewReport(ReportOptions{Out: &out, Format: FormatJSON, Records: true})
		r.Record(&e, Decide(&e, &Filter{}, Policy{MaxReplays: 5}))
		NewReport(ReportOptions{Out: &out, Format: FormatTable, Records: true}).Record(&e, Decision{Action: ActionRefuse, Refusal: RefuseMalformed})
		if s := out.String(); strings.Contains(s, "SECRET") {
			t.Fatalf("output shows the record's data:\n%s", s)
		}
		d := Decide(&e, &Filter{}, Policy{MaxReplays: 5})
		if d.Action == ActionReplay && (e.Malformed() || len(d.Vendors) == 0) {
			t.Fatalf("replays a malformed record or one with no vendors: %+v %+v", e, d)
		}
	})
}

func TestFilterMatch(t *testing.T) {
	t.Parallel()
	e := ParseEntry(deadMessage(twoVendorRecord(), now)) // plivo permanent, webex retryable
	inv := ParseEntry(deadMessage(Record{Original: kafka.Message{Topic: "user-deleted"}, Reason: ReasonInvalidEvent, Detail: "bad"}, now))
	tests := []struct {
		name    string
		f       Filter
		entry   *Entry
		want    []string
		matches bool
	}{
		{"no filter", Filter{}, &e, []string{"plivo", "webex"}, true},
		{"vendor narrows", Filter{Vendors: []string{"webex"}}, &e, []string{"webex"}, true},
		{"vendor elsewhere", Filter{Vendors: []string{"exotel"}}, &e, nil, false},
		{"class narrows", Filter{Classes: []string{"retryable"}}, &e, []string{"webex"}, true},
		{"vendor and class disagree", Filter{Vendors: []string{"plivo"}, Classes: []string{"retryable"}}, &e, nil, false},
		{"class absent", Filter{Classes: []string{"unexpected"}}, &e, nil, false},
		{"reason", Filter{Reasons: []Reason{ReasonRetriesExhausted}}, &e, []string{"plivo", "webex"}, true},
		{"other reason", Filter{Reasons: []Reason{ReasonPermanentError}}, &e, nil, false},
		{"event id", Filter{EventIDs: []string{"e0", "e1"}}, &e, []string{"plivo", "webex"}, true},
		{"other event id", Filter{EventIDs: []string{"e2"}}, &e, nil, false},
		{"since before", Filter{Since: now.Add(-time.Minute)}, &e, []string{"plivo", "webex"}, true},
		{"since exactly", Filter{Since: now}, &e, []string{"plivo", "webex"}, true},
		{"since after", Filter{Since: now.Add(time.Nanosecond)}, &e, nil, false},
		{"until after", Filter{Until: now.Add(time.Nanosecond)}, &e, []string{"plivo", "webex"}, true},
		{"until exactly", Filter{Until: now}, &e, nil, false},
		{"invalid, no filter", Filter{}, &inv, nil, true},
		{"invalid, by reason", Filter{Reasons: []Reason{ReasonInvalidEvent}}, &inv, nil, true},
		{"invalid, by vendor", Filter{Vendors: []string{"plivo"}}, &inv, nil, false},
		{"invalid has no event id", Filter{EventIDs: []string{""}}, &inv, nil, false},
	}
	for _, tc := range tests {
		got, ok := tc.f.Match(tc.entry)
		if ok != tc.matches || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Match = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.matches)
		}
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	entry := func(mod func(*Record), extra ...kafka.Header) *Entry {
		r := twoVendorRecord()
		if mod != nil {
			mod(&r)
		}
		m := deadMessage(r, now)
		m.Headers = append(m.Headers, extra...) // Header reads the last
		e := ParseEntry(m)
		return &e
	}
	replays := func(n string) kafka.Header { return kafka.Header{Key: HeaderReplayCount, Value: []byte(n)} }
	invalid := func(r *Record) { r.Reason, r.Failures, r.EventID = ReasonInvalidEvent, nil, "" }
	noVendors := func(r *Record) { r.Failures = nil }
	tests := []struct {
		name string
		e    *Entry
		f    Filter
		p    Policy
		want Decision
	}{
		{"replay to the failed vendors", entry(nil), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionReplay, Vendors: []string{"plivo", "webex"}}},
		{"filtered vendor", entry(nil), Filter{Vendors: []string{"plivo"}}, Policy{MaxReplays: 5}, Decision{Action: ActionReplay, Vendors: []string{"plivo"}}},
		{"filtered out", entry(nil), Filter{Vendors: []string{"exotel"}}, Policy{MaxReplays: 5}, Decision{Action: ActionSkip}},
		{"below max", entry(nil, replays("4")), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionReplay, Vendors: []string{"plivo", "webex"}}},
		{"at max", entry(nil, replays("5")), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionRefuse, Refusal: RefuseMaxReplays}},
		{"past max", entry(nil, replays("9")), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionRefuse, Refusal: RefuseMaxReplays}},
		{"invalid refused", entry(invalid), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionRefuse, Refusal: RefuseInvalidEvent}},
		{"invalid included", entry(invalid), Filter{}, Policy{MaxReplays: 5, IncludeInvalid: true}, Decision{Action: ActionReplay}},
		{"invalid at max", entry(invalid, replays("5")), Filter{}, Policy{MaxReplays: 5, IncludeInvalid: true}, Decision{Action: ActionRefuse, Refusal: RefuseMaxReplays}},
		{"no failed vendors", entry(noVendors), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionRefuse, Refusal: RefuseNoFailedVendors}},
		{"malformed", entry(nil, kafka.Header{Key: HeaderVendorPrefix + "webex", Value: []byte("{")}), Filter{}, Policy{MaxReplays: 5}, Decision{Action: ActionRefuse, Refusal: RefuseMalformed}},
	}
	for _, tc := range tests {
		if got := Decide(tc.e, &tc.f, tc.p); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Decide = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestReplayMessage(t *testing.T) {
	t.Parallel()
	r := twoVendorRecord()
	r.Original.Headers = append(r.Original.Headers, kafka.Header{Key: HeaderReplayCount, Value: []byte("2")}, kafka.Header{Key: HeaderOnlyVendors, Value: []byte("plivo,webex")})
	dead := deadMessage(r, now)
	e := ParseEntry(dead)
	replayedAt := now.Add(time.Hour)
	keys := NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	m := ReplayMessage(dead, &e, Decision{Action: ActionReplay, Vendors: []string{"webex"}}, replayedAt, keys)
	sig := keys.Sign(&Restriction{EventID: e.EventID, ReplayCount: 3, Vendors: []string{"webex"}, Key: r.Original.Key, Value: r.Original.Value})

	if !bytes.Equal(m.Key, r.Original.Key) || !bytes.Equal(m.Value, r.Original.Value) {
		t.Errorf("key %q value %q changed", m.Key, m.Value)
	}
	want := []kafka.Header{
		{Key: "traceparent", Value: []byte("00-abc")},
		{Key: "ce_subject", Value: []byte("user-1")},
		{Key: HeaderOnlyVendors, Value: []byte("webex")},
		{Key: HeaderOnlyVendorsSignature, Value: []byte(sig)},
		{Key: HeaderReplayCount, Value: []byte("3")},
		{Key: HeaderReplayedFromTopic, Value: []byte("user-deleted")},
		{Key: HeaderReplayedFromPartition, Value: []byte("3")},
		{Key: HeaderReplayedFromOffset, Value: []byte("1234")},
		{Key: HeaderReplayedFromTimestamp, Value: []byte(t0.Format(time.RFC3339Nano))},
		{Key: HeaderReplayedFromDeadLetter, Value: []byte("user-deleted.dlq/2/40")},
		{Key: HeaderReplayedAt, Value: []byte(replayedAt.UTC().Format(time.RFC3339Nano))},
	}
	if !reflect.DeepEqual(m.Headers, want) {
		t.Errorf("headers\n%q\nwant\n%q", m.Headers, want)
	}
	// The daemon, with the same key, honours it.
	if vs, rej := CheckRestriction(m, e.EventID, keys); rej != "" || fmt.Sprint(vs) != "[webex]" {
		t.Errorf("daemon reads the restriction as %q, rejected %q", vs, rej)
	}
	// An invalid record sent back unchanged carries no restriction: an
	// empty one would read as none anyway, but must never be written.
	m = ReplayMessage(dead, &e, Decision{Action: ActionReplay}, replayedAt, keys)
	if _, ok := Header(m.Headers, HeaderOnlyVendors); ok {
		t.Error("replay with no vendors wrote erasured-only-vendors")
	}

	// The daemon dead-letters the replayed record again: the count
	// survives, the restriction and the replay headers do not.
	again := (&Record{Original: m, EventID: "e1", Reason: ReasonRetriesExhausted, Failures: []Failure{{Vendor: "webex", Class: "retryable"}}}).Message(now)
	if c, _ := Header(again.Headers, HeaderReplayCount); c != "3" {
		t.Errorf("re-dead-lettered replay count = %q, want 3", c)
	}
	for _, h := range again.Headers {
		if h.Key == HeaderOnlyVendors || strings.HasPrefix(h.Key, "erasured-replayed-") {
			t.Errorf("re-dead-lettered record keeps %s", h.Key)
		}
	}
}

func TestOriginalPartitionBalancer(t *testing.T) {
	t.Parallel()
	b := &originalPartition{topic: "user-deleted"}
	msg := func(topic, part string) kafka.Message {
		return kafka.Message{Key: []byte("user-1"), Headers: []kafka.Header{
			{Key: HeaderReplayedFromTopic, Value: []byte(topic)}, {Key: HeaderReplayedFromPartition, Value: []byte(part)}}}
	}
	parts := []int{0, 1, 2, 3}
	hash := (&kafka.Hash{}).Balance(kafka.Message{Key: []byte("user-1")}, parts...)
	tests := []struct {
		name string
		m    kafka.Message
		want int
	}{
		{"original partition", msg("user-deleted", "2"), 2},
		{"other topic: hash", msg("elsewhere", "2"), hash},
		{"partition gone: hash", msg("user-deleted", "9"), hash},
		{"garbage: hash", msg("user-deleted", "x"), hash},
		{"no headers: hash", kafka.Message{Key: []byte("user-1")}, hash},
	}
	for _, tc := range tests {
		if got := b.Balance(tc.m, parts...); got != tc.want {
			t.Errorf("%s: partition %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestReplayConfigValidate(t *testing.T) {
	t.Parallel()
	valid := func() ReplayConfig {
		c := DefaultReplayConfig()
		c.Brokers, c.Keys = []string{"k:9092"}, NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
		return c
	}
	if c := valid(); c.Validate() != nil || c.GroupID != "erasured-replay" || c.MaxReplays != 5 || c.Topic != "user-deleted" || c.DeadLetterTopic != "user-deleted.dlq" {
		t.Fatalf("defaults %+v: %v", c, c.Validate())
	}
	tests := []struct {
		field string
		mod   func(*ReplayConfig)
	}{
		{"brokers", func(c *ReplayConfig) { c.Brokers = nil }},
		{"brokers", func(c *ReplayConfig) { c.Brokers = []string{"nohost"} }},
		{"topic", func(c *ReplayConfig) { c.Topic = c.DeadLetterTopic }},
		{"group", func(c *ReplayConfig) { c.GroupID = " " }},
		{"max-replays", func(c *ReplayConfig) { c.MaxReplays = -1 }},
		{"rate", func(c *ReplayConfig) { c.Rate = -1 }},
		{"follow", func(c *ReplayConfig) { c.Follow, c.DryRun = true, true }},
		{"heartbeat-interval", func(c *ReplayConfig) { c.HeartbeatInterval = c.SessionTimeout }},
		{"vendor", func(c *ReplayConfig) { c.Filter.Vendors = []string{"Bad Name"} }},
		{"reason", func(c *ReplayConfig) { c.Filter.Reasons = []Reason{"gremlins"} }},
		{"class", func(c *ReplayConfig) { c.Filter.Classes = []string{"fatal"} }},
		{"until", func(c *ReplayConfig) { c.Filter.Since, c.Filter.Until = now, now }},
		{"event-id", func(c *ReplayConfig) { c.Filter.EventIDs = []string{" "} }},
		{"reason", func(c *ReplayConfig) {
			c.Filter.Vendors, c.Filter.Reasons = []string{"plivo"}, []Reason{ReasonInvalidEvent}
		}},
	}
	for _, tc := range tests {
		c := valid()
		tc.mod(&c)
		err := c.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%s: Validate = %v, want a FieldError on %s", tc.field, err, tc.field)
		}
	}
	f := Filter{Vendors: []string{"plivo", "plvio"}}
	if err := f.CheckVendors([]string{"plivo", "webex"}); err == nil || !strings.Contains(err.Error(), "plvio") {
		t.Errorf("CheckVendors = %v, want the typo named", err)
	}
}

func TestReportTable(t *testing.T) {
	t.Parallel()
	var out, progress bytes.Buffer
	clock := now
	r := NewReport(ReportOptions{Out: &out, Progress: &progress, Records: true, ProgressEvery: time.Second, Now: func() time.Time { return clock }})
	e := ParseEntry(deadMessage(twoVendorRecord(), now))
	sum := newSummary("dry-run")
	sum.Total = 3
	d := Decide(&e, &Filter{}, Policy{MaxReplays: 5})
	sum.add(&e, d, false)
	sum.replayed(d)
	r.Record(&e, d)
	r.Record(&e, Decision{Action: ActionSkip})
	clock = clock.Add(2 * time.Second)
	r.Progress(&sum)
	r.Finish(sum)
	s := out.String()
	for _, want := range []string{"EVENT_ID", "e1", "plivo:permanent/401,webex:retryable/503", "replay:plivo,webex", "dry run, nothing was written", "plivo 1   webex 1", "retries_exhausted 1"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "e1") != 1 {
		t.Errorf("skipped record printed:\n%s", s)
	}
	if strings.Contains(s, "user-1") {
		t.Errorf("table shows the key or a header value:\n%s", s)
	}
	if p := progress.String(); !strings.HasPrefix(p, "progress: 1/3 read (33%), would replay 1") || strings.Contains(p, "\r") {
		t.Errorf("plain progress line %q", p)
	}

	// On a terminal the bar is redrawn in place and cleared before a
	// record line.
	var tty bytes.Buffer
	r = NewReport(ReportOptions{Out: &tty, Progress: &tty, ProgressTTY: true, SameTerminal: true, Records: true, Now: func() time.Time { return clock }})
	clock = clock.Add(time.Second)
	r.Progress(&sum)
	r.Record(&e, d)
	if got := tty.String(); !strings.HasPrefix(got, "\r\033[K[########----------------] 1/3") || !strings.Contains(got, "\r\033[KPART") {
		t.Errorf("terminal output %q", got)
	}
}

// Every class the daemon writes into a dead-letter record can be selected
// for a replay: `replay -class not_configured` after a vendor is enabled
// again used to be refused as a bad flag.
func TestFilterAcceptsEveryClassTheDaemonWrites(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"retryable", "permanent", "unexpected", "invalid_identifier", ClassNotConfigured} {
		f := Filter{Classes: []string{c}}
		if err := f.Validate(); err != nil {
			t.Errorf("class %q: %v", c, err)
		}
	}
	f := Filter{Classes: []string{"no_such_class"}}
	if err := f.Validate(); err == nil {
		t.Error("an unknown class passed validation")
	}
}

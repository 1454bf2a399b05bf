package dlq

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
)

var (
	t0  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now = time.Date(2025, 3, 1, 12, 5, 0, 123456789, time.FixedZone("CET", 3600))
)

func TestRecordMessage(t *testing.T) {
	t.Parallel()
	binary := []byte{0, 1, 2, 0xff, 0xfe}
	orig := kafka.Message{
		Topic: "user-deleted", Partition: 3, Offset: 1234,
		Key:   []byte("user-1"),
		Value: []byte(`{"event_id":"e1"}`),
		Time:  t0,
		Headers: []kafka.Header{
			{Key: "traceparent", Value: []byte("00-abc-def-01")},
			{Key: HeaderReason, Value: []byte("stale")},
			{Key: "x-binary", Value: binary},
			{Key: HeaderReplayCount, Value: []byte("3")},
			{Key: HeaderOnlyVendors, Value: []byte("plivo")},
			{Key: HeaderVendorPrefix + "webex", Value: []byte(`{"class":"stale"}`)},
			{Key: "x-empty", Value: nil},
			{Key: "traceparent", Value: []byte("second")}, // repeated headers are kept, in order
		},
	}
	failures := []Failure{
		{Vendor: "webex", Class: "retryable", Status: 503, Message: "unavailable", Attempts: 12},
		{Vendor: "clevertap", Class: "permanent", Status: 400, Code: "E1", Message: "bad", Attempts: 1},
		{Vendor: "plivo", Class: "unexpected", Status: 200, Message: `{"weird":`, Attempts: 1},
	}
	r := Record{
		Original: orig, EventID: "e1", Reason: ReasonPermanentError, Detail: "two vendors failed",
		Failures: failures, FirstFailure: t0.Add(time.Second), LastFailure: t0.Add(time.Minute),
	}
	before := fmt.Sprint(r.Failures)
	m := r.Message(now)

	if fmt.Sprint(r.Failures) != before {
		t.Errorf("Message reordered the record's failures: %v", r.Failures)
	}
	if !bytes.Equal(m.Key, orig.Key) || !bytes.Equal(m.Value, orig.Value) {
		t.Errorf("key/value changed: %q %q", m.Key, m.Value)
	}
	if m.Topic != "" || m.Partition != 0 {
		t.Errorf("message names topic %q partition %d; the writer chooses them", m.Topic, m.Partition)
	}

	// The original non-erasured headers come first, unchanged.
	wantKept := []kafka.Header{orig.Headers[0], orig.Headers[2], orig.Headers[6], orig.Headers[7]}
	if len(m.Headers) < len(wantKept) {
		t.Fatalf("headers %v", m.Headers)
	}
	for i, h := range wantKept {
		if m.Headers[i].Key != h.Key || !bytes.Equal(m.Headers[i].Value, h.Value) {
			t.Errorf("header %d = %s=%q, want %s=%q", i, m.Headers[i].Key, m.Headers[i].Value, h.Key, h.Value)
		}
	}
	// Every other header is ours, and there is exactly one of each.
	seen := map[string]int{}
	for _, h := range m.Headers[len(wantKept):] {
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			t.Errorf("header %s after the original ones", h.Key)
		}
		seen[h.Key]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("header %s appears %d times", k, n)
		}
	}
	if seen[HeaderOnlyVendors] != 0 {
		t.Errorf("stale %s carried into the dead-letter record", HeaderOnlyVendors)
	}

	want := map[string]string{
		HeaderOriginalTopic:          "user-deleted",
		HeaderOriginalPartition:      "3",
		HeaderOriginalOffset:         "1234",
		HeaderOriginalTimestamp:      "2025-03-01T12:00:00Z",
		HeaderEventID:                "e1",
		HeaderReason:                 "permanent_error",
		HeaderDetail:                 "two vendors failed",
		HeaderFailedVendors:          "clevertap,plivo,webex",
		HeaderFirstFailure:           "2025-03-01T12:00:01Z",
		HeaderLastFailure:            "2025-03-01T12:01:00Z",
		HeaderDeadLetteredAt:         "2025-03-01T11:05:00.123456789Z",
		HeaderReplayCount:            "3",
		HeaderVendorPrefix + "webex": `{"class":"retryable","status":503,"message":"unavailable","attempts":12}`,
	}
	for k, v := range want {
		got, ok := Header(m.Headers, k)
		if !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(seen) != len(want)+2 { // + clevertap and plivo vendor headers
		t.Errorf("erasured headers %v, want %d of them", seen, len(want)+2)
	}

	got, err := ParseFailures(m.Headers)
	if err != nil {
		t.Fatalf("ParseFailures: %v", err)
	}
	wantF := []Failure{failures[1], failures[2], failures[0]}
	if !reflect.DeepEqual(got, wantF) {
		t.Errorf("ParseFailures =\n %+v\nwant\n %+v", got, wantF)
	}
}

func TestRecordMessageOptionalHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rec     Record
		absent  []string
		replays string
	}{
		{
			name:    "invalid event: no event id, failures, times",
			rec:     Record{Original: kafka.Message{Topic: "t", Value: []byte("x")}, Reason: ReasonInvalidEvent, Detail: "invalid event: malformed: value"},
			absent:  []string{HeaderEventID, HeaderFailedVendors, HeaderFirstFailure, HeaderLastFailure, HeaderOriginalTimestamp},
			replays: "0",
		},
		{
			name:    "no detail",
			rec:     Record{Original: kafka.Message{Topic: "t"}, EventID: "e", Reason: ReasonRetriesExhausted},
			absent:  []string{HeaderDetail},
			replays: "0",
		},
		{
			name: "unreadable replay count starts again at zero",
			rec: Record{Original: kafka.Message{Headers: []kafka.Header{{Key: HeaderReplayCount, Value: []byte("many")}}},
				Reason: ReasonInvalidEvent},
			replays: "0",
		},
		{
			name: "the last replay count wins",
			rec: Record{Original: kafka.Message{Headers: []kafka.Header{
				{Key: HeaderReplayCount, Value: []byte("1")}, {Key: HeaderReplayCount, Value: []byte("2")},
			}}, Reason: ReasonInvalidEvent},
			replays: "2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := tc.rec.Message(now)
			for _, k := range tc.absent {
				if v, ok := Header(m.Headers, k); ok {
					t.Errorf("%s = %q, want absent", k, v)
				}
			}
			if v, _ := Header(m.Headers, HeaderReplayCount); v != tc.replays {
				t.Errorf("replay count %q, want %q", v, tc.replays)
			}
			if v, _ := Header(m.Headers, HeaderReason); v != string(tc.rec.Reason) {
				t.Errorf("reason %q", v)
			}
			if fs, err := ParseFailures(m.Headers); err != nil || len(fs) != len(tc.rec.Failures) {
				t.Errorf("ParseFailures = %v, %v", fs, err)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	hs := []kafka.Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}, {Key: "a", Value: []byte("2")}}
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"a", "2", true}, // the last one wins
		{"b", "", true},  // present but empty
		{"A", "", false}, // header names are case-sensitive
		{"c", "", false},
	}
	for _, tc := range tests {
		got, ok := Header(hs, tc.key)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("Header(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestSplitList(t *testing.T) {
	t.Parallel()
	split := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{",", nil},
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{" a ,\tb\t, ", []string{"a", "b"}},
		{"a,,a", []string{"a", "a"}}, // duplicates are the caller's business
	}
	for _, tc := range split {
		if got := SplitList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseFailuresErrors(t *testing.T) {
	t.Parallel()
	h := func(k, v string) kafka.Header { return kafka.Header{Key: k, Value: []byte(v)} }
	tests := []struct {
		name    string
		headers []kafka.Header
		want    []Failure
		wantErr string
	}{
		{name: "no failures", headers: nil},
		{
			name:    "listed vendor without its header",
			headers: []kafka.Header{h(HeaderFailedVendors, "plivo,webex"), h(HeaderVendorPrefix+"plivo", `{"class":"permanent","attempts":1}`)},
			want:    []Failure{{Vendor: "plivo", Class: "permanent", Attempts: 1}},
			wantErr: "erasured-vendor-webex missing",
		},
		{
			name:    "bad JSON",
			headers: []kafka.Header{h(HeaderFailedVendors, "plivo"), h(HeaderVendorPrefix+"plivo", `{"class":`)},
			wantErr: "erasured-vendor-plivo",
		},
		{
			name:    "wrong JSON type",
			headers: []kafka.Header{h(HeaderFailedVendors, "plivo"), h(HeaderVendorPrefix+"plivo", `{"attempts":"many"}`)},
			wantErr: "erasured-vendor-plivo",
		},
		{
			name:    "vendor in the JSON body is ignored: the header name says who",
			headers: []kafka.Header{h(HeaderFailedVendors, "plivo"), h(HeaderVendorPrefix+"plivo", `{"Vendor":"webex","class":"retryable","attempts":2}`)},
			want:    []Failure{{Vendor: "plivo", Class: "retryable", Attempts: 2}},
		},
		{
			name:    "unlisted vendor headers are ignored",
			headers: []kafka.Header{h(HeaderVendorPrefix+"plivo", `{"class":"retryable"}`)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseFailures(tc.headers)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("ParseFailures: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("ParseFailures error %v, want one mentioning %q", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseFailures = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseFailures: reading failure headers never panics, returns only
// listed vendors, and reads back what Record.Message wrote.
func FuzzParseFailures(f *testing.F) {
	f.Add("plivo,webex", "plivo", `{"class":"permanent","status":400,"code":"E1","message":"bad","attempts":1}`, "retryable", 503, "CODE", "msg", 3)
	f.Add("", "", "", "", 0, "", "", 0)
	f.Add(" , ,x", "x", `null`, "unexpected", -1, "\x00", "\xff\xfe", -5)
	f.Add("a,a", "a", `{"attempts":1e400}`, "c", 1<<30, "é", "\u2028", 1)
	f.Fuzz(func(t *testing.T, list, name, raw, class string, status int, code, message string, attempts int) {
		hs := []kafka.Header{
			{Key: HeaderFailedVendors, Value: []byte(list)},
			{Key: HeaderVendorPrefix + name, Value: []byte(raw)},
		}
		got, err := ParseFailures(hs)
		listed := map[string]bool{}
		for _, n := range SplitList(list) {
			listed[n] = true
		}
		for _, g := range got {
			if !listed[g.Vendor] {
				t.Fatalf("ParseFailures returned unlisted vendor %q", g.Vendor)
			}
		}
		if err == nil && len(got) != len(SplitList(list)) {
			t.Fatalf("ParseFailures = %d failures for list %q without error", len(got), list)
		}

		// Round trip through Message, for vendor names a list can carry.
		vendor := strings.TrimSpace(name)
		if vendor == "" || strings.Contains(vendor, ",") || vendor != name {
			return
		}
		in := Failure{Vendor: vendor, Class: class, Status: status, Code: code, Message: message, Attempts: attempts}
		r := Record{Reason: ReasonPermanentError, Failures: []Failure{in}}
		out, err := ParseFailures(r.Message(now).Headers)
		if err != nil {
			t.Fatalf("ParseFailures(Message()) = %v", err)
		}
		if len(out) != 1 || out[0].Vendor != vendor {
			t.Fatalf("round trip = %+v", out)
		}
		if utf8.ValidString(class + code + message) {
			if out[0] != in {
				t.Fatalf("round trip = %+v, want %+v", out[0], in)
			}
		} else {
			// JSON carries UTF-8 only: invalid bytes become U+FFFD, but
			// the numbers survive.
			if out[0].Status != in.Status || out[0].Attempts != in.Attempts {
				t.Fatalf("round trip = %+v, want %+v", out[0], in)
			}
			if _, err := json.Marshal(out[0]); err != nil {
				t.Fatal(err)
			}
		}
	})
}

package dlq

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters/redact"
	"github.com/erasured/erasured/event"
)

// Entry is a dead-letter record decoded for people: where it sits, why it
// was dead-lettered and at which vendors. It carries no key, no value and
// no value of the original record's own headers (only their names): those
// hold the person's identifiers, and what inspect and replay print ends up
// in tickets and terminals' scrollback.
type Entry struct {
	Topic     string    `json:"topic"`
	Partition int       `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`

	EventID string `json:"event_id,omitempty"`
	Reason  Reason `json:"reason"`
	Detail  string `json:"detail,omitempty"`
	// FailedVendors is erasured-failed-vendors, as listed.
	FailedVendors []string `json:"failed_vendors,omitempty"`
	// Failures holds each failed vendor's erasured-vendor-* header that
	// could be read, in FailedVendors order.
	Failures []Failure `json:"-"`

	OriginalTopic     string    `json:"original_topic,omitempty"`
	OriginalPartition int       `json:"original_partition"`
	OriginalOffset    int64     `json:"original_offset"`
	OriginalTimestamp time.Time `json:"original_timestamp,omitzero"`
	FirstFailure      time.Time `json:"first_failure,omitzero"`
	LastFailure       time.Time `json:"last_failure,omitzero"`
	DeadLetteredAt    time.Time `json:"dead_lettered_at,omitzero"`
	ReplayCount       int       `json:"replay_count"`
	// ValueOmitted is set when the record was written without its value
	// (erasured-value-omitted), OmittedValueBytes its size; replay reads
	// the original back.
	ValueOmitted      bool  `json:"value_omitted,omitempty"`
	OmittedValueBytes int64 `json:"omitted_value_bytes,omitempty"`
	// HeadersOmitted counts the original's own headers left out because
	// even without its value the record did not fit
	// (erasured-headers-omitted).
	HeadersOmitted int `json:"headers_omitted,omitempty"`
	// OtherHeaders names the original record's own headers; their values
	// are withheld.
	OtherHeaders []string `json:"other_headers,omitempty"`
	// Problems lists erasured-* headers that could not be read.
	Problems []string `json:"problems,omitempty"`
}

// Malformed reports whether a header replay depends on (the failed
// vendors, their failures, the reason or the replay count) could not be
// read. Such a record is reported, never replayed.
func (e *Entry) Malformed() bool {
	for _, p := range e.Problems {
		for _, h := range []string{HeaderFailedVendors, HeaderVendorPrefix, HeaderReason, HeaderReplayCount, HeaderValueOmitted} {
			if strings.HasPrefix(p, h) {
				return true
			}
		}
	}
	return false
}

// Failure returns the failure recorded for vendor, if it was readable.
func (e *Entry) Failure(vendor string) (Failure, bool) {
	for _, f := range e.Failures {
		if f.Vendor == vendor {
			return f, true
		}
	}
	return Failure{}, false
}

// TimeDeadLettered is when the record was dead-lettered: the header, or
// the record's timestamp when the header is missing or unreadable.
func (e *Entry) TimeDeadLettered() time.Time {
	if !e.DeadLetteredAt.IsZero() {
		return e.DeadLetteredAt
	}
	return e.Timestamp
}

// maxProblemValue bounds how much of an unreadable header value a problem
// quotes: enough to recognise it, too little to carry much of anything.
const maxProblemValue = 40

// ParseEntry decodes a dead-letter record's headers. It never fails:
// what cannot be read is listed in Problems.
func ParseEntry(m kafka.Message) Entry {
	e := Entry{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Timestamp: m.Time.UTC()}
	problem := func(header, format string, args ...any) {
		e.Problems = append(e.Problems, header+": "+fmt.Sprintf(format, args...))
	}
	quote := func(v string) string {
		if len(v) > maxProblemValue {
			v = v[:maxProblemValue] + "..."
		}
		return strconv.Quote(v)
	}
	parseTime := func(key string, dst *time.Time) {
		v, ok := Header(m.Headers, key)
		if !ok {
			return
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			problem(key, "not an RFC 3339 time: %s", quote(v))
			return
		}
		*dst = t.UTC()
	}
	parseInt := func(key string) (int64, bool) {
		v, ok := Header(m.Headers, key)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			problem(key, "not a non-negative integer: %s", quote(v))
			return 0, false
		}
		return n, true
	}

	seen := map[string]bool{}
	for _, h := range m.Headers {
		if !strings.HasPrefix(h.Key, HeaderPrefix) && !seen[h.Key] {
			seen[h.Key] = true
			e.OtherHeaders = append(e.OtherHeaders, h.Key)
		}
	}
	e.EventID, _ = Header(m.Headers, HeaderEventID)
	e.Detail, _ = Header(m.Headers, HeaderDetail)
	e.OriginalTopic, _ = Header(m.Headers, HeaderOriginalTopic)
	e.OriginalPartition = -1
	if p, ok := parseInt(HeaderOriginalPartition); ok && p <= maxPartition {
		e.OriginalPartition = int(p)
	} else if ok {
		problem(HeaderOriginalPartition, "implausibly large: %d", p)
	}
	if o, ok := parseInt(HeaderOriginalOffset); ok {
		e.OriginalOffset = o
	} else {
		e.OriginalOffset = -1
	}
	parseTime(HeaderOriginalTimestamp, &e.OriginalTimestamp)
	parseTime(HeaderFirstFailure, &e.FirstFailure)
	parseTime(HeaderLastFailure, &e.LastFailure)
	parseTime(HeaderDeadLetteredAt, &e.DeadLetteredAt)

	if r, ok := Header(m.Headers, HeaderReason); !ok {
		problem(HeaderReason, "missing")
	} else {
		switch Reason(r) {
		case ReasonInvalidEvent, ReasonRetriesExhausted, ReasonPermanentError:
			e.Reason = Reason(r)
		default:
			problem(HeaderReason, "unknown reason %s", quote(r))
			e.Reason = Reason(r)
		}
	}
	if _, ok := Header(m.Headers, HeaderReplayCount); ok {
		if n, ok := parseInt(HeaderReplayCount); ok && n <= 1<<20 {
			e.ReplayCount = int(n)
		} else if ok {
			problem(HeaderReplayCount, "implausibly large: %d", n)
		}
	}

	if _, ok := Header(m.Headers, HeaderValueOmitted); ok {
		e.ValueOmitted = true
		e.OmittedValueBytes, _ = parseInt(HeaderValueOmitted)
	}
	if n, ok := parseInt(HeaderHeadersOmitted); ok && n <= 1<<20 {
		e.HeadersOmitted = int(n)
	}

	v, _ := Header(m.Headers, HeaderFailedVendors)
	for _, name := range SplitList(v) {
		if !ValidVendorName(name) {
			problem(HeaderFailedVendors, "bad vendor name %s", quote(name))
			continue
		}
		e.FailedVendors = append(e.FailedVendors, name)
		raw, ok := Header(m.Headers, HeaderVendorPrefix+name)
		if !ok {
			problem(HeaderVendorPrefix+name, "missing")
			continue
		}
		var f Failure
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			problem(HeaderVendorPrefix+name, "not a failure in JSON: %s", quote(raw))
			continue
		}
		f.Vendor = name
		e.Failures = append(e.Failures, f)
	}
	maskEntry(&e, m)
	return e
}

// maskEntry hides personal data in the text of e that people read: each
// failure's words, which a vendor may have written (before vendor_message
// existed, message held a body excerpt), and the detail. It masks as the
// daemon masks a vendor_message (emails, phone numbers, long digit runs)
// and with the record's own identifiers, in any case or escaping: its key
// and, when its value decodes as an event, the event's user and
// identifiers.
func maskEntry(e *Entry, m kafka.Message) {
	values := personalValues(m)
	mask := func(s string) string { return redact.Personal(s, values...) }
	// The detail is erasured's own (a decode error names fields and
	// sizes, never values): sizes are not phone numbers.
	e.Detail = redact.Values(e.Detail, values...)
	for i := range e.Failures {
		f := &e.Failures[i]
		f.Code, f.Description = mask(f.Code), mask(f.Description)
		f.Message, f.VendorMessage = mask(f.Message), mask(f.VendorMessage)
	}
}

// personalValues lists what identifies the person in a dead-letter record.
func personalValues(m kafka.Message) []string {
	values := []string{string(m.Key)}
	hs := make([]event.Header, 0, len(m.Headers))
	for _, h := range m.Headers {
		hs = append(hs, event.Header{Key: h.Key, Value: h.Value})
	}
	ev, err := event.Decode(m.Key, m.Value, hs, event.DecodeOptions{MaxBytes: 1 << 20})
	if err != nil {
		return values
	}
	values = append(values, ev.UserID)
	for _, v := range ev.Identifiers {
		values = append(values, v)
	}
	return values
}

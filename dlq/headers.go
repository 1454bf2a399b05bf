// Package dlq writes failed deletions to the dead-letter topic, durably,
// and reads them back. A dead-lettered record keeps the original key, value
// and headers and adds erasured-* headers that say where it came from, why
// it failed and at which vendors, so that a replay redoes only those.
package dlq

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/erasured/erasured/event"
	"github.com/segmentio/kafka-go"
)

// DefaultTopic is the dead-letter topic, unless configured otherwise.
const DefaultTopic = event.DefaultTopic + ".dlq"

// Header names. Every header erasured sets starts with HeaderPrefix.
const (
	HeaderPrefix            = "erasured-"
	HeaderOriginalTopic     = "erasured-original-topic"
	HeaderOriginalPartition = "erasured-original-partition"
	HeaderOriginalOffset    = "erasured-original-offset"
	// HeaderOriginalTimestamp is the original record's timestamp, RFC 3339.
	HeaderOriginalTimestamp = "erasured-original-timestamp"
	HeaderEventID           = "erasured-event-id"
	HeaderReason            = "erasured-reason"
	// HeaderDetail is a short, personal-data-free explanation.
	HeaderDetail = "erasured-detail"
	// HeaderFailedVendors lists the vendors that failed, comma-separated.
	HeaderFailedVendors = "erasured-failed-vendors"
	// HeaderVendorPrefix + vendor name holds that vendor's Failure as JSON.
	HeaderVendorPrefix   = "erasured-vendor-"
	HeaderFirstFailure   = "erasured-first-failure"
	HeaderLastFailure    = "erasured-last-failure"
	HeaderDeadLetteredAt = "erasured-dead-lettered-at"
	// HeaderReplayCount counts how often the record was replayed. The
	// daemon carries it from a replayed record into a new dead-letter
	// record.
	HeaderReplayCount = "erasured-replay-count"
	// HeaderValueOmitted, with the value's size in bytes, marks a record
	// written without its value because it would not fit in the
	// dead-letter topic; the original stays in its topic at
	// erasured-original-offset.
	HeaderValueOmitted = "erasured-value-omitted"
	// HeaderHeadersOmitted, with their number, and
	// HeaderHeadersOmittedBytes, with their size (keys and values), mark
	// a record written without the original's own headers as well,
	// because even without its value it did not fit.
	HeaderHeadersOmitted      = "erasured-headers-omitted"
	HeaderHeadersOmittedBytes = "erasured-headers-omitted-bytes"
	// HeaderOnlyVendors, on a record in the main topic, limits processing
	// to the listed vendors (comma-separated, see ParseOnlyVendors).
	// Replay sets it and signs it (HeaderOnlyVendorsSignature); the daemon
	// honours it only when the signature verifies (CheckRestriction).
	HeaderOnlyVendors = "erasured-only-vendors"

	// Replay copies a dead-letter record's HeaderOriginal* values to these
	// on the record it republishes, so the replayed record says where the
	// event was first read. The daemon drops them, like every erasured-*
	// header, if it dead-letters the replayed record again; the event id
	// ties the chain together.
	HeaderReplayedFromTopic     = "erasured-replayed-from-topic"
	HeaderReplayedFromPartition = "erasured-replayed-from-partition"
	HeaderReplayedFromOffset    = "erasured-replayed-from-offset"
	HeaderReplayedFromTimestamp = "erasured-replayed-from-timestamp"
	// HeaderReplayedFromDeadLetter names the dead-letter record replayed,
	// as topic/partition/offset.
	HeaderReplayedFromDeadLetter = "erasured-replayed-from-dead-letter"
	// HeaderReplayedAt is when replay republished the record, RFC 3339.
	HeaderReplayedAt = "erasured-replayed-at"
)

// Reason says why a record was dead-lettered.
type Reason string

const (
	// ReasonInvalidEvent: the record could not be decoded or validated.
	ReasonInvalidEvent Reason = "invalid_event"
	// ReasonRetriesExhausted: a vendor kept failing in a retryable way
	// until the retry policy gave up.
	ReasonRetriesExhausted Reason = "retries_exhausted"
	// ReasonPermanentError: a vendor refused in a way retries cannot
	// change (bad request, auth failure, unreadable answer).
	ReasonPermanentError Reason = "permanent_error"
)

// Failure is one vendor's failure, as carried in HeaderVendorPrefix+name.
type Failure struct {
	Vendor string `json:"-"`
	// Class is the adapters error class: retryable, permanent, unexpected.
	Class string `json:"class"`
	// Status is the last HTTP status, 0 when no answer came.
	Status int `json:"status,omitempty"`
	// Code is the vendor's own error code, if any.
	Code string `json:"code,omitempty"`
	// Description is what the vendor's API page says Code (or Status)
	// means, in the page's words.
	Description string `json:"description,omitempty"`
	// Message is erasured's own account of the failure, never the
	// vendor's words. (Records written before these fields existed may
	// hold a body excerpt here; inspect masks it.)
	Message string `json:"message,omitempty"`
	// VendorMessage is a masked excerpt of what the vendor wrote, kept
	// only when dead_letter.include_vendor_message is set.
	VendorMessage string `json:"vendor_message,omitempty"`
	Attempts      int    `json:"attempts"`
}

// Record is what Publish writes: the original record and the verdict.
type Record struct {
	Original kafka.Message
	EventID  string
	Reason   Reason
	Detail   string
	// Failures lists only the vendors that failed.
	Failures     []Failure
	FirstFailure time.Time
	LastFailure  time.Time
}

// Message builds the dead-letter message: original key, value and
// non-erasured headers unchanged, then the erasured-* headers.
func (r *Record) Message(now time.Time) kafka.Message {
	o := r.Original
	hs := make([]kafka.Header, 0, len(o.Headers)+12+len(r.Failures))
	replays := 0
	for _, h := range o.Headers {
		if h.Key == HeaderReplayCount {
			replays, _ = strconv.Atoi(string(h.Value))
		}
		if strings.HasPrefix(h.Key, HeaderPrefix) {
			continue
		}
		hs = append(hs, h)
	}
	add := func(k, v string) { hs = append(hs, kafka.Header{Key: k, Value: []byte(v)}) }
	add(HeaderOriginalTopic, o.Topic)
	add(HeaderOriginalPartition, strconv.Itoa(o.Partition))
	add(HeaderOriginalOffset, strconv.FormatInt(o.Offset, 10))
	if !o.Time.IsZero() {
		add(HeaderOriginalTimestamp, o.Time.UTC().Format(time.RFC3339Nano))
	}
	if r.EventID != "" {
		add(HeaderEventID, r.EventID)
	}
	add(HeaderReason, string(r.Reason))
	if r.Detail != "" {
		add(HeaderDetail, truncate(r.Detail, MaxDetailBytes))
	}
	if len(r.Failures) > 0 {
		fs := make([]Failure, len(r.Failures))
		for i, f := range r.Failures {
			fs[i] = boundFailure(f)
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Vendor < fs[j].Vendor })
		names := make([]string, len(fs))
		for i, f := range fs {
			names[i] = f.Vendor
			b, _ := json.Marshal(f)
			add(HeaderVendorPrefix+f.Vendor, string(b))
		}
		add(HeaderFailedVendors, strings.Join(names, ","))
	}
	if !r.FirstFailure.IsZero() {
		add(HeaderFirstFailure, r.FirstFailure.UTC().Format(time.RFC3339Nano))
	}
	if !r.LastFailure.IsZero() {
		add(HeaderLastFailure, r.LastFailure.UTC().Format(time.RFC3339Nano))
	}
	add(HeaderDeadLetteredAt, now.UTC().Format(time.RFC3339Nano))
	add(HeaderReplayCount, strconv.Itoa(replays))
	return kafka.Message{Key: o.Key, Value: o.Value, Headers: hs}
}

// Bounds on what a dead-letter record says, so that its erasured-*
// headers stay small whatever a vendor or a decoder put in a failure: a
// record without its value and its own headers (see MinimalMessage) then
// always fits a dead-letter topic, even one far below the broker's
// default max.message.bytes. The number of failures is bounded where they
// come from: the configured vendors plus at most MaxRestrictedVendors
// named by a replay.
const (
	MaxDetailBytes         = 1 << 10
	MaxFailureMessageBytes = 1 << 10
	MaxFailureCodeBytes    = 128
	// minimal* bound a MinimalMessage further.
	minimalDetailBytes = 256
	minimalCodeBytes   = 64
	maxKeptKeyBytes    = 1 << 10
)

// boundFailure cuts a failure's free text to the bounds.
func boundFailure(f Failure) Failure {
	f.Code = truncate(f.Code, MaxFailureCodeBytes)
	f.Description = truncate(f.Description, MaxFailureMessageBytes)
	f.Message = truncate(f.Message, MaxFailureMessageBytes)
	f.VendorMessage = truncate(f.VendorMessage, MaxFailureMessageBytes)
	return f
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut
// with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// MinimalMessage is the last resort for a record that does not fit in the
// dead-letter topic even without its value: no value, no key over 1 KiB,
// none of the original's own headers (their number and size in
// HeaderHeadersOmitted and HeaderHeadersOmittedBytes), and the diagnostics
// cut down to the class, status, code and attempts of each failure. What
// replay needs is all there: the coordinates of the original, which
// replay reads back, the event id, the reason and the failed vendors.
func (r *Record) MinimalMessage(now time.Time) kafka.Message {
	slim := *r
	slim.Original.Value = nil
	if len(slim.Original.Key) > maxKeptKeyBytes {
		slim.Original.Key = nil
	}
	count, size := 0, 0
	slim.Original.Headers = nil
	for _, h := range r.Original.Headers {
		if strings.HasPrefix(h.Key, HeaderPrefix) {
			if h.Key == HeaderReplayCount {
				slim.Original.Headers = append(slim.Original.Headers, h)
			}
			continue
		}
		count++
		size += len(h.Key) + len(h.Value)
	}
	slim.Detail = truncate(r.Detail, minimalDetailBytes)
	slim.Failures = make([]Failure, len(r.Failures))
	for i, f := range r.Failures {
		slim.Failures[i] = Failure{Vendor: f.Vendor, Class: f.Class, Status: f.Status, Code: truncate(f.Code, minimalCodeBytes), Attempts: f.Attempts}
	}
	m := slim.Message(now)
	m.Headers = append(m.Headers,
		kafka.Header{Key: HeaderValueOmitted, Value: []byte(strconv.Itoa(len(r.Original.Value)))},
		kafka.Header{Key: HeaderHeadersOmitted, Value: []byte(strconv.Itoa(count))},
		kafka.Header{Key: HeaderHeadersOmittedBytes, Value: []byte(strconv.Itoa(size))},
	)
	return m
}

// Header returns the value of the last header named key, and whether there
// was one.
func Header(hs []kafka.Header, key string) (string, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return string(hs[i].Value), true
		}
	}
	return "", false
}

// SplitList splits a comma-separated header value, dropping blanks.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseFailures reads the per-vendor failures of a dead-letter message.
func ParseFailures(hs []kafka.Header) ([]Failure, error) {
	v, _ := Header(hs, HeaderFailedVendors)
	var out []Failure
	for _, name := range SplitList(v) {
		raw, ok := Header(hs, HeaderVendorPrefix+name)
		if !ok {
			return out, fmt.Errorf("header %s%s missing", HeaderVendorPrefix, name)
		}
		var f Failure
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			return out, fmt.Errorf("header %s%s: %w", HeaderVendorPrefix, name, err)
		}
		f.Vendor = name
		out = append(out, f)
	}
	return out, nil
}

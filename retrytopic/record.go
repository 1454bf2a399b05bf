// Package retrytopic is erasured's non-blocking retry: a vendor's part of
// an event that cannot finish now is parked, durably, on that vendor's
// retry topic, so the main topic's offset can move on; a retry worker per
// vendor reads the topic with a group of its own and calls only that
// vendor, never before a record's due time, until the part is final or
// is given up and dead-lettered with its history.
//
// This file is the record format: what the main flow writes when it
// parks, and what a retry worker reads and writes back when it
// reschedules. A parked record keeps the original key, value and
// headers unchanged (the user's key keeps a user's parts in one
// partition, in order) and adds erasured-retry-* headers plus the
// dead-letter topic's erasured-original-* coordinates.
package retrytopic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/segmentio/kafka-go"
)

// TopicFor is a vendor's default retry topic: <topic>.retry.<vendor>, so
// user-deleted.retry.exotel.
func TopicFor(mainTopic, vendor string) string { return mainTopic + ".retry." + vendor }

// GroupFor is the consumer group of a vendor's retry worker:
// <group_id>.retry.<vendor>.
func GroupFor(groupID, vendor string) string { return groupID + ".retry." + vendor }

// Header names. All start with dlq.HeaderPrefix, so the main flow and
// dead-lettering drop them like every erasured-* header.
const (
	HeaderVendor = "erasured-retry-vendor"
	// HeaderAttempts counts requests made to the vendor for this part so
	// far, inline and by retry workers.
	HeaderAttempts = "erasured-retry-attempts"
	// HeaderStep is the index of the next wait in the retry schedule.
	HeaderStep         = "erasured-retry-step"
	HeaderFirstFailure = "erasured-retry-first-failure"
	HeaderLastFailure  = "erasured-retry-last-failure"
	HeaderLastStatus   = "erasured-retry-last-status"
	HeaderLastClass    = "erasured-retry-last-class"
	HeaderLastCode     = "erasured-retry-last-code"
	// HeaderDue is the earliest time a worker may call the vendor.
	HeaderDue      = "erasured-retry-due"
	HeaderParkedAt = "erasured-retry-parked-at"
	HeaderReason   = "erasured-retry-reason"
	// HeaderHistory is a JSON array of the last MaxHistory attempts.
	HeaderHistory = "erasured-retry-history"
)

// Reason says why a part was parked.
type Reason string

const (
	// ReasonInlineBudget: not final within vendors.<name>.retry.inline_budget.
	ReasonInlineBudget Reason = "inline_budget"
	// ReasonCircuitOpen: the vendor's circuit was open.
	ReasonCircuitOpen Reason = "circuit_open"
	// ReasonPaused: vendors.<name>.paused, set in config or at runtime.
	ReasonPaused Reason = "paused"
	// ReasonBehind: the user already had a parked part at this vendor, so
	// this later part waits behind it to keep the user's order.
	ReasonBehind Reason = "behind"
	// ReasonRescheduled: a retry worker's attempt failed again.
	ReasonRescheduled Reason = "rescheduled"
)

var reasons = map[Reason]bool{ReasonInlineBudget: true, ReasonCircuitOpen: true, ReasonPaused: true, ReasonBehind: true, ReasonRescheduled: true}

// MaxHistory bounds HeaderHistory; older attempts are counted in
// Attempts only.
const MaxHistory = 16

// Attempt is one entry of a parked part's history. No identifier, no
// vendor text: status, class and the vendor's code only.
type Attempt struct {
	At     time.Time `json:"at"`
	Status int       `json:"status,omitempty"`
	Class  string    `json:"class,omitempty"`
	Code   string    `json:"code,omitempty"`
	// By is "inline" (the main flow) or "retry" (a retry worker).
	By string `json:"by,omitempty"`
}

// Parked is one vendor's part of one event, waiting on the retry topic.
type Parked struct {
	// Original is the record as first read from the main topic: key,
	// value and its own headers (erasured-* headers other than a verified
	// restriction are not carried).
	Original kafka.Message
	// OriginalTopic, OriginalPartition, OriginalOffset and
	// OriginalTimestamp say where the event was first read.
	OriginalTopic     string
	OriginalPartition int
	OriginalOffset    int64
	OriginalTimestamp time.Time

	EventID      string
	Vendor       string
	Reason       Reason
	Attempts     int
	Step         int
	FirstFailure time.Time
	LastFailure  time.Time
	LastStatus   int
	LastClass    string
	LastCode     string
	ParkedAt     time.Time
	Due          time.Time
	History      []Attempt
}

// AddAttempt appends a to the history (keeping the last MaxHistory),
// counts it, and moves the last-failure fields.
func (p *Parked) AddAttempt(a Attempt) {
	p.Attempts++
	if p.FirstFailure.IsZero() {
		p.FirstFailure = a.At
	}
	p.LastFailure, p.LastStatus, p.LastClass, p.LastCode = a.At, a.Status, a.Class, a.Code
	p.History = append(p.History, a)
	if len(p.History) > MaxHistory {
		p.History = append(p.History[:0:0], p.History[len(p.History)-MaxHistory:]...)
	}
}

func ts(t time.Time) []byte { return []byte(t.UTC().Format(time.RFC3339Nano)) }

// Message is the record written to the retry topic: the original key,
// value and non-erasured headers unchanged, then the erasured-* headers.
func (p *Parked) Message() kafka.Message {
	o := p.Original
	hs := make([]kafka.Header, 0, len(o.Headers)+20)
	for _, h := range o.Headers {
		if strings.HasPrefix(h.Key, dlq.HeaderPrefix) {
			continue
		}
		hs = append(hs, h)
	}
	hist, _ := json.Marshal(p.History) // cannot fail: plain fields
	add := func(k string, v []byte) { hs = append(hs, kafka.Header{Key: k, Value: v}) }
	add(dlq.HeaderOriginalTopic, []byte(p.OriginalTopic))
	add(dlq.HeaderOriginalPartition, []byte(strconv.Itoa(p.OriginalPartition)))
	add(dlq.HeaderOriginalOffset, []byte(strconv.FormatInt(p.OriginalOffset, 10)))
	if !p.OriginalTimestamp.IsZero() {
		add(dlq.HeaderOriginalTimestamp, ts(p.OriginalTimestamp))
	}
	if p.EventID != "" {
		add(dlq.HeaderEventID, []byte(p.EventID))
	}
	add(HeaderVendor, []byte(p.Vendor))
	add(HeaderReason, []byte(p.Reason))
	add(HeaderAttempts, []byte(strconv.Itoa(p.Attempts)))
	add(HeaderStep, []byte(strconv.Itoa(p.Step)))
	if !p.FirstFailure.IsZero() {
		add(HeaderFirstFailure, ts(p.FirstFailure))
	}
	if !p.LastFailure.IsZero() {
		add(HeaderLastFailure, ts(p.LastFailure))
	}
	if p.LastStatus != 0 {
		add(HeaderLastStatus, []byte(strconv.Itoa(p.LastStatus)))
	}
	if p.LastClass != "" {
		add(HeaderLastClass, []byte(p.LastClass))
	}
	if p.LastCode != "" {
		add(HeaderLastCode, []byte(p.LastCode))
	}
	add(HeaderParkedAt, ts(p.ParkedAt))
	add(HeaderDue, ts(p.Due))
	add(HeaderHistory, hist)
	return kafka.Message{Key: o.Key, Value: o.Value, Headers: hs}
}

// ErrMalformed marks a retry-topic record that Decode cannot read. A
// worker dead-letters such a record rather than dropping it.
var ErrMalformed = errors.New("malformed retry record")

// Decode reads a retry-topic record. The erasured-* headers it knows
// must each appear at most once and parse; the vendor must be a valid
// name. Errors wrap ErrMalformed and name the header, never its value.
func Decode(m kafka.Message) (Parked, error) {
	p := Parked{OriginalPartition: -1, OriginalOffset: -1}
	seen := map[string]bool{}
	var orig []kafka.Header
	bad := func(h string, why string) (Parked, error) {
		return Parked{}, fmt.Errorf("%w: header %s %s", ErrMalformed, h, why)
	}
	for _, h := range m.Headers {
		if !strings.HasPrefix(h.Key, dlq.HeaderPrefix) {
			orig = append(orig, h)
			continue
		}
		if seen[h.Key] {
			return bad(h.Key, "appears twice")
		}
		seen[h.Key] = true
		v := string(h.Value)
		var err error
		switch h.Key {
		case dlq.HeaderOriginalTopic:
			p.OriginalTopic = v
		case dlq.HeaderOriginalPartition:
			p.OriginalPartition, err = strconv.Atoi(v)
		case dlq.HeaderOriginalOffset:
			p.OriginalOffset, err = strconv.ParseInt(v, 10, 64)
		case dlq.HeaderOriginalTimestamp:
			p.OriginalTimestamp, err = time.Parse(time.RFC3339Nano, v)
		case dlq.HeaderEventID:
			p.EventID = v
		case HeaderVendor:
			if !dlq.ValidVendorName(v) {
				return bad(h.Key, "is not a vendor name")
			}
			p.Vendor = v
		case HeaderReason:
			p.Reason = Reason(v)
			if !reasons[p.Reason] {
				return bad(h.Key, "is not a known reason")
			}
		case HeaderAttempts:
			p.Attempts, err = strconv.Atoi(v)
		case HeaderStep:
			p.Step, err = strconv.Atoi(v)
		case HeaderFirstFailure:
			p.FirstFailure, err = time.Parse(time.RFC3339Nano, v)
		case HeaderLastFailure:
			p.LastFailure, err = time.Parse(time.RFC3339Nano, v)
		case HeaderLastStatus:
			p.LastStatus, err = strconv.Atoi(v)
		case HeaderLastClass:
			p.LastClass = v
		case HeaderLastCode:
			p.LastCode = v
		case HeaderParkedAt:
			p.ParkedAt, err = time.Parse(time.RFC3339Nano, v)
		case HeaderDue:
			p.Due, err = time.Parse(time.RFC3339Nano, v)
		case HeaderHistory:
			if err = json.Unmarshal(h.Value, &p.History); err == nil && len(p.History) > MaxHistory {
				return bad(h.Key, "is too long")
			}
		default:
			// Other erasured-* headers (a verified restriction, replay
			// provenance) are not part of the format; carry nothing.
			continue
		}
		if err != nil {
			return bad(h.Key, "does not parse")
		}
	}
	for _, h := range []string{HeaderVendor, HeaderDue, HeaderAttempts, HeaderStep, HeaderParkedAt} {
		if !seen[h] {
			return bad(h, "is missing")
		}
	}
	if p.Attempts < 0 || p.Step < 0 || p.LastStatus < 0 {
		return bad(HeaderAttempts+"/"+HeaderStep, "is negative")
	}
	p.Original = kafka.Message{Topic: p.OriginalTopic, Partition: p.OriginalPartition, Offset: p.OriginalOffset, Key: m.Key, Value: m.Value, Headers: orig, Time: p.OriginalTimestamp}
	return p, nil
}

// UserKey is what orders a user's parts at a vendor: the event's user,
// as the main flow's lanes order them. The retry record keeps the
// original key, so a user's parts share a retry partition when upstream
// keys events by user (ARCHITECTURE.md asks it to); a record whose value
// does not decode has no user and orders by its key.
func UserKey(m kafka.Message, ev *event.UserDeleted) string {
	if ev != nil {
		return ev.UserID
	}
	return "\x00key:" + string(m.Key)
}

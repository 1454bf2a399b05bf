// Package receipt is erasured's proof of erasure: for every event, a
// record on the receipts topic of what each vendor answered and when, so
// that "was event X carried out everywhere?" and "what is still owed, and
// how close to its deadline?" have answers on Kafka itself.
//
// A receipt never holds an identifier or a response body: the user is the
// keyed fingerprint the logs use, and a vendor's part is its outcome,
// attempt count and times, the last HTTP status and vendor code, and the
// vendor's own reference for the request where its answer carries one.
// event/receipt.schema.json, beside the event's schema, describes the JSON.
package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/erasured/erasured/dlq"
)

// DefaultTopicSuffix makes the default receipts topic: <topic>.receipts.
const DefaultTopicSuffix = ".receipts"

// TopicFor is the default receipts topic of a main topic.
func TopicFor(mainTopic string) string { return mainTopic + DefaultTopicSuffix }

// Schema names the receipt format in every record; a reader refuses
// another.
const Schema = "erasured.receipt/v1"

// Outcome is where one vendor's part of an event stands.
type Outcome string

const (
	Deleted       Outcome = "deleted"
	AlreadyAbsent Outcome = "already_absent"
	NotApplicable Outcome = "not_applicable"
	Parked        Outcome = "parked"
	DeadLettered  Outcome = "dead_lettered"
	Paused        Outcome = "paused"
)

// Outcomes lists every outcome, in the order tables print them.
var Outcomes = []Outcome{Deleted, AlreadyAbsent, NotApplicable, Parked, Paused, DeadLettered}

// Final reports whether nothing more is owed for the part: the vendor
// deleted, had nothing, or was not concerned. Dead-lettered parts are not
// final either: an SRE still owes them a replay or a manual outcome.
func (o Outcome) Final() bool { return o == Deleted || o == AlreadyAbsent || o == NotApplicable }

func (o Outcome) valid() bool {
	for _, k := range Outcomes {
		if o == k {
			return true
		}
	}
	return false
}

// Manual records an operator's outcome for a part erasured could not
// settle itself (`erasured receipts mark`).
type Manual struct {
	By   string    `json:"by"`
	Note string    `json:"note"`
	At   time.Time `json:"at"`
}

// Part is one vendor's share of an event.
type Part struct {
	Outcome      Outcome    `json:"outcome"`
	Attempts     int        `json:"attempts"`
	FirstAttempt *time.Time `json:"first_attempt,omitempty"`
	LastAttempt  *time.Time `json:"last_attempt,omitempty"`
	// Status is the last HTTP status; Code the vendor's own code.
	Status int    `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	// Reference is the vendor's own id for the request (Plivo api_id,
	// Webex transaction-id, Exotel request_id) or, for a batching
	// vendor, when it accepted the batch; BatchSize is that batch's size.
	Reference string `json:"reference,omitempty"`
	BatchSize int    `json:"batch_size,omitempty"`
	// RecordedAt is when this part's state was recorded. Receipts of one
	// event are folded part by part, newest RecordedAt winning.
	RecordedAt time.Time `json:"recorded_at"`
	Manual     *Manual   `json:"manual,omitempty"`
}

// Receipt is the state of one event.
type Receipt struct {
	Schema  string `json:"schema"`
	EventID string `json:"event_id"`
	// User is the keyed fingerprint of the user id (event.Fingerprinter).
	User       string          `json:"user"`
	OccurredAt time.Time       `json:"occurred_at"`
	FinishedAt time.Time       `json:"finished_at"`
	Deadline   time.Time       `json:"deadline"`
	Vendors    map[string]Part `json:"vendors"`
}

// Status sums up an event.
type Status string

const (
	// StatusDone: every part final.
	StatusDone Status = "done"
	// StatusOwed: some part not final (parked or paused), none
	// dead-lettered. As a filter (-status owed) it selects every event
	// not done, dead-lettered ones included: a deletion is owed until a
	// vendor or an operator settles it.
	StatusOwed Status = "owed"
	// StatusParked is StatusOwed for the -status filter's sake: some part
	// parked.
	StatusParked Status = "parked"
	// StatusDeadLettered: some part dead-lettered and not marked.
	StatusDeadLettered Status = "dead_lettered"
)

// Status is dead_lettered when any part is, else owed when any part is
// owed, else done.
func (r *Receipt) Status() Status {
	owed := false
	for _, p := range r.Vendors {
		switch {
		case p.Outcome == DeadLettered:
			return StatusDeadLettered
		case !p.Outcome.Final():
			owed = true
		}
	}
	if owed {
		return StatusOwed
	}
	return StatusDone
}

// Done reports whether every part is final.
func (r *Receipt) Done() bool { return r.Status() == StatusDone }

// VendorNames lists the receipt's vendors, sorted.
func (r *Receipt) VendorNames() []string {
	out := make([]string, 0, len(r.Vendors))
	for v := range r.Vendors {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Overdue reports whether a part is still not final past the deadline.
func (r *Receipt) Overdue(now time.Time) bool {
	return !r.Done() && !r.Deadline.IsZero() && now.After(r.Deadline)
}

// Fold merges a later-read receipt of the same event into r, part by
// part, the newer RecordedAt winning; so a retry worker's receipt for one
// vendor does not undo what another worker recorded for another. The
// event's own fields come from the newest receipt.
func (r *Receipt) Fold(o *Receipt) {
	if o.FinishedAt.After(r.FinishedAt) {
		r.FinishedAt = o.FinishedAt
	}
	if r.Deadline.IsZero() {
		r.Deadline = o.Deadline
	}
	if r.User == "" {
		r.User = o.User
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = o.OccurredAt
	}
	if r.Vendors == nil {
		r.Vendors = map[string]Part{}
	}
	for v, p := range o.Vendors {
		if cur, ok := r.Vendors[v]; !ok || !p.RecordedAt.Before(cur.RecordedAt) {
			r.Vendors[v] = p
		}
	}
}

// Bounds on what a receipt may hold, so a hostile record cannot make a
// reader allocate without limit.
const (
	MaxBytes   = 64 << 10
	maxVendors = 64
	maxText    = 512
)

// ErrMalformed marks a record that is not a receipt this version reads.
var ErrMalformed = errors.New("malformed receipt")

// Encode writes r as JSON after checking it.
func Encode(r *Receipt) ([]byte, error) {
	if r.Schema == "" {
		r.Schema = Schema
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// Decode reads one receipt. Unknown members are refused: a receipt is
// evidence, and a reader that silently dropped a field it does not know
// would misreport it.
func Decode(b []byte) (*Receipt, error) {
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r Receipt
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if d.More() {
		return nil, fmt.Errorf("%w: data after the object", ErrMalformed)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// jsonProblem names what is wrong without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("member %q has the wrong type", te.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "unknown member"
	}
	return "not a receipt"
}

func (r *Receipt) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
	}
	switch {
	case r.Schema != Schema:
		return bad("schema is not %s", Schema)
	case r.EventID == "" || len(r.EventID) > maxText || !utf8.ValidString(r.EventID):
		return bad("event_id missing or too long")
	case len(r.User) > maxText:
		return bad("user too long")
	case len(r.Vendors) > maxVendors:
		return bad("more than %d vendors", maxVendors)
	}
	for v, p := range r.Vendors {
		if !dlq.ValidVendorName(v) {
			return bad("a vendor name is not valid")
		}
		if !p.Outcome.valid() {
			return bad("vendor %s: outcome is not one of %v", v, Outcomes)
		}
		if p.Attempts < 0 || p.Status < 0 || p.BatchSize < 0 {
			return bad("vendor %s: negative count", v)
		}
		// A receipt never says a vendor deleted what it was not asked
		// to: a final answer from the vendor needs an attempt, unless an
		// operator recorded it.
		if (p.Outcome == Deleted || p.Outcome == AlreadyAbsent) && p.Attempts == 0 && p.Manual == nil {
			return bad("vendor %s: %s without an attempt or a manual note", v, p.Outcome)
		}
		if len(p.Code) > maxText || len(p.Reference) > maxText {
			return bad("vendor %s: code or reference too long", v)
		}
		if p.Manual != nil && (len(p.Manual.By) > maxText || len(p.Manual.Note) > maxText) {
			return bad("vendor %s: manual note too long", v)
		}
	}
	return nil
}

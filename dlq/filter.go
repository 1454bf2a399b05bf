package dlq

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/erasured/erasured/config"
)

// Filter selects dead-letter records. Each field that is set narrows the
// selection; the zero Filter selects everything.
type Filter struct {
	// Vendors keeps records that failed at one of these vendors, and
	// limits their replay to them: a record that failed at plivo and
	// webex, selected with Vendors [plivo], is replayed to plivo only.
	Vendors []string
	// Reasons keeps records dead-lettered for one of these reasons.
	Reasons []Reason
	// Classes keeps records with a vendor failure of one of these error
	// classes (retryable, permanent, unexpected, invalid_identifier), and
	// limits replay to the vendors whose failure has one.
	Classes []string
	// Since and Until keep records dead-lettered in [Since, Until); either
	// may be zero.
	Since, Until time.Time
	// EventIDs keeps records of these events.
	EventIDs []string
}

// Classes are the error classes a failure can carry (adapters.Class
// names; dlq does not import adapters).
var Classes = []string{"retryable", "permanent", "unexpected", "invalid_identifier", ClassNotConfigured}

// ClassNotConfigured is the failure class of a vendor that a replayed
// record asks for but the deployment does not call: the deletion there is
// still owed, and a replay selects it once the vendor is enabled again.
const ClassNotConfigured = "not_configured"

// Reasons are the reasons a record is dead-lettered for.
var Reasons = []Reason{ReasonInvalidEvent, ReasonRetriesExhausted, ReasonPermanentError}

// Validate names the first wrong field, by its flag name.
func (f *Filter) Validate() error {
	for _, v := range f.Vendors {
		if !ValidVendorName(v) {
			return config.Invalid("vendor", "%q is not a vendor name", v)
		}
	}
	for _, r := range f.Reasons {
		if !slices.Contains(Reasons, r) {
			return config.Invalid("reason", "must be one of %s, got %q", joinReasons(Reasons), r)
		}
	}
	for _, c := range f.Classes {
		if !slices.Contains(Classes, c) {
			return config.Invalid("class", "must be one of %s, got %q", strings.Join(Classes, ", "), c)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return config.Invalid("until", "must be after since (%s), got %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	for _, id := range f.EventIDs {
		if strings.TrimSpace(id) == "" {
			return config.Invalid("event-id", "an event id is empty")
		}
	}
	if len(f.Vendors) > 0 || len(f.Classes) > 0 {
		if slices.Contains(f.Reasons, ReasonInvalidEvent) {
			// Invalid records failed at no vendor, so no vendor or class
			// can select them: the combination selects nothing.
			return config.Invalid("reason", "invalid_event records have no failed vendor; drop -vendor and -class to select them")
		}
	}
	return nil
}

// CheckVendors refuses a vendor that is not one of known, so that a typo
// selects an error rather than nothing.
func (f *Filter) CheckVendors(known []string) error {
	for _, v := range f.Vendors {
		if !slices.Contains(known, v) {
			return config.Invalid("vendor", "unknown vendor %q; known: %s", v, strings.Join(known, ", "))
		}
	}
	return nil
}

// Match reports whether e passes the filter and, when it does, the failed
// vendors it selects: all of e's failed vendors, narrowed by Vendors and
// Classes. A record with no failed vendor (invalid_event) passes only
// when neither Vendors nor Classes is set, with no vendors.
func (f *Filter) Match(e *Entry) ([]string, bool) {
	if len(f.Reasons) > 0 && !slices.Contains(f.Reasons, e.Reason) {
		return nil, false
	}
	if len(f.EventIDs) > 0 && (e.EventID == "" || !slices.Contains(f.EventIDs, e.EventID)) {
		return nil, false
	}
	t := e.TimeDeadLettered()
	if !f.Since.IsZero() && t.Before(f.Since) {
		return nil, false
	}
	if !f.Until.IsZero() && !t.Before(f.Until) {
		return nil, false
	}
	var vendors []string
	for _, v := range e.FailedVendors {
		if len(f.Vendors) > 0 && !slices.Contains(f.Vendors, v) {
			continue
		}
		if len(f.Classes) > 0 {
			fl, ok := e.Failure(v)
			if !ok || !slices.Contains(f.Classes, fl.Class) {
				continue
			}
		}
		vendors = append(vendors, v)
	}
	if (len(f.Vendors) > 0 || len(f.Classes) > 0) && len(vendors) == 0 {
		return nil, false
	}
	return vendors, true
}

// Action is what replay does with a record.
type Action string

const (
	// ActionReplay: republished (or, in a dry run, would be).
	ActionReplay Action = "replay"
	// ActionSkip: the filter did not select it.
	ActionSkip Action = "skip"
	// ActionRefuse: selected, but not replayable; reported.
	ActionRefuse Action = "refuse"
)

// Refusal says why a selected record is not replayed.
type Refusal string

const (
	// RefuseMaxReplays: replayed MaxReplays times already; replaying it
	// again is unlikely to help, a person should look at it.
	RefuseMaxReplays Refusal = "max_replays"
	// RefuseInvalidEvent: the record itself is bad; it needs fixing at
	// the producer, not a replay (unless IncludeInvalid).
	RefuseInvalidEvent Refusal = "invalid_event"
	// RefuseNoFailedVendors: the record names no failed vendor, so a
	// replay could not be limited to them.
	RefuseNoFailedVendors Refusal = "no_failed_vendors"
	// RefuseMalformed: an erasured-* header replay depends on could not be
	// read.
	RefuseMalformed Refusal = "malformed"
	// RefuseValueOmittedOriginalGone: the record was dead-lettered
	// without its value (erasured-value-omitted) and the original is no
	// longer at its erasured-original-* coordinates, or the record there
	// is another event. Republishing the empty value would only be
	// dead-lettered again as invalid_event, the owed deletions lost from
	// sight; the event has to be reproduced at its source.
	RefuseValueOmittedOriginalGone Refusal = "value_omitted_original_gone"
)

// Refusals lists every Refusal, in the order summaries print them.
var Refusals = []Refusal{RefuseMaxReplays, RefuseInvalidEvent, RefuseNoFailedVendors, RefuseMalformed, RefuseValueOmittedOriginalGone}

// Decision is what replay does with one record.
type Decision struct {
	Action  Action  `json:"action"`
	Refusal Refusal `json:"refusal,omitempty"`
	// Vendors are the vendors the replayed record is limited to; empty
	// with an invalid_event record sent back unchanged (IncludeInvalid).
	Vendors []string `json:"replay_vendors,omitempty"`
}

// Policy holds the rules that refuse a selected record.
type Policy struct {
	// MaxReplays refuses a record replayed that many times already.
	MaxReplays int
	// IncludeInvalid sends invalid_event records back unchanged, to all
	// vendors, instead of refusing them: for when the daemon's
	// configuration, not the record, was at fault (event.max_bytes,
	// event.accepted_types).
	IncludeInvalid bool
}

// Decide applies f and p to e.
func Decide(e *Entry, f *Filter, p Policy) Decision {
	vendors, ok := f.Match(e)
	switch {
	case !ok:
		return Decision{Action: ActionSkip}
	case e.Malformed():
		return Decision{Action: ActionRefuse, Refusal: RefuseMalformed}
	case e.ReplayCount >= p.MaxReplays:
		return Decision{Action: ActionRefuse, Refusal: RefuseMaxReplays}
	case e.Reason == ReasonInvalidEvent:
		if p.IncludeInvalid {
			return Decision{Action: ActionReplay}
		}
		return Decision{Action: ActionRefuse, Refusal: RefuseInvalidEvent}
	case len(vendors) == 0:
		return Decision{Action: ActionRefuse, Refusal: RefuseNoFailedVendors}
	}
	return Decision{Action: ActionReplay, Vendors: vendors}
}

func joinReasons(rs []Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// String renders a decision for a table cell.
func (d Decision) String() string {
	switch d.Action {
	case ActionRefuse:
		return fmt.Sprintf("refuse:%s", d.Refusal)
	case ActionReplay:
		if len(d.Vendors) == 0 {
			return "replay:all"
		}
		return "replay:" + strings.Join(d.Vendors, ",")
	}
	return string(d.Action)
}

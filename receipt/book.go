package receipt

import (
	"sort"
	"time"
)

// Book is the latest state of every event read from the receipts topic:
// each event's receipts folded part by part (see Fold). Memory grows
// with the number of distinct events read; a receipt is a few hundred
// bytes, so a million events fit in a few hundred MB, and -since narrows
// a scan of a larger topic.
type Book struct {
	events map[string]*Receipt
	// Read counts records read; Malformed those that are not receipts
	// (counted, never printed: they may hold anything).
	Read, Malformed int64
}

// NewBook returns an empty Book.
func NewBook() *Book { return &Book{events: map[string]*Receipt{}} }

// Add decodes one record's value and folds it in. A malformed value is
// counted and otherwise ignored; a tombstone (empty value) is ignored.
func (b *Book) Add(value []byte) {
	b.Read++
	if len(value) == 0 {
		return
	}
	r, err := Decode(value)
	if err != nil {
		b.Malformed++
		return
	}
	b.AddReceipt(r)
}

// AddReceipt folds r in.
func (b *Book) AddReceipt(r *Receipt) {
	cur, ok := b.events[r.EventID]
	if !ok {
		cp := *r
		cp.Vendors = make(map[string]Part, len(r.Vendors))
		for v, p := range r.Vendors {
			cp.Vendors[v] = p
		}
		b.events[r.EventID] = &cp
		return
	}
	cur.Fold(r)
}

// Get returns an event's latest state.
func (b *Book) Get(eventID string) (*Receipt, bool) {
	r, ok := b.events[eventID]
	return r, ok
}

// Len is the number of events.
func (b *Book) Len() int { return len(b.events) }

// Select returns the events f keeps, oldest occurred_at first (then by
// event id), so output is stable.
func (b *Book) Select(f Filter) []*Receipt {
	var out []*Receipt
	for _, r := range b.events {
		if f.Keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].OccurredAt.Equal(out[j].OccurredAt) {
			return out[i].OccurredAt.Before(out[j].OccurredAt)
		}
		return out[i].EventID < out[j].EventID
	})
	return out
}

// Filter selects events. Zero fields select everything.
type Filter struct {
	EventIDs []string
	// User is a fingerprint, computed by the caller from a user id with
	// the daemons' key.
	User string
	// Vendors keeps events with a part at one of them; with Status, that
	// part must have the status.
	Vendors []string
	// Status is owed, done, dead_lettered or parked.
	Status Status
	// Since and Until bound occurred_at: [Since, Until).
	Since, Until time.Time
}

// Statuses lists what Filter.Status accepts.
var Statuses = []Status{StatusOwed, StatusDone, StatusDeadLettered, StatusParked}

// Keep reports whether f selects r.
func (f *Filter) Keep(r *Receipt) bool {
	if len(f.EventIDs) > 0 && !contains(f.EventIDs, r.EventID) {
		return false
	}
	if f.User != "" && r.User != f.User {
		return false
	}
	if !f.Since.IsZero() && r.OccurredAt.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !r.OccurredAt.Before(f.Until) {
		return false
	}
	if len(f.Vendors) == 0 {
		return f.Status == "" || statusOf(f.Status, r.Vendors)
	}
	for _, v := range f.Vendors {
		p, ok := r.Vendors[v]
		if ok && (f.Status == "" || statusOf(f.Status, map[string]Part{v: p})) {
			return true
		}
	}
	return false
}

// statusOf reports whether parts, taken together, have status s.
func statusOf(s Status, parts map[string]Part) bool {
	r := Receipt{Vendors: parts}
	switch s {
	case StatusParked:
		for _, p := range parts {
			if p.Outcome == Parked {
				return true
			}
		}
		return false
	case StatusOwed:
		// Owed is anything not yet done: parked, paused, dead-lettered.
		return r.Status() != StatusDone
	}
	return r.Status() == s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Summary counts a selection.
type Summary struct {
	Events int `json:"events"`
	// Outcomes counts parts per vendor and outcome.
	Outcomes map[string]map[Outcome]int `json:"outcomes"`
	// Owed counts events not done; Overdue those of them past their
	// deadline; Done the rest.
	Done    int `json:"done"`
	Owed    int `json:"owed"`
	Overdue int `json:"overdue"`
	// OldestOwed is the occurred_at of the oldest owed event, zero if none.
	OldestOwed time.Time `json:"oldest_owed,omitzero"`
	// OldestOwedID names it.
	OldestOwedID string `json:"oldest_owed_event_id,omitempty"`
}

// Summarize counts rs as of now.
func Summarize(rs []*Receipt, now time.Time) Summary {
	s := Summary{Outcomes: map[string]map[Outcome]int{}}
	for _, r := range rs {
		s.Events++
		for v, p := range r.Vendors {
			if s.Outcomes[v] == nil {
				s.Outcomes[v] = map[Outcome]int{}
			}
			s.Outcomes[v][p.Outcome]++
		}
		if r.Done() {
			s.Done++
			continue
		}
		s.Owed++
		if r.Overdue(now) {
			s.Overdue++
		}
		if s.OldestOwed.IsZero() || r.OccurredAt.Before(s.OldestOwed) {
			s.OldestOwed, s.OldestOwedID = r.OccurredAt, r.EventID
		}
	}
	return s
}

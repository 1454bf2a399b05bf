package event

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// wire is the plain JSON form as Encode writes it.
type wire struct {
	EventID     string            `json:"event_id"`
	UserID      string            `json:"user_id"`
	OccurredAt  string            `json:"occurred_at"`
	Identifiers map[string]string `json:"identifiers,omitempty"`
}

// Encode is the inverse of Decode for the plain JSON form (producers,
// tests, the dev stack). It applies Decode's rules first and returns the
// same *DecodeError, so it never writes an event Decode would reject.
// OccurredAt is written in UTC with as many fractional digits as it needs.
func Encode(ev *UserDeleted) ([]byte, error) {
	if ev == nil {
		return nil, reject(ReasonMalformed, fieldValue, "nil event")
	}
	if derr := checkID(ev.EventID, fieldEventID); derr != nil {
		return nil, derr
	}
	if derr := checkID(ev.UserID, UserIDField); derr != nil {
		return nil, derr
	}
	if ev.OccurredAt.IsZero() {
		return nil, reject(ReasonMissingField, fieldOccurredAt, "required")
	}
	ts := ev.OccurredAt.UTC().Format(time.RFC3339Nano)
	if _, derr := parseTime(ts, fieldOccurredAt); derr != nil {
		return nil, derr // a year outside 0000–9999 has no RFC 3339 form
	}
	if len(ev.Identifiers) > MaxIdentifiers {
		return nil, reject(ReasonInvalidField, fieldIdentifiers, "%d entries, limit %d", len(ev.Identifiers), MaxIdentifiers)
	}
	names := make([]string, 0, len(ev.Identifiers))
	for name := range ev.Identifiers {
		names = append(names, name)
	}
	sort.Strings(names) // the order json.Marshal writes, so positions match
	for i, name := range names {
		if derr := checkIdentifier(name, ev.Identifiers[name], i+1, fieldIdentifiers); derr != nil {
			return nil, derr
		}
	}
	if derr := checkUserIDEntry(ev, fieldIdentifiers); derr != nil {
		return nil, derr
	}
	b, err := json.Marshal(wire{
		EventID:     ev.EventID,
		UserID:      ev.UserID,
		OccurredAt:  ts,
		Identifiers: ev.Identifiers,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding event: %w", err) // not reached: every field is a string
	}
	return b, nil
}

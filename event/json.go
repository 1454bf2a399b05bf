package event

// The plain JSON form, the one Encode writes, and the identifiers object
// that it shares with the CloudEvents data object.

import "encoding/json"

// decodePlain reads the plain JSON form.
func decodePlain(top []member) (*UserDeleted, *DecodeError) {
	if derr := checkCase(top, plainNames(), ""); derr != nil {
		return nil, derr
	}
	ev := &UserDeleted{}
	var derr *DecodeError
	if ev.EventID, derr = reqString(top, fieldEventID, fieldEventID); derr != nil {
		return nil, derr
	}
	if derr = checkID(ev.EventID, fieldEventID); derr != nil {
		return nil, derr
	}
	if ev.UserID, derr = reqString(top, UserIDField, UserIDField); derr != nil {
		return nil, derr
	}
	if derr = checkID(ev.UserID, UserIDField); derr != nil {
		return nil, derr
	}
	ts, derr := reqString(top, fieldOccurredAt, fieldOccurredAt)
	if derr != nil {
		return nil, derr
	}
	if ev.OccurredAt, derr = parseTime(ts, fieldOccurredAt); derr != nil {
		return nil, derr
	}
	raw, ok := find(top, fieldIdentifiers)
	if ev.Identifiers, derr = decodeIdentifiers(raw, ok, fieldIdentifiers); derr != nil {
		return nil, derr
	}
	if derr = checkUserIDEntry(ev, fieldIdentifiers); derr != nil {
		return nil, derr
	}
	return ev, nil
}

func decodeIdentifiers(raw json.RawMessage, ok bool, field string) (map[string]string, *DecodeError) {
	if !present(raw, ok) {
		return nil, nil
	}
	if k := kind(raw); k != "object" {
		return nil, reject(ReasonMalformed, field, "must be an object, not %s", k)
	}
	ms, derr := parseObject(raw, field, "", nil)
	if derr != nil {
		return nil, derr
	}
	if len(ms) > MaxIdentifiers {
		return nil, reject(ReasonInvalidField, field, "%d entries, limit %d", len(ms), MaxIdentifiers)
	}
	if len(ms) == 0 {
		return nil, nil
	}
	ids := make(map[string]string, len(ms))
	for i, m := range ms {
		if k := kind(m.raw); k != "string" {
			return nil, reject(ReasonMalformed, field, "entry %d: value must be a string, not %s", i+1, k)
		}
		v, ok := unquote(m.raw)
		if !ok {
			return nil, reject(ReasonMalformed, field, "entry %d: value is not a valid JSON string", i+1)
		}
		if derr := checkIdentifier(m.name, v, i+1, field); derr != nil {
			return nil, derr
		}
		ids[m.name] = v
	}
	return ids, nil
}

// Member names of each object, for error fields and case checks.
func plainNames() []string {
	// specversion is here so that "SpecVersion" is caught rather than
	// the event being read as plain JSON.
	return []string{fieldEventID, UserIDField, fieldOccurredAt, fieldIdentifiers, ceSpecVersion}
}

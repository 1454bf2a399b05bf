package event

// CloudEvents 1.0: the envelope attributes in binary mode (ce_* headers)
// and structured mode (members of the value), and the data object both
// carry.

import (
	"slices"
	"time"
)

// envelope is what Decode keeps of the CloudEvents attributes.
type envelope struct {
	id      string
	time    time.Time
	hasTime bool
}

// envelope checks binary-mode attributes: version and type first, so that
// a foreign event is reported as unsupported, then id, source and time.
func (hs *recordHeaders) envelope(accepted []string) (envelope, *DecodeError) {
	var env envelope
	switch sv := hs.val[hSpecVersion]; {
	case sv == "":
		return env, reject(ReasonMissingField, headerName(hSpecVersion), "required")
	case sv != specVersion:
		return env, reject(ReasonUnsupported, headerName(hSpecVersion), "only 1.0 is supported")
	}
	switch t := hs.val[hType]; {
	case t == "":
		return env, reject(ReasonMissingField, headerName(hType), "required")
	case !slices.Contains(accepted, t):
		return env, reject(ReasonUnsupported, headerName(hType), "not an accepted event type")
	}
	env.id = hs.val[hID]
	if derr := checkID(env.id, headerName(hID)); derr != nil {
		return env, derr
	}
	if hs.val[hSource] == "" {
		return env, reject(ReasonMissingField, headerName(hSource), "required")
	}
	if hs.seen[hTime] {
		t, derr := parseTime(hs.val[hTime], headerName(hTime))
		if derr != nil {
			return env, derr
		}
		env.time, env.hasTime = t, true
	}
	return env, nil
}

// structuredEnvelope checks structured-mode attributes in the same order as
// binary mode, plus the two that only exist there: data_base64 and
// datacontenttype.
func structuredEnvelope(top []member, accepted []string) (envelope, *DecodeError) {
	var env envelope
	sv, ok, derr := optString(top, ceSpecVersion, ceSpecVersion)
	switch {
	case derr != nil:
		return env, derr
	case !ok || sv == "":
		return env, reject(ReasonMissingField, ceSpecVersion, "required")
	case sv != specVersion:
		return env, reject(ReasonUnsupported, ceSpecVersion, "only 1.0 is supported")
	}
	if raw, ok := find(top, ceDataBase64); present(raw, ok) {
		return env, reject(ReasonUnsupported, ceDataBase64, "binary data is not supported")
	}
	dct, ok, derr := optString(top, ceDataContentType, ceDataContentType)
	if derr != nil {
		return env, derr
	}
	if ok {
		mt, derr := mediaType(dct, ceDataContentType)
		if derr != nil {
			return env, derr
		}
		if mt != mediaJSON {
			return env, reject(ReasonUnsupported, ceDataContentType, "must be application/json")
		}
	}
	typ, derr := reqString(top, ceType, ceType)
	if derr != nil {
		return env, derr
	}
	if !slices.Contains(accepted, typ) {
		return env, reject(ReasonUnsupported, ceType, "not an accepted event type")
	}
	if env.id, derr = reqString(top, ceID, ceID); derr != nil {
		return env, derr
	}
	if derr := checkID(env.id, ceID); derr != nil {
		return env, derr
	}
	if _, derr := reqString(top, ceSource, ceSource); derr != nil {
		return env, derr
	}
	ts, ok, derr := optString(top, ceTime, ceTime)
	if derr != nil {
		return env, derr
	}
	if ok {
		if env.time, derr = parseTime(ts, ceTime); derr != nil {
			return env, derr
		}
		env.hasTime = true
	}
	return env, nil
}

// decodeData reads a CloudEvents data object; prefix is prepended to its
// member names in errors ("data." in structured mode).
func decodeData(data []member, prefix string, env envelope) (*UserDeleted, *DecodeError) {
	if derr := checkCase(data, dataNames(), prefix); derr != nil {
		return nil, derr
	}
	ev := &UserDeleted{EventID: env.id}
	// A producer moving from the plain form may leave event_id in data. If
	// it disagrees with the envelope id, which one deduplicates is a guess.
	id, ok, derr := optString(data, fieldEventID, prefix+fieldEventID)
	if derr != nil {
		return nil, derr
	}
	if ok && id != env.id {
		return nil, reject(ReasonInvalidField, prefix+fieldEventID, "differs from the envelope id")
	}
	if ev.UserID, derr = reqString(data, UserIDField, prefix+UserIDField); derr != nil {
		return nil, derr
	}
	if derr = checkID(ev.UserID, prefix+UserIDField); derr != nil {
		return nil, derr
	}
	// data.occurred_at, when present, wins over the envelope time: it is
	// when the person acted, the envelope time may be when the event was
	// produced.
	ts, ok, derr := optString(data, fieldOccurredAt, prefix+fieldOccurredAt)
	switch {
	case derr != nil:
		return nil, derr
	case ok:
		if ev.OccurredAt, derr = parseTime(ts, prefix+fieldOccurredAt); derr != nil {
			return nil, derr
		}
	case env.hasTime:
		ev.OccurredAt = env.time
	default:
		return nil, reject(ReasonMissingField, prefix+fieldOccurredAt, "required when the envelope has no time")
	}
	raw, ok := find(data, fieldIdentifiers)
	if ev.Identifiers, derr = decodeIdentifiers(raw, ok, prefix+fieldIdentifiers); derr != nil {
		return nil, derr
	}
	if derr = checkUserIDEntry(ev, prefix+fieldIdentifiers); derr != nil {
		return nil, derr
	}
	return ev, nil
}

func ceNames() []string {
	return []string{ceSpecVersion, ceID, ceSource, ceType, ceTime, ceDataContentType, ceData, ceDataBase64}
}

func dataNames() []string {
	return []string{fieldEventID, UserIDField, fieldOccurredAt, fieldIdentifiers}
}

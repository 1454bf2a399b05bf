package event

// Decode reads a user-deleted event off a Kafka record, in whichever of
// three forms the producer chose:
//
//  1. Plain JSON, the form Encode writes:
//     {"event_id":"…","user_id":"…","occurred_at":"RFC 3339","identifiers":{"name":"value"}}
//  2. CloudEvents 1.0 in structured mode: the value is the JSON envelope,
//     announced by a content-type header of application/cloudevents+json or
//     by a "specversion" member in the value. Its "data" member holds
//     user_id, identifiers and, optionally, occurred_at and event_id.
//  3. CloudEvents 1.0 in binary mode (Kafka protocol binding): the envelope
//     is in ce_* headers, the value is the data object alone.
//
// A deletion is a legal promise, so the decoder is strict where a lenient
// reading could send a deletion to the wrong person or to nobody: duplicate
// member names, member names that differ from a known one only in case,
// values with control characters, invalid escapes or stray whitespace are
// all rejected, and a rejected record goes to the dead-letter topic, where it
// can be fixed and replayed. It is lenient only where nothing can be
// misread: unknown members are ignored, so producers can add fields first.
//
// Every rejection is a *DecodeError whose text names fields, sizes and
// positions but never a value: the values are personal data, and the error
// text ends up in logs and dead-letter headers.
//
// The decoder is split by concern:
//
//   - decode.go: options, errors, wire names and Decode itself, which
//     picks the form;
//   - headers.go: the Kafka record headers and the protocol binding's
//     choice of mode;
//   - cloudevents.go: the CloudEvents envelope (binary and structured
//     mode) and its data object;
//   - json.go: the plain JSON form and the identifiers object;
//   - object.go: the strict JSON object reader all forms share;
//   - validate.go: the rules on ids, identifiers, text and times;
//   - encode.go: Encode, the inverse of Decode for the plain form.

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// DecodeOptions bound what Decode accepts. The zero value is ready to use.
type DecodeOptions struct {
	// MaxBytes limits the record value's size; zero or less means
	// DefaultMaxBytes.
	MaxBytes int
	// AcceptedTypes lists the CloudEvents `type` values accepted, compared
	// exactly; empty means DefaultTypes(). Plain JSON events carry no type
	// and are not affected.
	AcceptedTypes []string
}

// DefaultMaxBytes is the default value size limit. A typical event is a few
// hundred bytes; 64 KiB leaves room for many identifiers while keeping a
// hostile record from costing much to reject.
const DefaultMaxBytes = 64 << 10

// TypeUserDeleted is the CloudEvents type producers should use: reverse-DNS,
// as the CloudEvents spec recommends.
const TypeUserDeleted = "com.erasured.user.deleted"

// TypeUserDeletedShort is the event's short name, accepted as a CloudEvents
// type for producers that name events after the topic.
const TypeUserDeletedShort = "user-deleted"

// DefaultTypes returns the CloudEvents types accepted when
// DecodeOptions.AcceptedTypes is empty: TypeUserDeleted and
// TypeUserDeletedShort. It returns a new slice each time so no caller can
// change another's defaults.
//
// There is no prefix or version matching ("…deleted.v2"): a type we do not
// know may carry a different data shape, and a rejected event can be
// replayed from the dead-letter topic while a misread one cannot be undone.
func DefaultTypes() []string {
	return []string{TypeUserDeleted, TypeUserDeletedShort}
}

// Reason is a machine-readable code for why an event was rejected; it goes
// into the dead-letter header.
type Reason string

const (
	// ReasonOversized: the value is larger than DecodeOptions.MaxBytes. It
	// is decided before any parsing.
	ReasonOversized Reason = "oversized"
	// ReasonMalformed: empty value (a tombstone), not JSON, not an object,
	// a member of the wrong JSON type, a duplicate member or header.
	ReasonMalformed Reason = "malformed"
	// ReasonMissingField: event_id, user_id or occurred_at (or the
	// CloudEvents id, source, type, specversion, time, data) is absent,
	// null or empty.
	ReasonMissingField Reason = "missing_field"
	// ReasonInvalidField: a field is present but breaks a rule: too long,
	// not a time, control characters, too many identifiers…
	ReasonInvalidField Reason = "invalid_field"
	// ReasonUnsupported: a CloudEvents specversion, type or content type
	// this decoder does not read.
	ReasonUnsupported Reason = "unsupported"
)

// ErrInvalid matches every *DecodeError with errors.Is.
var ErrInvalid = errors.New("invalid event")

// DecodeError is returned for every rejected event; callers branch on it
// with errors.As. Field names the wire field (or "value" for the record as a
// whole); Msg says what is wrong with it. Neither ever contains a field
// value: only field names, sizes, positions and fixed words.
type DecodeError struct {
	Reason Reason
	Field  string
	Msg    string
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("invalid event: ")
	b.WriteString(string(e.Reason))
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true for every DecodeError.
func (e *DecodeError) Is(target error) bool { return target == ErrInvalid }

func reject(r Reason, field, format string, args ...any) *DecodeError {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &DecodeError{Reason: r, Field: field, Msg: msg}
}

// Wire names.
const (
	fieldValue       = "value" // the record value as a whole
	fieldEventID     = "event_id"
	fieldOccurredAt  = "occurred_at"
	fieldIdentifiers = "identifiers"

	ceSpecVersion     = "specversion"
	ceID              = "id"
	ceSource          = "source"
	ceType            = "type"
	ceTime            = "time"
	ceDataContentType = "datacontenttype"
	ceData            = "data"
	ceDataBase64      = "data_base64"

	headerContentType = "content-type"
	headerPrefix      = "ce_"

	mediaJSON       = "application/json"
	mediaCloudEvent = "application/cloudevents+json"
	mediaCEBatch    = "application/cloudevents-batch+json"
	specVersion     = "1.0"
)

// Decode reads one Kafka record (key, value, headers) into a UserDeleted.
// Every rejection is a *DecodeError.
//
// The key is not read. Partitions and ordering lanes follow UserID, which
// producers also use as the key, but a record keyed otherwise (or not at
// all) is still a valid deletion and is accepted.
//
// OccurredAt is returned in UTC. Identifiers is nil when the event carries
// none.
func Decode(key, value []byte, headers []Header, opts DecodeOptions) (*UserDeleted, error) {
	ev, derr := decode(value, headers, opts)
	if derr != nil {
		return nil, derr // never a typed nil inside a non-nil error
	}
	return ev, nil
}

type mode int

const (
	modeAuto       mode = iota // plain, unless the value has "specversion"
	modeStructured             // CloudEvents structured mode
	modeBinary                 // CloudEvents binary mode
)

func decode(value []byte, headers []Header, opts DecodeOptions) (*UserDeleted, *DecodeError) {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(value) == 0 {
		return nil, reject(ReasonMalformed, fieldValue, "empty (a tombstone)")
	}
	if len(value) > limit {
		return nil, reject(ReasonOversized, fieldValue, "%d bytes, limit %d", len(value), limit)
	}
	accepted := opts.AcceptedTypes
	if len(accepted) == 0 {
		accepted = DefaultTypes()
	}

	hs, derr := scanHeaders(headers)
	if derr != nil {
		return nil, derr
	}
	m, derr := hs.mode()
	if derr != nil {
		return nil, derr
	}
	var env envelope
	if m == modeBinary {
		// The envelope comes first: a foreign event type on the topic is
		// "unsupported" whatever its value looks like.
		if env, derr = hs.envelope(accepted); derr != nil {
			return nil, derr
		}
	}

	// encoding/json would quietly turn invalid UTF-8 into U+FFFD; JSON
	// text must be UTF-8, so reject it outright.
	if !utf8.Valid(value) {
		return nil, reject(ReasonMalformed, fieldValue, "not valid UTF-8")
	}
	top, derr := parseObject(value, fieldValue, "", topNames())
	if derr != nil {
		return nil, derr
	}
	if m == modeAuto {
		if _, ok := find(top, ceSpecVersion); ok {
			m = modeStructured
		}
	}

	switch m {
	case modeStructured:
		if derr := checkCase(top, ceNames(), ""); derr != nil {
			return nil, derr
		}
		if env, derr = structuredEnvelope(top, accepted); derr != nil {
			return nil, derr
		}
		raw, ok := find(top, ceData)
		if !present(raw, ok) {
			return nil, reject(ReasonMissingField, ceData, "required")
		}
		if k := kind(raw); k != "object" {
			return nil, reject(ReasonMalformed, ceData, "must be an object, not %s", k)
		}
		data, derr := parseObject(raw, ceData, "data.", dataNames())
		if derr != nil {
			return nil, derr
		}
		return decodeData(data, "data.", env)
	case modeBinary:
		return decodeData(top, "", env)
	default:
		return decodePlain(top)
	}
}

// topNames lists every member name the top-level object may hold, in
// either form, for its duplicate check: the form is only known after it.
func topNames() []string { return append(plainNames(), ceNames()...) }

package event

// This file reads a user-deleted event off a Kafka record, in whichever of
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

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Header is a Kafka record header, decoupled from any client library.
type Header struct {
	Key   string
	Value []byte
}

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

// Limits on the fields, checked by Decode and Encode alike. Sizes are in
// bytes of UTF-8.
const (
	MaxIDBytes              = 256 // event_id, user_id
	MaxIdentifiers          = 32  // entries in identifiers
	MaxIdentifierNameBytes  = 64  // identifier names match ^[a-z0-9_]{1,64}$
	MaxIdentifierValueBytes = 512 // identifier values
	maxTimeBytes            = 64  // far more than any RFC 3339 time needs
)

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

// recordHeaders holds the record headers Decode reads; the rest are ignored.
type recordHeaders struct {
	val  [numHeaders]string
	seen [numHeaders]bool
}

const (
	hContentType = iota
	hSpecVersion
	hID
	hSource
	hType
	hTime
	numHeaders
)

func headerName(i int) string {
	return [numHeaders]string{
		headerContentType,
		headerPrefix + ceSpecVersion,
		headerPrefix + ceID,
		headerPrefix + ceSource,
		headerPrefix + ceType,
		headerPrefix + ceTime,
	}[i]
}

// scanHeaders picks out content-type and the ce_* attributes Decode reads.
// Names compare case-insensitively (ASCII only): Kafka header names are
// case-sensitive, but producers write Content-Type as often as
// content-type. A repeated header is rejected, since which copy wins would
// be a guess.
func scanHeaders(hdrs []Header) (recordHeaders, *DecodeError) {
	var hs recordHeaders
	for _, h := range hdrs {
		for i := range numHeaders {
			if !asciiEqualFold(h.Key, headerName(i)) {
				continue
			}
			if hs.seen[i] {
				return hs, reject(ReasonMalformed, headerName(i), "header is repeated")
			}
			hs.seen[i] = true
			hs.val[i] = string(h.Value)
			break
		}
	}
	return hs, nil
}

// mode applies the Kafka protocol binding: a CloudEvents content type means
// structured mode, whatever else is there; otherwise ce_specversion means
// binary mode. An empty content-type counts as none.
func (hs *recordHeaders) mode() (mode, *DecodeError) {
	if ct := hs.val[hContentType]; hs.seen[hContentType] && ct != "" {
		mt, derr := mediaType(ct, headerContentType)
		if derr != nil {
			return 0, derr
		}
		switch {
		case mt == mediaCloudEvent:
			return modeStructured, nil
		case mt == mediaCEBatch:
			return 0, reject(ReasonUnsupported, headerContentType, "batch mode is not supported")
		case strings.HasPrefix(mt, "application/cloudevents"):
			return 0, reject(ReasonUnsupported, headerContentType, "only the JSON event format is supported")
		case mt != mediaJSON:
			return 0, reject(ReasonUnsupported, headerContentType, "must be application/json or application/cloudevents+json")
		}
	}
	if hs.seen[hSpecVersion] {
		return modeBinary, nil
	}
	// A producer that sets some ce_* attributes but forgets ce_specversion
	// means binary mode; reading its value as plain JSON would fail with a
	// misleading "event_id missing".
	for _, i := range []int{hID, hSource, hType, hTime} {
		if hs.seen[i] {
			return 0, reject(ReasonMissingField, headerName(hSpecVersion), "required with other ce_ headers")
		}
	}
	return modeAuto, nil
}

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

// checkIdentifier checks entry n (1-based, in input order) of identifiers.
// Errors name the entry by position, not by name: a producer that puts a
// value where a name belongs must not have it copied into a log.
func checkIdentifier(name, value string, n int, field string) *DecodeError {
	switch {
	case name == "":
		return reject(ReasonInvalidField, field, "entry %d: empty name", n)
	case len(name) > MaxIdentifierNameBytes:
		return reject(ReasonInvalidField, field, "entry %d: name is %d bytes, limit %d", n, len(name), MaxIdentifierNameBytes)
	case !validName(name):
		return reject(ReasonInvalidField, field, "entry %d: name is not lowercase letters, digits and underscores", n)
	case value == "":
		return reject(ReasonInvalidField, field, "entry %d: empty value", n)
	}
	if p := textProblem(value, MaxIdentifierValueBytes); p != "" {
		return reject(ReasonInvalidField, field, "entry %d: value %s", n, p)
	}
	return nil
}

// checkUserIDEntry rejects an identifiers entry named user_id that
// disagrees with the event's user_id: Identifier(UserIDField) returns the
// latter, so the entry would be silently ignored.
func checkUserIDEntry(ev *UserDeleted, field string) *DecodeError {
	if v, ok := ev.Identifiers[UserIDField]; ok && v != ev.UserID {
		return reject(ReasonInvalidField, field, "the user_id entry differs from user_id")
	}
	return nil
}

func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkID checks a required id-like field (event_id, user_id, the
// CloudEvents id): present, and sound as text.
func checkID(s, field string) *DecodeError {
	if s == "" {
		return reject(ReasonMissingField, field, "required")
	}
	if p := textProblem(s, MaxIDBytes); p != "" {
		return reject(ReasonInvalidField, field, "%s", p)
	}
	return nil
}

// textProblem says what is wrong with s as an id or identifier value, or ""
// if nothing is. It never quotes s.
//
// U+FFFD is rejected because encoding/json substitutes it for an unpaired
// surrogate escape ("\ud800"); a value that went through that substitution
// is no longer the producer's, and a deletion under it would find nobody and
// look successful. Leading or trailing whitespace is rejected for the same
// reason: it is a producer bug that a vendor would answer with "not found".
func textProblem(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("is %d bytes, limit %d", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "contains a control character"
		case r == utf8.RuneError:
			return "contains U+FFFD, a replacement for invalid input"
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if isEdgeSpace(first) || isEdgeSpace(last) {
		return "has leading or trailing whitespace"
	}
	return ""
}

// isEdgeSpace is unicode.IsSpace plus U+FEFF (a byte-order mark), which
// makes it the same set as ECMAScript's \s, used by schema.json.
func isEdgeSpace(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }

// parseTime reads an RFC 3339 time (with or without fractional seconds)
// and returns it in UTC. time.Parse alone is looser than RFC 3339 (it takes
// a one-digit hour), so the shape is checked first; and the time must have
// an RFC 3339 form in UTC too (0000-01-01T00:00:00+01:00 does not), or
// Encode could not write the event back.
func parseTime(s, field string) (time.Time, *DecodeError) {
	if len(s) > maxTimeBytes {
		return time.Time{}, reject(ReasonInvalidField, field, "is %d bytes, not an RFC 3339 time", len(s))
	}
	if !rfc3339Shape(s) {
		return time.Time{}, reject(ReasonInvalidField, field, "not an RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil { // its text quotes s, so it is dropped
		return time.Time{}, reject(ReasonInvalidField, field, "not an RFC 3339 time")
	}
	if t.IsZero() {
		return time.Time{}, reject(ReasonInvalidField, field, "is the zero time")
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, reject(ReasonInvalidField, field, "is outside years 0000 to 9999 in UTC")
	}
	return t, nil
}

// rfc3339Shape reports whether s is laid out as RFC 3339's date-time:
// "2006-01-02T15:04:05", optional fractional seconds, then "Z" or an
// offset. Upper-case T and Z only, as time.Parse requires; time.Parse
// checks the ranges.
func rfc3339Shape(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if c := s[i]; layout[i] == 'd' && (c < '0' || c > '9') || layout[i] != 'd' && c != layout[i] {
			return false
		}
	}
	rest := s[len(layout):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, c := range []byte{rest[1], rest[2], rest[4], rest[5]} {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return false
}

// mediaType parses a content type; a charset other than UTF-8 is
// unsupported since JSON is UTF-8.
func mediaType(v, field string) (string, *DecodeError) {
	mt, params, err := mime.ParseMediaType(v)
	if err != nil {
		return "", reject(ReasonUnsupported, field, "not a valid media type")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return "", reject(ReasonUnsupported, field, "charset must be utf-8")
	}
	return mt, nil
}

// Member names of each object, for error fields and case checks.
func plainNames() []string {
	// specversion is here so that "SpecVersion" is caught rather than
	// the event being read as plain JSON.
	return []string{fieldEventID, UserIDField, fieldOccurredAt, fieldIdentifiers, ceSpecVersion}
}

func ceNames() []string {
	return []string{ceSpecVersion, ceID, ceSource, ceType, ceTime, ceDataContentType, ceData, ceDataBase64}
}

func dataNames() []string {
	return []string{fieldEventID, UserIDField, fieldOccurredAt, fieldIdentifiers}
}

func topNames() []string { return append(plainNames(), ceNames()...) }

// member is one name/value pair of a JSON object.
type member struct {
	name string
	raw  json.RawMessage
}

// parseObject splits the JSON object in data into its members, in input
// order, rejecting anything but one object and duplicate member names
// (encoding/json would keep the last copy; a different reader might keep
// the first). field names the object in errors; a duplicate is named
// (after prefix) only if it is one of known, by its position otherwise.
func parseObject(data []byte, field, prefix string, known []string) ([]member, *DecodeError) {
	if ms, ok := splitObject(data); ok {
		if derr := checkDuplicates(ms, field, prefix, known); derr != nil {
			return nil, derr
		}
		return ms, nil
	}
	return parseObjectStream(data, field, prefix, known)
}

// parseObjectStream is parseObject through json.Decoder's token stream:
// the slow path, kept for what the fast one refuses, since it words the
// syntax errors.
func parseObjectStream(data []byte, field, prefix string, known []string) ([]member, *DecodeError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, reject(ReasonMalformed, field, "must be a JSON object, not %s", tokenKind(tok))
	}
	var ms []member
	seen := make(map[string]struct{})
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(field, err)
		}
		name, _ := tok.(string) // the decoder only returns strings here
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(field, err)
		}
		if _, dup := seen[name]; dup {
			if slices.Contains(known, name) {
				return nil, reject(ReasonMalformed, prefix+name, "member is repeated")
			}
			return nil, reject(ReasonMalformed, field, "member %d repeats an earlier name", len(ms)+1)
		}
		seen[name] = struct{}{}
		ms = append(ms, member{name: name, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(field, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, reject(ReasonMalformed, field, "data after the JSON object")
	}
	return ms, nil
}

// splitObject is parseObject's fast path, for the common case: data is
// one valid JSON object. json.Valid checks it without allocating, then the
// members are cut out by hand: json.Decoder's token stream, which the
// slow path uses, allocates a syntax error for every member it reads (to
// find where a top-level value ends) and dominated the consumer's
// allocations. Values alias data. It reports false for anything else.
func splitObject(data []byte) ([]member, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return nil, false
	}
	ms := make([]member, 0, 8)
	i = skipSpace(data, i+1)
	if data[i] == '}' {
		return ms, true
	}
	for {
		// Valid JSON: a member name, a colon, a value, then , or }.
		end := stringEnd(data, i)
		name, ok := unquote(data[i:end])
		if !ok {
			return nil, false
		}
		i = skipSpace(data, skipSpace(data, end)+1)
		end = valueEnd(data, i)
		ms = append(ms, member{name: name, raw: data[i:end:end]})
		i = skipSpace(data, end)
		if data[i] == '}' {
			return ms, true
		}
		i = skipSpace(data, i+1)
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at data[i].
func stringEnd(data []byte, i int) int {
	for j := i + 1; ; j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just past the value starting at data[i].
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch data[j] {
			case '"':
				j = stringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	default: // number, true, false, null
		j := i
		for j < len(data) && !strings.ContainsRune(",}] \t\r\n", rune(data[j])) {
			j++
		}
		return j
	}
}

// checkDuplicates rejects a repeated member name as parseObjectStream
// does.
func checkDuplicates(ms []member, field, prefix string, known []string) *DecodeError {
	var seen map[string]struct{}
	if len(ms) > 8 {
		seen = make(map[string]struct{}, len(ms))
	}
	for i, m := range ms {
		dup := false
		if seen != nil {
			_, dup = seen[m.name]
			seen[m.name] = struct{}{}
		} else {
			for _, e := range ms[:i] {
				if e.name == m.name {
					dup = true
					break
				}
			}
		}
		if dup {
			if slices.Contains(known, m.name) {
				return reject(ReasonMalformed, prefix+m.name, "member is repeated")
			}
			return reject(ReasonMalformed, field, "member %d repeats an earlier name", i+1)
		}
	}
	return nil
}

// checkCase rejects a member whose name differs from a known one only in
// case ("User_ID"): encoding/json would read it as the known one, this
// decoder would ignore it, and a producer would be surprised either way.
func checkCase(ms []member, known []string, prefix string) *DecodeError {
	for _, m := range ms {
		if slices.Contains(known, m.name) {
			continue
		}
		for _, k := range known {
			if strings.EqualFold(m.name, k) {
				return reject(ReasonMalformed, prefix+k, "a member name differs from it only in case")
			}
		}
	}
	return nil
}

func syntaxError(field string, err error) *DecodeError {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Its text quotes the offending character; only the offset is kept.
		return reject(ReasonMalformed, field, "not valid JSON, error at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reject(ReasonMalformed, field, "truncated JSON")
	default:
		return reject(ReasonMalformed, field, "not valid JSON")
	}
}

func find(ms []member, name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.raw, true
		}
	}
	return nil, false
}

// present treats a null member as absent, as encoding/json does.
func present(raw json.RawMessage, ok bool) bool {
	return ok && kind(raw) != "null"
}

// optString reads an optional string member: ok is false when it is absent
// or null, and a non-string is malformed.
func optString(ms []member, name, field string) (s string, ok bool, derr *DecodeError) {
	raw, found := find(ms, name)
	if !present(raw, found) {
		return "", false, nil
	}
	if k := kind(raw); k != "string" {
		return "", false, reject(ReasonMalformed, field, "must be a string, not %s", k)
	}
	s, ok = unquote(raw)
	if !ok {
		return "", false, reject(ReasonMalformed, field, "not a valid JSON string")
	}
	return s, true, nil
}

// unquote decodes a JSON string that the decoder has already scanned. Most
// have no escapes, and those are copied out directly (the value was checked
// to be UTF-8); the rest go through encoding/json.
func unquote(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 {
		return string(raw[1 : n-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// reqString reads a required string member: absent, null and "" are all
// missing.
func reqString(ms []member, name, field string) (string, *DecodeError) {
	s, ok, derr := optString(ms, name, field)
	if derr != nil {
		return "", derr
	}
	if !ok || s == "" {
		return "", reject(ReasonMissingField, field, "required")
	}
	return s, nil
}

// kind names the JSON type of a syntactically valid value.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "number"
	}
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

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

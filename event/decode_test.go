package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Test data. The values are long and distinctive so that the leak check
// (checkErrorText) would notice any of them in an error.
const (
	testEventID = "evt-2f9c4b1a-0001"
	testUserID  = "usr_7f3a9c21d4"
	testPlivo   = "2f6c3f1e-0b1a-4c9e-9a55-1f0e7d4c2b11"
	testEmail   = "ada.lovelace@example.com"
	testTime    = "2025-03-01T12:00:00Z"
)

// absent, as an override value, drops the member or header.
const absent = "\x00absent"

// q quotes s as a JSON string.
func q(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type pair struct{ name, value string }

// object writes a JSON object from defaults (name → raw JSON value) with
// overrides: name/raw pairs that replace a default in place the first time
// a name is given and are appended otherwise (so a repeated name makes a
// duplicate member); absent drops the member.
func object(defaults []pair, over ...string) string {
	ms := overlay(defaults, over)
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", m.name, m.value)
	}
	b.WriteByte('}')
	return b.String()
}

func overlay(defaults []pair, over []string) []pair {
	if len(over)%2 != 0 {
		panic("odd overrides")
	}
	ms := append([]pair(nil), defaults...)
	replaced := map[string]bool{}
	for i := 0; i < len(over); i += 2 {
		name, value := over[i], over[i+1]
		done := false
		if !replaced[name] {
			for j := range ms {
				if ms[j].name == name {
					ms[j].value, replaced[name], done = value, true, true
					break
				}
			}
		}
		if !done {
			ms = append(ms, pair{name, value})
			replaced[name] = true
		}
	}
	out := ms[:0]
	for _, m := range ms {
		if m.value != absent {
			out = append(out, m)
		}
	}
	return out
}

func defaultIdentifiers() string {
	return object([]pair{{"plivo_profile_uuid", q(testPlivo)}, {"email", q(testEmail)}})
}

// plain is a plain-form event.
func plain(over ...string) string {
	return object([]pair{
		{"event_id", q(testEventID)},
		{"user_id", q(testUserID)},
		{"occurred_at", q(testTime)},
		{"identifiers", defaultIdentifiers()},
	}, over...)
}

// data is a CloudEvents data object.
func data(over ...string) string {
	return object([]pair{
		{"user_id", q(testUserID)},
		{"identifiers", defaultIdentifiers()},
	}, over...)
}

// structured is a CloudEvents structured-mode envelope around data().
func structured(over ...string) string {
	return object([]pair{
		{"specversion", q("1.0")},
		{"id", q(testEventID)},
		{"source", q("/accounts")},
		{"type", q(TypeUserDeleted)},
		{"time", q(testTime)},
		{"data", data()},
	}, over...)
}

// binary is the header set of a CloudEvents binary-mode record.
func binary(over ...string) []Header {
	ms := overlay([]pair{
		{"ce_specversion", "1.0"},
		{"ce_id", testEventID},
		{"ce_source", "/accounts"},
		{"ce_type", TypeUserDeleted},
		{"ce_time", testTime},
		{"content-type", "application/json"},
	}, over)
	hs := make([]Header, len(ms))
	for i, m := range ms {
		hs[i] = Header{Key: m.name, Value: []byte(m.value)}
	}
	return hs
}

func ctype(v string) []Header { return []Header{{Key: "content-type", Value: []byte(v)}} }

func wantEvent(mod ...func(*UserDeleted)) *UserDeleted {
	ev := &UserDeleted{
		EventID:     testEventID,
		UserID:      testUserID,
		OccurredAt:  time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{"plivo_profile_uuid": testPlivo, "email": testEmail},
	}
	for _, m := range mod {
		m(ev)
	}
	return ev
}

func noIdentifiers(ev *UserDeleted) { ev.Identifiers = nil }

func at(ts string) func(*UserDeleted) {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		panic(err)
	}
	return func(ev *UserDeleted) { ev.OccurredAt = t.UTC() }
}

// manyIdentifiers is an identifiers object with n entries, each with a
// name of nameLen bytes and a value of valueLen bytes.
func manyIdentifiers(n, nameLen, valueLen int) (string, map[string]string) {
	var ps []pair
	m := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("id%02d_", i)
		name += strings.Repeat("n", nameLen-len(name))
		value := fmt.Sprintf("v%02d-", i)
		value += strings.Repeat("é", (valueLen-len(value))/2) + strings.Repeat("x", (valueLen-len(value))%2)
		ps = append(ps, pair{name, q(value)})
		m[name] = value
	}
	return object(ps), m
}

const (
	fmtPlain      = "plain"
	fmtStructured = "structured"
	fmtBinary     = "binary"
)

type decodeCase struct {
	name     string
	format   string
	key      []byte
	value    string
	nilValue bool
	headers  []Header
	opts     DecodeOptions
	reason   Reason       // "" means accepted
	field    string       // DecodeError.Field when rejected
	want     *UserDeleted // when accepted
}

func (c decodeCase) valueBytes() []byte {
	if c.nilValue {
		return nil
	}
	return []byte(c.value)
}

func decodeCases() []decodeCase {
	long := strings.Repeat("x", MaxIDBytes+1)
	maxID := strings.Repeat("é", MaxIDBytes/2) // 256 bytes, 128 characters
	longMulti := maxID + "x"                   // 257 bytes
	ids32, map32 := manyIdentifiers(MaxIdentifiers, MaxIdentifierNameBytes, MaxIdentifierValueBytes)
	ids33, _ := manyIdentifiers(MaxIdentifiers+1, 8, 8)
	padded := plain("padding", q(strings.Repeat("p", DefaultMaxBytes)))
	big := plain("identifiers", ids32, "event_id", q(maxID), "user_id", q(maxID))
	ident := func(name, value string) string { return object([]pair{{name, value}}) }

	return []decodeCase{
		// Plain JSON: accepted.
		{name: "full", format: fmtPlain, value: plain(), want: wantEvent()},
		{name: "no identifiers", format: fmtPlain, value: plain("identifiers", absent), want: wantEvent(noIdentifiers)},
		{name: "null identifiers", format: fmtPlain, value: plain("identifiers", "null"), want: wantEvent(noIdentifiers)},
		{name: "empty identifiers", format: fmtPlain, value: plain("identifiers", "{}"), want: wantEvent(noIdentifiers)},
		{name: "unknown members ignored", format: fmtPlain, value: plain("schema_version", "2", "extra", `{"nested":[1,{"a":null}],"x":"y"}`), want: wantEvent()},
		{name: "time with offset and nanoseconds, returned in UTC", format: fmtPlain, value: plain("occurred_at", q("2025-03-01T13:30:00.123456789+01:30")), want: wantEvent(at("2025-03-01T12:00:00.123456789Z"))},
		{name: "key differs from user_id", format: fmtPlain, key: []byte("someone-else-entirely"), value: plain(), want: wantEvent()},
		{name: "empty key", format: fmtPlain, key: []byte{}, value: plain(), want: wantEvent()},
		{name: "limits reached exactly", format: fmtPlain, value: big, want: wantEvent(func(ev *UserDeleted) { ev.EventID, ev.UserID, ev.Identifiers = maxID, maxID, map32 })},
		{name: "user_id entry equal to user_id", format: fmtPlain, value: plain("identifiers", ident("user_id", q(testUserID))), want: wantEvent(func(ev *UserDeleted) { ev.Identifiers = map[string]string{"user_id": testUserID} })},
		{name: "json content type with charset", format: fmtPlain, value: plain(), headers: ctype("Application/JSON; charset=UTF-8"), want: wantEvent()},
		{name: "escapes decoded", format: fmtPlain, value: plain("user_id", `"usr_\u00e9t\u00e9_\"q\"_\/"`), want: wantEvent(func(ev *UserDeleted) { ev.UserID = `usr_été_"q"_/` })},
		{name: "inner space in identifier value", format: fmtPlain, value: plain("identifiers", ident("full_name", q("Ada King Lovelace"))), want: wantEvent(func(ev *UserDeleted) { ev.Identifiers = map[string]string{"full_name": "Ada King Lovelace"} })},
		{name: "whitespace around the object", format: fmtPlain, value: " \n\t" + plain() + "\r\n ", want: wantEvent()},
		{name: "size exactly at a custom limit", format: fmtPlain, value: plain(), opts: DecodeOptions{MaxBytes: len(plain())}, want: wantEvent()},
		{name: "unrelated headers ignored", format: fmtPlain, value: plain(), headers: []Header{{Key: "traceparent", Value: []byte("00-abc")}, {Key: "traceparent", Value: []byte("00-def")}}, want: wantEvent()},

		// Plain JSON: rejected.
		{name: "over the default limit", format: fmtPlain, value: padded, reason: ReasonOversized, field: "value"},
		{name: "over a custom limit", format: fmtPlain, value: plain(), opts: DecodeOptions{MaxBytes: 100}, reason: ReasonOversized, field: "value"},
		{name: "oversized is decided before parsing", format: fmtPlain, value: "this is not JSON at all, not even close", opts: DecodeOptions{MaxBytes: 10}, reason: ReasonOversized, field: "value"},
		{name: "tombstone (empty value)", format: fmtPlain, value: "", reason: ReasonMalformed, field: "value"},
		{name: "tombstone (nil value)", format: fmtPlain, nilValue: true, reason: ReasonMalformed, field: "value"},
		{name: "not JSON", format: fmtPlain, value: "event_id=evt-2f9c4b1a-0001", reason: ReasonMalformed, field: "value"},
		{name: "truncated", format: fmtPlain, value: plain()[:40], reason: ReasonMalformed, field: "value"},
		{name: "array", format: fmtPlain, value: `[` + plain() + `]`, reason: ReasonMalformed, field: "value"},
		{name: "string", format: fmtPlain, value: q(testUserID), reason: ReasonMalformed, field: "value"},
		{name: "null", format: fmtPlain, value: "null", reason: ReasonMalformed, field: "value"},
		{name: "number", format: fmtPlain, value: "42", reason: ReasonMalformed, field: "value"},
		{name: "second object after the first", format: fmtPlain, value: plain() + "{}", reason: ReasonMalformed, field: "value"},
		{name: "garbage after the object", format: fmtPlain, value: plain() + "x", reason: ReasonMalformed, field: "value"},
		{name: "trailing comma", format: fmtPlain, value: `{"event_id":"evt-2f9c4b1a-0001",}`, reason: ReasonMalformed, field: "value"},
		{name: "invalid UTF-8", format: fmtPlain, value: plain("user_id", "\"usr_\xff\xfe_7f3a9c\""), reason: ReasonMalformed, field: "value"},
		{name: "byte order mark", format: fmtPlain, value: "\uFEFF" + plain(), reason: ReasonMalformed, field: "value"},
		{name: "duplicate user_id", format: fmtPlain, value: plain("user_id", q(testUserID), "user_id", q("usr_someone_else_99")), reason: ReasonMalformed, field: "user_id"},
		{name: "duplicate unknown member", format: fmtPlain, value: plain("extra", "1", "extra", "2"), reason: ReasonMalformed, field: "value"},
		{name: "duplicate identifier name", format: fmtPlain, value: plain("identifiers", `{"email":"ada.lovelace@example.com","email":"someone.else@example.com"}`), reason: ReasonMalformed, field: "identifiers"},
		{name: "member name differs only in case", format: fmtPlain, value: plain("user_id", absent, "User_ID", q(testUserID)), reason: ReasonMalformed, field: "user_id"},
		{name: "specversion differs only in case", format: fmtPlain, value: plain("SpecVersion", q("1.0")), reason: ReasonMalformed, field: "specversion"},
		{name: "event_id is a number", format: fmtPlain, value: plain("event_id", "1234567890123"), reason: ReasonMalformed, field: "event_id"},
		{name: "user_id is an object", format: fmtPlain, value: plain("user_id", `{"id":"usr_7f3a9c21d4"}`), reason: ReasonMalformed, field: "user_id"},
		{name: "occurred_at is a number", format: fmtPlain, value: plain("occurred_at", "1740830400"), reason: ReasonMalformed, field: "occurred_at"},
		{name: "identifiers is an array", format: fmtPlain, value: plain("identifiers", `["ada.lovelace@example.com"]`), reason: ReasonMalformed, field: "identifiers"},
		{name: "identifier value is a number", format: fmtPlain, value: plain("identifiers", ident("phone", "14155550100")), reason: ReasonMalformed, field: "identifiers"},
		{name: "identifier value is null", format: fmtPlain, value: plain("identifiers", ident("phone", "null")), reason: ReasonMalformed, field: "identifiers"},
		{name: "empty object", format: fmtPlain, value: "{}", reason: ReasonMissingField, field: "event_id"},
		{name: "event_id absent", format: fmtPlain, value: plain("event_id", absent), reason: ReasonMissingField, field: "event_id"},
		{name: "event_id empty", format: fmtPlain, value: plain("event_id", `""`), reason: ReasonMissingField, field: "event_id"},
		{name: "event_id null", format: fmtPlain, value: plain("event_id", "null"), reason: ReasonMissingField, field: "event_id"},
		{name: "user_id absent", format: fmtPlain, value: plain("user_id", absent), reason: ReasonMissingField, field: "user_id"},
		{name: "user_id empty", format: fmtPlain, value: plain("user_id", `""`), reason: ReasonMissingField, field: "user_id"},
		{name: "occurred_at absent", format: fmtPlain, value: plain("occurred_at", absent), reason: ReasonMissingField, field: "occurred_at"},
		{name: "occurred_at null", format: fmtPlain, value: plain("occurred_at", "null"), reason: ReasonMissingField, field: "occurred_at"},
		{name: "event_id too long", format: fmtPlain, value: plain("event_id", q(long)), reason: ReasonInvalidField, field: "event_id"},
		{name: "user_id too long in bytes", format: fmtPlain, value: plain("user_id", q(longMulti)), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with a C0 control", format: fmtPlain, value: plain("user_id", q("usr_7f3a\a9c21d4")), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with DEL", format: fmtPlain, value: plain("user_id", q("usr_7f3a\x7f9c21d4")), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with a C1 control", format: fmtPlain, value: plain("user_id", q("usr_7f3a\u00859c21d4")), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with a trailing newline", format: fmtPlain, value: plain("user_id", q(testUserID+"\n")), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with an unpaired surrogate escape", format: fmtPlain, value: plain("user_id", `"usr_\ud800_7f3a9c"`), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with U+FFFD", format: fmtPlain, value: plain("user_id", q("usr_\uFFFD_7f3a9c")), reason: ReasonInvalidField, field: "user_id"},
		{name: "user_id with a leading space", format: fmtPlain, value: plain("user_id", q(" "+testUserID)), reason: ReasonInvalidField, field: "user_id"},
		{name: "event_id with a trailing no-break space", format: fmtPlain, value: plain("event_id", q(testEventID+"\u00a0")), reason: ReasonInvalidField, field: "event_id"},
		{name: "event_id with a leading BOM", format: fmtPlain, value: plain("event_id", q("\uFEFF"+testEventID)), reason: ReasonInvalidField, field: "event_id"},
		{name: "occurred_at not a time", format: fmtPlain, value: plain("occurred_at", q("yesterday afternoon")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at date only", format: fmtPlain, value: plain("occurred_at", q("2025-03-01")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at without zone", format: fmtPlain, value: plain("occurred_at", q("2025-03-01T12:00:00")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at zero", format: fmtPlain, value: plain("occurred_at", q("0001-01-01T00:00:00Z")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at zero with an offset", format: fmtPlain, value: plain("occurred_at", q("0001-01-01T01:00:00+01:00")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at with a one-digit hour", format: fmtPlain, value: plain("occurred_at", q("2025-03-01T2:00:00Z")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at with a lower-case t", format: fmtPlain, value: plain("occurred_at", q("2025-03-01t12:00:00Z")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at with an empty fraction", format: fmtPlain, value: plain("occurred_at", q("2025-03-01T12:00:00.Z")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at with a short offset", format: fmtPlain, value: plain("occurred_at", q("2025-03-01T12:00:00+01")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at out of range", format: fmtPlain, value: plain("occurred_at", q("2025-02-30T12:00:00Z")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at before year 0000 in UTC", format: fmtPlain, value: plain("occurred_at", q("0000-01-01T00:00:00+01:00")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at after year 9999 in UTC", format: fmtPlain, value: plain("occurred_at", q("9999-12-31T23:30:00-01:00")), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "occurred_at at the edges of year 0000 and 9999", format: fmtPlain, value: plain("occurred_at", q("0000-01-01T00:00:00Z")), want: wantEvent(func(ev *UserDeleted) { ev.OccurredAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{name: "occurred_at with a long fraction and negative offset", format: fmtPlain, value: plain("occurred_at", q("9999-12-31T22:59:59.999999999-01:00")), want: wantEvent(at("9999-12-31T23:59:59.999999999Z"))},
		{name: "occurred_at very long", format: fmtPlain, value: plain("occurred_at", q(testTime+strings.Repeat(" ", 60))), reason: ReasonInvalidField, field: "occurred_at"},
		{name: "too many identifiers", format: fmtPlain, value: plain("identifiers", ids33), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier name upper case", format: fmtPlain, value: plain("identifiers", ident("Email", q(testEmail))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier name with a hyphen", format: fmtPlain, value: plain("identifiers", ident("e-mail", q(testEmail))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier name empty", format: fmtPlain, value: plain("identifiers", ident("", q(testEmail))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier name too long", format: fmtPlain, value: plain("identifiers", ident(strings.Repeat("n", 65), q(testEmail))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier name not ASCII", format: fmtPlain, value: plain("identifiers", ident("émail", q(testEmail))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier name holding a value", format: fmtPlain, value: plain("identifiers", ident(testEmail, q(testEmail))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier value empty", format: fmtPlain, value: plain("identifiers", ident("email", `""`)), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier value too long", format: fmtPlain, value: plain("identifiers", ident("email", q(strings.Repeat("e", 513)))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier value with a control", format: fmtPlain, value: plain("identifiers", ident("email", q("ada\x00lovelace@example.com"))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "identifier value with a trailing space", format: fmtPlain, value: plain("identifiers", ident("email", q(testEmail+" "))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "user_id entry differs from user_id", format: fmtPlain, value: plain("identifiers", ident("user_id", q("usr_someone_else_99"))), reason: ReasonInvalidField, field: "identifiers"},
		{name: "text content type", format: fmtPlain, value: plain(), headers: ctype("text/plain"), reason: ReasonUnsupported, field: "content-type"},
		{name: "json in another charset", format: fmtPlain, value: plain(), headers: ctype("application/json; charset=iso-8859-1"), reason: ReasonUnsupported, field: "content-type"},
		{name: "unparseable content type", format: fmtPlain, value: plain(), headers: ctype(";;;"), reason: ReasonUnsupported, field: "content-type"},

		// CloudEvents structured mode: accepted.
		{name: "announced by content type", format: fmtStructured, value: structured(), headers: ctype("application/cloudevents+json"), want: wantEvent()},
		{name: "content type with charset", format: fmtStructured, value: structured(), headers: ctype("application/cloudevents+json; charset=utf-8"), want: wantEvent()},
		{name: "detected by specversion", format: fmtStructured, value: structured(), want: wantEvent()},
		{name: "detected by specversion under a json content type", format: fmtStructured, value: structured(), headers: ctype("application/json"), want: wantEvent()},
		{name: "data occurred_at wins over time", format: fmtStructured, value: structured("data", data("occurred_at", q("2025-02-28T08:00:00Z"))), want: wantEvent(at("2025-02-28T08:00:00Z"))},
		{name: "no time, data occurred_at", format: fmtStructured, value: structured("time", absent, "data", data("occurred_at", q("2025-02-28T08:00:00Z"))), want: wantEvent(at("2025-02-28T08:00:00Z"))},
		{name: "null time, data occurred_at", format: fmtStructured, value: structured("time", "null", "data", data("occurred_at", q("2025-02-28T08:00:00Z"))), want: wantEvent(at("2025-02-28T08:00:00Z"))},
		{name: "datacontenttype json", format: fmtStructured, value: structured("datacontenttype", q("application/json; charset=utf-8")), want: wantEvent()},
		{name: "extension attributes ignored", format: fmtStructured, value: structured("subject", q("account"), "traceparent", q("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), "dataschema", q("https://example.com/s.json")), want: wantEvent()},
		{name: "short type", format: fmtStructured, value: structured("type", q(TypeUserDeletedShort)), want: wantEvent()},
		{name: "custom accepted type", format: fmtStructured, value: structured("type", q("com.acme.user.erased")), opts: DecodeOptions{AcceptedTypes: []string{"com.acme.user.erased"}}, want: wantEvent()},
		{name: "data event_id equal to id", format: fmtStructured, value: structured("data", data("event_id", q(testEventID))), want: wantEvent()},
		{name: "data without identifiers", format: fmtStructured, value: structured("data", data("identifiers", absent)), want: wantEvent(noIdentifiers)},
		{name: "content type wins over ce headers", format: fmtStructured, value: structured(), headers: append(ctype("application/cloudevents+json"), Header{Key: "ce_type", Value: []byte("com.example.other")}), want: wantEvent()},

		// CloudEvents structured mode: rejected.
		{name: "oversized envelope", format: fmtStructured, value: structured(), headers: ctype("application/cloudevents+json"), opts: DecodeOptions{MaxBytes: 100}, reason: ReasonOversized, field: "value"},
		{name: "not JSON under the ce content type", format: fmtStructured, value: "specversion=1.0", headers: ctype("application/cloudevents+json"), reason: ReasonMalformed, field: "value"},
		{name: "tombstone under the ce content type", format: fmtStructured, value: "", headers: ctype("application/cloudevents+json"), reason: ReasonMalformed, field: "value"},
		{name: "data is a string", format: fmtStructured, value: structured("data", q(plain())), reason: ReasonMalformed, field: "data"},
		{name: "data is an array", format: fmtStructured, value: structured("data", "["+data()+"]"), reason: ReasonMalformed, field: "data"},
		{name: "specversion is a number", format: fmtStructured, value: structured("specversion", "1.0"), reason: ReasonMalformed, field: "specversion"},
		{name: "id is a number", format: fmtStructured, value: structured("id", "12345678901"), reason: ReasonMalformed, field: "id"},
		{name: "time is a number", format: fmtStructured, value: structured("time", "1740830400"), reason: ReasonMalformed, field: "time"},
		{name: "datacontenttype is a number", format: fmtStructured, value: structured("datacontenttype", "7"), reason: ReasonMalformed, field: "datacontenttype"},
		{name: "duplicate id", format: fmtStructured, value: structured("id", q(testEventID), "id", q("evt-other-99999")), reason: ReasonMalformed, field: "id"},
		{name: "duplicate user_id in data", format: fmtStructured, value: structured("data", data("user_id", q(testUserID), "user_id", q("usr_someone_else_99"))), reason: ReasonMalformed, field: "data.user_id"},
		{name: "attribute name differs only in case", format: fmtStructured, value: structured("id", absent, "ID", q(testEventID)), reason: ReasonMalformed, field: "id"},
		{name: "data member name differs only in case", format: fmtStructured, value: structured("data", data("user_id", absent, "User_Id", q(testUserID))), reason: ReasonMalformed, field: "data.user_id"},
		{name: "data.user_id is a number", format: fmtStructured, value: structured("data", data("user_id", "12345678901")), reason: ReasonMalformed, field: "data.user_id"},
		{name: "data.identifiers is a string", format: fmtStructured, value: structured("data", data("identifiers", q(testEmail))), reason: ReasonMalformed, field: "data.identifiers"},
		{name: "specversion absent under the ce content type", format: fmtStructured, value: structured("specversion", absent), headers: ctype("application/cloudevents+json"), reason: ReasonMissingField, field: "specversion"},
		{name: "specversion empty", format: fmtStructured, value: structured("specversion", `""`), reason: ReasonMissingField, field: "specversion"},
		{name: "specversion null", format: fmtStructured, value: structured("specversion", "null"), reason: ReasonMissingField, field: "specversion"},
		{name: "id absent", format: fmtStructured, value: structured("id", absent), reason: ReasonMissingField, field: "id"},
		{name: "id empty", format: fmtStructured, value: structured("id", `""`), reason: ReasonMissingField, field: "id"},
		{name: "source absent", format: fmtStructured, value: structured("source", absent), reason: ReasonMissingField, field: "source"},
		{name: "source empty", format: fmtStructured, value: structured("source", `""`), reason: ReasonMissingField, field: "source"},
		{name: "type absent", format: fmtStructured, value: structured("type", absent), reason: ReasonMissingField, field: "type"},
		{name: "data absent", format: fmtStructured, value: structured("data", absent), reason: ReasonMissingField, field: "data"},
		{name: "data null", format: fmtStructured, value: structured("data", "null"), reason: ReasonMissingField, field: "data"},
		{name: "data.user_id absent", format: fmtStructured, value: structured("data", data("user_id", absent)), reason: ReasonMissingField, field: "data.user_id"},
		{name: "no time and no data.occurred_at", format: fmtStructured, value: structured("time", absent), reason: ReasonMissingField, field: "data.occurred_at"},
		{name: "id too long", format: fmtStructured, value: structured("id", q(long)), reason: ReasonInvalidField, field: "id"},
		{name: "id with a control", format: fmtStructured, value: structured("id", q("evt-2f9c\t4b1a-0001")), reason: ReasonInvalidField, field: "id"},
		{name: "time not a time", format: fmtStructured, value: structured("time", q("2025-03-01 12:00:00")), reason: ReasonInvalidField, field: "time"},
		{name: "time zero", format: fmtStructured, value: structured("time", q("0001-01-01T00:00:00Z")), reason: ReasonInvalidField, field: "time"},
		{name: "time bad though data.occurred_at is good", format: fmtStructured, value: structured("time", q("soon"), "data", data("occurred_at", q(testTime))), reason: ReasonInvalidField, field: "time"},
		{name: "data.occurred_at not a time", format: fmtStructured, value: structured("data", data("occurred_at", q("last tuesday"))), reason: ReasonInvalidField, field: "data.occurred_at"},
		{name: "data.event_id differs from id", format: fmtStructured, value: structured("data", data("event_id", q("evt-other-99999"))), reason: ReasonInvalidField, field: "data.event_id"},
		{name: "data.user_id with whitespace", format: fmtStructured, value: structured("data", data("user_id", q(testUserID+"\u2003"))), reason: ReasonInvalidField, field: "data.user_id"},
		{name: "data.identifiers too many", format: fmtStructured, value: structured("data", data("identifiers", ids33)), reason: ReasonInvalidField, field: "data.identifiers"},
		{name: "data.identifiers user_id entry differs", format: fmtStructured, value: structured("data", data("identifiers", ident("user_id", q("usr_someone_else_99")))), reason: ReasonInvalidField, field: "data.identifiers"},
		{name: "specversion 0.3", format: fmtStructured, value: structured("specversion", q("0.3")), reason: ReasonUnsupported, field: "specversion"},
		{name: "foreign type", format: fmtStructured, value: structured("type", q("com.example.order.created")), reason: ReasonUnsupported, field: "type"},
		{name: "foreign type reported before bad data", format: fmtStructured, value: structured("type", q("com.example.order.created"), "data", q("opaque-payload")), reason: ReasonUnsupported, field: "type"},
		{name: "type differs in case", format: fmtStructured, value: structured("type", q("Com.Erasured.User.Deleted")), reason: ReasonUnsupported, field: "type"},
		{name: "default type not in a custom list", format: fmtStructured, value: structured(), opts: DecodeOptions{AcceptedTypes: []string{"com.acme.user.erased"}}, reason: ReasonUnsupported, field: "type"},
		{name: "datacontenttype xml", format: fmtStructured, value: structured("datacontenttype", q("application/xml")), reason: ReasonUnsupported, field: "datacontenttype"},
		{name: "data_base64", format: fmtStructured, value: structured("data", absent, "data_base64", q("eyJ1c2VyX2lkIjoidXNyIn0=")), reason: ReasonUnsupported, field: "data_base64"},
		{name: "batch content type", format: fmtStructured, value: "[" + structured() + "]", headers: ctype("application/cloudevents-batch+json"), reason: ReasonUnsupported, field: "content-type"},
		{name: "non-JSON event format", format: fmtStructured, value: structured(), headers: ctype("application/cloudevents+avro"), reason: ReasonUnsupported, field: "content-type"},

		// CloudEvents binary mode: accepted.
		{name: "binary", format: fmtBinary, value: data(), headers: binary(), want: wantEvent()},
		{name: "no content type", format: fmtBinary, value: data(), headers: binary("content-type", absent), want: wantEvent()},
		{name: "header names in other case", format: fmtBinary, value: data(), headers: binary("ce_id", absent, "CE_ID", testEventID, "content-type", absent, "Content-Type", "application/json"), want: wantEvent()},
		{name: "data occurred_at wins over ce_time", format: fmtBinary, value: data("occurred_at", q("2025-02-28T08:00:00Z")), headers: binary(), want: wantEvent(at("2025-02-28T08:00:00Z"))},
		{name: "no ce_time, data occurred_at", format: fmtBinary, value: data("occurred_at", q("2025-02-28T08:00:00Z")), headers: binary("ce_time", absent), want: wantEvent(at("2025-02-28T08:00:00Z"))},
		{name: "other ce headers ignored", format: fmtBinary, value: data(), headers: binary("ce_traceparent", "00-abc", "ce_subject", "account", "ce_subject", "twice"), want: wantEvent()},
		{name: "specversion in the value is just data", format: fmtBinary, value: data("specversion", q("0.3")), headers: binary(), want: wantEvent()},
		{name: "short type header", format: fmtBinary, value: data(), headers: binary("ce_type", TypeUserDeletedShort), want: wantEvent()},
		{name: "event_id in data equal to ce_id", format: fmtBinary, value: data("event_id", q(testEventID)), headers: binary(), want: wantEvent()},
		{name: "json content type with charset", format: fmtBinary, value: data(), headers: binary("content-type", "application/json; charset=utf-8"), want: wantEvent()},
		{name: "key differs from user_id", format: fmtBinary, key: []byte("partition-key-other"), value: data(), headers: binary(), want: wantEvent()},

		// CloudEvents binary mode: rejected.
		{name: "oversized data", format: fmtBinary, value: data(), headers: binary(), opts: DecodeOptions{MaxBytes: 50}, reason: ReasonOversized, field: "value"},
		{name: "tombstone with ce headers", format: fmtBinary, value: "", headers: binary(), reason: ReasonMalformed, field: "value"},
		{name: "data not an object", format: fmtBinary, value: `["usr_7f3a9c21d4"]`, headers: binary(), reason: ReasonMalformed, field: "value"},
		{name: "data not JSON", format: fmtBinary, value: "user_id=usr_7f3a9c21d4", headers: binary(), reason: ReasonMalformed, field: "value"},
		{name: "data not UTF-8", format: fmtBinary, value: data("user_id", "\"usr_\xc3\x28_7f3a9c\""), headers: binary(), reason: ReasonMalformed, field: "value"},
		{name: "repeated ce_id", format: fmtBinary, value: data(), headers: binary("ce_id", testEventID, "ce_id", "evt-other-99999"), reason: ReasonMalformed, field: "ce_id"},
		{name: "repeated ce_type in other case", format: fmtBinary, value: data(), headers: binary("CE_TYPE", TypeUserDeleted), reason: ReasonMalformed, field: "ce_type"},
		{name: "repeated content-type", format: fmtBinary, value: data(), headers: binary("Content-Type", "application/json"), reason: ReasonMalformed, field: "content-type"},
		{name: "user_id a number", format: fmtBinary, value: data("user_id", "12345678901"), headers: binary(), reason: ReasonMalformed, field: "user_id"},
		{name: "duplicate user_id", format: fmtBinary, value: data("user_id", q(testUserID), "user_id", q("usr_someone_else_99")), headers: binary(), reason: ReasonMalformed, field: "user_id"},
		{name: "user_id differs only in case", format: fmtBinary, value: data("user_id", absent, "USER_ID", q(testUserID)), headers: binary(), reason: ReasonMalformed, field: "user_id"},
		{name: "ce_specversion empty", format: fmtBinary, value: data(), headers: binary("ce_specversion", ""), reason: ReasonMissingField, field: "ce_specversion"},
		{name: "ce_specversion absent beside other ce headers", format: fmtBinary, value: data(), headers: binary("ce_specversion", absent), reason: ReasonMissingField, field: "ce_specversion"},
		{name: "ce_id absent", format: fmtBinary, value: data(), headers: binary("ce_id", absent), reason: ReasonMissingField, field: "ce_id"},
		{name: "ce_id empty", format: fmtBinary, value: data(), headers: binary("ce_id", ""), reason: ReasonMissingField, field: "ce_id"},
		{name: "ce_source absent", format: fmtBinary, value: data(), headers: binary("ce_source", absent), reason: ReasonMissingField, field: "ce_source"},
		{name: "ce_type absent", format: fmtBinary, value: data(), headers: binary("ce_type", absent), reason: ReasonMissingField, field: "ce_type"},
		{name: "user_id absent", format: fmtBinary, value: data("user_id", absent), headers: binary(), reason: ReasonMissingField, field: "user_id"},
		{name: "no ce_time and no occurred_at", format: fmtBinary, value: data(), headers: binary("ce_time", absent), reason: ReasonMissingField, field: "occurred_at"},
		{name: "ce_id not UTF-8", format: fmtBinary, value: data(), headers: binary("ce_id", "evt-\xff\xfe-2f9c4b1a"), reason: ReasonInvalidField, field: "ce_id"},
		{name: "ce_id with a control", format: fmtBinary, value: data(), headers: binary("ce_id", "evt-2f9c\r\n4b1a-0001"), reason: ReasonInvalidField, field: "ce_id"},
		{name: "ce_id too long", format: fmtBinary, value: data(), headers: binary("ce_id", long), reason: ReasonInvalidField, field: "ce_id"},
		{name: "ce_time not a time", format: fmtBinary, value: data(), headers: binary("ce_time", "2025-13-01T12:00:00Z"), reason: ReasonInvalidField, field: "ce_time"},
		{name: "ce_time with a one-digit hour before year 0000", format: fmtBinary, value: data(), headers: binary("ce_time", "0000-01-01T0:00:00+01:00"), reason: ReasonInvalidField, field: "ce_time"},
		{name: "ce_time empty", format: fmtBinary, value: data(), headers: binary("ce_time", ""), reason: ReasonInvalidField, field: "ce_time"},
		{name: "event_id in data differs from ce_id", format: fmtBinary, value: data("event_id", q("evt-other-99999")), headers: binary(), reason: ReasonInvalidField, field: "event_id"},
		{name: "bad identifier name", format: fmtBinary, value: data("identifiers", ident("Phone Number", q("+14155550100"))), headers: binary(), reason: ReasonInvalidField, field: "identifiers"},
		{name: "ce_specversion 0.3", format: fmtBinary, value: data(), headers: binary("ce_specversion", "0.3"), reason: ReasonUnsupported, field: "ce_specversion"},
		{name: "foreign ce_type", format: fmtBinary, value: data(), headers: binary("ce_type", "com.example.order.created"), reason: ReasonUnsupported, field: "ce_type"},
		{name: "foreign ce_type reported before bad data", format: fmtBinary, value: "\x00\x01opaque", headers: binary("ce_type", "com.example.order.created"), reason: ReasonUnsupported, field: "ce_type"},
		{name: "text content type", format: fmtBinary, value: data(), headers: binary("content-type", "text/plain"), reason: ReasonUnsupported, field: "content-type"},
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases() {
		t.Run(tc.format+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			value := tc.valueBytes()
			ev, err := Decode(tc.key, value, tc.headers, tc.opts)
			checkDecodeResult(t, tc.key, value, tc.headers, tc.opts, ev, err)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if !eventsEqual(ev, tc.want) {
					t.Fatalf("Decode = %+v, want %+v", ev, tc.want)
				}
				return
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode error = %v, want a *DecodeError", err)
			}
			if de.Reason != tc.reason || de.Field != tc.field {
				t.Fatalf("Decode error = %v, want reason %q field %q", err, tc.reason, tc.field)
			}
		})
	}
}

// TestDecodeCasesCover checks that the table rejects every format for every
// reason, and accepts each format too.
func TestDecodeCasesCover(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tc := range decodeCases() {
		seen[tc.format+"/"+string(tc.reason)] = true
	}
	for _, f := range []string{fmtPlain, fmtStructured, fmtBinary} {
		for _, r := range []Reason{"", ReasonOversized, ReasonMalformed, ReasonMissingField, ReasonInvalidField, ReasonUnsupported} {
			if !seen[f+"/"+string(r)] {
				t.Errorf("no %s case with reason %q", f, r)
			}
		}
	}
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	_, err := Decode(nil, []byte(plain("user_id", absent)), nil, DecodeOptions{})
	wrapped := fmt.Errorf("partition 3 offset 17: %w", err)
	var de *DecodeError
	if !errors.As(wrapped, &de) {
		t.Fatalf("errors.As(%v) failed", wrapped)
	}
	if !errors.Is(wrapped, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", wrapped)
	}
	if got, want := err.Error(), "invalid event: missing_field: user_id: required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&DecodeError{Reason: ReasonMalformed}).Error(), "invalid event: malformed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Is(errors.New("invalid event"), ErrInvalid) {
		t.Error("an unrelated error matches ErrInvalid")
	}
	// Decode must not return a typed nil inside a non-nil error.
	if _, err := Decode(nil, []byte(plain()), nil, DecodeOptions{}); err != nil {
		t.Fatalf("Decode: %v", err)
	}
}

func TestDefaultTypes(t *testing.T) {
	t.Parallel()
	d := DefaultTypes()
	if !reflect.DeepEqual(d, []string{TypeUserDeleted, TypeUserDeletedShort}) {
		t.Fatalf("DefaultTypes() = %q", d)
	}
	d[0] = "changed"
	if DefaultTypes()[0] != TypeUserDeleted {
		t.Fatal("DefaultTypes shares its slice between callers")
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	ev := &UserDeleted{
		EventID:     testEventID,
		UserID:      testUserID,
		OccurredAt:  time.Date(2025, 3, 1, 13, 0, 0, 500_000_000, time.FixedZone("CET", 3600)),
		Identifiers: map[string]string{"plivo_profile_uuid": testPlivo, "email": testEmail},
	}
	got, err := Encode(ev)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	want := `{"event_id":"evt-2f9c4b1a-0001","user_id":"usr_7f3a9c21d4","occurred_at":"2025-03-01T12:00:00.5Z",` +
		`"identifiers":{"email":"ada.lovelace@example.com","plivo_profile_uuid":"2f6c3f1e-0b1a-4c9e-9a55-1f0e7d4c2b11"}}`
	if string(got) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", got, want)
	}
	noIDs := *ev
	noIDs.Identifiers = map[string]string{}
	got, err = Encode(&noIDs)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if strings.Contains(string(got), "identifiers") {
		t.Errorf("Encode wrote empty identifiers: %s", got)
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	ok := func() *UserDeleted { return wantEvent() }
	with := func(f func(*UserDeleted)) *UserDeleted { ev := ok(); f(ev); return ev }
	tooMany := map[string]string{}
	for i := range MaxIdentifiers + 1 {
		tooMany[fmt.Sprintf("id_%02d", i)] = "value-0000000"
	}
	for _, tc := range []struct {
		name   string
		ev     *UserDeleted
		reason Reason
		field  string
	}{
		{"nil", nil, ReasonMalformed, "value"},
		{"no event_id", with(func(ev *UserDeleted) { ev.EventID = "" }), ReasonMissingField, "event_id"},
		{"no user_id", with(func(ev *UserDeleted) { ev.UserID = "" }), ReasonMissingField, "user_id"},
		{"zero time", with(func(ev *UserDeleted) { ev.OccurredAt = time.Time{} }), ReasonMissingField, "occurred_at"},
		{"year 10000", with(func(ev *UserDeleted) { ev.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), ReasonInvalidField, "occurred_at"},
		{"negative year", with(func(ev *UserDeleted) { ev.OccurredAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }), ReasonInvalidField, "occurred_at"},
		{"user_id invalid UTF-8", with(func(ev *UserDeleted) { ev.UserID = "usr_\xff_7f3a9c" }), ReasonInvalidField, "user_id"},
		{"event_id too long", with(func(ev *UserDeleted) { ev.EventID = strings.Repeat("e", MaxIDBytes+1) }), ReasonInvalidField, "event_id"},
		{"too many identifiers", with(func(ev *UserDeleted) { ev.Identifiers = tooMany }), ReasonInvalidField, "identifiers"},
		{"bad identifier name", with(func(ev *UserDeleted) { ev.Identifiers = map[string]string{"E-Mail": testEmail} }), ReasonInvalidField, "identifiers"},
		{"empty identifier value", with(func(ev *UserDeleted) { ev.Identifiers = map[string]string{"email": ""} }), ReasonInvalidField, "identifiers"},
		{"user_id entry differs", with(func(ev *UserDeleted) { ev.Identifiers = map[string]string{"user_id": "usr_someone_else_99"} }), ReasonInvalidField, "identifiers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := Encode(tc.ev)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Encode = %s, %v; want a *DecodeError", b, err)
			}
			if de.Reason != tc.reason || de.Field != tc.field {
				t.Fatalf("Encode error = %v, want reason %q field %q", err, tc.reason, tc.field)
			}
			if b != nil {
				t.Errorf("Encode returned bytes with an error")
			}
			var inputs [][]byte
			if tc.ev != nil {
				inputs = eventStrings(tc.ev)
			}
			checkErrorText(t, de, inputs...)
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	_, map32 := manyIdentifiers(MaxIdentifiers, MaxIdentifierNameBytes, MaxIdentifierValueBytes)
	for _, ev := range []*UserDeleted{
		wantEvent(),
		wantEvent(noIdentifiers),
		{EventID: "e", UserID: "u", OccurredAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{EventID: "<evt & \"quoted\">", UserID: "usr/with/slashes?and=query#frag", OccurredAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)},
		{EventID: "évènement-🙂", UserID: "用户-42 inner space", OccurredAt: time.Unix(1740830400, 7).In(time.FixedZone("x", -5*3600)), Identifiers: map[string]string{"user_id": "用户-42 inner space", "phone": "+1 415 555 0100"}},
		{EventID: strings.Repeat("é", MaxIDBytes/2), UserID: strings.Repeat("u", MaxIDBytes), OccurredAt: time.Now(), Identifiers: map32},
	} {
		b, err := Encode(ev)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", ev, err)
		}
		for _, h := range [][]Header{nil, ctype("application/json")} {
			got, err := Decode([]byte(ev.UserID), b, h, DecodeOptions{})
			if err != nil {
				t.Fatalf("Decode(Encode(%+v)): %v", ev, err)
			}
			if !eventsEqual(got, ev) {
				t.Fatalf("Decode(Encode(ev)) = %+v, want %+v", got, ev)
			}
			if got.OccurredAt.Location() != time.UTC {
				t.Errorf("OccurredAt in %v, want UTC", got.OccurredAt.Location())
			}
		}
	}
}

// eventsEqual compares events as Decode(Encode(ev)) should preserve them:
// the same instant, and no identifiers the same as empty identifiers.
func eventsEqual(a, b *UserDeleted) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Identifiers) != 0 || len(b.Identifiers) != 0 {
		if !reflect.DeepEqual(a.Identifiers, b.Identifiers) {
			return false
		}
	}
	return a.EventID == b.EventID && a.UserID == b.UserID && a.OccurredAt.Equal(b.OccurredAt)
}

// checkDecodeResult asserts what holds for every Decode call, whatever the
// input: success means an event valid by the rules (checked independently
// of the decoder) that survives a round trip; failure means a *DecodeError
// with a known reason and field whose text carries no input.
func checkDecodeResult(t *testing.T, key, value []byte, headers []Header, opts DecodeOptions, ev *UserDeleted, err error) {
	t.Helper()
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if err == nil {
		if ev == nil {
			t.Fatal("Decode returned neither an event nor an error")
		}
		if p := eventProblem(ev); p != "" {
			t.Fatalf("Decode accepted an event that breaks the rules: %s", p)
		}
		if ev.OccurredAt.Location() != time.UTC {
			t.Fatalf("OccurredAt in %v, want UTC", ev.OccurredAt.Location())
		}
		if len(value) == 0 || len(value) > limit {
			t.Fatalf("Decode accepted a value of %d bytes (limit %d)", len(value), limit)
		}
		b, err := Encode(ev)
		if err != nil {
			t.Fatalf("Encode of a decoded event: %v", err)
		}
		back, err := Decode(nil, b, nil, DecodeOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("Decode(Encode(ev)): %v", err)
		}
		if !eventsEqual(back, ev) {
			t.Fatalf("Decode(Encode(ev)) = %+v, want %+v", back, ev)
		}
		return
	}
	if ev != nil {
		t.Fatalf("Decode returned an event with error %v", err)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Decode error %T is not a *DecodeError", err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatal("Decode error does not match ErrInvalid")
	}
	switch {
	case len(value) == 0 && de.Reason != ReasonMalformed:
		t.Fatalf("empty value rejected as %s", de.Reason)
	case len(value) > limit && de.Reason != ReasonOversized:
		t.Fatalf("value of %d bytes (limit %d) rejected as %s", len(value), limit, de.Reason)
	case len(value) <= limit && de.Reason == ReasonOversized:
		t.Fatalf("value of %d bytes (limit %d) rejected as oversized", len(value), limit)
	}
	inputs := [][]byte{key, value}
	for _, h := range headers {
		inputs = append(inputs, []byte(h.Key), h.Value)
	}
	inputs = append(inputs, jsonStrings(value)...)
	checkErrorText(t, de, inputs...)
}

// eventProblem restates the validation rules, independently of decode.go,
// and says which one ev breaks ("" if none).
func eventProblem(ev *UserDeleted) string {
	if p := textRule(ev.EventID, MaxIDBytes); p != "" {
		return "event_id " + p
	}
	if p := textRule(ev.UserID, MaxIDBytes); p != "" {
		return "user_id " + p
	}
	if ev.OccurredAt.IsZero() {
		return "occurred_at is zero"
	}
	if y := ev.OccurredAt.UTC().Year(); y < 0 || y > 9999 {
		return "occurred_at has no RFC 3339 form"
	}
	if len(ev.Identifiers) > 32 {
		return "more than 32 identifiers"
	}
	nameRE := regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	for name, v := range ev.Identifiers {
		if !nameRE.MatchString(name) {
			return "bad identifier name"
		}
		if p := textRule(v, 512); p != "" {
			return "identifier value " + p
		}
	}
	if v, ok := ev.Identifiers["user_id"]; ok && v != ev.UserID {
		return "user_id entry differs"
	}
	return ""
}

func textRule(s string, limit int) string {
	isSpace := func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }
	switch {
	case s == "":
		return "empty"
	case len(s) > limit:
		return "too long"
	case !utf8.ValidString(s):
		return "not UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "has a control character"
	case strings.ContainsRune(s, utf8.RuneError):
		return "has U+FFFD"
	case strings.TrimFunc(s, isSpace) != s:
		return "has edge whitespace"
	}
	return ""
}

// eventStrings lists an event's values, for the leak check.
func eventStrings(ev *UserDeleted) [][]byte {
	out := [][]byte{[]byte(ev.EventID), []byte(ev.UserID)}
	for n, v := range ev.Identifiers {
		out = append(out, []byte(n), []byte(v))
	}
	return out
}

// jsonStrings returns every string (member names and values) a lenient
// reader finds in value before its first syntax error, decoded, so that a
// value written with escapes is checked as well as its raw bytes.
func jsonStrings(value []byte) [][]byte {
	dec := json.NewDecoder(strings.NewReader(string(value)))
	var out [][]byte
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok {
			out = append(out, []byte(s))
		}
	}
}

// The leak check.
//
// Asserting "the error text does not contain the user_id" is not true as it
// stands: a user_id of "occurred_at" or "required" appears in honest error
// texts. So the check is in two parts, which together are both true and
// sharp:
//
//  1. The error text is made only of a closed vocabulary: the words below,
//     digit runs of at most 6 digits (sizes and positions) and a few
//     punctuation characters. A text that copied any other input would
//     fail here.
//  2. No 8-byte window of any input (key, value, header names and values,
//     every decoded JSON string) appears in the error text, unless the
//     window is itself "vocabulary-shaped": could be cut out of a text made
//     by part 1's rules. Any window that does appear in a text passing part
//     1 is vocabulary-shaped, so this never fails on an honest decoder; a
//     value leaking into a text fails it unless the value happens to read
//     like an error message.
const leakWindow = 8

func errorVocabulary() map[string]bool {
	words := strings.Fields(`
		invalid event oversized malformed missing_field invalid_field unsupported
		value event_id user_id occurred_at identifiers specversion id source type time
		datacontenttype data data_base64 content-type ce_specversion ce_id ce_source ce_type ce_time
		ce_ headers header bytes limit empty a an the tombstone batch mode is not supported
		only JSON format must be application json or cloudevents+json required with other
		accepted binary differs from envelope when has no object string number array boolean
		null nothing entries entry valid name lowercase letters digits and underscores
		UTF-8 contains control character U+FFFD replacement for input leading trailing whitespace
		RFC zero media charset utf-8 repeated member repeats earlier it in case error at byte
		truncated after nil outside years to UTC`)
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

const errorPunct = " :,()/."

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '+' || c == '-'
}

// words splits s at every byte that is not a word byte, keeping empty
// words, so the first and last words are the (possibly partial) ends.
func words(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func isDigits(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func onlyAllowedBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) && !strings.ContainsRune(errorPunct, rune(s[i])) {
			return false
		}
	}
	return true
}

// vocabularyProblem checks part 1 for text.
func vocabularyProblem(text string, vocab map[string]bool) string {
	if !onlyAllowedBytes(text) {
		return "a byte outside words and " + errorPunct
	}
	for _, w := range words(text) {
		if w != "" && !vocab[w] && !isDigits(w) {
			return fmt.Sprintf("word %q is not in the error vocabulary", w)
		}
	}
	return ""
}

// vocabularyShaped reports whether w could be cut out of a text passing
// part 1: its inner words whole vocabulary words or digit runs, its first
// word the end of one, its last word the start of one.
func vocabularyShaped(w string, vocab map[string]bool) bool {
	if !onlyAllowedBytes(w) {
		return false
	}
	ws := words(w)
	fits := func(part string, match func(word, part string) bool) bool {
		if part == "" || isDigits(part) {
			return true
		}
		for v := range vocab {
			if match(v, part) {
				return true
			}
		}
		return false
	}
	if len(ws) == 1 {
		return fits(ws[0], strings.Contains)
	}
	if !fits(ws[0], strings.HasSuffix) || !fits(ws[len(ws)-1], strings.HasPrefix) {
		return false
	}
	for _, inner := range ws[1 : len(ws)-1] {
		if inner != "" && !vocab[inner] && !isDigits(inner) {
			return false
		}
	}
	return true
}

// knownFields is every DecodeError.Field the decoder may set.
func knownFields() map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(`value content-type ce_specversion ce_id ce_source ce_type ce_time
		specversion id source type time datacontenttype data data_base64
		event_id user_id occurred_at identifiers
		data.event_id data.user_id data.occurred_at data.identifiers`) {
		m[f] = true
	}
	return m
}

func checkErrorText(t *testing.T, de *DecodeError, inputs ...[]byte) {
	t.Helper()
	switch de.Reason {
	case ReasonOversized, ReasonMalformed, ReasonMissingField, ReasonInvalidField, ReasonUnsupported:
	default:
		t.Fatalf("unknown reason %q", de.Reason)
	}
	if !knownFields()[de.Field] {
		t.Fatalf("unknown field %q", de.Field)
	}
	text := de.Error()
	if want := "invalid event: " + string(de.Reason) + ": " + de.Field + ": " + de.Msg; text != want {
		t.Fatalf("Error() = %q, want %q", text, want)
	}
	vocab := errorVocabulary()
	if p := vocabularyProblem(text, vocab); p != "" {
		t.Fatalf("error text %q: %s", text, p)
	}
	windows := map[string]bool{}
	for i := 0; i+leakWindow <= len(text); i++ {
		windows[text[i:i+leakWindow]] = true
	}
	for _, in := range inputs {
		for i := 0; i+leakWindow <= len(in); i++ {
			w := in[i : i+leakWindow]
			if windows[string(w)] && !vocabularyShaped(string(w), vocab) {
				t.Fatalf("error text %q contains input %q", text, w)
			}
		}
	}
}

// fuzzHeaders turns the fuzzer's selector byte and attribute string into
// headers and options: the low 3 bits pick a header set, bit 6 a custom
// accepted type, bit 7 a small size limit.
func fuzzHeaders(sel byte, attr string) ([]Header, DecodeOptions) {
	var opts DecodeOptions
	if sel&0x80 != 0 {
		opts.MaxBytes = 256
	}
	if sel&0x40 != 0 {
		opts.AcceptedTypes = []string{"com.acme.user.erased"}
	}
	switch sel & 7 {
	case 0:
		return nil, opts
	case 1:
		return ctype("application/cloudevents+json"), opts
	case 2:
		return binary(), opts
	case 3:
		return binary("ce_id", attr), opts
	case 4:
		return binary("ce_time", attr), opts
	case 5:
		return ctype(attr), opts
	case 6:
		return binary("ce_type", attr), opts
	default:
		// attr is a header list: "name=value" lines.
		var hs []Header
		for _, line := range strings.Split(attr, "\n") {
			k, v, _ := strings.Cut(line, "=")
			hs = append(hs, Header{Key: k, Value: []byte(v)})
		}
		return hs, opts
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(byte(0), []byte(plain()), "")
	f.Add(byte(0), []byte(plain("identifiers", `{"user_id":"usr_7f3a9c21d4","x":"\ud800"}`)), "")
	f.Add(byte(0), []byte(structured()), "")
	f.Add(byte(1), []byte(structured("time", absent, "data", data("occurred_at", q(testTime)))), "")
	f.Add(byte(2), []byte(data()), "")
	f.Add(byte(2), []byte(data("occurred_at", q("2025-02-28T08:00:00.5+05:30"), "event_id", q(testEventID))), "")
	f.Add(byte(3), []byte(data()), "evt-2f9c4b1a-0002")
	f.Add(byte(4), []byte(data()), "2025-03-01T12:00:00.123+01:00")
	f.Add(byte(5), []byte(structured()), "application/cloudevents+json; charset=utf-8")
	f.Add(byte(6), []byte(data()), TypeUserDeletedShort)
	f.Add(byte(7), []byte(data()), "ce_specversion=1.0\nce_id=evt-1\nce_source=/a\nce_type=user-deleted\nce_time="+testTime)
	f.Add(byte(0x46), []byte(data()), "com.acme.user.erased")
	f.Add(byte(0x80), []byte(plain()), "")
	f.Add(byte(0), []byte(`{"event_id":"occurred_at","user_id":"identifiers","occurred_at":"required"}`), "")
	f.Fuzz(func(t *testing.T, sel byte, value []byte, attr string) {
		headers, opts := fuzzHeaders(sel, attr)
		key := []byte(attr)
		ev, err := Decode(key, value, headers, opts)
		checkDecodeResult(t, key, value, headers, opts, ev, err)
	})
}

// FuzzRoundTrip checks Encode against the rules: it accepts exactly the
// valid events, and Decode reads back what it wrote. idents is
// "name=value" lines.
func FuzzRoundTrip(f *testing.F) {
	f.Add(testEventID, testUserID, int64(1740830400), int64(0), "email="+testEmail+"\nplivo_profile_uuid="+testPlivo)
	f.Add("e", "u", int64(-62135596800), int64(1), "")
	f.Add(" e", "u\u00a0", int64(253402300800), int64(0), "user_id=other")
	f.Add("évènement", "用户", int64(0), int64(-1), "Bad=x\nok=\x7f")
	f.Fuzz(func(t *testing.T, eventID, userID string, sec, nsec int64, idents string) {
		ev := &UserDeleted{EventID: eventID, UserID: userID, OccurredAt: time.Unix(sec, nsec)}
		if idents != "" {
			ev.Identifiers = map[string]string{}
			for _, line := range strings.Split(idents, "\n") {
				k, v, _ := strings.Cut(line, "=")
				ev.Identifiers[k] = v
			}
		}
		problem := eventProblem(ev)
		b, err := Encode(ev)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Encode error %T is not a *DecodeError", err)
			}
			if problem == "" {
				t.Fatalf("Encode rejected a valid event: %v", err)
			}
			checkErrorText(t, de, eventStrings(ev)...)
			return
		}
		if problem != "" {
			t.Fatalf("Encode accepted an event that breaks the rules: %s", problem)
		}
		back, err := Decode(nil, b, nil, DecodeOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("Decode(Encode(ev)): %v", err)
		}
		if !eventsEqual(back, ev) {
			t.Fatalf("Decode(Encode(ev)) = %+v, want %+v", back, ev)
		}
	})
}

// typicalIdentifiers is what a typical event carries: four vendors' ids.
func typicalIdentifiers() string {
	return object([]pair{
		{"plivo_profile_uuid", q(testPlivo)},
		{"email", q(testEmail)},
		{"clevertap_identity", q("ct-7f3a9c21d4e5b6a7")},
		{"phone", q("+14155550100")},
	})
}

// typicalEvent is a ~300-byte plain event: ids, a time with milliseconds
// and four identifiers.
func typicalEvent() string {
	return plain("occurred_at", q("2025-03-01T12:00:00.123Z"), "identifiers", typicalIdentifiers())
}

func BenchmarkDecode(b *testing.B) {
	typical := typicalEvent()
	for _, bc := range []struct {
		name    string
		value   string
		headers []Header
	}{
		{"plain", typical, nil},
		{"structured", structured("data", data("identifiers", typicalIdentifiers())), ctype("application/cloudevents+json")},
		{"binary", data("identifiers", typicalIdentifiers()), binary()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			value := []byte(bc.value)
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(nil, value, bc.headers, DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestTypicalEventSize(t *testing.T) {
	t.Parallel()
	if n := len(typicalEvent()); n < 270 || n > 330 {
		t.Fatalf("typical event is %d bytes, want about 300", n)
	}
}

package dlq

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestValidVendorName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"plivo", "webex", "exotel", "clevertap", "a", "a-b_c9", strings.Repeat("x", 32)} {
		if !ValidVendorName(ok) {
			t.Errorf("ValidVendorName(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "Plivo", "NONE", "plivo;webex", "plivo webex", " ", " plivo", "plivo,webex", strings.Repeat("x", 33), "plívo", "a/b", "a\nb"} {
		if ValidVendorName(bad) {
			t.Errorf("ValidVendorName(%q) = true", bad)
		}
	}
}

func TestParseOnlyVendors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"plivo", []string{"plivo"}, true},
		{"clevertap,webex", []string{"clevertap", "webex"}, true},
		{strings.TrimSuffix(strings.Repeat("v,", MaxRestrictedVendors), ","), nil, false}, // repeated
		{"", nil, false},
		{" ", nil, false},
		{"webex, plivo", nil, false},
		{"webex,", nil, false},
		{"webex,webex", nil, false},
		{"Plivo", nil, false},
		{"plivo;webex", nil, false},
		{strings.Repeat("p", 33), nil, false},
	}
	many := make([]string, MaxRestrictedVendors+1)
	for i := range many {
		many[i] = "v" + strings.Repeat("x", i)
	}
	tests = append(tests,
		struct {
			in   string
			want []string
			ok   bool
		}{strings.Join(many[:MaxRestrictedVendors], ","), many[:MaxRestrictedVendors], true},
		struct {
			in   string
			want []string
			ok   bool
		}{strings.Join(many, ","), nil, false},
	)
	for _, tc := range tests {
		got, ok := ParseOnlyVendors(tc.in)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOnlyVendors(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// signedRecord returns a replayed record restricted to vendors, signed
// with k as replay signs it.
func signedRecord(k *Keyring, eventID string, count int, vendors ...string) kafka.Message {
	m := kafka.Message{Key: []byte("user-1"), Value: []byte(`{"event_id":"` + eventID + `"}`)}
	r := Restriction{EventID: eventID, ReplayCount: count, Vendors: vendors, Key: m.Key, Value: m.Value}
	m.Headers = []kafka.Header{
		{Key: "traceparent", Value: []byte("tp")},
		{Key: HeaderOnlyVendors, Value: []byte(strings.Join(vendors, ","))},
		{Key: HeaderReplayCount, Value: []byte(itoa(count))},
		{Key: HeaderOnlyVendorsSignature, Value: []byte(k.Sign(&r))},
	}
	return m
}

func itoa(n int) string { return strconv.Itoa(n) }

// set replaces (or appends) header key's value.
func set(m kafka.Message, key, value string) kafka.Message {
	hs := append([]kafka.Header(nil), m.Headers...)
	for i := range hs {
		if hs[i].Key == key {
			hs[i].Value = []byte(value)
			m.Headers = hs
			return m
		}
	}
	m.Headers = append(hs, kafka.Header{Key: key, Value: []byte(value)})
	return m
}

func without(m kafka.Message, key string) kafka.Message {
	var hs []kafka.Header
	for _, h := range m.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	m.Headers = hs
	return m
}

func TestCheckRestriction(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	old := []byte("old-key-old-key-old-key-old-key-")
	k := NewKeyring(key, old)
	good := signedRecord(k, "e-1", 1, "webex", "plivo")
	byOld := signedRecord(NewKeyring(old), "e-1", 1, "webex")
	other := signedRecord(NewKeyring([]byte("another-key-another-key-another-")), "e-1", 1, "webex")
	sig, _ := Header(good.Headers, HeaderOnlyVendorsSignature)

	tests := []struct {
		name    string
		msg     kafka.Message
		eventID string
		keys    *Keyring
		want    []string
		rej     Rejection
	}{
		{"no restriction", kafka.Message{Value: []byte("{}")}, "e-1", k, nil, ""},
		{"signed", good, "e-1", k, []string{"webex", "plivo"}, ""},
		{"signed with the previous key", byOld, "e-1", k, []string{"webex"}, ""},
		{"no key here", good, "e-1", nil, nil, RejectNoKey},
		{"unsigned", without(good, HeaderOnlyVendorsSignature), "e-1", k, nil, RejectUnsigned},
		{"forged", set(good, HeaderOnlyVendorsSignature, "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "e-1", k, nil, RejectBadSignature},
		{"not base64", set(good, HeaderOnlyVendorsSignature, "v1.!!"), "e-1", k, nil, RejectBadSignature},
		{"unknown version", set(good, HeaderOnlyVendorsSignature, "v2."+strings.TrimPrefix(sig, "v1.")), "e-1", k, nil, RejectBadSignature},
		{"wrong key", other, "e-1", k, nil, RejectBadSignature},
		{"tampered vendor list", set(good, HeaderOnlyVendors, "webex"), "e-1", k, nil, RejectBadSignature},
		{"reordered vendor list", set(good, HeaderOnlyVendors, "plivo,webex"), "e-1", k, nil, RejectBadSignature},
		{"tampered count", set(good, HeaderReplayCount, "0"), "e-1", k, nil, RejectBadSignature},
		{"count dropped", without(good, HeaderReplayCount), "e-1", k, nil, RejectBadSignature},
		{"count not canonical", set(good, HeaderReplayCount, "01"), "e-1", k, nil, RejectMalformed},
		{"another event", good, "e-2", k, nil, RejectBadSignature},
		{"another value", func() kafka.Message { m := good; m.Value = []byte(`{"event_id":"e-1","x":1}`); return m }(), "e-1", k, nil, RejectBadSignature},
		{"another key", func() kafka.Message { m := good; m.Key = []byte("user-2"); return m }(), "e-1", k, nil, RejectBadSignature},
		{"header given twice", func() kafka.Message {
			m := good
			m.Headers = append(append([]kafka.Header(nil), m.Headers...), kafka.Header{Key: HeaderOnlyVendors, Value: []byte("webex")})
			return m
		}(), "e-1", k, nil, RejectMalformed},
		{"malformed names, signed or not", set(good, HeaderOnlyVendors, "Plivo"), "e-1", k, nil, RejectMalformed},
	}
	for _, tc := range tests {
		got, rej := CheckRestriction(tc.msg, tc.eventID, tc.keys)
		if !reflect.DeepEqual(got, tc.want) || rej != tc.rej {
			t.Errorf("%s: CheckRestriction = %q, %q; want %q, %q", tc.name, got, rej, tc.want, tc.rej)
		}
	}
}

// TestRestrictionEncodingIsUnambiguous: restrictions that would be equal
// if their fields were simply concatenated sign differently.
func TestRestrictionEncodingIsUnambiguous(t *testing.T) {
	t.Parallel()
	k := NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	rs := []Restriction{
		{EventID: "e", Vendors: []string{"ab", "c"}},
		{EventID: "e", Vendors: []string{"a", "bc"}},
		{EventID: "e", Vendors: []string{"abc"}},
		{EventID: "ea", Vendors: []string{"bc"}},
		{EventID: "e", Vendors: []string{"abc"}, Key: []byte("k")},
		{EventID: "e", Vendors: []string{"abc"}, Value: []byte("k")},
		{EventID: "e", Vendors: []string{"abc"}, ReplayCount: 1},
	}
	seen := map[string]int{}
	for i := range rs {
		s := k.Sign(&rs[i])
		if j, ok := seen[s]; ok {
			t.Errorf("restrictions %d and %d sign alike", j, i)
		}
		seen[s] = i
		if !k.Verify(&rs[i], s) {
			t.Errorf("restriction %d does not verify its own signature", i)
		}
	}
	var nilKeys *Keyring
	if nilKeys.Sign(&rs[0]) != "" || nilKeys.Verify(&rs[0], "v1.x") || NewKeyring(nil) != nil {
		t.Error("a keyring without a key signs or verifies")
	}
}

// FuzzCheckRestriction: whatever the headers, a restriction is honoured
// only with a valid signature, and then names only valid vendors.
func FuzzCheckRestriction(f *testing.F) {
	k := NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	f.Add("webex", "1", "v1.AAAA", "e-1")
	f.Add("Plivo", "0", "", "e")
	f.Add("plivo,,webex", "x", "v1.", "")
	good := signedRecord(k, "e-1", 1, "webex")
	sig, _ := Header(good.Headers, HeaderOnlyVendorsSignature)
	f.Add("webex", "1", sig, "e-1")
	f.Fuzz(func(t *testing.T, only, count, sig, eventID string) {
		m := kafka.Message{Key: good.Key, Value: good.Value, Headers: []kafka.Header{
			{Key: HeaderOnlyVendors, Value: []byte(only)},
			{Key: HeaderReplayCount, Value: []byte(count)},
			{Key: HeaderOnlyVendorsSignature, Value: []byte(sig)},
		}}
		vs, rej := CheckRestriction(m, eventID, k)
		if rej == "" {
			if len(vs) == 0 || len(vs) > MaxRestrictedVendors {
				t.Fatalf("honoured %q", vs)
			}
			for _, v := range vs {
				if !ValidVendorName(v) {
					t.Fatalf("honoured invalid name %q", v)
				}
			}
			if only != "webex" || count != "1" || eventID != "e-1" {
				t.Fatalf("honoured a restriction replay did not sign: %q %q %q", only, count, eventID)
			}
		} else if vs != nil {
			t.Fatalf("rejected (%s) but returned %q", rej, vs)
		}
	})
}

func TestKeyringPrintsNoKey(t *testing.T) {
	t.Parallel()
	cfg := ReplayConfig{Keys: NewKeyring([]byte("SECRET-KEY-0123456789abcdef01234"), []byte("OLD-SECRET-0123456789abcdef01234"))}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{cfg, &cfg, cfg.Keys} {
			if s := fmt.Sprintf(verb, v); strings.Contains(s, "SECRET") || strings.Contains(s, "83 69 67") {
				t.Errorf("%s prints a key: %s", verb, s)
			}
		}
	}
}

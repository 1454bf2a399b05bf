package event

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzParseObject checks parseObject's fast path against the token-stream
// path it short-cuts: the same members in the same order, the same raw
// values, the same errors.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : "x" , "b":[1,{"c":"}"}],"d":null}`,
		`{"a":"q\"uote","b\u0041":true,"c":false,"d":-1.5e3}`,
		`{"a":1,"a":2}`, `{"user_id":"u","user_id":"v"}`, `{"a":{"b":{"c":[]}}}`,
		`[1]`, `"x"`, `{"a":1}x`, `{"a":}`, `{"a":"\ud800"}`, "{\"a\":\t\"b\"\n}",
		`{"k1":"v","k2":"v","k3":"v","k4":"v","k5":"v","k6":"v","k7":"v","k8":"v","k9":"v","k1":"w"}`,
	} {
		f.Add([]byte(s))
	}
	known := []string{"user_id", "a"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !utf8.Valid(data) {
			return // decode refuses these before parsing
		}
		got, gotErr := parseObject(data, "value", "p.", known)
		want, wantErr := parseObjectStream(data, "value", "p.", known)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, stream path %v", data, gotErr, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, stream path %d", data, len(got), len(want))
		}
		for i := range got {
			if got[i].name != want[i].name || !bytes.Equal(bytes.TrimSpace(got[i].raw), bytes.TrimSpace(want[i].raw)) {
				t.Fatalf("%q: member %d is %q=%s, stream path %q=%s", data, i, got[i].name, got[i].raw, want[i].name, want[i].raw)
			}
		}
	})
}

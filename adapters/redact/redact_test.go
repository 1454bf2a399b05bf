package redact

import (
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	testUUID  = "f8ca5a50-50b8-438d-8068-28427b1c0e90"
	testToken = "tok-9c1e77a3b5"
)

// encodings returns the ways a vendor may echo v, by name: each must be
// hidden by Values(..., v).
func encodings(v string) map[string]string {
	return map[string]string{
		"as is":                  v,
		"upper case":             strings.ToUpper(v),
		"lower case":             strings.ToLower(v),
		"title case":             strings.ToTitle(v),
		"path-escaped":           url.PathEscape(v),
		"path-escaped, lowered":  strings.ToLower(url.PathEscape(v)),
		"path-escaped, uppered":  strings.ToUpper(url.PathEscape(v)),
		"query-escaped":          url.QueryEscape(v),
		"every byte percent":     percentAll(v, "%%%02X"),
		"every byte percent, lc": percentAll(v, "%%%02x"),
		"JSON":                   jsonInner(v),
		"JSON of upper case":     jsonInner(strings.ToUpper(v)),
		"JSON \\u, lower hex":    jsonAll(v, `\u%04x`),
		"JSON \\u, upper hex":    jsonAll(v, `\u%04X`),
		"HTML-escaped":           html.EscapeString(v),
		"HTML decimal refs":      htmlAll(v, "&#%d;"),
		"HTML hex refs":          htmlAll(v, "&#x%X;"),
		"JSON of path-escaped":   jsonInner(url.PathEscape(v)),
	}
}

func percentAll(v, format string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		fmt.Fprintf(&b, format, v[i])
	}
	return b.String()
}

func jsonInner(v string) string {
	b, _ := json.Marshal(v)
	return string(b[1 : len(b)-1])
}

func jsonAll(v, format string) string {
	var b strings.Builder
	for _, r := range v {
		if r > 0xFFFF {
			r -= 0x10000
			fmt.Fprintf(&b, format, 0xD800+(r>>10))
			fmt.Fprintf(&b, format, 0xDC00+(r&0x3FF))
			continue
		}
		fmt.Fprintf(&b, format, r)
	}
	return b.String()
}

func htmlAll(v, format string) string {
	var b strings.Builder
	for _, r := range v {
		fmt.Fprintf(&b, format, r)
	}
	return b.String()
}

// survives reports whether enc can be read in out outside the markers.
// Each Marker becomes a separator enc does not hold, so an occurrence
// cannot be made of a marker's letters.
func survives(out, enc string) bool {
	sep := "\x00"
	for _, c := range []string{"\x00", "\x01", "\x02", "\uE000"} {
		if !strings.Contains(enc, c) {
			sep = c
			break
		}
	}
	return strings.Contains(strings.ReplaceAll(out, Marker, sep), enc)
}

func TestValuesHidesEveryEncoding(t *testing.T) {
	t.Parallel()
	ids := []string{
		testUUID,
		"Ada.Lovelace+test@Example.com",
		"+91 9101 234511",
		"abc/def\\ghi?x=1&y=<2>",
		"Ünïcødé-İstanbul-ß",
		"emoji-😀-key",
		"50%off-%41",
	}
	for _, id := range ids {
		for name, enc := range encodings(id) {
			text := `{"error":"profile ` + enc + ` not found","echo":"<p>` + enc + `</p>"}`
			out := Values(text, id)
			if survives(out, enc) {
				t.Errorf("%q %s (%q) survives: %q", id, name, enc, out)
			}
			if !strings.Contains(out, Marker) {
				t.Errorf("%q %s: nothing hidden in %q", id, name, out)
			}
		}
	}
}

func TestValuesKeepsOtherText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{`{"code":1020,"description":"Contact profile not found"}`, `{"code":1020,"description":"Contact profile not found"}`},
		{"profile " + testUUID + " token " + testToken, "profile [redacted] token [redacted]"},
		{"PROFILE " + strings.ToUpper(testUUID) + "!", "PROFILE [redacted]!"},
		{"a-b-a", "a-b-a"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Values(tc.in, testUUID, testToken, ""); got != tc.want {
			t.Errorf("Values(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Values("nothing here"); got != "nothing here" {
		t.Errorf("Values without values = %q", got)
	}
}

// TestValuesOrderDoesNotMatter is issue 10 item 12: a short identifier
// that is part of a longer token must not split it, whichever comes first.
func TestValuesOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	token := "sk_live_ab12cd34ef56"
	short := "cd34"     // inside the token
	straddle := "e_ab1" // overlaps the token's start
	text := "auth " + token + " for " + short
	for _, order := range [][]string{{short, token}, {token, short}, {straddle, token, short}, {short, straddle, token}} {
		got := Values(text, order...)
		if got != "auth [redacted] for [redacted]" {
			t.Errorf("Values(%v) = %q", order, got)
		}
		for _, piece := range []string{"sk_live", "ab12", "ef56", "live_"} {
			if strings.Contains(got, piece) {
				t.Errorf("Values(%v) = %q leaves %q of the token", order, got, piece)
			}
		}
	}
}

func TestPersonal(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"exotel description", `Contact with number +919101234511 and email captain@email.com already exists`,
			`Contact with number [redacted] and email [redacted] already exists`},
		{"phone with separators", "call (080) 4567-8910 now", "call [redacted] now"},
		{"long digit run", "account 1234567 closed", "account [redacted] closed"},
		{"escaped email", `{"description":"captain\u0040email.com"}`, `{"description":"[redacted]"}`},
		{"percent-encoded phone", "/contacts/%2B919101234511/", "/contacts/[redacted]/"},
		{"codes and statuses kept", "HTTP 404, code 1020: Contact profile not found", "HTTP 404, code 1020: Contact profile not found"},
		{"identifiers too", "key " + testUUID, "key [redacted]"},
	}
	for _, tc := range tests {
		if got := Personal(tc.in, testUUID); got != tc.want {
			t.Errorf("%s: Personal(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestFoldCases(t *testing.T) {
	t.Parallel()
	for _, pair := range [][2]rune{{'A', 'a'}, {'K', '\u212A'}, {'s', '\u017F'}, {'İ', 'i'}, {'ı', 'I'}, {'ß', 'ẞ'}, {'Σ', 'ς'}, {'+', ' '}, {'\t', ' '}, {utf8.RuneError, '?'}} {
		if fold(pair[0]) != fold(pair[1]) {
			t.Errorf("fold(%q) = %q, fold(%q) = %q: want one class", pair[0], fold(pair[0]), pair[1], fold(pair[1]))
		}
	}
	if fold('a') == fold('b') || fold('1') == fold('l') {
		t.Error("fold joins distinct letters")
	}
}

// FuzzValues checks that no value, in any of the encodings a vendor may
// echo it in, survives Values or Personal, whatever surrounds it and
// whichever other value is redacted with it.
func FuzzValues(f *testing.F) {
	f.Add("profile ", testUUID, "", " not found")
	f.Add(`{"key":"`, "Ünïcødé-İ", "tok", `"}`)
	f.Add("<h1>", "abc/def%41", "abc", "</h1>")
	f.Add("\\", "a\"b\\c", "sk_live_ab12", "&#")
	f.Add("%C3", "\xe2\x82a", "\xff", "\\ud83d")
	f.Add("x", "İı", "ß", "K")
	f.Fuzz(func(t *testing.T, prefix, id, other, suffix string) {
		if id == "" || len(id) > 64 || len(prefix)+len(suffix) > 512 {
			return
		}
		for name, enc := range encodings(id) {
			// The spaces keep an escape in prefix or suffix from taking
			// part of enc; a vendor's text is not built to defeat this.
			text := prefix + " " + enc + " " + suffix
			for _, out := range []string{Values(text, other, id), Values(text, id, other), Personal(text, other, id)} {
				if survives(out, enc) {
					t.Fatalf("%s of %q (%q) survives in %q (from %q)", name, id, enc, out, text)
				}
			}
		}
	})
}

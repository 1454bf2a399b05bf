package httpvendor

import (
	"net/url"
	"testing"
)

// FuzzTemplate: parseTemplate never panics; a template it accepts
// renders and matches back what it rendered, placeholder values intact.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"/v1/users/{identifiers.id}", "/a/{event_id}/b/{identifiers.x.y}?q", "{", "}", "/{identifiers.}", "/{a}{b}", "/x/{identifiers.a}-{identifiers.b}.json", ""} {
		f.Add(s, "v1", "e 2")
	}
	f.Fuzz(func(t *testing.T, s, v, ev string) {
		tm, err := parseTemplate(s)
		if err != nil || v == "" || ev == "" {
			return
		}
		vals := map[string]string{}
		out, err := tm.render(func(p part) (string, error) {
			x := v
			if !p.ident {
				x = ev
			}
			vals[p.key()] = x
			return url.PathEscape(x), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		unescape := func(s string) (string, bool) { u, err := url.PathUnescape(s); return u, err == nil }
		if !tm.match(out, unescape, got) {
			// A value whose escaped form holds the next literal text
			// cannot be told apart; anything else must match.
			for _, p := range tm {
				if p.field == "" && p.lit != "" && (contains(url.PathEscape(v), p.lit) || contains(url.PathEscape(ev), p.lit)) {
					return
				}
			}
			t.Fatalf("%q rendered %q, which does not match back", s, out)
		}
		for k, want := range vals {
			if got[k] != want {
				ok := false
				for _, p := range tm {
					if p.field == "" && p.lit != "" && (contains(url.PathEscape(v), p.lit) || contains(url.PathEscape(ev), p.lit)) {
						ok = true
					}
				}
				if !ok {
					t.Fatalf("%q: %s = %q, want %q", s, k, got[k], want)
				}
			}
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzPointer: parsePointer never panics, an accepted pointer prints back
// as a pointer that parses to the same tokens, and the document build
// makes holds the value where lookup finds it.
func FuzzPointer(f *testing.F) {
	for _, s := range []string{"", "/", "/a/b", "/a~1b/~0c", "/errors/0/code", "a", "/~", "/~2", "/0/01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePointer(s)
		if err != nil {
			return
		}
		q, err := parsePointer(p.String())
		if err != nil || len(q) != len(p) {
			t.Fatalf("%q: String %q parses to %q, %v", s, p.String(), q, err)
		}
		for i := range p {
			if p[i] != q[i] {
				t.Fatalf("%q: token %d %q != %q", s, i, p[i], q[i])
			}
		}
		v, ok := p.lookup(p.build("code"))
		if text, _ := scalarText(v); !ok || text != "code" {
			t.Fatalf("%q: lookup in build = %v, %v", s, v, ok)
		}
	})
}

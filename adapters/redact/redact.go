// Package redact hides secrets and personal data in text that leaves the
// process: error messages, dead-letter headers, what `erasured dlq
// inspect` prints. It is the one place such text is masked; it imports
// nothing of the project, so that every package (adapters, dlq) can use it.
//
// A vendor echoes what it was sent in its own way: the identifier in
// another letter case, percent-encoded in an HTML page, JSON-escaped in a
// body. So a value is found however it is written: as is, in any letter
// case, and with each character on its own percent-encoded, JSON-escaped
// (\uXXXX, \/ and the short escapes) or HTML-escaped (&#NN;, &#xHH;,
// &amp; ...). Every occurrence of every value is found in the original text
// first and the union of them is replaced, so the order of the values does
// not matter: a short value inside a longer one can never split it and
// leave part of the longer one visible.
package redact

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Marker replaces what is hidden. Overlapping or adjacent hidden pieces
// become one Marker.
const Marker = "[redacted]"

// Values returns s with every occurrence of each non-empty value, in any
// letter case or escaping (see the package comment), replaced by Marker.
func Values(s string, values ...string) string {
	if s == "" || !anyValue(values) {
		return s
	}
	return apply(s, find(s, values, false))
}

// Personal is Values, and also hides what has the shape of personal data,
// whoever it belongs to: email addresses, phone numbers (seven digits or
// more, with or without separators and a leading +) and runs of six digits
// or more. It is meant for text a vendor wrote, which may name the person
// in ways the event does not (Exotel's error_data can carry the contact's
// number and email).
func Personal(s string, values ...string) string {
	if s == "" {
		return s
	}
	return apply(s, find(s, values, true))
}

func anyValue(values []string) bool {
	for _, v := range values {
		if v != "" {
			return true
		}
	}
	return false
}

// span is a piece of s, [lo, hi). int32 halves what a view holds per
// byte; a text this package masks is far below 2 GiB.
type span struct{ lo, hi int32 }

// find returns the spans of s to hide.
func find(s string, values []string, personal bool) []span {
	var out []span
	raw := rawView(s, personal)
	views := []view{raw}
	// Each escaping on its own, so that a value holding what looks like
	// another escaping ("%41" inside a JSON-escaped id) is still found,
	// and all of them at once, for a value escaped twice over in one text
	// (a percent-encoded path inside a JSON-escaped body). Shapes are
	// looked for as written and fully decoded.
	present := presentSchemes(s)
	all, decoded := decodedView(s, present, personal)
	if decoded && present != percentEsc && present != jsonEsc && present != htmlEsc {
		// With one escaping present the full decoding is that one.
		for _, sc := range []scheme{percentEsc, jsonEsc, htmlEsc} {
			if present&sc == 0 {
				continue
			}
			if v, ok := decodedView(s, sc, false); ok {
				views = append(views, v)
			}
		}
	}
	if decoded {
		views = append(views, all)
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		fv := foldString(v)
		for i := range views {
			out = views[i].find(fv, out)
		}
	}
	if personal {
		out = raw.shapes(out)
		if decoded {
			out = all.shapes(out)
		}
	}
	return out
}

// apply replaces the union of spans in s with one Marker per stretch.
func apply(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.lo - b.lo) })
	var b strings.Builder
	b.Grow(len(s))
	pos := 0
	for i := 0; i < len(spans); {
		lo, hi := int(spans[i].lo), int(spans[i].hi)
		for i++; i < len(spans) && int(spans[i].lo) <= hi; i++ {
			hi = max(hi, int(spans[i].hi))
		}
		b.WriteString(s[pos:lo])
		b.WriteString(Marker)
		pos = hi
	}
	b.WriteString(s[pos:])
	return b.String()
}

// view is a rendering of s, as written or decoded, case folded, with the
// span of s each byte came from; and, when shapes are looked for in it,
// the same unfolded.
type view struct {
	text       string
	textFrom   []span
	folded     string
	foldedFrom []span
}

// unit is one character of a view and the bytes of s it stands for.
type unit struct {
	r      rune
	lo, hi int
}

// viewBuilder builds a view one unit (a character and the bytes of s it
// stands for) at a time.
type viewBuilder struct {
	withText bool
	text     strings.Builder
	folded   strings.Builder
	v        view
}

func newViewBuilder(size int, withText bool) *viewBuilder {
	b := &viewBuilder{withText: withText}
	b.folded.Grow(size)
	b.v.foldedFrom = make([]span, 0, size)
	if withText {
		b.text.Grow(size)
		b.v.textFrom = make([]span, 0, size)
	}
	return b
}

func (b *viewBuilder) add(r rune, lo, hi int) {
	sp := span{int32(lo), int32(hi)}
	if b.withText {
		if r < utf8.RuneSelf {
			b.text.WriteByte(byte(r))
			b.v.textFrom = append(b.v.textFrom, sp)
		} else {
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			b.text.WriteRune(r)
			for range utf8.RuneLen(r) {
				b.v.textFrom = append(b.v.textFrom, sp)
			}
		}
	}
	f := fold(r)
	if f < utf8.RuneSelf {
		b.folded.WriteByte(byte(f))
		b.v.foldedFrom = append(b.v.foldedFrom, sp)
		return
	}
	b.folded.WriteRune(f)
	for range utf8.RuneLen(f) {
		b.v.foldedFrom = append(b.v.foldedFrom, sp)
	}
}

func (b *viewBuilder) view() view {
	b.v.text, b.v.folded = b.text.String(), b.folded.String()
	return b.v
}

// rawView is s as written, one unit per rune (an invalid byte is one
// unit).
func rawView(s string, withText bool) view {
	b := newViewBuilder(len(s), withText)
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		b.add(r, i, i+n)
		i += n
	}
	return b.view()
}

// scheme is a set of escapings.
type scheme int

const (
	percentEsc scheme = 1 << iota
	jsonEsc
	htmlEsc
)

// presentSchemes is the set of escapings whose first character s holds.
func presentSchemes(s string) scheme {
	var sc scheme
	if strings.IndexByte(s, '%') >= 0 {
		sc |= percentEsc
	}
	if strings.IndexByte(s, '\\') >= 0 {
		sc |= jsonEsc
	}
	if strings.IndexByte(s, '&') >= 0 {
		sc |= htmlEsc
	}
	return sc
}

// decodedView is s with every escape of the given schemes decoded, one
// level deep. It reports false when s holds no such escape, so the raw
// view says it all.
func decodedView(s string, schemes scheme, withText bool) (view, bool) {
	if presentSchemes(s)&schemes == 0 {
		return view{}, false
	}
	b := newViewBuilder(len(s), withText)
	escaped := false
	for i := 0; i < len(s); {
		if c := s[i]; c == '%' || c == '\\' || c == '&' {
			if us, n := decodeAt(s, i, schemes); n > 0 {
				for _, u := range us {
					b.add(u.r, u.lo, u.hi)
				}
				i += n
				escaped = true
				continue
			}
		}
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		b.add(r, i, i+n)
		i += n
	}
	if !escaped {
		return view{}, false
	}
	return b.view(), true
}

// decodeAt decodes the escape starting at s[i], if one of schemes does:
// the units it stands for and the bytes it takes.
func decodeAt(s string, i int, schemes scheme) ([]unit, int) {
	switch {
	case s[i] == '%' && schemes&percentEsc != 0:
		return decodePercent(s, i)
	case s[i] == '\\' && schemes&jsonEsc != 0:
		return decodeJSON(s, i)
	case s[i] == '&' && schemes&htmlEsc != 0:
		return decodeHTML(s, i)
	}
	return nil, 0
}

// decodePercent decodes a run of %XX escapes as UTF-8: "%C3%A9" is one
// character.
func decodePercent(s string, i int) ([]unit, int) {
	var bs []byte
	var at []int
	j := i
	for j+2 < len(s) && s[j] == '%' {
		h, ok1 := unhex(s[j+1])
		l, ok2 := unhex(s[j+2])
		if !ok1 || !ok2 {
			break
		}
		bs = append(bs, h<<4|l)
		at = append(at, j)
		j += 3
	}
	if len(bs) == 0 {
		return nil, 0
	}
	var us []unit
	for k := 0; k < len(bs); {
		r, n := utf8.DecodeRune(bs[k:])
		us = append(us, unit{r, at[k], at[k+n-1] + 3})
		k += n
	}
	return us, j - i
}

var jsonShort = map[byte]rune{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// decodeJSON decodes one JSON escape, a surrogate pair as one character.
func decodeJSON(s string, i int) ([]unit, int) {
	if i+1 >= len(s) {
		return nil, 0
	}
	if r, ok := jsonShort[s[i+1]]; ok {
		return []unit{{r, i, i + 2}}, 2
	}
	r, ok := hex4(s, i)
	if !ok {
		return nil, 0
	}
	if utf16IsHigh(r) {
		if lo, ok := hex4(s, i+6); ok && utf16IsLow(lo) {
			return []unit{{(r-0xD800)<<10 | (lo - 0xDC00) + 0x10000, i, i + 12}}, 12
		}
	}
	if utf16IsHigh(r) || utf16IsLow(r) {
		r = utf8.RuneError
	}
	return []unit{{r, i, i + 6}}, 6
}

// hex4 reads \uXXXX at s[i].
func hex4(s string, i int) (rune, bool) {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return 0, false
	}
	var r rune
	for k := i + 2; k < i+6; k++ {
		d, ok := unhex(s[k])
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func utf16IsHigh(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }

var htmlNamed = map[string]rune{"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\'', "nbsp": '\u00a0'}

// decodeHTML decodes one character reference: &#NN;, &#xHH; or a named
// one of the few that escape markup. The semicolon is required.
func decodeHTML(s string, i int) ([]unit, int) {
	end := strings.IndexByte(s[i:min(len(s), i+12)], ';')
	if end < 2 {
		return nil, 0
	}
	ref := s[i+1 : i+end]
	if r, ok := htmlNamed[strings.ToLower(ref)]; ok {
		return []unit{{r, i, i + end + 1}}, end + 1
	}
	if ref[0] != '#' || len(ref) < 2 {
		return nil, 0
	}
	var r rune
	digits := ref[1:]
	base := rune(10)
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	if digits == "" {
		return nil, 0
	}
	for k := 0; k < len(digits); k++ {
		d, ok := unhex(digits[k])
		if !ok || rune(d) >= base {
			return nil, 0
		}
		r = r*base + rune(d)
		if r > unicode.MaxRune {
			return nil, 0
		}
	}
	if !utf8.ValidRune(r) {
		r = utf8.RuneError
	}
	return []unit{{r, i, i + end + 1}}, end + 1
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// find appends the spans of s where the view holds fv, a folded value.
// Overlapping occurrences are all found.
func (v *view) find(fv string, out []span) []span {
	if fv == "" {
		return out
	}
	for at := 0; ; {
		i := strings.Index(v.folded[at:], fv)
		if i < 0 {
			return out
		}
		i += at
		out = append(out, span{v.foldedFrom[i].lo, v.foldedFrom[i+len(fv)-1].hi})
		_, n := utf8.DecodeRuneInString(v.folded[i:])
		at = i + n
	}
}

// shapes appends the spans of s where the view's text has the shape of
// personal data: an email address (letters, digits and the usual
// punctuation of a mailbox on both sides of an @, in any script), a phone
// number (seven digits or more, each pair separated by at most two of
// white space, ".", "-", "/" and parentheses, with a "+" or "(" before
// the first kept) or a run of six digits or more. Scanners, not regular
// expressions: they read the largest body an adapter keeps (64 KiB)
// several times faster, and an error path must stay cheap.
func (v *view) shapes(out []span) []span {
	t := v.text
	add := func(lo, hi int) { out = append(out, span{v.textFrom[lo].lo, v.textFrom[hi-1].hi}) }
	// Email addresses.
	for at := 0; ; {
		i := strings.IndexByte(t[at:], '@')
		if i < 0 {
			break
		}
		i += at
		lo := i
		for lo > 0 {
			r, n := utf8.DecodeLastRuneInString(t[:lo])
			if !mailboxRune(r) {
				break
			}
			lo -= n
		}
		hi := i + 1
		for hi < len(t) {
			r, n := utf8.DecodeRuneInString(t[hi:])
			if !domainRune(r) {
				break
			}
			hi += n
		}
		if lo < i && hi > i+1 {
			add(lo, hi)
		}
		at = i + 1
	}
	// Phone numbers and digit runs.
	for i := 0; i < len(t); {
		r, n := utf8.DecodeRuneInString(t[i:])
		if !unicode.IsDigit(r) {
			i += n
			continue
		}
		lo := i
		for _, lead := range []byte{'(', '+'} {
			if lo > 0 && t[lo-1] == lead {
				lo--
			}
		}
		digits, run, longest := 0, 0, 0
		hi, j := i, i
		for j < len(t) {
			r, n := utf8.DecodeRuneInString(t[j:])
			if unicode.IsDigit(r) {
				digits++
				run++
				longest = max(longest, run)
				j += n
				hi = j
				continue
			}
			// At most two separators, then a digit, continue the number.
			k, seps := j, 0
			for k < len(t) && seps < 2 {
				r, n := utf8.DecodeRuneInString(t[k:])
				if !phoneSeparator(r) {
					break
				}
				k += n
				seps++
			}
			if seps == 0 || k >= len(t) {
				break
			}
			if r, _ := utf8.DecodeRuneInString(t[k:]); !unicode.IsDigit(r) {
				break
			}
			run = 0
			j = k
		}
		if digits >= 7 || longest >= 6 {
			add(lo, hi)
		}
		i = max(hi, i+n)
	}
	return out
}

func mailboxRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || strings.ContainsRune("._%+'-", r)
}

func domainRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || r == '.' || r == '-'
}

func phoneSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(".-()/", r)
}

func foldString(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(fold(r))
	}
	return b.String()
}

// fold maps r to the one character that stands for every way of writing
// it that must be caught: all its letter cases (ToUpper, ToLower, ToTitle
// and Unicode case folding, taken together), one space for every blank,
// control or format character and for '+' (a query-encoded space), and '?'
// for an invalid byte or U+FFFD (which JSON and Excerpt write for one).
// Folding those together means what Excerpt does after masking (blanking
// controls, marking invalid bytes) cannot reassemble a value.
func fold(r rune) rune {
	if r < utf8.RuneSelf {
		switch {
		case r <= ' ' || r == 0x7f || r == '+':
			return ' '
		case r >= 'A' && r <= 'Z':
			// Lower-case ASCII stands for its class (see caseClasses).
			return r + 'a' - 'A'
		}
		return r
	}
	switch {
	case r == '+' || unicode.IsSpace(r) || unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return ' '
	case r == utf8.RuneError || r == '?':
		return '?'
	}
	if c, ok := caseClasses()[r]; ok {
		return c
	}
	return r
}

// caseClasses maps each cased rune to its class's representative: the
// classes join every rune with its upper, lower and title case and its
// Unicode simple case folding, transitively (so 'İ', 'i', 'I' and 'ı' are
// one class: strings.ToLower("İ") is "i" though no folding links them).
var caseClasses = sync.OnceValue(func() map[rune]rune {
	// Every cased character is below U+20000.
	const limit = 0x20000
	parent := make([]int32, limit)
	for i := range parent {
		parent[i] = int32(i)
	}
	var root func(int32) int32
	root = func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	union := func(a, b rune) {
		if a < 0 || b < 0 || a >= limit || b >= limit {
			return
		}
		ra, rb := root(int32(a)), root(int32(b))
		if ra == rb {
			return
		}
		// The smaller rune is the root, so the representative is the
		// class's smallest member, whatever the order of unions.
		if ra < rb {
			parent[rb] = ra
		} else {
			parent[ra] = rb
		}
	}
	for r := rune(0); r < limit; r++ {
		union(r, unicode.ToUpper(r))
		union(r, unicode.ToLower(r))
		union(r, unicode.ToTitle(r))
		union(r, unicode.SimpleFold(r))
	}
	m := make(map[rune]rune)
	for r := rune(0); r < limit; r++ {
		if c := rune(root(int32(r))); c != r {
			m[r] = c
		}
	}
	// A class with an ASCII letter has its upper case as smallest member;
	// its lower case stands for it instead, which is what fold's ASCII path
	// (which only lowers) gives.
	for r, c := range m {
		if c >= 'A' && c <= 'Z' {
			m[r] = c + 'a' - 'A'
		}
	}
	for r := 'a'; r <= 'z'; r++ {
		delete(m, r)
	}
	return m
})

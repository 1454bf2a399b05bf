package adapters

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/erasured/erasured/adapters/redact"
)

// MaxResponseBytes bounds how much of a vendor's answer is read. Delete
// answers are small; anything larger is cut, and a cut JSON body fails to
// parse and is classified as unexpected rather than read without bound.
const MaxResponseBytes = 64 << 10

// MaxExcerpt bounds the body excerpt carried in an Error.
const MaxExcerpt = 200

// MaxRetryAfter caps the wait a vendor may ask for, in either Retry-After
// form, so a garbled or hostile header cannot park an event for years.
const MaxRetryAfter = 24 * time.Hour

// Response is a vendor's answer, read in full (up to MaxResponseBytes).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Send performs req with client and reads the bounded answer. A transport
// failure (connection refused, reset, timeout, TLS) is returned as a
// retryable *Error naming vendor; the caller's own cancellation is returned
// as the context's error, unwrapped, so a shutdown is never mistaken for a
// vendor failure. redact lists values (secrets, identifiers) that must not
// appear in any error text.
//
// Redirects are never followed, whatever client's policy: after a 301, 302
// or 303 net/http repeats a DELETE or POST as a GET, whose 200 would read
// as a deletion, and it forwards custom credential headers (such as
// X-CleverTap-Passcode) to the new host. The 3xx itself is returned, and
// StatusError calls it unexpected.
func Send(ctx context.Context, client *http.Client, req *http.Request, vendor string, redact ...string) (*Response, error) {
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := roundTrip(client, req.WithContext(ctx))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if errors.Is(err, ErrCircuitOpen) {
			// Nothing was sent: the vendor's breaker refused it.
			return nil, circuitOpenError(vendor)
		}
		return nil, &Error{Vendor: vendor, Class: ClassRetryable, Message: "request failed: " + Redact(transportMessage(err), redact...)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, &Error{Vendor: vendor, Class: ClassRetryable, Status: resp.StatusCode, Message: "reading response: " + Redact(transportMessage(err), redact...)}
	}
	// Drain a little more so the connection can be reused; never much.
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// roundTrip sends req once, never following a redirect. A client with no
// cookie jar and no overall timeout adds nothing but redirect handling,
// which is not wanted, so req goes straight to its transport: http.Client
// copies every request's headers in case of a redirect, which the CPU
// profile of a busy daemon showed at several percent.
func roundTrip(client *http.Client, req *http.Request) (*http.Response, error) {
	if client.Jar == nil && client.Timeout == 0 {
		rt := client.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		return rt.RoundTrip(req)
	}
	noRedirect := *client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return noRedirect.Do(req)
}

// transportMessage describes a transport error without the request URL,
// which carries identifiers in its path.
func transportMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		// *url.Error formats as `Op "URL": err`; keep only the cause.
		err = ue.Err
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

// ParseRetryAfter reads a Retry-After header value, in either form RFC 9110
// allows: delay-seconds or an HTTP-date. It returns false when the value is
// absent or unreadable. A date in the past gives 0, true.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	// A number too large for int64 is still a number: ParseInt then
	// returns the extreme of the sign with ErrRange, which the cap (or the
	// negative check) handles.
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		d = 0
	case d > MaxRetryAfter:
		d = MaxRetryAfter
	}
	return d, true
}

// RetryAfter returns the wait a response asks for, 0 when it asks none.
func (r *Response) RetryAfter(now time.Time) time.Duration {
	d, _ := ParseRetryAfter(r.Header.Get("Retry-After"), now)
	return d
}

// Redact hides every non-empty value in s: as written, in any letter case,
// percent-, JSON- or HTML-escaped. All occurrences are found first and
// replaced together, so the order of values does not matter: a short
// identifier inside a longer token cannot split it (see package redact).
func Redact(s string, values ...string) string {
	return redact.Values(s, values...)
}

// Excerpt returns a short, printable, masked piece of a body for an error
// message: the given values hidden as Redact hides them, and with them
// whatever has the shape of personal data (emails, phone numbers, long
// digit runs; see redact.Personal), then at most MaxExcerpt bytes (then "…"
// when cut), valid UTF-8, control, format and line-separator characters
// replaced by spaces so a vendor's answer cannot forge log lines. Masking
// comes first, on the whole body, so that the cut cannot leave half a value
// that would no longer be recognised.
func Excerpt(body []byte, values ...string) string {
	s := redact.Personal(string(body), values...)
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && isInvalidAt(s, i):
			r = '?'
		case unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > MaxExcerpt {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

func isInvalidAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size <= 1
}

// StatusError classifies an HTTP answer by its status alone, for the codes
// every vendor shares: 429 and 5xx are retryable, 408 too, other 4xx are
// permanent, anything else is unexpected. Adapters call it after they have
// read the codes their own page lists. vendorMessage is what the vendor
// wrote, already an Excerpt; it becomes the Error's VendorMessage.
func StatusError(vendor string, r *Response, code, vendorMessage string) *Error {
	e := &Error{Vendor: vendor, Status: r.Status, Code: code, VendorMessage: vendorMessage}
	switch {
	case r.Status == http.StatusTooManyRequests || r.Status == http.StatusRequestTimeout || (r.Status >= 500 && r.Status <= 599):
		e.Class = ClassRetryable
		e.RetryAfter = r.RetryAfter(time.Now())
	case r.Status >= 400 && r.Status <= 499:
		e.Class = ClassPermanent
	default:
		e.Class = ClassUnexpected
	}
	return e
}

// Unexpected is the error for an answer whose shape the adapter does not
// know: what, the adapter's words, is its Message (with "(empty body)"
// added when there was none, often the only clue that a proxy or a wrong
// host answered), and an excerpt of the body, masked of values, its
// VendorMessage. Adapters call it directly; one whose VendorMessage must
// come from elsewhere than the body builds its Error itself.
func Unexpected(vendor string, r *Response, what string, values ...string) *Error {
	if len(r.Body) == 0 {
		what += " (empty body)"
	}
	return &Error{
		Vendor:        vendor,
		Class:         ClassUnexpected,
		Status:        r.Status,
		Message:       what,
		VendorMessage: Excerpt(r.Body, values...),
	}
}

// Codes is a vendor's table of the codes its API page documents, each with
// the page's own description. Only those words go into an Error's
// Description: a body's own description may echo the person's data.
type Codes map[string]string

// Describe returns the page's description of code, "" when it has none.
func (c Codes) Describe(code string) string { return c[code] }

// CheckIdentifier returns nil when id can be sent to vendor as it is, and
// otherwise a ClassInvalidIdentifier *Error naming what the identifier is
// and what is wrong with it, never its value. Every identifier must be
// valid UTF-8 (JSON would replace the bad bytes and the vendor would look
// up someone else), hold no control, format or line-separator character
// and no white space at either end (a vendor that trims would look up
// another key). When shape is not nil the identifier must also match it:
// the form the vendor's page documents, which shapeDesc states in words.
// An identifier that goes into a URL path must have a shape, and one
// without "/" or "\"; PathSegment refuses those again.
func CheckIdentifier(vendor, what, id string, shape *regexp.Regexp, shapeDesc string) error {
	invalid := func(why string) error {
		return &Error{Vendor: vendor, Class: ClassInvalidIdentifier, Message: what + " " + why + "; it was not sent"}
	}
	switch {
	case id == "":
		return invalid("is empty")
	case !utf8.ValidString(id):
		return invalid("is not valid UTF-8")
	case strings.TrimSpace(id) != id:
		return invalid("starts or ends with white space")
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return invalid("holds a control or format character")
		}
	}
	if shape != nil && !shape.MatchString(id) {
		return invalid("is not " + shapeDesc)
	}
	return nil
}

// ValidateBaseURL checks a vendor base URL: absolute https, or http to
// this machine (127.0.0.0/8, ::1, localhost) or when allowInsecureHTTP is
// set; a host; no credentials, query or fragment. Its errors never quote
// the URL: the usual reason one is wrong is a credential or token pasted
// into it, and url.Parse's own errors quote pieces of it.
func ValidateBaseURL(s string, allowInsecureHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("is not a valid URL (not shown, in case it holds a credential)")
	}
	if u.User != nil {
		return errors.New("must not carry credentials (user:password@, not shown); configure them in the vendor's auth fields")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return errors.New("must not carry a query or fragment (not shown, in case it holds a token)")
	}
	// url.Parse lower-cases the scheme.
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecureHTTP && !IsLoopbackHost(u.Hostname()) {
			return errors.New("plain http sends the vendor's credentials and the person's identifiers unencrypted: use https, or set allow_insecure_http: true for this vendor (only for a host on a network you trust; erasured warns at startup)")
		}
	default:
		return errors.New("must be an https URL (http only to a loopback host or with allow_insecure_http: true)")
	}
	if u.Hostname() == "" {
		return errors.New("must name a host")
	}
	return nil
}

// ValidateHostURL is ValidateBaseURL for a vendor whose API paths are
// fixed: scheme and host only. A path would be prepended to the vendor's
// route, and the wrong route's 404 can read as "already absent" for every
// event, or make every deletion a dead letter.
func ValidateHostURL(s string, allowInsecureHTTP bool) error {
	if err := ValidateBaseURL(s, allowInsecureHTTP); err != nil {
		return err
	}
	if u, _ := url.Parse(s); u.Path != "" && u.Path != "/" {
		return errors.New("must be scheme and host only, without a path")
	}
	return nil
}

// InsecureHTTP reports whether a valid base URL sends requests in the
// clear over a network: plain http to a host other than this machine. The
// daemon warns about each vendor configured so.
func InsecureHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "http" && !IsLoopbackHost(u.Hostname())
}

// IsLoopbackHost reports whether host (without port or brackets) is this
// machine: localhost or an address in 127.0.0.0/8 or ::1. Other names are
// not resolved; a name that resolves to loopback still needs https or
// allow_insecure_http.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// PathSegment escapes id for use as one path segment. It refuses "." and
// "..", which PathEscape leaves alone and any proxy or server that
// normalises paths would turn into another resource (the account itself,
// say), and "/" and "\": a ClassInvalidIdentifier error for vendor naming
// what the id is.
// Adapters check the identifier's shape (CheckIdentifier) first; this is
// the last guard where a URL is built.
func PathSegment(vendor, what, id string) (string, error) {
	switch {
	case id == "." || id == "..":
		return "", &Error{Vendor: vendor, Class: ClassInvalidIdentifier, Message: what + " is a dot path segment; it was not sent"}
	case strings.ContainsAny(id, `/\`):
		// Escaped, they stay in the segment, but a proxy or server that
		// decodes before routing would split the path at them.
		return "", &Error{Vendor: vendor, Class: ClassInvalidIdentifier, Message: what + ` holds "/" or "\"; it was not sent`}
	}
	return url.PathEscape(id), nil
}

// NewHTTPClient returns a client for one vendor. Each vendor gets its own
// transport so that one slow vendor's connections never queue another's,
// and the idle pool is sized for the consumer's concurrency: without that,
// Go keeps 2 idle connections per host and every burst reconnects (and
// re-handshakes TLS). Timeouts per attempt come from the retry policy's
// context, not from the client.
func NewHTTPClient(maxConnsPerHost int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxConnsPerHost
	t.MaxIdleConnsPerHost = maxConnsPerHost
	t.MaxConnsPerHost = maxConnsPerHost
	t.IdleConnTimeout = 90 * time.Second
	// No redirect policy here: Send never follows one, whatever client it
	// is given.
	return &http.Client{Transport: t}
}

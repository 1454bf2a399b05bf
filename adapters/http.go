package adapters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponseBytes bounds how much of a vendor's answer is read. Delete
// answers are small; anything larger is cut, and a cut JSON body fails to
// parse and is classified as unexpected rather than read without bound.
const MaxResponseBytes = 64 << 10

// MaxExcerpt bounds the body excerpt carried in an Error.
const MaxExcerpt = 200

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
func Send(ctx context.Context, client *http.Client, req *http.Request, vendor string, redact ...string) (*Response, error) {
	resp, err := client.Do(req.WithContext(ctx))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
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
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(24 * time.Hour / time.Second)
		if secs > maxSecs {
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// RetryAfter returns the wait a response asks for, 0 when it asks none.
func (r *Response) RetryAfter(now time.Time) time.Duration {
	d, _ := ParseRetryAfter(r.Header.Get("Retry-After"), now)
	return d
}

// Redact replaces every occurrence of each non-empty value in s.
func Redact(s string, values ...string) string {
	for _, v := range values {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// Excerpt returns a short, printable, redacted piece of a body for an error
// message: at most MaxExcerpt bytes, valid UTF-8, control characters
// replaced, the given values redacted.
func Excerpt(body []byte, redact ...string) string {
	s := Redact(string(body), redact...)
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= MaxExcerpt {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError && isInvalidAt(s, i):
			b.WriteRune('?')
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
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
// read the codes their own page lists.
func StatusError(vendor string, r *Response, code, message string) *Error {
	e := &Error{Vendor: vendor, Status: r.Status, Code: code, Message: message}
	switch {
	case r.Status == http.StatusTooManyRequests || r.Status == http.StatusRequestTimeout || r.Status >= 500:
		e.Class = ClassRetryable
		e.RetryAfter = r.RetryAfter(time.Now())
	case r.Status >= 400:
		e.Class = ClassPermanent
	default:
		e.Class = ClassUnexpected
	}
	return e
}

// Unexpected is the error for an answer whose shape the adapter does not
// know.
func Unexpected(vendor string, r *Response, what string, redact ...string) *Error {
	return &Error{
		Vendor:  vendor,
		Class:   ClassUnexpected,
		Status:  r.Status,
		Message: fmt.Sprintf("%s: %q", what, Excerpt(r.Body, redact...)),
	}
}

// ValidateBaseURL checks a vendor base URL: absolute http(s), a host, no
// query or fragment.
func ValidateBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("must be an http or https URL, got %q", s)
	}
	if u.Host == "" {
		return fmt.Errorf("must name a host, got %q", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not carry a query or fragment, got %q", s)
	}
	return nil
}

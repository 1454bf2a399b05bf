package adapters

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// RateLimit is what a vendor's rate-limit header fields say of its budget.
// A zero field was not sent.
type RateLimit struct {
	// Limit is the quota: requests admitted per Window.
	Limit int
	// Remaining is what is left of the quota now.
	Remaining int
	// Reset is how long until the quota is whole again.
	Reset time.Duration
	// Window is the span the quota is counted over. X-RateLimit-* fields
	// never say; RateLimit-Policy's w does.
	Window time.Duration
}

// ErrNoRateLimit says the answer carried no rate-limit fields to parse.
var ErrNoRateLimit = errors.New("no rate-limit header fields")

// HeaderError says a rate-limit field was sent but could not be read. The
// value is not kept: a header may carry anything.
type HeaderError struct {
	Field string
	Err   error
}

func (e *HeaderError) Error() string { return "rate-limit field " + e.Field + ": " + e.Err.Error() }
func (e *HeaderError) Unwrap() error { return e.Err }

// epochSeconds is where X-RateLimit-Reset stops being a count of seconds
// and becomes a Unix time: 10^9 seconds is 2001-09-09, and also 31 years,
// which no vendor waits. GitHub and Exotel send a Unix time; others send
// seconds. From epochMillis up it is a Unix time in milliseconds (10^12 ms
// is 2001-09-09 again); values from maxReset up are refused.
const (
	epochSeconds = 1e9
	epochMillis  = 1e12
	maxReset     = 1e16
)

// ParseXRateLimit reads X-RateLimit-Limit, -Remaining and -Reset, the
// de facto fields no standard defines. -Remaining must be present for the
// fields to say anything, so without it the answer is ErrNoRateLimit.
// -Reset may be seconds until the reset or a Unix time, told apart by
// magnitude (see epochSeconds); a reset already past is 0. now is the time
// the answer arrived.
func ParseXRateLimit(h http.Header, now time.Time) (RateLimit, error) {
	var rl RateLimit
	remaining, ok, err := headerInt(h, "X-RateLimit-Remaining")
	if err != nil || !ok {
		return rl, orNoRateLimit(err)
	}
	rl.Remaining = remaining
	if rl.Limit, _, err = headerInt(h, "X-RateLimit-Limit"); err != nil {
		return RateLimit{}, err
	}
	v := strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	if v == "" {
		return rl, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f >= maxReset || math.IsNaN(f) {
		return RateLimit{}, &HeaderError{Field: "X-RateLimit-Reset", Err: errors.New("not a non-negative number of seconds or a Unix time")}
	}
	switch {
	case f >= epochMillis:
		rl.Reset = time.UnixMilli(int64(f)).Sub(now)
	case f >= epochSeconds:
		sec, frac := math.Modf(f)
		rl.Reset = time.Unix(int64(sec), int64(frac*1e9)).Sub(now)
	default:
		rl.Reset = time.Duration(f * float64(time.Second))
	}
	rl.Reset = max(0, rl.Reset)
	return rl, nil
}

func orNoRateLimit(err error) error {
	if err == nil {
		return ErrNoRateLimit
	}
	return err
}

// headerInt reads a field holding one non-negative integer.
func headerInt(h http.Header, name string) (int, bool, error) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false, &HeaderError{Field: name, Err: errors.New("not a non-negative integer")}
	}
	return n, true, nil
}

// ParseRateLimitFields reads the RateLimit and RateLimit-Policy fields of
// draft-ietf-httpapi-ratelimit-headers-10 (September 2025). Both are
// Structured Field lists (RFC 9651), parsed by httpsfv, of items named by a
// string or a token, as in
//
//	RateLimit-Policy: "default";q=300;w=5
//	RateLimit: "default";r=12;t=3
//
// where q is the policy's quota and w its window in seconds, r the quota
// units remaining and t the seconds until the quota resets. When RateLimit
// names several policies the tightest one is returned: the fewest units
// remaining, then the longest reset. Its Limit and Window come from the
// policy of the same name, when RateLimit-Policy lists it. Without a
// RateLimit field the answer is ErrNoRateLimit; a policy alone says
// nothing of now.
func ParseRateLimitFields(h http.Header) (RateLimit, error) {
	if len(h.Values("RateLimit")) == 0 {
		return RateLimit{}, ErrNoRateLimit
	}
	current, err := sfItems(h, "RateLimit", "r", "t")
	if err != nil {
		return RateLimit{}, err
	}
	if len(current) == 0 {
		return RateLimit{}, ErrNoRateLimit
	}
	best := current[0]
	for _, c := range current[1:] {
		if c.a < best.a || (c.a == best.a && c.b > best.b) {
			best = c
		}
	}
	rl := RateLimit{Remaining: clampInt(best.a), Reset: seconds(best.b)}
	if len(h.Values("RateLimit-Policy")) == 0 {
		return rl, nil
	}
	policies, err := sfItems(h, "RateLimit-Policy", "q", "w")
	if err != nil {
		return RateLimit{}, err
	}
	for _, p := range policies {
		if p.name == best.name {
			rl.Limit, rl.Window = clampInt(p.a), seconds(p.b)
			break
		}
	}
	return rl, nil
}

// sfItem is one member of a RateLimit or RateLimit-Policy list: its name,
// its required integer parameter a (r or q) and its optional one b (t or
// w, 0 when absent).
type sfItem struct {
	name string
	a, b int64
}

func sfItems(h http.Header, field, required, optional string) ([]sfItem, error) {
	list, err := httpsfv.UnmarshalList(h.Values(field))
	if err != nil {
		return nil, &HeaderError{Field: field, Err: errors.New("not a structured field list")}
	}
	out := make([]sfItem, 0, len(list))
	for i, m := range list {
		it, ok := m.(httpsfv.Item)
		if !ok {
			return nil, &HeaderError{Field: field, Err: fmt.Errorf("member %d is an inner list", i)}
		}
		var name string
		switch v := it.Value.(type) {
		case string:
			name = v
		case httpsfv.Token:
			name = string(v)
		default:
			return nil, &HeaderError{Field: field, Err: fmt.Errorf("member %d is not named by a string or token", i)}
		}
		a, ok, err := sfParam(it, required)
		if err == nil && !ok {
			err = fmt.Errorf("parameter %s is missing", required)
		}
		if err != nil {
			return nil, &HeaderError{Field: field, Err: fmt.Errorf("member %d: %w", i, err)}
		}
		b, _, err := sfParam(it, optional)
		if err != nil {
			return nil, &HeaderError{Field: field, Err: fmt.Errorf("member %d: %w", i, err)}
		}
		out = append(out, sfItem{name: name, a: a, b: b})
	}
	return out, nil
}

// sfParam reads a parameter that, when present, must be a non-negative
// integer.
func sfParam(it httpsfv.Item, key string) (int64, bool, error) {
	v, ok := it.Params.Get(key)
	if !ok {
		return 0, false, nil
	}
	n, isInt := v.(int64)
	if !isInt || n < 0 {
		return 0, false, fmt.Errorf("parameter %s is not a non-negative integer", key)
	}
	return n, true, nil
}

// seconds converts whole seconds to a Duration, saturating rather than
// overflowing (a structured integer may have 15 digits).
func seconds(s int64) time.Duration {
	if s > int64(math.MaxInt64/time.Second) {
		return math.MaxInt64
	}
	return time.Duration(s) * time.Second
}

func clampInt(n int64) int {
	return int(min(n, math.MaxInt32))
}

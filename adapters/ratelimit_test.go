package adapters_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

var rlNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// parseCase is one header set and what a parser makes of it: want and
// wantErr (nil or ErrNoRateLimit), or, when field is set, a *HeaderError
// for that field.
type parseCase struct {
	name    string
	h       http.Header
	want    adapters.RateLimit
	wantErr error
	field   string
}

func TestParseXRateLimit(t *testing.T) {
	t.Parallel()
	tests := []parseCase{
		{"all three, reset in seconds", header("X-RateLimit-Limit", "300", "X-RateLimit-Remaining", "12", "X-RateLimit-Reset", "3"),
			adapters.RateLimit{Limit: 300, Remaining: 12, Reset: 3 * time.Second}, nil, ""},
		{"reset as a Unix time", header("X-RateLimit-Limit", "200", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1796126430"),
			adapters.RateLimit{Limit: 200, Remaining: 0, Reset: 30 * time.Second}, nil, ""},
		{"reset as Unix milliseconds", header("X-RateLimit-Remaining", "5", "X-RateLimit-Reset", "1796126401500"),
			adapters.RateLimit{Remaining: 5, Reset: 1500 * time.Millisecond}, nil, ""},
		{"reset Unix time already past", header("X-RateLimit-Remaining", "5", "X-RateLimit-Reset", "1705312800"),
			adapters.RateLimit{Remaining: 5}, nil, ""},
		{"fractional seconds", header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "0.25"),
			adapters.RateLimit{Remaining: 1, Reset: 250 * time.Millisecond}, nil, ""},
		{"largest delta before the epoch reading", header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "999999999"),
			adapters.RateLimit{Remaining: 1, Reset: 999999999 * time.Second}, nil, ""},
		{"spaces trimmed", header("X-RateLimit-Remaining", " 7 ", "X-RateLimit-Limit", " 9"),
			adapters.RateLimit{Limit: 9, Remaining: 7}, nil, ""},
		{"remaining only", header("X-RateLimit-Remaining", "0"), adapters.RateLimit{}, nil, ""},
		{"none", header(), adapters.RateLimit{}, adapters.ErrNoRateLimit, ""},
		{"limit without remaining says nothing", header("X-RateLimit-Limit", "300"), adapters.RateLimit{}, adapters.ErrNoRateLimit, ""},
		{"remaining negative", header("X-RateLimit-Remaining", "-1"), adapters.RateLimit{}, nil, "X-RateLimit-Remaining"},
		{"remaining not a number", header("X-RateLimit-Remaining", "lots"), adapters.RateLimit{}, nil, "X-RateLimit-Remaining"},
		{"limit as an old draft list", header("X-RateLimit-Remaining", "1", "X-RateLimit-Limit", "100, 100;w=60"), adapters.RateLimit{}, nil, "X-RateLimit-Limit"},
		{"reset negative", header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "-3"), adapters.RateLimit{}, nil, "X-RateLimit-Reset"},
		{"reset NaN", header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "NaN"), adapters.RateLimit{}, nil, "X-RateLimit-Reset"},
		{"reset absurd", header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "1e300"), adapters.RateLimit{}, nil, "X-RateLimit-Reset"},
		{"reset an HTTP date", header("X-RateLimit-Remaining", "1", "X-RateLimit-Reset", "Tue, 01 Dec 2026 12:00:30 GMT"), adapters.RateLimit{}, nil, "X-RateLimit-Reset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := adapters.ParseXRateLimit(tc.h, rlNow)
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.field)
		})
	}
}

func checkParsed(t *testing.T, got adapters.RateLimit, err error, want adapters.RateLimit, wantErr error, field string) {
	t.Helper()
	if field != "" {
		var he *adapters.HeaderError
		if !errors.As(err, &he) || he.Field != field {
			t.Fatalf("error %v, want a HeaderError for %s", err, field)
		}
		return
	}
	if !errors.Is(err, wantErr) {
		t.Fatalf("error %v, want %v", err, wantErr)
	}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseRateLimitFields(t *testing.T) {
	t.Parallel()
	tests := []parseCase{
		{"the draft's example", header("RateLimit-Policy", `"default";q=300;w=5`, "RateLimit", `"default";r=12;t=3`),
			adapters.RateLimit{Limit: 300, Remaining: 12, Reset: 3 * time.Second, Window: 5 * time.Second}, nil, ""},
		{"token names", header("RateLimit-Policy", `default;q=300;w=5`, "RateLimit", `default;r=12;t=3`),
			adapters.RateLimit{Limit: 300, Remaining: 12, Reset: 3 * time.Second, Window: 5 * time.Second}, nil, ""},
		{"no policy field", header("RateLimit", `"default";r=12;t=3`),
			adapters.RateLimit{Remaining: 12, Reset: 3 * time.Second}, nil, ""},
		{"no reset", header("RateLimit", `"default";r=12`), adapters.RateLimit{Remaining: 12}, nil, ""},
		{"tightest of two policies", header(
			"RateLimit-Policy", `"burst";q=100;w=60, "daily";q=1000;w=86400`,
			"RateLimit", `"burst";r=50;t=30, "daily";r=5;t=200`),
			adapters.RateLimit{Limit: 1000, Remaining: 5, Reset: 200 * time.Second, Window: 86400 * time.Second}, nil, ""},
		{"equal remaining, longer reset wins", header("RateLimit", `"a";r=0;t=1, "b";r=0;t=9`),
			adapters.RateLimit{Reset: 9 * time.Second}, nil, ""},
		{"fields split over lines", header("RateLimit", `"a";r=4;t=1`, "RateLimit", `"b";r=2;t=2`),
			adapters.RateLimit{Remaining: 2, Reset: 2 * time.Second}, nil, ""},
		{"unknown parameters ignored", header("RateLimit-Policy", `"default";q=10;qu="requests";w=1;pk=:cHJvZA==:`, "RateLimit", `"default";r=1;t=1;pk=:cHJvZA==:`),
			adapters.RateLimit{Limit: 10, Remaining: 1, Reset: time.Second, Window: time.Second}, nil, ""},
		{"policy of another name", header("RateLimit-Policy", `"other";q=10;w=1`, "RateLimit", `"default";r=1;t=1`),
			adapters.RateLimit{Remaining: 1, Reset: time.Second}, nil, ""},
		{"huge reset saturates", header("RateLimit", `"d";r=1;t=999999999999999`),
			adapters.RateLimit{Remaining: 1, Reset: time.Duration(1<<63 - 1)}, nil, ""},
		{"none", header(), adapters.RateLimit{}, adapters.ErrNoRateLimit, ""},
		{"policy alone says nothing of now", header("RateLimit-Policy", `"default";q=300;w=5`), adapters.RateLimit{}, adapters.ErrNoRateLimit, ""},
		{"empty list", header("RateLimit", ``), adapters.RateLimit{}, adapters.ErrNoRateLimit, ""},
		{"r missing", header("RateLimit", `"default";t=3`), adapters.RateLimit{}, nil, "RateLimit"},
		{"r negative", header("RateLimit", `"default";r=-1`), adapters.RateLimit{}, nil, "RateLimit"},
		{"r a decimal", header("RateLimit", `"default";r=1.5`), adapters.RateLimit{}, nil, "RateLimit"},
		{"t a string", header("RateLimit", `"default";r=1;t="3"`), adapters.RateLimit{}, nil, "RateLimit"},
		{"inner list", header("RateLimit", `("a" "b");r=1`), adapters.RateLimit{}, nil, "RateLimit"},
		{"named by an integer", header("RateLimit", `7;r=1`), adapters.RateLimit{}, nil, "RateLimit"},
		{"the old draft's form", header("RateLimit", `limit=100, remaining=50, reset=30`), adapters.RateLimit{}, nil, "RateLimit"},
		{"not structured", header("RateLimit", `"default;r=1`), adapters.RateLimit{}, nil, "RateLimit"},
		{"policy without q", header("RateLimit-Policy", `"default";w=5`, "RateLimit", `"default";r=1`), adapters.RateLimit{}, nil, "RateLimit-Policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := adapters.ParseRateLimitFields(tc.h)
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.field)
		})
	}
}

// checkFuzzed holds for any parse: an error or sane values, and no panic.
func checkFuzzed(t *testing.T, rl adapters.RateLimit, err error) {
	if err != nil {
		var he *adapters.HeaderError
		if !errors.Is(err, adapters.ErrNoRateLimit) && !errors.As(err, &he) {
			t.Fatalf("untyped error %v", err)
		}
		if rl != (adapters.RateLimit{}) {
			t.Fatalf("values %+v with error %v", rl, err)
		}
		return
	}
	if rl.Limit < 0 || rl.Remaining < 0 || rl.Reset < 0 || rl.Window < 0 {
		t.Fatalf("negative values %+v", rl)
	}
}

func FuzzParseXRateLimit(f *testing.F) {
	for _, s := range [][3]string{{"300", "12", "3"}, {"200", "0", "1796126430"}, {"", "5", "1796126401500"}, {"x", "1", "1e300"}, {"1", "-1", "NaN"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, limit, remaining, reset string) {
		h := header("X-RateLimit-Limit", limit, "X-RateLimit-Remaining", remaining, "X-RateLimit-Reset", reset)
		rl, err := adapters.ParseXRateLimit(h, rlNow)
		checkFuzzed(t, rl, err)
	})
}

func FuzzParseRateLimitFields(f *testing.F) {
	f.Add(`"default";q=300;w=5`, `"default";r=12;t=3`)
	f.Add(`"burst";q=100;w=60, "daily";q=1000;w=86400`, `"burst";r=50;t=30, "daily";r=5;t=200`)
	f.Add(``, `("a" "b");r=1`)
	f.Add(`x;q=1`, `x;r=999999999999999;t=999999999999999`)
	f.Fuzz(func(t *testing.T, policy, current string) {
		rl, err := adapters.ParseRateLimitFields(header("RateLimit-Policy", policy, "RateLimit", current))
		checkFuzzed(t, rl, err)
	})
}

// TestSandboxRateLimitHeadersParse is the round trip: what a sandbox
// sends, each parser reads back as the sandbox's own count.
func TestSandboxRateLimitHeadersParse(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		limit sandbox.Limit
		after time.Duration // into the window when the 3rd request comes
		want  adapters.RateLimit
	}{
		{"fixed window, reset in seconds", sandbox.Limit{Shape: sandbox.FixedWindow, N: 5, Window: 5 * time.Second, XRateLimit: sandbox.XRateLimitSeconds, IETF: true},
			2 * time.Second, adapters.RateLimit{Limit: 5, Remaining: 2, Reset: 3 * time.Second, Window: 5 * time.Second}},
		{"fixed window, reset as a Unix time", sandbox.Limit{Shape: sandbox.FixedWindow, N: 200, Window: time.Minute, XRateLimit: sandbox.XRateLimitEpoch, IETF: true},
			30 * time.Second, adapters.RateLimit{Limit: 200, Remaining: 197, Reset: 30 * time.Second, Window: time.Minute}},
		{"sliding window", sandbox.Limit{Shape: sandbox.SlidingWindow, N: 4, Window: 10 * time.Second, XRateLimit: sandbox.XRateLimitSeconds, IETF: true},
			time.Second, adapters.RateLimit{Limit: 4, Remaining: 1, Reset: 10 * time.Second, Window: 10 * time.Second}},
		{"token bucket", sandbox.Limit{Shape: sandbox.TokenBucket, N: 10, Window: 10 * time.Second, XRateLimit: sandbox.XRateLimitSeconds, IETF: true},
			0, adapters.RateLimit{Limit: 10, Remaining: 7, Reset: 3 * time.Second, Window: 10 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := start
			c := sandbox.NewChaos(sandbox.Knobs{Limit: tc.limit})
			c.SetClock(func() time.Time { return now })
			var h http.Header
			for i := range 3 {
				if i == 2 {
					now = start.Add(tc.after)
				}
				h = http.Header{}
				if f := c.Decide(context.Background(), h); f.Kind != sandbox.FaultNone {
					t.Fatalf("request %d: %+v", i, f)
				}
			}
			x, err := adapters.ParseXRateLimit(h, now)
			if err != nil {
				t.Fatalf("X-RateLimit: %v (%v)", err, h)
			}
			ietf, err := adapters.ParseRateLimitFields(h)
			if err != nil {
				t.Fatalf("RateLimit: %v (%v)", err, h)
			}
			wantX := tc.want
			wantX.Window = 0 // X-RateLimit-* cannot say
			if x != wantX {
				t.Errorf("X-RateLimit parsed %+v from %v, want %+v", x, h, wantX)
			}
			if ietf != tc.want {
				t.Errorf("RateLimit parsed %+v from %v, want %+v", ietf, h, tc.want)
			}
		})
	}
}

package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestRetrierLogsEachRetry: every retry gets one debug line naming the
// vendor, the attempt it leads to, the wait and where the wait came from,
// and a retry the vendor's limiter then held back gets one more, with
// source limiter. Nothing at info.
func TestRetrierLogsEachRetry(t *testing.T) {
	t.Parallel()
	const ra = 30 * time.Millisecond
	tests := []struct {
		name    string
		steps   []step
		limiter bool
		want    []map[string]any // fields each line must have, in order
	}{
		{
			name:  "backoff",
			steps: []step{{out: Failed, err: retryable("busy")}, {out: Failed, err: retryable("busy")}, {out: Deleted}},
			want: []map[string]any{
				{"vendor": "fake", "event_id": "e1", "attempt": 2.0, "source": "backoff", "wait_ms": 1000.0, "status": 503.0, "class": "retryable"},
				{"vendor": "fake", "event_id": "e1", "attempt": 3.0, "source": "backoff", "wait_ms": 2000.0},
			},
		},
		{
			name:  "retry_after",
			steps: []step{{out: Failed, err: &Error{Vendor: "fake", Class: ClassRetryable, Status: 429, RetryAfter: 7 * time.Second}}, {out: Deleted}},
			want:  []map[string]any{{"vendor": "fake", "attempt": 2.0, "source": "retry_after", "wait_ms": 7000.0, "status": 429.0}},
		},
		{
			// The Retry-After pauses the vendor's limiter too: the
			// retry's own wait (fake, at once) is over before the pause.
			name:    "limiter",
			limiter: true,
			steps:   []step{{out: Failed, err: &Error{Vendor: "fake", Class: ClassRetryable, Status: 429, RetryAfter: ra}}, {out: Deleted}},
			want: []map[string]any{
				{"vendor": "fake", "attempt": 2.0, "source": "retry_after", "wait_ms": float64(ra.Milliseconds())},
				{"vendor": "fake", "attempt": 2.0, "source": "limiter"},
			},
		},
		{name: "no retry", steps: []step{{out: Deleted}}},
		{name: "permanent", steps: []step{{out: Failed, err: &Error{Vendor: "fake", Class: ClassPermanent, Status: 400}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, level := range []zerolog.Level{zerolog.InfoLevel, zerolog.DebugLevel} {
				var buf bytes.Buffer
				opts := []RetrierOption{WithTimer(newFakeTimer(false)), WithLogger(zerolog.New(&buf).Level(level))}
				if tc.limiter {
					opts = append(opts, WithLimiter(NewLimiter(LimitConfig{DecreaseFactor: 0.9, MinRate: 1}, 0)))
				}
				NewRetrier(testRetryConfig(), opts...).Do(context.Background(), &fakeAdapter{steps: tc.steps}, testEvent)
				var lines []map[string]any
				for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
					if l == "" {
						continue
					}
					var m map[string]any
					if err := json.Unmarshal([]byte(l), &m); err != nil {
						t.Fatalf("%q: %v", l, err)
					}
					lines = append(lines, m)
				}
				if level == zerolog.InfoLevel {
					if len(lines) != 0 {
						t.Errorf("at info, logged %v", lines)
					}
					continue
				}
				if len(lines) != len(tc.want) {
					t.Fatalf("logged %d lines, want %d: %v", len(lines), len(tc.want), lines)
				}
				for i, want := range tc.want {
					if lines[i]["level"] != "debug" || lines[i]["message"] == "" {
						t.Errorf("line %d: %v", i, lines[i])
					}
					for k, v := range want {
						if lines[i][k] != v {
							t.Errorf("line %d: %s = %v, want %v (%v)", i, k, lines[i][k], v, lines[i])
						}
					}
					if w, ok := lines[i]["wait_ms"].(float64); !ok || w <= 0 {
						t.Errorf("line %d: wait_ms = %v, want a positive wait", i, lines[i]["wait_ms"])
					}
					if _, ok := lines[i]["user"]; ok {
						t.Errorf("line %d names the user: %v", i, lines[i])
					}
				}
			}
		})
	}
}

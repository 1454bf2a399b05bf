package dlq

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWriteUntilAcked: a failing write is retried until it succeeds,
// failed sees every failed attempt in order, and only the caller's
// context ends the retries, with an error that says so.
func TestWriteUntilAcked(t *testing.T) {
	t.Parallel()
	r := WriteRetry{WriteTimeout: time.Second, Initial: time.Millisecond, Max: 2 * time.Millisecond}
	cases := []struct {
		name      string
		failures  int // writes that fail before one succeeds; -1 for all
		cancelAt  int // cancel the context during this failed attempt; 0 never
		wantErr   string
		wantCause error
	}{
		{"first write acked", 0, 0, "", nil},
		{"acked after five failures", 5, 0, "", nil},
		{"context ends the retries", -1, 3, "receipt write to t abandoned after 3 attempts", context.Canceled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			var seen []int
			write := func(wctx context.Context) error {
				calls++
				if _, ok := wctx.Deadline(); !ok {
					t.Error("a write attempt without its timeout")
				}
				if c.failures >= 0 && calls > c.failures {
					return nil
				}
				if calls == c.cancelAt {
					cancel()
				}
				return errors.New("broker down")
			}
			err := WriteUntilAcked(ctx, "receipt write to t", r, write, func(attempt int, err error) { seen = append(seen, attempt) })
			if c.wantErr == "" {
				if err != nil || calls != c.failures+1 || len(seen) != c.failures {
					t.Fatalf("err %v after %d calls, failed saw %v; want nil after %d", err, calls, seen, c.failures+1)
				}
				for i, a := range seen {
					if a != i+1 {
						t.Fatalf("failed saw attempts %v, want 1..%d in order", seen, c.failures)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, c.wantCause) {
				t.Fatalf("err %v, want %q wrapping %v", err, c.wantErr, c.wantCause)
			}
			if calls != c.cancelAt || len(seen) != c.cancelAt-1 {
				t.Fatalf("%d calls, failed saw %v; want %d calls and the last not reported", calls, seen, c.cancelAt)
			}
		})
	}
}

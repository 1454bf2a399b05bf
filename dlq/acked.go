package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// WriteRetry bounds WriteUntilAcked: each attempt gets WriteTimeout, the
// waits between failed attempts grow from Initial to Max.
type WriteRetry struct {
	WriteTimeout, Initial, Max time.Duration
}

// WriteUntilAcked calls write until it succeeds or ctx ends: the rule
// every hand-off that holds a commit point follows (the dead-letter
// topic, the retry topics, the receipts topic). It never gives up on its
// own, since dropping is not an option; the caller's context is what
// ends it, and then the caller must not commit. failed is called after
// each failed attempt but the last (to count, log, or change what the
// next attempt writes). The error names what, and says how many attempts
// were made when ctx ended them.
func WriteUntilAcked(ctx context.Context, what string, r WriteRetry, write func(context.Context) error, failed func(attempt int, err error)) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = r.Initial, r.Max
	b.MaxElapsedTime = 0
	attempt := 0
	op := func() error {
		attempt++
		wctx, cancel := context.WithTimeout(ctx, r.WriteTimeout)
		defer cancel()
		err := write(wctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		failed(attempt, err)
		return err
	}
	err := backoff.Retry(op, backoff.WithContext(b, ctx))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s abandoned after %d attempts: %w", what, attempt, err)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// Package adaptertest holds checks every vendor adapter's tests share.
package adaptertest

import (
	"errors"
	"testing"

	"github.com/erasured/erasured/adapters"
)

// Classified checks what every vendor's Classify must guarantee of its
// result, whatever the answer it read: a nil error exactly with a final
// outcome; otherwise outcome Failed and an *adapters.Error of a known
// class, a Retry-After within bounds, and error text short enough to log.
// It returns that error, or nil for a final outcome.
func Classified(t testing.TB, out adapters.Outcome, err error) *adapters.Error {
	t.Helper()
	if (err == nil) != out.Final() {
		t.Fatalf("outcome %v with error %v", out, err)
	}
	if err == nil {
		return nil
	}
	if out != adapters.Failed {
		t.Fatalf("outcome %v with an error", out)
	}
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %T is not an *adapters.Error", err)
	}
	switch ae.Class {
	case adapters.ClassRetryable, adapters.ClassPermanent, adapters.ClassUnexpected, adapters.ClassInvalidIdentifier:
	default:
		t.Fatalf("invalid class %v", ae.Class)
	}
	if ae.RetryAfter < 0 || ae.RetryAfter > adapters.MaxRetryAfter {
		t.Fatalf("RetryAfter %s out of bounds", ae.RetryAfter)
	}
	if n := len(err.Error()); n >= 1000 {
		t.Fatalf("error text is %d bytes", n)
	}
	if n := len(ae.VendorMessage); n > adapters.MaxExcerpt+len("…") {
		t.Fatalf("vendor message is %d bytes", n)
	}
	return ae
}

// Text is all the words err carries: its Error() and, for an
// *adapters.Error, the vendor's masked words, which Error() leaves out.
// Leak checks read this.
func Text(err error) string {
	if err == nil {
		return ""
	}
	var ae *adapters.Error
	if errors.As(err, &ae) && ae.VendorMessage != "" {
		return err.Error() + " | " + ae.VendorMessage
	}
	return err.Error()
}

// Package adapters defines how erasured talks to a vendor: one small
// interface that deletes a person at that vendor and says, in typed terms,
// what happened. Each vendor lives in a sub-package with a faithful sandbox
// of its API; this package holds what they share: outcomes, the error type
// callers branch on, bounded HTTP exchanges and the retry policy.
package adapters

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/erasured/erasured/event"
)

// Adapter deletes one person at one vendor.
//
// Delete makes one attempt. It returns a final Outcome with a nil error, or
// a non-nil error, which is an *Error whenever the vendor answered (or
// failed to) in a way the adapter understood. Retrying is not the adapter's
// job: see Retrier.
type Adapter interface {
	// Name is the vendor's stable, lower-case name ("plivo", "webex",
	// "exotel", "clevertap"). It appears in logs, metrics and dead-letter
	// headers.
	Name() string
	Delete(ctx context.Context, ev *event.UserDeleted) (Outcome, error)
}

// Outcome is what a delete achieved.
type Outcome int

const (
	// OutcomeUnknown is the zero value; no adapter returns it with a nil
	// error.
	OutcomeUnknown Outcome = iota
	// Deleted means the vendor confirmed the deletion (or accepted it for
	// deletion, as CleverTap does).
	Deleted
	// AlreadyAbsent means the vendor does not know the person: deletes are
	// idempotent, so this is as good as Deleted.
	AlreadyAbsent
	// NotApplicable means the event carries no identifier this vendor
	// needs, so there is nothing to delete there.
	NotApplicable
	// Failed means no final outcome was reached; the accompanying error
	// says why. Only a Retrier's Result carries it.
	Failed
)

var outcomeNames = [...]string{"unknown", "deleted", "already_absent", "not_applicable", "failed"}

func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return "outcome(" + strconv.Itoa(int(o)) + ")"
	}
	return outcomeNames[o]
}

// Final reports whether the outcome lets the event's offset be committed
// without a dead-letter record for this vendor.
func (o Outcome) Final() bool {
	return o == Deleted || o == AlreadyAbsent || o == NotApplicable
}

// Class says what a caller should do about an error.
type Class int

const (
	// ClassRetryable errors may succeed later: throttling, 5xx, timeouts,
	// connection failures, vendor codes that mean "try again".
	ClassRetryable Class = iota + 1
	// ClassPermanent errors will fail the same way every time: bad
	// request, invalid identifier, authentication failure.
	ClassPermanent
	// ClassUnexpected is an answer the adapter could not read: an unknown
	// status or body shape. It is not retried, since nothing says a retry
	// would help, and it is dead-lettered with a body excerpt.
	ClassUnexpected
	// ClassInvalidIdentifier is an identifier whose shape the vendor's API
	// cannot take (see CheckIdentifier): nothing was sent, nothing is
	// retried, and the event is dead-lettered for a person to look at. It
	// is its own class because sending it could do harm: a "/" or ".."
	// aims a DELETE at another resource, and an identifier the vendor
	// reads differently answers "not found", a deletion silently lost.
	ClassInvalidIdentifier
)

var classNames = map[Class]string{ClassRetryable: "retryable", ClassPermanent: "permanent", ClassUnexpected: "unexpected", ClassInvalidIdentifier: "invalid_identifier"}

func (c Class) String() string {
	if n, ok := classNames[c]; ok {
		return n
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Error is a failed attempt at a vendor, classified. Its text never holds a
// secret or personal data: Status, Code and Description are the vendor's
// documented words, Message is the adapter's own, and what the vendor
// itself wrote is kept apart in VendorMessage, masked, out of Error().
type Error struct {
	Vendor string
	Class  Class
	// Status is the HTTP status code, 0 when no response arrived.
	Status int
	// Code is the vendor's own error code from the body, if any.
	Code string
	// Description is what the vendor's API page says Code (or, where the
	// page lists statuses, Status) means, in the page's words; empty when
	// the page documents nothing for it. See Codes.
	Description string
	// Message is the adapter's own account of the failure ("404 without
	// Plivo's JSON body", "request failed: connection refused"): fixed
	// text, never the vendor's body.
	Message string
	// VendorMessage is an excerpt of what the vendor wrote (its error
	// text, or the body when it had none), masked with Excerpt. A vendor
	// may echo the person's data in it, so it goes to a dead-letter record
	// only when dead_letter.include_vendor_message is set, and never into
	// Error().
	VendorMessage string
	// RetryAfter is the wait the vendor asked for (Retry-After), 0 if none.
	RetryAfter time.Duration
	// Err is the underlying cause, such as a transport error.
	Err error
}

func (e *Error) Error() string {
	s := e.Vendor + ": " + e.Class.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d", e.Status)
		if e.Code != "" {
			s += ", code " + e.Code
		}
		s += ")"
	} else if e.Code != "" {
		s += " (code " + e.Code + ")"
	}
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorClass returns the class of err: an *Error's own class, retryable for
// anything else (a transport or unforeseen failure says nothing final about
// the vendor), and 0 for nil.
func ErrorClass(err error) Class {
	if err == nil {
		return 0
	}
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Class
	}
	return ClassRetryable
}

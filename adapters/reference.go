package adapters

import (
	"context"
	"encoding/json"
	"sync"
)

// A vendor's own reference for the request that settled an event (Plivo's
// api_id, Webex's transaction-id, Exotel's request_id, the time CleverTap
// accepted a batch) goes on the event's receipt, so an auditor can match
// erasured's record with the vendor's. Adapters report it with
// NoteReference during Delete; the Retrier puts the one from the attempt
// that settled the event in Result. It travels in the context so the
// Adapter interface stays (Outcome, error).

type referenceKey struct{}

type referenceNote struct {
	mu    sync.Mutex
	ref   string
	batch int
}

// withReferenceNote gives ctx a place for one attempt's reference.
func withReferenceNote(ctx context.Context) (context.Context, *referenceNote) {
	n := &referenceNote{}
	return context.WithValue(ctx, referenceKey{}, n), n
}

func (n *referenceNote) get() (string, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ref, n.batch
}

// MaxReferenceBytes bounds a reference.
const MaxReferenceBytes = 128

// ValidReference reports whether ref looks like an id: 1 to
// MaxReferenceBytes of letters, digits and . _ : - +. A vendor could
// echo anything into the field it names (a person's data included), so
// anything else is dropped, never stored.
func ValidReference(ref string) bool {
	if ref == "" || len(ref) > MaxReferenceBytes {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == ':', c == '-', c == '+':
		default:
			return false
		}
	}
	return true
}

// NoteReference records the vendor's reference for the current attempt,
// and batchSize for a batching vendor (0 otherwise). Outside a Retrier,
// or with a reference that does not look like an id, it does nothing.
func NoteReference(ctx context.Context, ref string, batchSize int) {
	n, ok := ctx.Value(referenceKey{}).(*referenceNote)
	if !ok || !ValidReference(ref) {
		return
	}
	n.mu.Lock()
	n.ref, n.batch = ref, max(batchSize, 0)
	n.mu.Unlock()
}

// ReferenceField reads a top-level member of a JSON object body as a
// reference: a string, or a number written as it stands. Anything else,
// or a body that is not a JSON object, gives "".
func ReferenceField(body []byte, field string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	raw, ok := m[field]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

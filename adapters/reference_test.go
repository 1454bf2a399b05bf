package adapters

import (
	"context"
	"strings"
	"testing"
)

func TestReferenceField(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body, field, want string
	}{
		{`{"api_id":"aaf7717a-c149-11ec-a932-0242ac110003","message":"ok"}`, "api_id", "aaf7717a-c149-11ec-a932-0242ac110003"},
		{`{"transaction-id":12345}`, "transaction-id", "12345"},
		{`{"request_id":null}`, "request_id", ""},
		{`{"request_id":{"x":1}}`, "request_id", ""},
		{`not json`, "api_id", ""},
		{`{"other":"x"}`, "api_id", ""},
	} {
		if got := ReferenceField([]byte(c.body), c.field); got != c.want {
			t.Errorf("ReferenceField(%s, %s) = %q, want %q", c.body, c.field, got, c.want)
		}
	}
}

// A reference is kept only when it looks like an id: a vendor echoing a
// person's data into the field must not put it on a receipt.
func TestNoteReferenceKeepsOnlyIDs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		ref  string
		kept bool
	}{
		{"e623a09f108d4fe0b5c442024f3d30bb", true},
		{"2026-12-01T10:00:00.123Z", true},
		{"alice@example.com", false},
		{"+91 9101234511", false},
		{"x\ny", false},
		{strings.Repeat("a", MaxReferenceBytes+1), false},
		{"", false},
	} {
		ctx, n := withReferenceNote(context.Background())
		NoteReference(ctx, c.ref, 3)
		got, batch := n.get()
		if (got != "") != c.kept || (c.kept && (got != c.ref || batch != 3)) {
			t.Errorf("%q: kept %q (batch %d), want kept=%v", c.ref, got, batch, c.kept)
		}
	}
	// Outside a Retrier, nothing to note into and nothing breaks.
	NoteReference(context.Background(), "abc", 0)
}

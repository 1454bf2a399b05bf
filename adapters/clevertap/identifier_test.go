package clevertap

import (
	"context"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/event"
)

// TestMalformedIdentifierNeverSent is issue 10 item 14: an identity or
// CleverTap ID that CleverTap would read as another (white space, invisible
// characters, bytes JSON replaces; for a guid anything but the letters,
// digits, "_" and "-" of the page's examples) fails as invalid_identifier,
// alone, and the sandbox hears nothing. CleverTap answers success for an
// id it does not know, so a mangled id would be a deletion silently lost.
func TestMalformedIdentifierNeverSent(t *testing.T) {
	t.Parallel()
	type tc struct{ idType, id string }
	bad := map[string]tc{
		"identity, leading space":    {IDTypeIdentity, " client-19827239"},
		"identity, trailing newline": {IDTypeIdentity, "client-19827239\n"},
		"identity, nul":              {IDTypeIdentity, "client-\x0019827239"},
		"identity, bidi override":    {IDTypeIdentity, "client-\u202e19827239"},
		"identity, invalid utf-8":    {IDTypeIdentity, "client-\xff19827239"},
		"guid, space":                {IDTypeGUID, "ctid 123"},
		"guid, punctuation":          {IDTypeGUID, "ctid!123"},
		"guid, email":                {IDTypeGUID, "ada@example.com"},
		"guid, non-ASCII":            {IDTypeGUID, "ctidé123"},
		"guid, slash":                {IDTypeGUID, "ctid/123"},
	}
	for _, batch := range []int{1, MaxBatch} {
		for name, c := range bad {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sb, srv := startSandbox(t, sandbox.Knobs{})
				cfg := validConfig(srv.URL)
				cfg.IDType, cfg.BatchSize = c.idType, batch
				a := newAdapter(t, cfg, srv.Client())
				ev := &event.UserDeleted{EventID: "evt-1", UserID: "user-1", Identifiers: map[string]string{DefaultIdentityField: c.id, DefaultGUIDField: c.id}}
				out, err := a.Delete(context.Background(), ev)
				if out != adapters.Failed || adapters.ErrorClass(err).String() != "invalid_identifier" {
					t.Errorf("batch %d: Delete(%q) = %v, %v (class %s); want failed, invalid_identifier", batch, c.id, out, err, adapters.ErrorClass(err))
				}
				if err != nil && strings.Contains(err.Error(), c.id) {
					t.Errorf("error %q names the id", err)
				}
				if n := sb.Ledger.Requests(); n != 0 {
					t.Errorf("batch %d: Delete(%q) sent %d requests, want none", batch, c.id, n)
				}
			})
		}
	}
	// The page's examples are sent, and identities JSON carries faithfully
	// ("/" and "\" mean nothing in a body).
	for _, c := range []tc{{IDTypeIdentity, "client-19827239"}, {IDTypeIdentity, "abc"}, {IDTypeIdentity, "ada@example.com"}, {IDTypeIdentity, "a/b"}, {IDTypeIdentity, `a\b`}, {IDTypeGUID, "df2e224d90874887b4d61153ef3a2508"}, {IDTypeGUID, "ctid123"}, {IDTypeGUID, "__g1234-ab_c"}} {
		sb, srv := startSandbox(t, sandbox.Knobs{})
		cfg := validConfig(srv.URL)
		cfg.IDType, cfg.BatchSize = c.idType, 1
		ev := &event.UserDeleted{EventID: "evt-1", UserID: "user-1", Identifiers: map[string]string{DefaultIdentityField: c.id, DefaultGUIDField: c.id}}
		if _, err := newAdapter(t, cfg, srv.Client()).Delete(context.Background(), ev); adapters.ErrorClass(err).String() == "invalid_identifier" {
			t.Errorf("Delete(%q) refused: %v", c.id, err)
		}
		if n := sb.Ledger.Requests(); n != 1 {
			t.Errorf("Delete(%q): %d requests, want 1", c.id, n)
		}
	}
}

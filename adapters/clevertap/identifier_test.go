package clevertap

import (
	"context"
	"fmt"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
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
	bad := map[string]map[string]string{
		IDTypeIdentity: {
			"leading space":    " client-19827239",
			"trailing newline": "client-19827239\n",
			"nul":              "client-\x0019827239",
			"bidi override":    "client-\u202e19827239",
			"invalid utf-8":    "client-\xff19827239",
		},
		IDTypeGUID: {
			"space":       "ctid 123",
			"punctuation": "ctid!123",
			"email":       "ada@example.com",
			"non-ASCII":   "ctidé123",
			"slash":       "ctid/123",
		},
	}
	// The page's examples are sent, and identities JSON carries faithfully
	// ("/" and "\" mean nothing in a body).
	good := map[string][]string{
		IDTypeIdentity: {"client-19827239", "abc", "ada@example.com", "a/b", `a\b`},
		IDTypeGUID:     {"df2e224d90874887b4d61153ef3a2508", "ctid123", "__g1234-ab_c"},
	}
	for _, batch := range []int{1, MaxBatch} {
		for _, idType := range []string{IDTypeIdentity, IDTypeGUID} {
			t.Run(fmt.Sprintf("batch %d/%s", batch, idType), func(t *testing.T) {
				t.Parallel()
				adaptertest.IdentifierShapes(t, bad[idType], good[idType], func(t *testing.T, id string) (adapters.Outcome, error, int) {
					sb, srv := startSandbox(t, sandbox.Knobs{})
					cfg := validConfig(srv.URL)
					cfg.IDType, cfg.BatchSize = idType, batch
					ev := &event.UserDeleted{EventID: "evt-1", UserID: "user-1", Identifiers: map[string]string{DefaultIdentityField: id, DefaultGUIDField: id}}
					out, err := newAdapter(t, cfg, srv.Client()).Delete(context.Background(), ev)
					return out, err, sb.Ledger.Requests()
				})
			})
		}
	}
}

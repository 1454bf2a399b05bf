package webex

import (
	"context"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

// TestMalformedKeyNeverSent is issue 10 item 14: a profile key Webex would
// read as another key (white space it may trim, invisible characters,
// bytes JSON replaces) fails as invalid_identifier and the sandbox hears
// nothing. Webex answers an unknown key "Contact profile not found", which
// reads as already deleted: sending it would lose the deletion silently.
func TestMalformedKeyNeverSent(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"leading space":    " " + testKey,
		"trailing space":   testKey + " ",
		"trailing newline": testKey + "\n",
		"tab inside":       "key-946\t3183918",
		"nul":              "key-9463183918\x00",
		"bidi override":    "key-\u202e9463183918",
		"zero-width space": "key-\u200b9463183918",
		"line separator":   "key-\u20289463183918",
		"invalid utf-8":    "key-\xff9463183918",
		"only white space": "   ",
	}
	// The page's example key, a phone number, and other keys JSON carries
	// faithfully are sent: "/" and "\" mean nothing in a body.
	good := []string{"9463183918", testKey, "ada@example.com", "Ünïcødé key", "a/b", `a\b`, ".."}
	adaptertest.IdentifierShapes(t, bad, good, func(t *testing.T, key string) (adapters.Outcome, error, int) {
		sb, srv := startSandbox(t, sandbox.Knobs{})
		out, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(key))
		return out, err, sb.Ledger.Requests()
	})
}

package webex

import (
	"context"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
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
	for name, key := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			out, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(key))
			if out != adapters.Failed || adapters.ErrorClass(err).String() != "invalid_identifier" {
				t.Errorf("Delete(%q) = %v, %v (class %s); want failed, invalid_identifier", key, out, err, adapters.ErrorClass(err))
			}
			if err != nil && strings.Contains(err.Error(), key) {
				t.Errorf("error %q names the key", err)
			}
			if n := sb.Ledger.Requests(); n != 0 {
				t.Errorf("Delete(%q) sent %d requests, want none", key, n)
			}
		})
	}
	// The page's example key, a phone number, and other keys JSON carries
	// faithfully are sent: "/" and "\" mean nothing in a body.
	for _, key := range []string{"9463183918", testKey, "ada@example.com", "Ünïcødé key", "a/b", `a\b`, ".."} {
		sb, srv := startSandbox(t, sandbox.Knobs{})
		if _, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(key)); adapters.ErrorClass(err).String() == "invalid_identifier" {
			t.Errorf("Delete(%q) refused: %v", key, err)
		}
		if n := sb.Ledger.Requests(); n != 1 {
			t.Errorf("Delete(%q): %d requests, want 1", key, n)
		}
	}
}

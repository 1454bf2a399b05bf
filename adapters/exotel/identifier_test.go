package exotel

import (
	"context"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

// TestMalformedContactSIDNeverSent is issue 10 item 14: a contact sid not
// of the shape Exotel's page shows (32 lower-case hexadecimal digits, as
// in "4440b6e1a85f489b87d76d8779956caf") fails as invalid_identifier and
// the sandbox hears nothing.
func TestMalformedContactSIDNeverSent(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"too short":         testContact[:31],
		"too long":          testContact + "a",
		"upper case":        strings.ToUpper(testContact),
		"uuid with dashes":  "4440b6e1-a85f-489b-87d7-6d8779956caf",
		"slash":             "4440b6e1a85f489b/7d76d8779956caf",
		"traversal":         "../../accounts/exotel8u3",
		"dot segment":       ".",
		"backslash":         `4440b6e1a85f489b\7d76d8779956caf`,
		"trailing newline":  testContact + "\n",
		"control character": "4440b6e1a85f489b87d76d8779956ca\x7f",
		"invalid utf-8":     "4440b6e1a85f489b87d76d8779956ca\xff",
		"non-hex":           "zz40b6e1a85f489b87d76d8779956caf",
		"query":             testContact + "?x=1",
		"phone number":      "+919101234511",
	}
	for name, id := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			out, err := newAdapter(t, srv).Delete(context.Background(), userDeleted(id))
			if out != adapters.Failed || adapters.ErrorClass(err).String() != "invalid_identifier" {
				t.Errorf("Delete(%q) = %v, %v (class %s); want failed, invalid_identifier", id, out, err, adapters.ErrorClass(err))
			}
			if err != nil && strings.Contains(err.Error(), id) {
				t.Errorf("error %q names the identifier", err)
			}
			if n := sb.Ledger.Requests(); n != 0 {
				t.Errorf("Delete(%q) sent %d requests, want none", id, n)
			}
		})
	}
	sb, srv := startSandbox(t, sandbox.Knobs{})
	if _, err := newAdapter(t, srv).Delete(context.Background(), userDeleted(testContact)); adapters.ErrorClass(err).String() == "invalid_identifier" {
		t.Errorf("the page's sid refused: %v", err)
	}
	if n := sb.Ledger.Requests(); n != 1 {
		t.Errorf("the page's sid: %d requests, want 1", n)
	}
}

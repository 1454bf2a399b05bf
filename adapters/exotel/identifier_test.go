package exotel

import (
	"context"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
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
	adaptertest.IdentifierShapes(t, bad, []string{testContact}, func(t *testing.T, id string) (adapters.Outcome, error, int) {
		sb, srv := startSandbox(t, sandbox.Knobs{})
		out, err := newAdapter(t, srv).Delete(context.Background(), userDeleted(id))
		return out, err, sb.Ledger.Requests()
	})
}

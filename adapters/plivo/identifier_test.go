package plivo

import (
	"context"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

// TestMalformedProfileUUIDNeverSent is issue 10 item 14: an identifier
// that is not the UUID Plivo's page names (profile_uuid) fails as
// invalid_identifier, permanently, and the sandbox hears nothing.
func TestMalformedProfileUUIDNeverSent(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"not a uuid":           "not-a-uuid",
		"one digit short":      testProfile[:len(testProfile)-1],
		"no dashes":            strings.ReplaceAll(testProfile, "-", ""),
		"slash":                "f8ca5a50/50b8-438d-8068-28427b1c0e90",
		"traversal":            "../../v1/Account",
		"dot segment":          "..",
		"backslash":            `f8ca5a50\50b8-438d-8068-28427b1c0e90`,
		"trailing newline":     testProfile + "\n",
		"leading space":        " " + testProfile,
		"control character":    "f8ca5a50-50b8-438d-8068-28427b1c0e9\x00",
		"invalid utf-8":        "f8ca5a50-50b8-438d-8068-28427b1c0e9\xff",
		"uuid then more":       testProfile + "/x",
		"percent-encoded uuid": strings.ReplaceAll(testProfile, "-", "%2D"),
		"non-hex":              "g8ca5a50-50b8-438d-8068-28427b1c0e90",
		"braced":               "{" + testProfile + "}",
	}
	// Either case of a UUID is one (RFC 9562): both are sent.
	adaptertest.IdentifierShapes(t, bad, []string{testProfile, strings.ToUpper(testOther)}, func(t *testing.T, id string) (adapters.Outcome, error, int) {
		e := newTestEnv(t, sandbox.Knobs{})
		out, err := e.adapter().Delete(context.Background(), profileEvent(id))
		return out, err, e.sb.Ledger.Requests()
	})
}

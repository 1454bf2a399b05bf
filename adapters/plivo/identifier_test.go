package plivo

import (
	"context"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
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
	for name, id := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, sandbox.Knobs{})
			out, err := e.adapter().Delete(context.Background(), profileEvent(id))
			if out != adapters.Failed || adapters.ErrorClass(err).String() != "invalid_identifier" {
				t.Errorf("Delete(%q) = %v, %v (class %s); want failed, invalid_identifier", id, out, err, adapters.ErrorClass(err))
			}
			if err != nil && strings.Contains(err.Error(), id) {
				t.Errorf("error %q names the identifier", err)
			}
			if n := e.sb.Ledger.Requests(); n != 0 {
				t.Errorf("Delete(%q) sent %d requests, want none", id, n)
			}
		})
	}
	// Either case of a UUID is one (RFC 9562): both are sent.
	for _, id := range []string{testProfile, strings.ToUpper(testOther)} {
		e := newTestEnv(t, sandbox.Knobs{})
		if _, err := e.adapter().Delete(context.Background(), profileEvent(id)); adapters.ErrorClass(err).String() == "invalid_identifier" {
			t.Errorf("Delete(%q): %v", id, err)
		}
		if n := e.sb.Ledger.Requests(); n != 1 {
			t.Errorf("Delete(%q) sent %d requests, want 1", id, n)
		}
	}
}

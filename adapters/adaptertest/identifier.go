package adaptertest

import (
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
)

// SendFunc deletes, once and against a fresh sandbox, the person the vendor
// knows by id, and returns the outcome, the error and how many requests
// the sandbox received.
type SendFunc func(t *testing.T, id string) (out adapters.Outcome, err error, requests int)

// IdentifierShapes is the check every vendor runs on its identifier's
// shape: each bad identifier (by case name) fails as invalid_identifier,
// its error does not name it, and the sandbox hears nothing, since a
// vendor may read a malformed id as someone else and answer "not found",
// which would lose the deletion silently; each good one is sent, once.
func IdentifierShapes(t *testing.T, bad map[string]string, good []string, send SendFunc) {
	t.Helper()
	for name, id := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err, n := send(t, id)
			if out != adapters.Failed || adapters.ErrorClass(err) != adapters.ClassInvalidIdentifier {
				t.Errorf("Delete(%q) = %v, %v (class %s); want failed, invalid_identifier", id, out, err, adapters.ErrorClass(err))
			}
			if err != nil && strings.Contains(err.Error(), id) {
				t.Errorf("error %q names the identifier", err)
			}
			if n != 0 {
				t.Errorf("Delete(%q) sent %d requests, want none", id, n)
			}
		})
	}
	for _, id := range good {
		if _, err, n := send(t, id); adapters.ErrorClass(err) == adapters.ClassInvalidIdentifier {
			t.Errorf("Delete(%q) refused: %v", id, err)
		} else if n != 1 {
			t.Errorf("Delete(%q) sent %d requests, want 1", id, n)
		}
	}
}

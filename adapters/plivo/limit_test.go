package plivo

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

func TestSandboxEnforcesPlivoLimit(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testAuthID, testToken, sandbox.Knobs{})
	adaptertest.EnforcesLimit(t, adaptertest.LimitCase{
		Handler: sb, Chaos: sb.Chaos, Limit: SandboxLimit, Throttled: `"error":"too many requests"`,
		Request: func(i int) *http.Request {
			r := httptest.NewRequest(http.MethodDelete, fmt.Sprintf("/v1/Account/%s/Profile/00000000-0000-4000-8000-%012d/", testAuthID, i), nil)
			r.SetBasicAuth(testAuthID, testToken)
			return r
		},
	})
}

package exotel

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

func TestSandboxEnforcesExotelLimit(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testSID, testKey, testToken, sandbox.Knobs{})
	newRequest := func(i int) *http.Request {
		r := httptest.NewRequest(http.MethodDelete, "/v2/accounts/"+testSID+"/contacts/c"+strconv.Itoa(i), nil)
		r.SetBasicAuth(testKey, testToken)
		return r
	}
	adaptertest.EnforcesLimit(t, adaptertest.LimitCase{Handler: sb, Chaos: sb.Chaos, Limit: SandboxLimit, Request: newRequest, Throttled: `"code":1020`})
}

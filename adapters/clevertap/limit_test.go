package clevertap

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

// The cap holds SandboxLimit.N deletes in flight through the real handler
// and refuses the next with CleverTap's own words.
func TestSandboxEnforcesCleverTapCap(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testAccount, testPasscode, sandbox.Knobs{})
	adaptertest.EnforcesLimit(t, adaptertest.LimitCase{
		Handler: sb, Chaos: sb.Chaos, Limit: SandboxLimit,
		Throttled: `{"status":"fail","error":"Too many concurrent requests","code":429}`,
		Request: func(i int) *http.Request {
			r := httptest.NewRequest(http.MethodPost, DeletePath, strings.NewReader(`{"identity":"u`+strconv.Itoa(i)+`"}`))
			r.Header.Set("X-CleverTap-Account-Id", testAccount)
			r.Header.Set("X-CleverTap-Passcode", testPasscode)
			r.Header.Set("Content-Type", "application/json")
			return r
		},
	})
}

package webex

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

func TestSandboxEnforcesWebexLimit(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testToken, sandbox.Knobs{})
	req := func(i int) *http.Request {
		r := httptest.NewRequest(http.MethodPost, Path, strings.NewReader(`{"key":"k`+strconv.Itoa(i)+`"}`))
		r.Header.Set("Authorization", "Bearer "+testToken)
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	adaptertest.EnforcesLimit(t, adaptertest.LimitCase{Handler: sb, Chaos: sb.Chaos, Limit: SandboxLimit, Request: req, Throttled: `"code":"429"`})
}

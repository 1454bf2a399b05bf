package plivo

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Sandbox is an http.Handler that behaves as Plivo's delete-profile API:
// it demands HTTP Basic auth matching the account in the path, DELETE on
// /v1/Account/{auth_id}/Profile/{profile_uuid}/ (trailing slash included),
// refuses the primary profile, and answers in Plivo's JSON shapes.
type Sandbox struct {
	AuthID    string
	AuthToken string
	// PrimaryProfile is the account's primary profile, which Plivo
	// refuses to delete.
	PrimaryProfile string
	Chaos          *sandbox.Chaos
	Ledger         *sandbox.Ledger
}

// NewSandbox returns a Sandbox for one account.
func NewSandbox(authID, authToken string, knobs sandbox.Knobs) *Sandbox {
	return &Sandbox{AuthID: authID, AuthToken: authToken, Chaos: sandbox.NewChaos(knobs), Ledger: sandbox.NewLedger()}
}

// SandboxLimit is Plivo's documented limit, as issue 13 quotes Plivo's
// pages: 300 requests per five seconds, a fixed window, and a 429 that
// carries no Retry-After. Set it as Knobs.Limit.
var SandboxLimit = sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, NoRetryAfter: true}

// Forced fault names this sandbox understands, besides any HTTP status
// ("400", "401", "404", "500", "503", ...).
const (
	// FaultPrimary answers as for the account's primary profile.
	FaultPrimary = "primary"
)

func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = s.Ledger.StatusRecorder(w)
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/Account/")
	parts := strings.Split(rest, "/")
	// want: {auth_id}/Profile/{uuid}/  -> 4 parts, last empty
	if !ok || len(parts) != 4 || parts[1] != "Profile" || parts[3] != "" || parts[0] == "" || parts[2] == "" {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	// Segments were split escaped, so an escaped "/" stays inside its
	// segment; only now are they read as values.
	pathAuthID, err1 := url.PathUnescape(parts[0])
	id, err2 := url.PathUnescape(parts[2])
	if err1 != nil || err2 != nil {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != s.AuthID || pass != s.AuthToken || pathAuthID != s.AuthID {
		writeError(w, http.StatusUnauthorized, "authentication credentials invalid")
		return
	}
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	s.Ledger.Called(id)

	f := s.Chaos.Decide(r.Context(), w.Header())
	defer f.Release()
	switch f.Kind {
	case sandbox.FaultThrottle:
		writeError(w, http.StatusTooManyRequests, "too many requests")
		return
	case sandbox.FaultFailure:
		writeError(w, http.StatusInternalServerError, "internal server error")
		return
	case sandbox.FaultForced:
		if f.Name == FaultPrimary {
			writeError(w, http.StatusBadRequest, "primary profile of an account cannot be deleted")
			return
		}
		code, ok := sandbox.ForcedStatus(f.Name, 200, w.Header())
		if !ok {
			writeError(w, http.StatusInternalServerError, "sandbox: unknown forced fault "+f.Name)
			return
		}
		writeError(w, code, strings.ToLower(http.StatusText(code)))
		return
	}

	if !uuidRE.MatchString(id) {
		writeError(w, http.StatusBadRequest, "invalid profile_uuid")
		return
	}
	if id == s.PrimaryProfile {
		writeError(w, http.StatusBadRequest, "primary profile of an account cannot be deleted")
		return
	}
	if !s.Ledger.Delete(id) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	body, _ := json.Marshal(map[string]string{"api_id": apiID(), "message": "Profile deleted successfully."})
	sandbox.WriteJSON(w, http.StatusOK, body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(apiError{APIID: apiID(), Error: msg})
	sandbox.WriteJSON(w, status, body)
}

func apiID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

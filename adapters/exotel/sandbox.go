package exotel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
)

// Sandbox is an http.Handler that behaves as Exotel's delete-contact API.
// It applies its checks in this order, each answered with Exotel's v2
// envelope:
//
//  1. the path must be exactly /v2/accounts/{sid}/contacts/{contact_sid}
//     (no trailing slash, no extra segment), else 404;
//  2. HTTP Basic api_key:api_token must match, else 401 "Authentication
//     Failed";
//  3. the account sid in the path must be the sandbox's account, else 403:
//     the credentials are good but not for that account (the page does not
//     say; 403 is the sandbox's choice, and the adapter treats 401 and 403
//     alike, as permanent);
//  4. the method must be DELETE, else 405 with Allow: DELETE;
//  5. chaos faults;
//  6. a contact that exists is deleted (200, the contact echoed in data),
//     one that was deleted or never existed is 404.
//
// A body sent with DELETE is ignored, as Exotel ignores it.
type Sandbox struct {
	AccountSID string
	APIKey     string
	APIToken   string
	Chaos      *sandbox.Chaos
	Ledger     *sandbox.Ledger
}

// NewSandbox returns a Sandbox for one account.
func NewSandbox(accountSID, apiKey, apiToken string, knobs sandbox.Knobs) *Sandbox {
	return &Sandbox{AccountSID: accountSID, APIKey: apiKey, APIToken: apiToken, Chaos: sandbox.NewChaos(knobs), Ledger: sandbox.NewLedger()}
}

// SandboxLimit is Exotel's limit as issue 13 describes its newer pages: a
// per-minute budget, X-RateLimit-* fields and Retry-After on the 429.
// Exotel's rate-limiting page gives 200 requests a minute for its voice
// API and X-RateLimit-Reset as a Unix time; it names no figure for
// contacts, so the sandbox takes 200. Its Retry-After counts down to the
// window's end where the page shows a flat 30. Set it as Knobs.Limit.
var SandboxLimit = sandbox.Limit{Shape: sandbox.FixedWindow, N: 200, Window: time.Minute, XRateLimit: sandbox.XRateLimitEpoch}

// Forced fault names this sandbox understands, besides any HTTP status from
// 400 to 599 ("400", "401", "403", "404", "429", "500", "502", "503"), each
// answered with Exotel's envelope.
const (
	// FaultHTML502 answers as a proxy in front of Exotel does: a 502 with
	// an HTML page, not the envelope.
	FaultHTML502 = "html502"
)

// Error codes the sandbox puts in error_data.code. The page lists none;
// these follow the shape of Exotel's v2 errors and are the sandbox's own.
const (
	codeNotFound         = 1000
	codeBadRequest       = 1001
	codeAuthFailed       = 1010
	codeForbidden        = 1011
	codeMethodNotAllowed = 1012
	codeTooManyRequests  = 1020
	codeInternal         = 1030
)

func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = s.Ledger.StatusRecorder(w)
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v2/accounts/")
	parts := strings.Split(rest, "/")
	// want: {sid}/contacts/{contact_sid} -> 3 non-empty parts
	if !ok || len(parts) != 3 || parts[0] == "" || parts[1] != "contacts" || parts[2] == "" {
		writeError(w, r, http.StatusNotFound, codeNotFound, "Not Found", "The requested resource does not exist")
		return
	}
	sid, err1 := url.PathUnescape(parts[0])
	id, err2 := url.PathUnescape(parts[2])
	if err1 != nil || err2 != nil {
		writeError(w, r, http.StatusNotFound, codeNotFound, "Not Found", "The requested resource does not exist")
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != s.APIKey || pass != s.APIToken {
		writeError(w, r, http.StatusUnauthorized, codeAuthFailed, "Authentication Failed", "The API key and token do not match")
		return
	}
	if sid != s.AccountSID {
		writeError(w, r, http.StatusForbidden, codeForbidden, "Forbidden", "The API key is not authorised for this account")
		return
	}
	if r.Method != http.MethodDelete {
		w.Header().Set("Allow", http.MethodDelete)
		writeError(w, r, http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method Not Allowed", "Only DELETE is supported on this resource")
		return
	}
	s.Ledger.Called(id)

	f := s.Chaos.Decide(r.Context(), w.Header())
	defer f.Release()
	switch f.Kind {
	case sandbox.FaultThrottle:
		writeStatus(w, r, http.StatusTooManyRequests)
		return
	case sandbox.FaultFailure:
		writeStatus(w, r, http.StatusInternalServerError)
		return
	case sandbox.FaultForced:
		if f.Name == FaultHTML502 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"))
			return
		}
		status, ok := sandbox.ForcedStatus(f.Name, 400, w.Header())
		if !ok {
			writeError(w, r, http.StatusInternalServerError, codeInternal, "Internal Server Error", "sandbox: unknown forced fault "+f.Name)
			return
		}
		writeStatus(w, r, status)
		return
	}

	if !s.Ledger.Delete(id) {
		writeError(w, r, http.StatusNotFound, codeNotFound, "Not Found", "Contact not found")
		return
	}
	writeEnvelope(w, r, http.StatusOK, statusSuccess, nil, fabricatedContact(s.AccountSID, id))
}

// writeStatus answers with the envelope Exotel uses for status.
func writeStatus(w http.ResponseWriter, r *http.Request, status int) {
	errCode := map[int]int{
		http.StatusBadRequest:       codeBadRequest,
		http.StatusUnauthorized:     codeAuthFailed,
		http.StatusForbidden:        codeForbidden,
		http.StatusNotFound:         codeNotFound,
		http.StatusMethodNotAllowed: codeMethodNotAllowed,
		http.StatusTooManyRequests:  codeTooManyRequests,
	}[status]
	if errCode == 0 {
		errCode = codeInternal
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Error"
	}
	writeError(w, r, status, errCode, text, text)
}

// The envelope as the sandbox writes it: every member present, null where
// Exotel sends null, in Exotel's order.
type (
	wireEnvelope struct {
		RequestID string     `json:"request_id"`
		Method    string     `json:"method"`
		HTTPCode  int        `json:"http_code"`
		Response  wireResult `json:"response"`
	}
	wireResult struct {
		Code      int        `json:"code"`
		ErrorData *wireError `json:"error_data"`
		Status    string     `json:"status"`
		Data      any        `json:"data"`
	}
	wireError struct {
		Code        int    `json:"code"`
		Message     string `json:"message"`
		Description string `json:"description"`
	}
)

func writeError(w http.ResponseWriter, r *http.Request, status, errCode int, message, description string) {
	writeEnvelope(w, r, status, statusFailure, &wireError{Code: errCode, Message: message, Description: description}, nil)
}

func writeEnvelope(w http.ResponseWriter, r *http.Request, status int, result string, ed *wireError, data any) {
	body, _ := json.Marshal(wireEnvelope{
		RequestID: requestID(),
		Method:    r.Method,
		HTTPCode:  status,
		Response:  wireResult{Code: status, ErrorData: ed, Status: result, Data: data},
	})
	sandbox.WriteJSON(w, status, body)
}

// fabricatedContact is what Exotel echoes on delete: the contact as it
// was. The values are invented, but personal in kind, so tests can check
// that none reaches an error.
func fabricatedContact(accountSID, id string) map[string]any {
	now := time.Now().UTC().Format(time.RFC3339)
	return map[string]any{
		"sid":          id,
		"date_created": now,
		"date_updated": now,
		"account_sid":  accountSID,
		"number":       SandboxContactNumber,
		"first_name":   "captain",
		"last_name":    "exotel",
		"company_name": "Exotel",
		"email":        SandboxContactEmail,
		"tag":          "API",
		"custom_field": map[string]any{"key": map[string]string{"key1": "values1"}},
		"uri":          "/v2/accounts/" + url.PathEscape(accountSID) + "/contacts/" + url.PathEscape(id),
	}
}

// The personal data the sandbox echoes for every deleted contact.
const (
	SandboxContactNumber = "+919101234511"
	SandboxContactEmail  = "captain@email.com"
)

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

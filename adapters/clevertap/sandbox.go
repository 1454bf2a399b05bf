package clevertap

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/erasured/erasured/adapters/sandbox"
)

// maxRequestBytes bounds a request body; 100 ids fit many times over.
const maxRequestBytes = 1 << 20

// Sandbox is an http.Handler that behaves as CleverTap's delete-profiles
// API. It checks, in order: the path (exactly DeletePath, else 404), the
// method (POST, else 405), both auth headers (missing or wrong, 401), the
// Content-Type (application/json, a charset parameter of utf-8 allowed,
// else 400) and the body (a JSON object with exactly one of identity and
// guid, each a non-empty string or a list of 1 to MaxBatch non-empty
// strings, no other fields, else 400). Every refusal is CleverTap's
// {"status":"fail","error":...,"code":<status>}. Faults come after the
// body is read, so the ledger counts every well-formed attempt.
//
// Like CleverTap, it answers {"status":"success"} for ids it never knew
// or already deleted. The ledger keys profiles by the id alone, identity
// and guid alike.
type Sandbox struct {
	AccountID string
	Passcode  string
	Chaos     *sandbox.Chaos
	Ledger    *sandbox.Ledger
}

// NewSandbox returns a Sandbox for one account.
func NewSandbox(accountID, passcode string, knobs sandbox.Knobs) *Sandbox {
	return &Sandbox{AccountID: accountID, Passcode: passcode, Chaos: sandbox.NewChaos(knobs), Ledger: sandbox.NewLedger()}
}

// SandboxLimit is CleverTap's limit as issue 13 describes it: a 429 "Too
// many concurrent requests" is a cap on requests in flight, not a time
// window (CleverTap's API Request Limit page: it enforces no per-minute,
// hour or day limit). That page's example cap is 15 concurrent requests;
// the sandbox takes 15. Set it as Knobs.Limit.
var SandboxLimit = sandbox.Limit{Shape: sandbox.Concurrency, N: 15}

// FaultInBody prefixes a forced fault that answers HTTP 200 with a fail
// body carrying the code after the prefix: "body:401". Other forced faults
// are HTTP statuses from 400 to 599 ("400", "401", "429", "500", "503"),
// answered with that status and the same code in the body.
const FaultInBody = "body:"

func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = s.Ledger.StatusRecorder(w)
	if r.URL.EscapedPath() != DeletePath {
		writeFail(w, http.StatusNotFound, http.StatusNotFound, "Not Found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeFail(w, http.StatusMethodNotAllowed, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	account, passcode := r.Header.Get("X-CleverTap-Account-Id"), r.Header.Get("X-CleverTap-Passcode")
	if account == "" || passcode == "" {
		writeFail(w, http.StatusUnauthorized, http.StatusUnauthorized, "Account ID and Passcode are required")
		return
	}
	if !same(account, s.AccountID) || !same(passcode, s.Passcode) {
		writeFail(w, http.StatusUnauthorized, http.StatusUnauthorized, "Invalid Account ID or Passcode")
		return
	}
	if !isJSON(r.Header.Get("Content-Type")) {
		writeFail(w, http.StatusBadRequest, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	ids, msg := parseRequest(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	if msg != "" {
		writeFail(w, http.StatusBadRequest, http.StatusBadRequest, msg)
		return
	}
	for _, id := range ids {
		s.Ledger.Called(id)
	}

	f := s.Chaos.Decide(r.Context(), w.Header())
	defer f.Release()
	switch f.Kind {
	case sandbox.FaultThrottle:
		writeFail(w, http.StatusTooManyRequests, http.StatusTooManyRequests, failMessage(http.StatusTooManyRequests))
		return
	case sandbox.FaultFailure:
		writeFail(w, http.StatusServiceUnavailable, http.StatusServiceUnavailable, failMessage(http.StatusServiceUnavailable))
		return
	case sandbox.FaultForced:
		s.forced(w, f.Name)
		return
	}

	for _, id := range ids {
		s.Ledger.Delete(id)
	}
	sandbox.WriteJSON(w, http.StatusOK, []byte(`{"status":"success"}`))
}

func (s *Sandbox) forced(w http.ResponseWriter, name string) {
	status, inBody := http.StatusOK, false
	codeText := name
	if rest, ok := strings.CutPrefix(name, FaultInBody); ok {
		codeText, inBody = rest, true
	}
	code, err := strconv.Atoi(codeText)
	if !inBody {
		// As the status it must be an error status.
		var ok bool
		if code, ok = sandbox.ForcedStatus(codeText, 400, w.Header()); !ok {
			err = errors.New("not an error status")
		}
		status = code
	} else if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if err != nil {
		writeFail(w, http.StatusInternalServerError, http.StatusInternalServerError, "sandbox: unknown forced fault "+name)
		return
	}
	writeFail(w, status, code, failMessage(code))
}

func failMessage(code int) string {
	switch code {
	case http.StatusUnauthorized:
		return "Invalid Account ID or Passcode"
	case http.StatusTooManyRequests:
		return "Too many concurrent requests"
	}
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Error " + strconv.Itoa(code)
}

// same compares credentials in constant time.
func same(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// isJSON accepts application/json with no parameter but a utf-8 charset.
func isJSON(ct string) bool {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// parseRequest reads the ids a delete names, or says why the body is
// refused. Field names are matched exactly, as CleverTap's parser does.
func parseRequest(r io.Reader) (ids []string, msg string) {
	dec := json.NewDecoder(r)
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, "Payload too large"
		}
		return nil, "Invalid JSON payload"
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "Invalid JSON payload"
	}
	if fields == nil {
		return nil, "Invalid JSON payload"
	}
	for k := range fields {
		if k != IDTypeIdentity && k != IDTypeGUID {
			return nil, "Unknown field in payload"
		}
	}
	identity, hasIdentity := fields[IDTypeIdentity]
	guid, hasGUID := fields[IDTypeGUID]
	switch {
	case hasIdentity && hasGUID:
		return nil, "Only one of identity or guid may be given"
	case hasIdentity:
		return parseIDs(IDTypeIdentity, identity)
	case hasGUID:
		return parseIDs(IDTypeGUID, guid)
	}
	return nil, "Either identity or guid is required"
}

func parseIDs(field string, raw json.RawMessage) ([]string, string) {
	bad := field + " must be a non-empty string or a list of 1 to " + strconv.Itoa(MaxBatch) + " non-empty strings"
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, bad
		}
		return []string{one}, ""
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 || len(list) > MaxBatch {
		return nil, bad
	}
	for _, id := range list {
		if id == "" {
			return nil, bad
		}
	}
	return list, ""
}

func writeFail(w http.ResponseWriter, status, code int, msg string) {
	body, _ := json.Marshal(struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Code   int    `json:"code"`
	}{"fail", msg, code})
	sandbox.WriteJSON(w, status, body)
}

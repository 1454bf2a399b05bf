package webex

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
)

// maxRequestBody bounds what the sandbox reads of a request; a delete body
// is a few hundred bytes.
const maxRequestBody = 64 << 10

// Sandbox is an http.Handler that behaves as Webex Campaign's delete
// contact profile API. In the order a gateway and then the application
// would check, it demands: the exact path (else 404), POST (else 405/405),
// a Bearer token (missing or malformed 401/430, wrong or expired 401/498),
// a JSON content type and a JSON object of known fields (else 500/1001), a
// non-empty string key and, when ProfileNames is set, a known profile-name
// (else 200/102). It answers 200 with a transaction-id for a profile that
// exists and 200/1020 for one already deleted.
type Sandbox struct {
	Token string
	// ExpiredToken, when set, is a token Webex knows but that has expired:
	// it gets 401/498 like a wrong one, with the "expired" description.
	ExpiredToken string
	// ProfileNames, when set, are the account's contact profiles; any other
	// profile-name gets 200/102. When empty every name is accepted.
	ProfileNames []string
	// NumericCodes sends codes as JSON numbers instead of strings; Webex's
	// page does not say which, and the adapter must read both.
	NumericCodes bool
	Chaos        *sandbox.Chaos
	Ledger       *sandbox.Ledger
}

// NewSandbox returns a Sandbox accepting token.
func NewSandbox(token string, knobs sandbox.Knobs) *Sandbox {
	return &Sandbox{Token: token, Chaos: sandbox.NewChaos(knobs), Ledger: sandbox.NewLedger()}
}

// LedgerID is the ledger's name for a profile: a key is unique within a
// contact profile, and no profile-name means the account's default one.
func LedgerID(profileName, key string) string {
	if profileName == "" {
		return key
	}
	return profileName + "\x00" + key
}

// SandboxLimit is Webex Campaign's limit as issue 13 reads its page: 429
// "Throttle limit reached for the time window", a fixed window. The page
// names neither the window nor the count; the sandbox takes 300 per
// second, the independent fake's figure in issue 13. Set it as
// Knobs.Limit.
var SandboxLimit = sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: time.Second}

// Forced fault names (sandbox.Knobs.Force) this sandbox understands: any
// code the page lists ("102", "1010", "1020", "430", "498", "405", "429",
// "499", "500", "1001"), answered with its documented HTTP status, or any
// other HTTP status ("502", "503", ...) with a Webex-shaped body.

func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = s.Ledger.StatusRecorder(w)
	if r.URL.EscapedPath() != Path {
		s.write(w, http.StatusNotFound, "404", "Resource not found")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.writeCode(w, "405")
		return
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	switch {
	case !ok || !strings.EqualFold(scheme, "Bearer") || token == "":
		s.writeCode(w, "430")
		return
	case s.ExpiredToken != "" && token == s.ExpiredToken:
		s.write(w, http.StatusUnauthorized, "498", "Access token expired")
		return
	case token != s.Token:
		s.write(w, http.StatusUnauthorized, "498", "Invalid token")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.writeCode(w, "1001")
		return
	}
	fields, err := readObject(r.Body)
	if err != nil {
		s.writeCode(w, "1001")
		return
	}
	key, keyOK := stringField(fields, "key")
	profile, profileOK := stringField(fields, "profile-name")
	if keyOK && key != "" {
		s.Ledger.Called(LedgerID(profile, key))
	}

	f := s.Chaos.Decide(r.Context(), w.Header())
	defer f.Release()
	switch f.Kind {
	case sandbox.FaultThrottle:
		s.writeCode(w, "429")
		return
	case sandbox.FaultFailure:
		s.writeCode(w, "500")
		return
	case sandbox.FaultForced:
		s.writeForced(w, f.Name)
		return
	}

	for name := range fields {
		if name != "key" && name != "profile-name" && !isExparam(name) {
			s.writeCode(w, "1001")
			return
		}
		if _, ok := stringField(fields, name); !ok && name != "key" {
			s.writeCode(w, "1001")
			return
		}
	}
	if !keyOK || key == "" {
		s.writeCode(w, "102")
		return
	}
	if _, present := fields["profile-name"]; present {
		if !profileOK || profile == "" || (len(s.ProfileNames) > 0 && !slices.Contains(s.ProfileNames, profile)) {
			s.writeCode(w, "102")
			return
		}
	}
	if !s.Ledger.Delete(LedgerID(profile, key)) {
		s.writeCode(w, "1020")
		return
	}
	body, _ := json.Marshal(map[string]string{"transaction-id": transactionID()})
	sandbox.WriteJSON(w, http.StatusOK, body)
}

// readObject reads a request body that must be exactly one JSON object.
func readObject(r io.Reader) (map[string]json.RawMessage, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxRequestBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRequestBody {
		return nil, errors.New("body too large")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		return nil, err
	}
	if fields == nil {
		return nil, errors.New("not an object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return fields, nil
}

// stringField returns a field that is a JSON string, trimmed; ok is false
// when it is absent or of another type.
func stringField(fields map[string]json.RawMessage, name string) (string, bool) {
	raw, present := fields[name]
	if !present {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return strings.TrimSpace(s), true
}

func (s *Sandbox) writeForced(w http.ResponseWriter, name string) {
	if _, known := lookupCode(name); known {
		if name == "429" {
			w.Header().Set("Retry-After", "1")
		}
		s.writeCode(w, name)
		return
	}
	// A 429 is a documented code, answered above.
	status, ok := sandbox.ForcedStatus(name, 200, w.Header())
	if !ok {
		s.write(w, http.StatusInternalServerError, "500", "sandbox: unknown forced fault "+name)
		return
	}
	s.write(w, status, name, http.StatusText(status))
}

// writeCode answers with a documented code, its HTTP status and the page's
// description.
func (s *Sandbox) writeCode(w http.ResponseWriter, code string) {
	info, _ := lookupCode(code)
	s.write(w, info.status, code, Documented.Describe(code))
}

func (s *Sandbox) write(w http.ResponseWriter, status int, code, description string) {
	var c any = code
	if s.NumericCodes {
		c = json.Number(code)
	}
	body, _ := json.Marshal(map[string]any{"code": c, "description": description})
	sandbox.WriteJSON(w, status, body)
}

func transactionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

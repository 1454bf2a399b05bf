package httpvendor

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/erasured/erasured/adapters/sandbox"
)

// Sandbox is a strict stand-in for a declared vendor, generated from the
// same declaration: it answers a request that is not exactly what the
// declaration says (method, path, query, auth, body) with an error the
// response table does not call final (405, 404, 401, 400), deletes by
// the identifier in a ledger, and answers deleted and already absent
// with the first rows of those outcomes, built to match them.
type Sandbox struct {
	cfg    Config
	c      *compiled
	Chaos  *sandbox.Chaos
	Ledger *sandbox.Ledger
}

// NewSandbox returns the sandbox for cfg, which must be valid; the
// credentials it accepts are cfg's.
func NewSandbox(cfg Config, knobs sandbox.Knobs) (*Sandbox, error) {
	c, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return &Sandbox{cfg: cfg, c: c, Chaos: sandbox.NewChaos(knobs), Ledger: sandbox.NewLedger()}, nil
}

// ServeHTTP implements http.Handler.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w = s.Ledger.StatusRecorder(w)
	got := map[string]string{}
	if !s.c.url.match(r.URL.EscapedPath(), unescapeSegment, got) || r.URL.RawQuery != s.c.query {
		writeError(w, http.StatusNotFound, "no such resource")
		return
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "authentication failed")
		return
	}
	if r.Method != s.cfg.Method {
		w.Header().Set("Allow", s.cfg.Method)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, "unreadable body")
		return
	}
	if !s.bodyMatches(r, body, got) {
		writeError(w, http.StatusBadRequest, "the body is not what the API takes")
		return
	}
	id := got[identPrefix+s.cfg.IdentifierField]
	if id == "" || (s.c.shape != nil && !s.c.shape.MatchString(id)) {
		writeError(w, http.StatusBadRequest, "malformed identifier")
		return
	}
	s.Ledger.Called(id)
	f := s.Chaos.Decide(r.Context(), w.Header())
	defer f.Release()
	switch f.Kind {
	case sandbox.FaultThrottle:
		s.answer(w, OutcomeRetryable, http.StatusTooManyRequests)
		return
	case sandbox.FaultFailure:
		s.answer(w, OutcomeRetryable, http.StatusInternalServerError)
		return
	case sandbox.FaultForced:
		switch f.Name {
		case OutcomeDeleted, OutcomeAlreadyAbsent, OutcomeRetryable, OutcomePermanent:
			s.answer(w, f.Name, 0)
			return
		}
		status, ok := sandbox.ForcedStatus(f.Name, 400, w.Header())
		if !ok {
			writeError(w, http.StatusInternalServerError, "sandbox: unknown forced fault")
			return
		}
		writeError(w, status, http.StatusText(status))
		return
	}
	if s.Ledger.Delete(id) {
		s.answer(w, OutcomeDeleted, 0)
		return
	}
	s.answer(w, OutcomeAlreadyAbsent, 0)
}

func unescapeSegment(s string) (string, bool) {
	v, err := url.PathUnescape(s)
	if err != nil || v == "" {
		return "", false
	}
	for _, r := range v {
		if r == '/' || r == '\\' {
			return "", false
		}
	}
	return v, true
}

func (s *Sandbox) authorized(r *http.Request) bool {
	a := s.cfg.Auth
	eq := func(x, y string) bool { return subtle.ConstantTimeCompare([]byte(x), []byte(y)) == 1 }
	switch a.Type {
	case "basic":
		u, p, ok := r.BasicAuth()
		return ok && eq(u, a.Username) && eq(p, a.Password.Reveal())
	case "bearer":
		return eq(r.Header.Get("Authorization"), "Bearer "+a.Token.Reveal())
	case "header":
		return eq(r.Header.Get(a.Header), a.Token.Reveal())
	}
	return false
}

// bodyMatches checks body against the template, recording placeholders'
// values in got.
func (s *Sandbox) bodyMatches(r *http.Request, body []byte, got map[string]string) bool {
	if s.c.body == nil {
		return len(body) == 0
	}
	if r.Header.Get("Content-Type") != "application/json" {
		return false
	}
	doc, ok := jsonOrEmpty(body)
	return ok && doc != nil && matchJSON(s.c.body, doc, got)
}

// matchJSON reports whether got is the template tmpl filled in: the same
// shape, the same literals, every string matching its template.
func matchJSON(tmpl, v any, got map[string]string) bool {
	switch t := tmpl.(type) {
	case string:
		x, ok := v.(string)
		if !ok {
			return false
		}
		pt, err := parseTemplate(t)
		return err == nil && pt.match(x, func(s string) (string, bool) { return s, s != "" }, got)
	case []any:
		x, ok := v.([]any)
		if !ok || len(x) != len(t) {
			return false
		}
		for i := range t {
			if !matchJSON(t[i], x[i], got) {
				return false
			}
		}
		return true
	case map[string]any:
		x, ok := v.(map[string]any)
		if !ok || len(x) != len(t) {
			return false
		}
		for k, e := range t {
			xe, ok := x[k]
			if !ok || !matchJSON(e, xe, got) {
				return false
			}
		}
		return true
	case json.Number:
		x, ok := v.(json.Number)
		return ok && x == t
	}
	return tmpl == v
}

// answer writes the first row of outcome, with status when the row names
// a class (or for a fault, whose status is fixed), and a body its pointer
// and code match.
func (s *Sandbox) answer(w http.ResponseWriter, outcome string, status int) {
	var r *row
	for i := range s.c.rows {
		rw := &s.c.rows[i]
		if rw.outcome == outcome && (status == 0 || rw.matchesStatus(status)) {
			r = rw
			break
		}
	}
	if r == nil && outcome == OutcomeAlreadyAbsent {
		// A vendor whose table has no already_absent row answers a
		// second delete as it answered the first.
		s.answer(w, OutcomeDeleted, 0)
		return
	}
	if r == nil {
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeError(w, status, http.StatusText(status))
		return
	}
	if status == 0 {
		status = r.status
		if status == 0 {
			status = r.class * 100 // "2xx" answers 200
		}
	}
	if !r.hasCode {
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, map[string]any{})
		return
	}
	writeJSON(w, status, r.pointer.build(r.code))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

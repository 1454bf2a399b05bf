// Package httpvendor is a vendor declared in configuration rather than
// coded: vendors.http.<name> gives the delete request's method, URL
// template, auth, optional JSON body template and identifier field, and a
// table mapping the vendor's answers to outcomes. It goes through the same
// adapters machinery as a coded vendor (adapters.Send and its redirect and
// size rules, the shared classification, and in the daemon the retries,
// limiter, breaker and metrics every vendor gets, since its section embeds
// adapters.Common), and NewSandbox generates a strict sandbox from the
// same declaration.
package httpvendor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
)

// Config declares one vendor.
type Config struct {
	// Common holds enabled, retry, limit and breaker.
	adapters.Common `yaml:",inline"`
	// Method is the delete request's method: DELETE (the default), POST,
	// PUT or PATCH.
	Method string `yaml:"method"`
	// URL is the request's URL template: https, a host, and a path in
	// which {identifiers.NAME} and {event_id} are replaced, each escaped
	// as one path segment (a value holding "/" or "\" or a dot segment
	// is refused). The query, if any, is literal.
	URL string `yaml:"url"`
	// AllowInsecureHTTP permits a plain http URL to a host other than
	// this machine; the daemon then warns at startup.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http"`
	// IdentifierField is the event identifier the vendor deletes by: an
	// event without it is not applicable here. It must appear in URL or
	// Body.
	IdentifierField string `yaml:"identifier_field"`
	// IdentifierPattern is the form the identifier must have (a regular
	// expression, matched whole) before it is sent; required when the
	// identifier goes into the URL, where a vendor that answers an
	// unknown path "not found" would turn a mangled id into a silent
	// "already absent".
	IdentifierPattern string `yaml:"identifier_pattern"`
	// Auth is how requests authenticate.
	Auth Auth `yaml:"auth"`
	// Body, when set, is a JSON template sent as application/json: any
	// string in it may hold placeholders, filled in and JSON-escaped.
	Body string `yaml:"body"`
	// Responses map the vendor's answers to outcomes; the first that
	// matches wins. An answer none matches is classified as for every
	// vendor: 429, 408 and 5xx retryable (Retry-After honoured), other 4xx
	// permanent, anything else unexpected. An answer that a row calls
	// deleted or already_absent must have an empty or JSON body: a proxy's
	// HTML page is never taken for a deletion.
	Responses []Response `yaml:"responses"`
}

// Auth is basic (username and password), bearer (token) or header (a
// header named header carrying token).
type Auth struct {
	Type     string        `yaml:"type"`
	Username string        `yaml:"username"`
	Password config.Secret `yaml:"password"`
	Token    config.Secret `yaml:"token"`
	Header   string        `yaml:"header"`
}

// Response is one row of the response table.
type Response struct {
	// Status is an HTTP status ("404") or a class ("2xx").
	Status string `yaml:"status"`
	// Pointer, when set, is a JSON pointer (RFC 6901) into the answer's
	// body, and Code the value it must hold there (a string as itself, a
	// number as written, true, false or null).
	Pointer string `yaml:"pointer"`
	Code    string `yaml:"code"`
	// Outcome is deleted, already_absent, retryable or permanent.
	Outcome string `yaml:"outcome"`
}

// Outcomes a response row may name.
const (
	OutcomeDeleted       = "deleted"
	OutcomeAlreadyAbsent = "already_absent"
	OutcomeRetryable     = "retryable"
	OutcomePermanent     = "permanent"
)

// DefaultConfig is a declared vendor's defaults: DELETE, and the common
// part's.
func DefaultConfig() Config {
	return Config{Common: adapters.DefaultCommon(), Method: http.MethodDelete}
}

// UnmarshalYAML decodes over DefaultConfig, so a declared vendor gets the
// same defaults as a coded one (yaml starts a map's values from zero).
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	d := plain(DefaultConfig())
	if err := unmarshal(&d); err != nil {
		return err
	}
	*c = Config(d)
	return nil
}

// plain is Config without its UnmarshalYAML.
type plain Config

// ConfigView implements config.Dynamic: config.Decode checks the YAML
// against the same fields (unknown keys, kinds, lines), which it would
// otherwise leave to UnmarshalYAML.
func (c *Config) ConfigView() any { return (*plain)(c) }

// Endpoint implements adapters.VendorConfig: the URL's scheme and host.
func (c *Config) Endpoint() string {
	u, err := url.Parse(placeholderFree(c.URL))
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// placeholderFree is s with every {...} replaced by x, for url.Parse.
func placeholderFree(s string) string {
	return placeholders.ReplaceAllString(s, "x")
}

var placeholders = regexp.MustCompile(`\{[^{}]*\}`)

// compiled is a valid Config made ready to use.
type compiled struct {
	url     template
	query   string
	body    any // decoded template, nil without one
	shape   *regexp.Regexp
	rows    []row
	headers func(h http.Header)
}

type row struct {
	status  int // exact status, or 0
	class   int // 2 for "2xx", with status 0
	pointer pointer
	hasCode bool
	code    string
	outcome string
}

func (r row) matchesStatus(s int) bool {
	if r.status != 0 {
		return s == r.status
	}
	return s/100 == r.class
}

// Validate names every wrong field relative to the section.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// compile validates c and returns it ready to use.
func (c *Config) compile() (*compiled, error) {
	var errs config.Errors
	out := &compiled{}
	switch c.Method {
	case http.MethodDelete, http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		errs.Invalid("method", "must be DELETE, POST, PUT or PATCH, got %q", c.Method)
	}
	used := map[string]bool{}
	inURL := false
	if c.URL == "" {
		errs.Invalid("url", "must be set, such as https://api.example.com/v1/users/{identifiers.example_user_id}")
	} else if err := c.compileURL(out); err != nil {
		errs.Invalid("url", "%v", err)
	} else {
		for _, f := range out.url.fields(true) {
			used[f] = true
			inURL = inURL || f == c.IdentifierField
		}
	}
	if c.Body != "" {
		if err := c.compileBody(out, used); err != nil {
			errs.Invalid("body", "%v", err)
		}
	}
	switch {
	case c.IdentifierField == "":
		errs.Invalid("identifier_field", "must be set: the event identifier this vendor deletes by")
	case !validIdent(c.IdentifierField):
		errs.Invalid("identifier_field", "must be letters, digits, _, - or . (at most 64)")
	case !used[c.IdentifierField] && len(errs) == 0:
		errs.Invalid("identifier_field", "%s appears in neither url nor body as {identifiers.%s}", c.IdentifierField, c.IdentifierField)
	}
	if c.IdentifierPattern != "" {
		re, err := regexp.Compile(`^(?:` + c.IdentifierPattern + `)$`)
		if err != nil {
			errs.Invalid("identifier_pattern", "not a regular expression: %v", err)
		}
		out.shape = re
	} else if inURL {
		errs.Invalid("identifier_pattern", "must be set when the identifier goes into the url: the form the vendor's ids have, such as [0-9a-f]{24}")
	}
	errs.Add(config.Nest("auth", c.Auth.compile(out)))
	if len(c.Responses) == 0 {
		errs.Invalid("responses", "must list at least the answer that means deleted, such as {status: \"204\", outcome: deleted}")
	}
	deleted := false
	for i, r := range c.Responses {
		rw, err := r.compile()
		if err != nil {
			errs.Add(config.Nest(fmt.Sprintf("responses[%d]", i), err))
			continue
		}
		deleted = deleted || rw.outcome == OutcomeDeleted
		out.rows = append(out.rows, rw)
	}
	if len(c.Responses) > 0 && !deleted && len(errs) == 0 {
		errs.Invalid("responses", "no row has outcome deleted: nothing would ever count as a deletion")
	}
	errs.Add(c.ValidateCommon())
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Config) compileURL(out *compiled) error {
	u, err := url.Parse(placeholderFree(c.URL))
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if u.User != nil {
		return fmt.Errorf("must not hold credentials; use auth")
	}
	if u.Fragment != "" || strings.Contains(c.URL, "#") {
		return fmt.Errorf("must not have a fragment")
	}
	if err := adapters.ValidateHostURL(u.Scheme+"://"+u.Host, c.AllowInsecureHTTP); err != nil {
		return err
	}
	prefix := u.Scheme + "://" + u.Host
	if !strings.HasPrefix(c.URL, prefix) {
		return fmt.Errorf("placeholders may sit in the path only")
	}
	path, query, _ := strings.Cut(c.URL[len(prefix):], "?")
	if strings.ContainsAny(query, "{}") {
		return fmt.Errorf("placeholders may sit in the path only, not in the query")
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("must have a path, such as /v1/users/{identifiers.NAME}")
	}
	t, err := parseTemplate(path)
	if err != nil {
		return err
	}
	for _, p := range t {
		if p.field == "" && strings.Contains(p.lit, "%") {
			return fmt.Errorf("the path's literal text must not be percent-encoded")
		}
	}
	out.url, out.query = t, query
	return nil
}

func (c *Config) compileBody(out *compiled, used map[string]bool) error {
	if c.Method == http.MethodDelete {
		// Proxies and some servers drop a DELETE's body.
		return fmt.Errorf("a DELETE carries no body here; use POST, PUT or PATCH for a body")
	}
	d := json.NewDecoder(strings.NewReader(c.Body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if d.More() {
		return fmt.Errorf("holds more than one JSON value")
	}
	var perr error
	walkStrings(v, func(s string) {
		t, err := parseTemplate(s)
		if err != nil && perr == nil {
			perr = err
		}
		for _, f := range t.fields(true) {
			used[f] = true
		}
	})
	if perr != nil {
		return perr
	}
	out.body = v
	return nil
}

// walkStrings calls f on every string in v, keys left out.
func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

func (a *Auth) compile(out *compiled) error {
	var errs config.Errors
	switch a.Type {
	case "basic":
		if strings.TrimSpace(a.Username) == "" || strings.Contains(a.Username, ":") {
			errs.Invalid("username", "must be set, without \":\"")
		}
		if !a.Password.IsSet() {
			errs.Invalid("password", "must be set (env or file)")
		}
		out.headers = func(h http.Header) {
			r := http.Request{Header: h}
			r.SetBasicAuth(a.Username, a.Password.Reveal())
		}
	case "bearer":
		if !a.Token.IsSet() {
			errs.Invalid("token", "must be set (env or file)")
		}
		out.headers = func(h http.Header) { h.Set("Authorization", "Bearer "+a.Token.Reveal()) }
	case "header":
		if a.Header == "" || !validHeaderName(a.Header) {
			errs.Invalid("header", "must be a header name, such as X-Api-Key")
		}
		if !a.Token.IsSet() {
			errs.Invalid("token", "must be set (env or file)")
		}
		out.headers = func(h http.Header) { h.Set(a.Header, a.Token.Reveal()) }
	default:
		errs.Invalid("type", "must be basic, bearer or header, got %q", a.Type)
	}
	return errs.Err()
}

func validHeaderName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s != "" && !strings.EqualFold(s, "Host") && !strings.EqualFold(s, "Content-Length")
}

func (r Response) compile() (row, error) {
	var errs config.Errors
	var rw row
	switch s := strings.ToLower(r.Status); {
	case len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5':
		rw.class = int(s[0] - '0')
	default:
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 || n > 599 {
			errs.Invalid("status", "must be an HTTP status (such as \"404\") or a class (\"2xx\"), got %q", r.Status)
		}
		rw.status = n
	}
	if r.Pointer != "" {
		p, err := parsePointer(r.Pointer)
		if err != nil {
			errs.Invalid("pointer", "%v", err)
		}
		rw.pointer, rw.hasCode, rw.code = p, true, r.Code
	} else if r.Code != "" {
		errs.Invalid("code", "needs a pointer saying where in the body the code is")
	}
	switch r.Outcome {
	case OutcomeDeleted, OutcomeAlreadyAbsent, OutcomeRetryable, OutcomePermanent:
		rw.outcome = r.Outcome
	default:
		errs.Invalid("outcome", "must be deleted, already_absent, retryable or permanent, got %q", r.Outcome)
	}
	if (rw.outcome == OutcomeDeleted || rw.outcome == OutcomeAlreadyAbsent) && (rw.status >= 300 && rw.status < 400 || rw.class == 3 || rw.class == 1) {
		errs.Invalid("outcome", "a 1xx or 3xx answer is never final")
	}
	return rw, errs.Err()
}

// jsonOrEmpty reports whether body is empty or one JSON value, and
// returns it decoded (nil when empty).
func jsonOrEmpty(body []byte) (any, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, true
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	return v, true
}

// Package exotel deletes contacts at Exotel:
// DELETE {base_url}/v2/accounts/{account_sid}/contacts/{contact_sid} with
// HTTP Basic api_key:api_token. Exotel answers in a JSON envelope,
// {"request_id","method","http_code","response":{"code","error_data",
// "status","data"}}, which is read in preference to the HTTP status.
package exotel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// Name is the vendor's name in logs, metrics and dead-letter headers.
const Name = "exotel"

// DefaultBaseURL is Exotel's Singapore cluster, where accounts live unless
// they were opened in the Mumbai region.
const DefaultBaseURL = "https://api.exotel.com"

// DefaultContactField is the event identifier holding the contact sid.
const DefaultContactField = "exotel_contact_sid"

// regions maps the region shortcut to the account's API subdomain. An
// account exists in one region only; the other answers 401 for it.
var regions = map[string]string{
	"sg": "https://api.exotel.com",
	"in": "https://api.in.exotel.com",
}

// RegionBaseURL returns the base URL for a region shortcut ("sg", "in").
func RegionBaseURL(region string) (string, bool) {
	u, ok := regions[strings.ToLower(strings.TrimSpace(region))]
	return u, ok
}

func regionNames() string {
	names := make([]string, 0, len(regions))
	for n := range regions {
		names = append(names, strconv.Quote(n))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Documented is the table of codes Exotel's delete-contact page lists,
// with the page's words: the success envelope alone, so a failure carries
// its status and error_data code and no description.
var Documented = adapters.Codes{
	"200": "success",
}

// contactShape is the form of a contact sid on Exotel's page:
// "4440b6e1a85f489b87d76d8779956caf", 32 lower-case hexadecimal digits.
// Exotel answers an unknown sid with the 404 envelope, which reads as
// "already absent", so a sid altered on its way (upper-cased, cut, padded)
// would lose the deletion silently; it is refused instead.
var contactShape = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Config configures the Exotel adapter.
type Config struct {
	// Common holds enabled, paused, retry, limit and breaker.
	adapters.Common `yaml:",inline"`
	// BaseURL is scheme and host, without a path. When set it wins over
	// Region.
	BaseURL string `yaml:"base_url"`
	// AllowInsecureHTTP permits a plain http base_url to a host other
	// than this machine; the daemon then warns at startup. Credentials and
	// identifiers cross the network unencrypted: only for a proxy on a
	// network you trust.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http"`
	// Region picks the base URL of the account's cluster: "sg" (the
	// default, api.exotel.com) or "in" (Mumbai, api.in.exotel.com).
	Region     string `yaml:"region"`
	AccountSID string `yaml:"account_sid"`
	APIKey     string `yaml:"api_key"`
	// APIToken is the API token, from env or a file.
	APIToken config.Secret `yaml:"api_token"`
	// ContactField names the event identifier holding the contact sid.
	ContactField string `yaml:"contact_field"`
}

// DefaultRegion is Config.Region's default, the cluster DefaultBaseURL
// names.
const DefaultRegion = "sg"

// DefaultConfig is the configuration YAML and the environment are
// decoded over; a new field's default goes here. BaseURL stays empty: the
// region picks the host unless base_url is set (see Endpoint).
func DefaultConfig() Config {
	return Config{
		Region:       DefaultRegion,
		ContactField: DefaultContactField,
		Common:       adapters.DefaultCommon(),
	}
}

// Endpoint returns the base URL requests go to: BaseURL when set, else the
// region's ("" for an unknown region, which Validate refuses).
func (c *Config) Endpoint() string {
	if c.BaseURL != "" {
		return c.BaseURL
	}
	u, _ := RegionBaseURL(c.Region)
	return u
}

// Validate names the first wrong field.
func (c *Config) Validate() error {
	var errs config.Errors
	// A mistyped region is an error even when base_url wins: it says the
	// operator meant something this configuration does not do.
	if c.Region != "" {
		if _, ok := RegionBaseURL(c.Region); !ok {
			errs.Invalid("region", "unknown region %q, want one of %s (or set base_url)", c.Region, regionNames())
		}
	}
	// Exotel answers an unknown route with the same 404 envelope as an
	// unknown contact, so a base URL with a path would turn every delete
	// into a silent "already absent".
	if c.BaseURL == "" && strings.TrimSpace(c.Region) == "" {
		errs.Invalid("region", "must be set when base_url is not: one of %s", regionNames())
	}
	if err := adapters.ValidateHostURL(c.Endpoint(), c.AllowInsecureHTTP); err != nil {
		errs.Invalid("base_url", "%v", err)
	}
	if strings.TrimSpace(c.AccountSID) == "" {
		errs.Invalid("account_sid", "must be set")
	}
	if strings.TrimSpace(c.APIKey) == "" {
		errs.Invalid("api_key", "must be set")
	}
	if !c.APIToken.IsSet() {
		errs.Invalid("api_token", "must be set (env or file)")
	}
	if c.ContactField == "" {
		errs.Invalid("contact_field", "must be set")
	}
	errs.Add(c.ValidateCommon())
	return errs.Err()
}

// Adapter deletes Exotel contacts.
type Adapter struct {
	cfg    Config
	client *http.Client
}

// New returns an Adapter; cfg must be valid. Redirects are never followed
// (adapters.Send sees to it): Go turns a redirected DELETE into a GET, whose
// success envelope would read as a deletion that never happened.
func New(cfg Config, client *http.Client) *Adapter {
	if client == nil {
		client = http.DefaultClient
	}
	return &Adapter{cfg: cfg, client: client}
}

// Name implements adapters.Adapter.
func (a *Adapter) Name() string { return Name }

// Delete implements adapters.Adapter.
func (a *Adapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	id := ev.Identifier(a.cfg.ContactField)
	if id == "" {
		return adapters.NotApplicable, nil
	}
	// A proxy that cleans "/contacts/.." would aim the DELETE at the
	// account itself.
	if err := adapters.CheckIdentifier(Name, "contact sid", id, contactShape, "32 lower-case hexadecimal digits"); err != nil {
		return adapters.Failed, err
	}
	seg, err := adapters.PathSegment(Name, "contact sid", id)
	if err != nil {
		return adapters.Failed, err
	}
	token := a.cfg.APIToken.Reveal()
	u := strings.TrimRight(a.cfg.Endpoint(), "/") +
		"/v2/accounts/" + url.PathEscape(a.cfg.AccountSID) +
		"/contacts/" + seg
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: "building request failed"}
	}
	// The page's curl puts key:token in the URL; a header keeps them out
	// of any log line that prints the URL.
	req.SetBasicAuth(a.cfg.APIKey, token)
	req.Header.Set("Accept", "application/json")
	resp, err := adapters.Send(ctx, a.client, req, Name, id, token)
	if err != nil {
		return adapters.Failed, err
	}
	out, err := Classify(resp, id, token)
	if err == nil {
		// Every Exotel answer carries its request_id.
		adapters.NoteReference(ctx, adapters.ReferenceField(resp.Body, "request_id"), 0)
	}
	return out, err
}

// envelope is Exotel's v2 answer. Codes are read leniently (number or
// numeric string) so a cosmetic change does not hide a clear answer.
type envelope struct {
	RequestID string     `json:"request_id"`
	Method    string     `json:"method"`
	HTTPCode  code       `json:"http_code"`
	Response  *envResult `json:"response"`
}

type envResult struct {
	Code code `json:"code"`
	// ErrorData is decoded on its own, best effort: its shape must not
	// decide whether the envelope's status and code can be read.
	ErrorData json.RawMessage `json:"error_data"`
	Status    string          `json:"status"`
	// Data is the deleted contact on success: personal data, never read
	// into an error.
	Data json.RawMessage `json:"data"`
}

type errorData struct {
	Code        code   `json:"code"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

// code is an integer sent as a JSON number or string; 0 when absent or
// null.
type code int

func (c *code) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*c = 0
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
		if len(b) == 0 {
			*c = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return errors.New("not an integer code")
	}
	*c = code(n)
	return nil
}

const (
	statusSuccess = "success"
	statusFailure = "failure"
)

// Classify reads an Exotel answer. redact lists values that must not appear
// in errors.
//
// The envelope is trusted over the HTTP status, except that a 429 or 5xx
// status is retryable whatever the body says, since proxies and load
// balancers answer those with their own pages. A success needs both a 2xx
// status and a success envelope for DELETE; a 404 needs the envelope, as a
// bare 404 (wrong host, proxy) says nothing about the contact.
func Classify(resp *adapters.Response, redact ...string) (adapters.Outcome, error) {
	env, parsed := parseEnvelope(resp.Body)

	if isRetryableStatus(resp.Status) {
		e := adapters.StatusError(Name, resp, "", "")
		if parsed {
			e.Code, e.Message, e.VendorMessage = describe(env, resp, redact)
		} else {
			e.VendorMessage = bodyExcerpt(resp.Body, redact)
		}
		return adapters.Failed, e
	}

	if !parsed {
		switch {
		case resp.Status >= 200 && resp.Status < 300:
			return adapters.Failed, unexpected(resp, "2xx answer that is not Exotel's envelope", bodyExcerpt(resp.Body, redact))
		case resp.Status == http.StatusNotFound:
			return adapters.Failed, unexpected(resp, "404 without Exotel's envelope, contact not confirmed absent", bodyExcerpt(resp.Body, redact))
		}
		return adapters.Failed, adapters.StatusError(Name, resp, "", bodyExcerpt(resp.Body, redact))
	}

	// Go rewrites some redirected DELETEs into GETs; an envelope for any
	// other method is not an answer to this request.
	if env.Method != "" && !strings.EqualFold(env.Method, http.MethodDelete) {
		return adapters.Failed, unexpected(resp, "envelope answers another method than DELETE", adapters.Excerpt([]byte(env.Method), redact...))
	}

	c := env.effectiveCode(resp.Status)
	switch strings.ToLower(env.Response.Status) {
	case statusSuccess:
		if c >= 200 && c < 300 && resp.Status >= 200 && resp.Status < 300 {
			return adapters.Deleted, nil
		}
		// Say nothing of the body: a success carries the contact.
		return adapters.Failed, unexpected(resp, fmt.Sprintf("success envelope with http_code %d", c), "")
	case statusFailure:
		return classifyFailure(env, resp, c, redact)
	}
	return adapters.Failed, unexpected(resp, "envelope with unknown status", adapters.Excerpt([]byte(env.Response.Status), redact...))
}

func classifyFailure(env *envelope, resp *adapters.Response, c int, redact []string) (adapters.Outcome, error) {
	vcode, msg, vmsg := describe(env, resp, redact)
	e := &adapters.Error{Vendor: Name, Status: resp.Status, Code: vcode, Description: Documented.Describe(strconv.Itoa(c)), Message: msg, VendorMessage: vmsg}
	switch {
	case c == http.StatusNotFound:
		return adapters.AlreadyAbsent, nil
	case isRetryableStatus(c):
		e.Class = adapters.ClassRetryable
		e.RetryAfter = resp.RetryAfter(time.Now())
	case c >= 400 && c < 500:
		// 400 (bad sid), 401/403 (credentials or account), 405, 409...:
		// the same request fails the same way.
		e.Class = adapters.ClassPermanent
	default:
		e.Class = adapters.ClassUnexpected
		e.Message = fmt.Sprintf("failure envelope with http_code %d", c)
	}
	return adapters.Failed, e
}

func isRetryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusRequestTimeout || (s >= 500 && s < 600)
}

// parseEnvelope reports whether body is Exotel's envelope with a result
// object and a status.
func parseEnvelope(body []byte) (*envelope, bool) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, false
	}
	if env.Response == nil || env.Response.Status == "" {
		return nil, false
	}
	return &env, true
}

// effectiveCode is the envelope's http_code, else response.code, else the
// HTTP status.
func (e *envelope) effectiveCode(httpStatus int) int {
	switch {
	case e.HTTPCode != 0:
		return int(e.HTTPCode)
	case e.Response.Code != 0:
		return int(e.Response.Code)
	}
	return httpStatus
}

// describe gives the error_data code; the adapter's own note, naming the
// envelope's http_code when it differs from the HTTP status; and what
// Exotel wrote, masked: error_data's message and description (which can
// carry the contact's number and email) and the request id Exotel support
// asks for.
func describe(env *envelope, resp *adapters.Response, redact []string) (vcode, msg, vmsg string) {
	var parts []string
	var ed errorData
	if len(env.Response.ErrorData) > 0 && json.Unmarshal(env.Response.ErrorData, &ed) == nil {
		if ed.Code != 0 {
			vcode = strconv.Itoa(int(ed.Code))
		}
		if ed.Message != "" {
			parts = append(parts, adapters.Excerpt([]byte(ed.Message), redact...))
		}
		if ed.Description != "" && ed.Description != ed.Message {
			parts = append(parts, adapters.Excerpt([]byte(ed.Description), redact...))
		}
	}
	if c := env.effectiveCode(resp.Status); c != resp.Status {
		msg = fmt.Sprintf("envelope http_code %d", c)
	}
	if env.RequestID != "" {
		parts = append(parts, "request_id "+adapters.Excerpt([]byte(env.RequestID), redact...))
	}
	return vcode, msg, strings.Join(parts, "; ")
}

// bodyExcerpt excerpts a body for an error, cut before any "data" member:
// Exotel puts the contact (number, email, names) there. Redaction comes
// first so that neither cut nor excerpt leaves part of a secret behind.
func bodyExcerpt(body []byte, redact []string) string {
	s := adapters.Redact(string(body), redact...)
	if i := strings.Index(s, `"data"`); i >= 0 {
		s = s[:i] + "…"
	}
	return adapters.Excerpt([]byte(s), redact...)
}

// unexpected is the error for an answer this adapter cannot read: what,
// the adapter's words, and vmsg, what Exotel wrote, already masked. It is
// not adapters.Unexpected because that excerpts the whole body, and
// Exotel's "data" member holds the contact: vmsg is cut before it
// (bodyExcerpt) or is another member altogether (method, status).
func unexpected(resp *adapters.Response, what, vmsg string) *adapters.Error {
	return &adapters.Error{Vendor: Name, Class: adapters.ClassUnexpected, Status: resp.Status, Message: what, VendorMessage: vmsg}
}

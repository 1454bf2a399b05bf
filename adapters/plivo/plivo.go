// Package plivo deletes profiles at Plivo:
// DELETE {base_url}/v1/Account/{auth_id}/Profile/{profile_uuid}/ with HTTP
// Basic auth_id:auth_token.
package plivo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// Name is the vendor's name in logs, metrics and dead-letter headers.
const Name = "plivo"

// DefaultBaseURL is Plivo's API host.
const DefaultBaseURL = "https://api.plivo.com"

// DefaultProfileField is the event identifier holding the profile UUID.
const DefaultProfileField = "plivo_profile_uuid"

// Documented is the table of codes Plivo's delete-profile page lists, with
// the page's words. The page lists the success status alone, so a failure
// carries its status and no description.
var Documented = adapters.Codes{
	"200": "Profile deleted successfully.",
}

// profileShape is the form of a profile_uuid: a UUID, hyphenated as on
// Plivo's page ("f8ca5a50-50b8-438d-8068-28427b1c0e90"), in either case,
// since a UUID is the same in both (RFC 9562).
var profileShape = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Config configures the Plivo adapter.
type Config struct {
	// Common holds enabled, paused, retry, limit and breaker.
	adapters.Common `yaml:",inline"`
	// BaseURL is scheme and host, without a path.
	BaseURL string `yaml:"base_url"`
	// AllowInsecureHTTP permits a plain http base_url to a host other
	// than this machine; the daemon then warns at startup. Credentials and
	// identifiers cross the network unencrypted: only for a proxy on a
	// network you trust.
	AllowInsecureHTTP bool   `yaml:"allow_insecure_http"`
	AuthID            string `yaml:"auth_id"`
	// AuthToken is the API token, from env or a file.
	AuthToken config.Secret `yaml:"auth_token"`
	// ProfileField names the event identifier holding the profile UUID.
	ProfileField string `yaml:"profile_field"`
}

// DefaultConfig is the configuration YAML and the environment are
// decoded over; a new field's default goes here.
func DefaultConfig() Config {
	return Config{
		BaseURL:      DefaultBaseURL,
		ProfileField: DefaultProfileField,
		Common:       defaultCommon(),
	}
}

// Validate names the first wrong field.
func (c *Config) Validate() error {
	var errs config.Errors
	if err := adapters.ValidateHostURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
		errs.Invalid("base_url", "%v", err)
	}
	if strings.TrimSpace(c.AuthID) == "" {
		errs.Invalid("auth_id", "must be set")
	}
	if !c.AuthToken.IsSet() {
		errs.Invalid("auth_token", "must be set (env or file)")
	}
	if c.ProfileField == "" {
		errs.Invalid("profile_field", "must be set")
	}
	errs.Add(c.ValidateCommon())
	return errs.Err()
}

// Adapter deletes Plivo profiles.
type Adapter struct {
	cfg    Config
	client *http.Client
}

// New returns an Adapter; cfg must be valid.
func New(cfg Config, client *http.Client) *Adapter {
	return &Adapter{cfg: cfg, client: client}
}

// Name implements adapters.Adapter.
func (a *Adapter) Name() string { return Name }

// Delete implements adapters.Adapter.
func (a *Adapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	id := ev.Identifier(a.cfg.ProfileField)
	if id == "" {
		return adapters.NotApplicable, nil
	}
	// Anything else in the path could name another resource, and Plivo's
	// 404 for it would read as "already absent".
	if err := adapters.CheckIdentifier(Name, "profile identifier", id, profileShape, "a UUID (8-4-4-4-12 hexadecimal digits)"); err != nil {
		return adapters.Failed, err
	}
	seg, err := adapters.PathSegment(Name, "profile identifier", id)
	if err != nil {
		return adapters.Failed, err
	}
	u := strings.TrimRight(a.cfg.BaseURL, "/") +
		"/v1/Account/" + url.PathEscape(a.cfg.AuthID) +
		"/Profile/" + seg + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: "building request failed"}
	}
	req.SetBasicAuth(a.cfg.AuthID, a.cfg.AuthToken.Reveal())
	resp, err := adapters.Send(ctx, a.client, req, Name, id, a.cfg.AuthToken.Reveal())
	if err != nil {
		return adapters.Failed, err
	}
	out, err := Classify(resp, id, a.cfg.AuthToken.Reveal())
	if err == nil {
		// The answer's api_id names the request in Plivo's logs.
		adapters.NoteReference(ctx, adapters.ReferenceField(resp.Body, "api_id"), 0)
	}
	return out, err
}

// apiError is Plivo's error body.
type apiError struct {
	APIID string `json:"api_id"`
	Error string `json:"error"`
}

// Classify reads a Plivo answer. redact lists values that must not appear
// in errors.
//
// A 200 or 404 counts only with a JSON object body, Plivo's shape: the same
// status in HTML or plain text comes from something else (a proxy, a wrong
// host), and reading it as "deleted" or "already absent" would drop a
// deletion silently.
func Classify(resp *adapters.Response, redact ...string) (adapters.Outcome, error) {
	switch resp.Status {
	case http.StatusNoContent:
		return adapters.Deleted, nil
	case http.StatusOK:
		if !isJSONObject(resp.Body) {
			return adapters.Failed, adapters.Unexpected(Name, resp, "200 without Plivo's JSON body", redact...)
		}
		return adapters.Deleted, nil
	case http.StatusNotFound:
		if !isJSONObject(resp.Body) {
			return adapters.Failed, adapters.Unexpected(Name, resp, "404 without Plivo's JSON body", redact...)
		}
		return adapters.AlreadyAbsent, nil
	}
	var body apiError
	msg := ""
	if len(resp.Body) > 0 {
		if err := json.Unmarshal(resp.Body, &body); err == nil && body.Error != "" {
			msg = adapters.Excerpt([]byte(body.Error), redact...)
		} else {
			msg = adapters.Excerpt(resp.Body, redact...)
		}
	}
	e := adapters.StatusError(Name, resp, "", msg)
	e.Description = Documented.Describe(strconv.Itoa(resp.Status))
	return adapters.Failed, e
}

func isJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}

// DefaultLimit is Plivo's documented limit as the default ceiling: 300
// requests per 5 seconds (issue 13, quoting Plivo's API limits; the same
// figure as SandboxLimit), so max_rate 60 per second for the whole
// Deployment. The learner may go lower, never higher; a 429 comes without
// Retry-After, so the limiter pauses with its own probe delay.
func DefaultLimit() adapters.LimitConfig {
	c := adapters.DefaultLimitConfig()
	c.MaxRate = 300.0 / 5
	return c
}

// defaultCommon is the common defaults with this vendor's DefaultLimit.
func defaultCommon() adapters.Common {
	c := adapters.DefaultCommon()
	c.Limit = DefaultLimit()
	return c
}

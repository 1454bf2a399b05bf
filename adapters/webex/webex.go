// Package webex deletes contact profiles at Webex Campaign:
// POST {base_url}/campaignapi/resources/v3/delete with a Bearer token and a
// JSON body {"key": ..., "profile-name": ..., "exparam1": ...}. Webex
// answers most failures with HTTP 200 and a code in the body, so the body,
// not the status, decides.
package webex

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// Name is the vendor's name in logs, metrics and dead-letter headers.
const Name = "webex"

// Path is the delete contact profile endpoint on the customer's API host.
const Path = "/campaignapi/resources/v3/delete"

// PlaceholderBaseURL is the host Webex's documentation uses. The real host
// depends on the domain the customer logs in with, so there is no default:
// base_url must be set, and this placeholder is refused.
const PlaceholderBaseURL = "https://yourdomain.webexcampaign.io"

// DefaultKeyField is the event identifier holding the profile primary key.
const DefaultKeyField = "webex_key"

// MaxExparams is how many audit parameters (exparam1..exparam10) Webex
// takes.
const MaxExparams = 10

// Config configures the Webex Campaign adapter.
type Config struct {
	// Common holds enabled, paused, retry, limit and breaker.
	adapters.Common `yaml:",inline"`
	// BaseURL is scheme and host of the customer's API endpoint, such as
	// https://yourdomain.webexcampaign.io; it has no default.
	BaseURL string `yaml:"base_url"`
	// AllowInsecureHTTP permits a plain http base_url to a host other
	// than this machine; the daemon then warns at startup. Credentials and
	// identifiers cross the network unencrypted: only for a proxy on a
	// network you trust.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http"`
	// Token is the access token or API secret key, sent as a Bearer token.
	Token config.Secret `yaml:"token"`
	// KeyField names the event identifier holding the profile primary key.
	KeyField string `yaml:"key_field"`
	// ProfileName, when set, is sent as profile-name on every request; when
	// empty Webex uses the account's default profile.
	ProfileName string `yaml:"profile_name"`
	// Exparams are static audit parameters sent with every request, keyed
	// exparam1..exparam10. They are logged by Webex, so they must not hold
	// personal data.
	Exparams map[string]string `yaml:"exparams"`
	// EventIDParam, when set, names the exparam that carries the event id,
	// so a deletion can be traced from Webex's audit log back to the event.
	EventIDParam string `yaml:"event_id_param"`
}

// DefaultConfig is the configuration YAML and the environment are
// decoded over; a new field's default goes here. BaseURL has none on
// purpose: a guessed host would send deletions to someone else's account.
func DefaultConfig() Config {
	return Config{
		KeyField: DefaultKeyField,
		Common:   adapters.DefaultCommon(),
	}
}

// Validate names the first wrong field.
func (c *Config) Validate() error {
	var errs config.Errors
	errs.Add(validateBaseURL(c.BaseURL, c.AllowInsecureHTTP))
	if !c.Token.IsSet() {
		errs.Invalid("token", "must be set (env or file)")
	}
	if c.KeyField == "" {
		errs.Invalid("key_field", "must be set")
	}
	if c.ProfileName != strings.TrimSpace(c.ProfileName) {
		errs.Invalid("profile_name", "must not start or end with white space")
	}
	if len(c.Exparams) > MaxExparams {
		errs.Invalid("exparams", "at most %d are allowed, got %d", MaxExparams, len(c.Exparams))
	}
	// Sorted, so the same bad configuration always gets the same message.
	names := make([]string, 0, len(c.Exparams))
	for n := range c.Exparams {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if !isExparam(n) {
			errs.Invalid("exparams", "%q is not a Webex audit parameter: names are exparam1 to exparam%d", n, MaxExparams)
		}
		if c.Exparams[n] == "" {
			errs.Invalid("exparams."+n, "must not be empty")
		}
	}
	if c.EventIDParam != "" {
		if !isExparam(c.EventIDParam) {
			errs.Invalid("event_id_param", "must be one of exparam1 to exparam%d, got %q", MaxExparams, c.EventIDParam)
		}
		if _, ok := c.Exparams[c.EventIDParam]; ok {
			errs.Invalid("event_id_param", "%s is also set in exparams", c.EventIDParam)
		}
	}
	errs.Add(c.ValidateCommon())
	return errs.Err()
}

func validateBaseURL(s string, allowInsecureHTTP bool) error {
	if s == "" {
		return config.Invalid("base_url", "must be set to your Webex Campaign API host, which depends on the domain you log in with (for example %s)", PlaceholderBaseURL)
	}
	if err := adapters.ValidateHostURL(s, allowInsecureHTTP); err != nil {
		return config.Invalid("base_url", "%v", err)
	}
	u, _ := url.Parse(s) // parsed above
	if p, _ := url.Parse(PlaceholderBaseURL); strings.EqualFold(u.Host, p.Host) {
		return config.Invalid("base_url", "%s is the documentation's placeholder; set your own API host", u.Host)
	}
	return nil
}

// isExparam reports whether name is exparam1..exparam10, spelled as Webex
// spells it (no leading zeros).
func isExparam(name string) bool {
	rest, ok := strings.CutPrefix(name, "exparam")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(rest)
	return err == nil && n >= 1 && n <= MaxExparams && strconv.Itoa(n) == rest
}

// Adapter deletes Webex Campaign contact profiles.
type Adapter struct {
	cfg    Config
	client *http.Client
	url    string
}

// New returns an Adapter; cfg must be valid.
func New(cfg Config, client *http.Client) *Adapter {
	return &Adapter{cfg: cfg, client: client, url: strings.TrimRight(cfg.BaseURL, "/") + Path}
}

// Name implements adapters.Adapter.
func (a *Adapter) Name() string { return Name }

// Delete implements adapters.Adapter.
func (a *Adapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	key := ev.Identifier(a.cfg.KeyField)
	if key == "" {
		return adapters.NotApplicable, nil
	}
	// A key Webex would read as another (bytes JSON replaces with U+FFFD,
	// white space it may trim, invisible characters) might answer "not
	// found", a false AlreadyAbsent: refuse rather than lose the deletion.
	if err := adapters.CheckIdentifier(Name, "key identifier", key, nil, ""); err != nil {
		return adapters.Failed, err
	}
	body, err := json.Marshal(a.requestBody(key, ev.EventID))
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: "encoding request failed"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: "building request failed"}
	}
	token := a.cfg.Token.Reveal()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := adapters.Send(ctx, a.client, req, Name, key, token)
	if err != nil {
		return adapters.Failed, err
	}
	out, err := Classify(resp, key, token)
	if err == nil {
		// "the unique Transaction ID of the operation in case of success"
		adapters.NoteReference(ctx, adapters.ReferenceField(resp.Body, "transaction-id"), 0)
	}
	return out, err
}

func (a *Adapter) requestBody(key, eventID string) map[string]string {
	b := make(map[string]string, len(a.cfg.Exparams)+3)
	for n, v := range a.cfg.Exparams {
		b[n] = v
	}
	if a.cfg.EventIDParam != "" && eventID != "" {
		b[a.cfg.EventIDParam] = eventID
	}
	if a.cfg.ProfileName != "" {
		b["profile-name"] = a.cfg.ProfileName
	}
	b["key"] = key
	return b
}

// Documented is the table of failure codes Webex's page lists, with the
// page's words. Only these words go into a dead-letter record: the body's
// own description may echo the key.
var Documented = adapters.Codes{
	"102":  "Invalid profile id",
	"1010": "The request was not processed.",
	"1020": "Contact profile not found",
	"430":  "Authorization failed. This resource is not allowed to access using this TOKEN or KEY",
	"498":  "Invalid token or Access token expired",
	"405":  "Method not supported",
	"429":  "Too many requests. Throttle limit reached for the time window.",
	"499":  "Request failed. Check the exact reason of failure in application code and description of error stream.",
	"500":  "Internal server error",
	"1001": "Invalid input JSON",
}

// codeInfo is what one of Webex's documented codes means.
type codeInfo struct {
	// status is the HTTP status Webex sends the code with.
	status int
	// class is the error class; zero for a code that is a final outcome.
	class   adapters.Class
	outcome adapters.Outcome
}

// lookupCode returns the meaning of a documented code.
func lookupCode(code string) (codeInfo, bool) {
	switch code {
	case "102":
		return codeInfo{http.StatusOK, adapters.ClassPermanent, adapters.Failed}, true
	case "1010":
		return codeInfo{http.StatusOK, adapters.ClassRetryable, adapters.Failed}, true
	case "1020":
		return codeInfo{http.StatusOK, 0, adapters.AlreadyAbsent}, true
	case "430":
		return codeInfo{http.StatusUnauthorized, adapters.ClassPermanent, adapters.Failed}, true
	case "498":
		return codeInfo{http.StatusUnauthorized, adapters.ClassPermanent, adapters.Failed}, true
	case "405":
		return codeInfo{http.StatusMethodNotAllowed, adapters.ClassPermanent, adapters.Failed}, true
	case "429":
		return codeInfo{http.StatusTooManyRequests, adapters.ClassRetryable, adapters.Failed}, true
	case "499":
		// The page says only "Request failed. Check the exact reason of
		// failure": a generic processing failure, not a judgement on the
		// input (that is 102 or 1001). Retrying is safe because the
		// retry policy is bounded; if it keeps failing it is dead-lettered
		// with the description for a human to read.
		return codeInfo{499, adapters.ClassRetryable, adapters.Failed}, true
	case "500":
		return codeInfo{http.StatusInternalServerError, adapters.ClassRetryable, adapters.Failed}, true
	case "1001":
		// Sent with HTTP 500, yet permanent: the same body will never
		// parse. The body code wins over the status.
		return codeInfo{http.StatusInternalServerError, adapters.ClassPermanent, adapters.Failed}, true
	}
	return codeInfo{}, false
}

// apiBody is every field Webex's answers carry: transaction-id on
// success, code and description on failure. Raw, because the code comes
// as a number or a string.
type apiBody struct {
	Code          json.RawMessage `json:"code"`
	Description   json.RawMessage `json:"description"`
	TransactionID json.RawMessage `json:"transaction-id"`
}

// scalar reads a JSON string or number as text. present is false for an
// absent or null field; ok is false for any other JSON type.
func scalar(raw json.RawMessage) (s string, present, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, true
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return strings.TrimSpace(str), true, true
	}
	var num json.Number
	if err := json.Unmarshal(raw, &num); err == nil {
		return num.String(), true, true
	}
	return "", true, false
}

// Classify reads a Webex answer. redact lists values that must not appear
// in errors.
//
// A documented code in the body decides over the HTTP status (1001 comes
// with a 500 and is permanent). A final outcome needs exactly the answer
// the page documents: HTTP 200 with a transaction-id for Deleted, HTTP 200
// with code 1020 for AlreadyAbsent; anything else that looks final is
// unexpected, since a false final outcome loses a deletion.
func Classify(resp *adapters.Response, redact ...string) (adapters.Outcome, error) {
	var body apiBody
	if len(bytes.TrimSpace(resp.Body)) == 0 || json.Unmarshal(resp.Body, &body) != nil {
		// Not Webex's JSON: a gateway page, a cut body, nothing at all.
		if resp.Status == http.StatusOK {
			return adapters.Failed, adapters.Unexpected(Name, resp, "unreadable body", redact...)
		}
		return adapters.Failed, adapters.StatusError(Name, resp, "", adapters.Excerpt(resp.Body, redact...))
	}
	code, hasCode, codeOK := scalar(body.Code)
	tx, hasTx, txOK := scalar(body.TransactionID)
	hasTx = hasTx && txOK && tx != ""
	desc := description(body.Description, redact)

	switch {
	case hasCode && hasTx:
		return adapters.Failed, adapters.Unexpected(Name, resp, "both a code and a transaction-id", redact...)
	case hasCode && (!codeOK || code == ""):
		if resp.Status == http.StatusOK {
			return adapters.Failed, adapters.Unexpected(Name, resp, "unreadable code", redact...)
		}
		return adapters.Failed, adapters.StatusError(Name, resp, "", adapters.Excerpt(resp.Body, redact...))
	case hasCode:
		info, known := lookupCode(code)
		if !known {
			// Status alone decides: 5xx retryable, 4xx permanent, 200
			// with an unknown code unexpected.
			if desc == "" {
				desc = adapters.Excerpt(resp.Body, redact...)
			}
			return adapters.Failed, adapters.StatusError(Name, resp, adapters.Excerpt([]byte(code), redact...), desc)
		}
		if info.class == 0 {
			if resp.Status != info.status {
				return adapters.Failed, adapters.Unexpected(Name, resp, "code "+code+" with an undocumented HTTP status", redact...)
			}
			return info.outcome, nil
		}
		e := &adapters.Error{Vendor: Name, Class: info.class, Status: resp.Status, Code: code, Description: Documented.Describe(code), VendorMessage: desc}
		if info.class == adapters.ClassRetryable {
			e.RetryAfter = resp.RetryAfter(time.Now())
		}
		return adapters.Failed, e
	case hasTx:
		if resp.Status != http.StatusOK {
			return adapters.Failed, adapters.Unexpected(Name, resp, "transaction-id with an undocumented HTTP status", redact...)
		}
		return adapters.Deleted, nil
	case resp.Status == http.StatusOK:
		return adapters.Failed, adapters.Unexpected(Name, resp, "neither transaction-id nor code", redact...)
	default:
		return adapters.Failed, adapters.StatusError(Name, resp, "", adapters.Excerpt(resp.Body, redact...))
	}
}

// description returns the body's description, redacted and bounded.
func description(raw json.RawMessage, redact []string) string {
	if s, present, ok := scalar(raw); present && ok {
		return adapters.Excerpt([]byte(s), redact...)
	}
	return ""
}

// Package clevertap deletes user profiles at CleverTap:
// POST {base_url}/1/delete/profiles.json with the X-CleverTap-Account-Id and
// X-CleverTap-Passcode headers and a JSON body naming the profiles by
// identity ({"identity": [...]}) or by CleverTap ID ({"guid": [...]}).
//
// CleverTap does not delete at once: it marks the profile for deletion and
// removes it within 48 hours. It answers {"status":"success"} whether or not
// it knew the identity, so this adapter reports Deleted on success and never
// AlreadyAbsent: the vendor gives no way to tell the two apart.
package clevertap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// Name is the vendor's name in logs, metrics and dead-letter headers.
const Name = "clevertap"

// DefaultRegion is the region used when neither region nor base_url is set.
const DefaultRegion = "eu1"

// Identifier kinds CleverTap deletes by: the identity the customer assigned
// to the profile, or CleverTap's own ID for it.
const (
	IDTypeIdentity = "identity"
	IDTypeGUID     = "guid"
)

// Default event identifiers, one per id_type.
const (
	DefaultIdentityField = "clevertap_identity"
	DefaultGUIDField     = "clevertap_guid"
)

// MaxBatch bounds the ids in one request. CleverTap's page states no limit;
// 100 is the limit this project assumes (and its sandbox enforces) until
// CleverTap documents one, so batches stay well inside what it accepts.
const MaxBatch = 100

// DeletePath is the delete endpoint's path below the base URL.
const DeletePath = "/1/delete/profiles.json"

// Regions returns CleverTap's data-centre regions; each names its API host,
// https://{region}.api.clevertap.com.
func Regions() []string {
	return []string{"in1", "sg1", "us1", "aps3", "mec1", "eu1"}
}

func knownRegion(r string) bool {
	for _, k := range Regions() {
		if r == k {
			return true
		}
	}
	return false
}

// Config configures the CleverTap adapter.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Region is the account's data centre ("eu1", "in1", ...), which picks
	// the API host. BaseURL, when set, wins.
	Region string `yaml:"region"`
	// BaseURL replaces the regional host (a proxy, a sandbox): scheme,
	// host and optionally a path prefix.
	BaseURL   string `yaml:"base_url"`
	AccountID string `yaml:"account_id"`
	// Passcode is the account's API passcode, from env or a file.
	Passcode config.Secret `yaml:"passcode"`
	// IDType is "identity" or "guid": which body field carries the id.
	IDType string `yaml:"id_type"`
	// IDField names the event identifier holding the id; its default
	// depends on IDType.
	IDField string               `yaml:"id_field"`
	Retry   adapters.RetryConfig `yaml:"retry"`
}

// SetDefaults fills what configuration left out.
func (c *Config) SetDefaults() {
	c.Region = strings.ToLower(strings.TrimSpace(c.Region))
	if c.Region == "" && c.BaseURL == "" {
		c.Region = DefaultRegion
	}
	c.IDType = strings.ToLower(strings.TrimSpace(c.IDType))
	if c.IDType == "" {
		c.IDType = IDTypeIdentity
	}
	if c.IDField == "" {
		if c.IDType == IDTypeGUID {
			c.IDField = DefaultGUIDField
		} else {
			c.IDField = DefaultIdentityField
		}
	}
	c.Retry.SetDefaults()
}

// Validate names the first wrong field. A region is checked even when
// base_url overrides it: a typo there would bite the day base_url is removed.
func (c *Config) Validate() error {
	if c.Region != "" && !knownRegion(c.Region) {
		return config.Invalid("region", "unknown region %q, want one of %s", c.Region, strings.Join(Regions(), ", "))
	}
	if c.BaseURL != "" {
		if err := adapters.ValidateBaseURL(c.BaseURL); err != nil {
			return config.Invalid("base_url", "%v", err)
		}
	} else if c.Region == "" {
		return config.Invalid("region", "must be set when base_url is not")
	}
	if strings.TrimSpace(c.AccountID) == "" {
		return config.Invalid("account_id", "must be set")
	}
	if !c.Passcode.IsSet() {
		return config.Invalid("passcode", "must be set (env or file)")
	}
	if c.IDType != IDTypeIdentity && c.IDType != IDTypeGUID {
		return config.Invalid("id_type", "must be %q or %q, got %q", IDTypeIdentity, IDTypeGUID, c.IDType)
	}
	if c.IDField == "" {
		return config.Invalid("id_field", "must be set")
	}
	return config.Nest("retry", c.Retry.Validate())
}

// Endpoint returns the base URL requests go to: BaseURL when set, else the
// region's API host.
func (c *Config) Endpoint() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return "https://" + c.Region + ".api.clevertap.com"
}

// Adapter deletes CleverTap profiles.
type Adapter struct {
	cfg    Config
	client *http.Client
	url    string
}

// New returns an Adapter; cfg must be valid. The adapter uses a copy of
// client that does not follow redirects: CleverTap's API does not redirect,
// and Go would carry the passcode header to wherever a redirect pointed.
// A 3xx is therefore classified as unexpected.
func New(cfg Config, client *http.Client) *Adapter {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Adapter{cfg: cfg, client: &c, url: cfg.Endpoint() + DeletePath}
}

// Name implements adapters.Adapter.
func (a *Adapter) Name() string { return Name }

// Delete implements adapters.Adapter.
func (a *Adapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	id := ev.Identifier(a.cfg.IDField)
	if id == "" {
		return adapters.NotApplicable, nil
	}
	return a.deleteMany(ctx, []string{id})
}

// deleteMany deletes up to MaxBatch profiles in one request. CleverTap
// answers for the request as a whole, so the outcome applies to every id.
func (a *Adapter) deleteMany(ctx context.Context, ids []string) (adapters.Outcome, error) {
	if len(ids) == 0 {
		return adapters.NotApplicable, nil
	}
	body, err := requestBody(a.cfg.IDType, ids)
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: "building request failed"}
	}
	req.Header.Set("X-CleverTap-Account-Id", a.cfg.AccountID)
	req.Header.Set("X-CleverTap-Passcode", a.cfg.Passcode.Reveal())
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")

	redact := redactions(a.cfg.Passcode.Reveal(), ids)
	resp, err := adapters.Send(ctx, a.client, req, Name, redact...)
	if err != nil {
		return adapters.Failed, err
	}
	return Classify(resp, redact...)
}

// requestBody renders {"<idType>": [ids...]}. The array form is used even
// for one id so that a batch is the same request with more elements. Ids
// that JSON would silently alter (invalid UTF-8 becomes U+FFFD) are refused:
// CleverTap would answer success for the altered id and the person would
// stay.
func requestBody(idType string, ids []string) ([]byte, error) {
	if len(ids) > MaxBatch {
		return nil, fmt.Errorf("%d ids in one request, at most %d allowed", len(ids), MaxBatch)
	}
	for i, id := range ids {
		if id == "" {
			return nil, fmt.Errorf("id %d of %d is empty", i+1, len(ids))
		}
		if !utf8.ValidString(id) {
			return nil, fmt.Errorf("id %d of %d is not valid UTF-8", i+1, len(ids))
		}
	}
	return json.Marshal(map[string][]string{idType: ids})
}

// redactions lists what must not appear in error text: the passcode and
// each id, both as-is and as JSON would escape them, since an answer may
// echo the request body.
func redactions(passcode string, ids []string) []string {
	out := make([]string, 0, 2*len(ids)+1)
	out = append(out, passcode)
	for _, id := range ids {
		out = append(out, id)
		if b, err := json.Marshal(id); err == nil {
			if esc := string(b[1 : len(b)-1]); esc != id {
				out = append(out, esc)
			}
		}
	}
	return out
}

// answer is CleverTap's body: {"status":"success"} or
// {"status":"fail","error":"<message>","code":<int>}. Unprocessed is read
// in case a success ever lists profiles it did not take (CleverTap's upload
// API answers that way); the delete page documents no such field.
type answer struct {
	Status      string          `json:"status"`
	Error       string          `json:"error"`
	Code        json.RawMessage `json:"code"`
	Unprocessed json.RawMessage `json:"unprocessed"`
}

// Classify reads a CleverTap answer. redact lists values that must not
// appear in errors.
//
// A 2xx needs a body that says what happened: "success" is Deleted (extra
// fields are ignored, but a non-empty "unprocessed" is unexpected: never
// claim a deletion the vendor did not confirm); "fail" is classified by its
// code; anything else is unexpected. Other statuses are classified by the
// HTTP status, which a gateway's non-JSON 502 or 429 still gets right: 429,
// 408 and 5xx retryable (with Retry-After), other 4xx permanent, the rest
// unexpected.
func Classify(resp *adapters.Response, redact ...string) (adapters.Outcome, error) {
	var body answer
	parsed := len(resp.Body) > 0 && json.Unmarshal(resp.Body, &body) == nil
	code := ""
	if parsed {
		if n, ok := parseCode(body.Code); ok {
			code = strconv.FormatInt(n, 10)
		}
	}
	if resp.Status >= 200 && resp.Status < 300 {
		switch {
		case !parsed:
			return adapters.Failed, unexpected(resp, "", "unreadable answer", redact)
		case strings.EqualFold(body.Status, "success"):
			if pendingProfiles(body.Unprocessed) {
				return adapters.Failed, unexpected(resp, code, "success lists unprocessed profiles", redact)
			}
			return adapters.Deleted, nil
		case strings.EqualFold(body.Status, "fail"):
			return adapters.Failed, failError(resp, body, redact)
		default:
			return adapters.Failed, unexpected(resp, code, "unknown answer", redact)
		}
	}
	msg := ""
	if parsed && body.Error != "" {
		msg = adapters.Excerpt([]byte(body.Error), redact...)
	} else if len(resp.Body) > 0 {
		msg = adapters.Excerpt(resp.Body, redact...)
	}
	return adapters.Failed, adapters.StatusError(Name, resp, code, msg)
}

// failError classifies a "fail" answer sent with a 2xx by its body code.
// CleverTap's codes repeat HTTP statuses (its API errors page lists 400,
// 401, 403, 404, 405, 409, 429 and 5xx); a code outside that list is
// unexpected, since nothing says whether retrying helps.
func failError(resp *adapters.Response, body answer, redact []string) *adapters.Error {
	n, ok := parseCode(body.Code)
	if !ok {
		return unexpected(resp, "", "fail answer without a code", redact)
	}
	code := strconv.FormatInt(n, 10)
	msg := adapters.Excerpt([]byte(body.Error), redact...)
	switch {
	case n == 400 || n == 401 || n == 403 || n == 404 || n == 405 || n == 409:
		return &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Status: resp.Status, Code: code, Message: msg}
	case n == http.StatusTooManyRequests || (n >= 500 && n <= 599):
		return &adapters.Error{Vendor: Name, Class: adapters.ClassRetryable, Status: resp.Status, Code: code, Message: msg, RetryAfter: resp.RetryAfter(time.Now())}
	default:
		return unexpected(resp, code, "fail answer with unknown code", redact)
	}
}

// parseCode reads the body's code: a JSON integer, or one quoted as a
// string.
func parseCode(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return n, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// pendingProfiles reports whether an "unprocessed" value names anything:
// absent, null, [] and 0 do not; a non-empty list, a non-zero count or any
// other shape does.
func pendingProfiles(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return false
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		return len(list) > 0
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil {
		return n != 0
	}
	return true
}

// unexpected is the error for an answer this adapter cannot read. Unlike
// adapters.Unexpected it does not %q-quote the excerpt, so quoting cannot
// turn characters into escape sequences after redaction has run.
func unexpected(resp *adapters.Response, code, what string, redact []string) *adapters.Error {
	msg := what + " (empty body)"
	if ex := adapters.Excerpt(resp.Body, redact...); ex != "" {
		msg = what + ": " + ex
	}
	return &adapters.Error{Vendor: Name, Class: adapters.ClassUnexpected, Status: resp.Status, Code: code, Message: msg}
}

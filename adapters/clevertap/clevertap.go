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
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// Name is the vendor's name in logs, metrics and dead-letter headers.
const Name = "clevertap"

// DefaultRegion is Config.Region's default; base_url, when set, wins.
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

// Documented is the table of answers CleverTap's delete page lists, with
// the page's words: the success alone, so a failure carries its status and
// code and no description.
var Documented = adapters.Codes{
	"200": "success",
}

// guidShape is the form of a CleverTap ID as the page's examples write it
// ("df2e224d90874887b4d61153ef3a2508", "ctid123", "clientid123"): letters,
// digits, "_" and "-". An identity is "defined by you" and has no shape
// beyond what CheckIdentifier requires of every identifier.
var guidShape = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

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
	// Common holds enabled, paused, retry, limit and breaker.
	adapters.Common `yaml:",inline"`
	// Region is the account's data centre ("eu1", "in1", ...), which picks
	// the API host. BaseURL, when set, wins.
	Region string `yaml:"region"`
	// BaseURL replaces the regional host (a proxy, a sandbox): scheme,
	// host and optionally a path prefix.
	BaseURL string `yaml:"base_url"`
	// AllowInsecureHTTP permits a plain http base_url to a host other
	// than this machine; the daemon then warns at startup. The passcode
	// and identifiers cross the network unencrypted: only for a proxy on
	// a network you trust.
	AllowInsecureHTTP bool   `yaml:"allow_insecure_http"`
	AccountID         string `yaml:"account_id"`
	// Passcode is the account's API passcode, from env or a file.
	Passcode config.Secret `yaml:"passcode"`
	// IDType is "identity" or "guid": which body field carries the id.
	IDType string `yaml:"id_type"`
	// IDField names the event identifier holding the id; empty (the
	// default) means clevertap_identity or clevertap_guid, by IDType.
	IDField string `yaml:"id_field"`
	// BatchSize bounds the ids coalesced into one request, at most
	// MaxBatch; 1 sends one request per event. With batching, each
	// permit of limit is one request carrying up to batch_size ids.
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long a batch waits for more ids after its first
	// before it is sent (sooner when full).
	BatchWait time.Duration `yaml:"batch_wait"`
}

// DefaultBatchWait is Config.BatchWait's default: short next to a
// request's round trip, long enough to gather the deletes of a backlog.
const DefaultBatchWait = 5 * time.Millisecond

// MaxBatchWait bounds Config.BatchWait: a deletion should not sit idle
// for long waiting for company.
const MaxBatchWait = time.Second

// DefaultConfig is the configuration YAML and the environment are
// decoded over; a new field's default goes here. A zero the operator
// writes is kept: batch_wait: 0s sends each batch as soon as a request
// slot is free.
func DefaultConfig() Config {
	return Config{
		Region:    DefaultRegion,
		IDType:    IDTypeIdentity,
		Common:    defaultCommon(),
		BatchSize: MaxBatch,
		BatchWait: DefaultBatchWait,
	}
}

// region is Region as CleverTap spells it ("EU1 " is eu1).
func (c *Config) region() string { return strings.ToLower(strings.TrimSpace(c.Region)) }

// IDKind is IDType as the request body spells it: "identity" or "guid".
func (c *Config) IDKind() string { return strings.ToLower(strings.TrimSpace(c.IDType)) }

// Field returns the event identifier holding the id: IDField, or the
// default for IDType.
func (c *Config) Field() string {
	switch {
	case c.IDField != "":
		return c.IDField
	case c.IDKind() == IDTypeGUID:
		return DefaultGUIDField
	default:
		return DefaultIdentityField
	}
}

// Validate names the first wrong field. A region is checked even when
// base_url overrides it: a typo there would bite the day base_url is removed.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.region() != "" && !knownRegion(c.region()) {
		errs.Invalid("region", "unknown region %q, want one of %s", c.Region, strings.Join(Regions(), ", "))
	}
	if c.BaseURL != "" {
		if err := adapters.ValidateBaseURL(c.BaseURL, c.AllowInsecureHTTP); err != nil {
			errs.Invalid("base_url", "%v", err)
		}
	} else if c.region() == "" {
		errs.Invalid("region", "must be set when base_url is not")
	}
	if strings.TrimSpace(c.AccountID) == "" {
		errs.Invalid("account_id", "must be set")
	}
	if !c.Passcode.IsSet() {
		errs.Invalid("passcode", "must be set (env or file)")
	}
	if c.IDKind() != IDTypeIdentity && c.IDKind() != IDTypeGUID {
		errs.Invalid("id_type", "must be %q or %q, got %q", IDTypeIdentity, IDTypeGUID, c.IDType)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatch {
		errs.Invalid("batch_size", "must be in [1, %d], got %d", MaxBatch, c.BatchSize)
	}
	if c.BatchWait < 0 || c.BatchWait > MaxBatchWait {
		errs.Invalid("batch_wait", "must be in [0, %s], got %s", MaxBatchWait, c.BatchWait)
	}
	errs.Add(c.ValidateCommon())
	return errs.Err()
}

// Endpoint returns the base URL requests go to: BaseURL when set, else the
// region's API host.
func (c *Config) Endpoint() string {
	if c.BaseURL != "" {
		return strings.TrimRight(c.BaseURL, "/")
	}
	return "https://" + c.region() + ".api.clevertap.com"
}

// Adapter deletes CleverTap profiles.
type Adapter struct {
	cfg     Config
	client  *http.Client
	url     string
	limiter *adapters.Limiter
	batch   *batcher
}

// Option adjusts an Adapter.
type Option func(*Adapter)

// WithLimiter shares the vendor's limiter with the adapter. When it
// batches, the adapter takes one permit per request rather than the
// Retrier one per event (see adapters.SelfLimited).
func WithLimiter(l *adapters.Limiter) Option { return func(a *Adapter) { a.limiter = l } }

// New returns an Adapter; cfg must be valid. Redirects are never followed
// (adapters.Send sees to it): CleverTap's API does not redirect, and Go
// would carry the passcode header to wherever a redirect pointed. A 3xx is
// therefore classified as unexpected.
//
// With BatchSize above 1, concurrent deletes are coalesced into requests
// of up to BatchSize ids (see batcher).
func New(cfg Config, client *http.Client, opts ...Option) *Adapter {
	if client == nil {
		client = http.DefaultClient
	}
	a := &Adapter{cfg: cfg, client: client, url: cfg.Endpoint() + DeletePath}
	for _, o := range opts {
		o(a)
	}
	if cfg.BatchSize > 1 {
		a.batch = newBatcher(min(cfg.BatchSize, MaxBatch), cfg.BatchWait, a.limiter, a.sendBatch)
	}
	return a
}

// Name implements adapters.Adapter.
func (a *Adapter) Name() string { return Name }

// SelfLimited implements adapters.SelfLimited: a batching adapter takes
// limiter permits and bounds request time per request, itself.
func (a *Adapter) SelfLimited() bool { return a.batch != nil }

// Delete implements adapters.Adapter. With batching, the event's id joins
// a batch and the batch's answer is the event's; an id the request body
// could not carry fails alone, before it can spoil a batch.
func (a *Adapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	id := ev.Identifier(a.cfg.Field())
	if id == "" {
		return adapters.NotApplicable, nil
	}
	// CleverTap answers success for an id it does not know, so an id it
	// would read as another is a deletion silently lost: it fails here,
	// alone, before it can join (and spoil) a batch.
	if err := checkID(a.cfg.IDType, id); err != nil {
		return adapters.Failed, err
	}
	if a.batch == nil {
		out, err := a.deleteMany(ctx, []string{id})
		if err == nil {
			adapters.NoteReference(ctx, time.Now().UTC().Format(time.RFC3339Nano), 1)
		}
		return out, err
	}
	return a.batch.delete(ctx, id)
}

// sendBatch sends one batch, bounded by the retry policy's request
// timeout: the Retrier does not bound a self-limited adapter's attempts.
func (a *Adapter) sendBatch(ctx context.Context, ids []string) (adapters.Outcome, error) {
	timeout := a.cfg.Retry.RequestTimeout
	if timeout <= 0 {
		timeout = adapters.DefaultRetryConfig().RequestTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := a.deleteMany(rctx, ids)
	if err != nil && errTimeout(ctx, err) {
		err = &adapters.Error{Vendor: Name, Class: adapters.ClassRetryable, Message: "request timed out after " + timeout.String()}
	}
	return out, err
}

// deleteMany deletes up to MaxBatch profiles in one request. CleverTap
// answers for the request as a whole, so the outcome applies to every id.
func (a *Adapter) deleteMany(ctx context.Context, ids []string) (adapters.Outcome, error) {
	if len(ids) == 0 {
		return adapters.NotApplicable, nil
	}
	body, err := requestBody(a.cfg.IDKind(), ids)
	if err != nil {
		return adapters.Failed, err
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
// the body cannot carry faithfully are refused (see checkID).
func requestBody(idType string, ids []string) ([]byte, error) {
	if len(ids) > MaxBatch {
		return nil, &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Message: fmt.Sprintf("%d ids in one request, at most %d allowed", len(ids), MaxBatch)}
	}
	for _, id := range ids {
		if err := checkID(idType, id); err != nil {
			return nil, err
		}
	}
	return json.Marshal(map[string][]string{idType: ids})
}

// checkID refuses an id CleverTap would read as another: what every
// identifier must be (adapters.CheckIdentifier: valid UTF-8, which JSON
// would otherwise alter to U+FFFD, no control characters, no white space
// at the ends), and for a guid the shape of the page's examples.
func checkID(idType, id string) error {
	if idType == IDTypeGUID {
		return adapters.CheckIdentifier(Name, "CleverTap ID", id, guidShape, `letters, digits, "_" and "-"`)
	}
	return adapters.CheckIdentifier(Name, "identity", id, nil, "")
}

// redactions lists what must not appear in error text: the passcode and
// each id (adapters.Redact finds them in any case or escaping, and in any
// order).
func redactions(passcode string, ids []string) []string {
	return append([]string{passcode}, ids...)
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
			return adapters.Failed, adapters.Unexpected(Name, resp, "unreadable answer", redact...)
		case strings.EqualFold(body.Status, "success"):
			if pendingProfiles(body.Unprocessed) {
				e := adapters.Unexpected(Name, resp, "success lists unprocessed profiles", redact...)
				e.Code = code
				return adapters.Failed, e
			}
			return adapters.Deleted, nil
		case strings.EqualFold(body.Status, "fail"):
			return adapters.Failed, failError(resp, body, redact)
		default:
			e := adapters.Unexpected(Name, resp, "unknown answer", redact...)
			e.Code = code
			return adapters.Failed, e
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
		return adapters.Unexpected(Name, resp, "fail answer without a code", redact...)
	}
	code := strconv.FormatInt(n, 10)
	msg := adapters.Excerpt([]byte(body.Error), redact...)
	switch {
	case n == 400 || n == 401 || n == 403 || n == 404 || n == 405 || n == 409:
		return &adapters.Error{Vendor: Name, Class: adapters.ClassPermanent, Status: resp.Status, Code: code, Description: Documented.Describe(code), VendorMessage: msg}
	case n == http.StatusTooManyRequests || (n >= 500 && n <= 599):
		return &adapters.Error{Vendor: Name, Class: adapters.ClassRetryable, Status: resp.Status, Code: code, Description: Documented.Describe(code), VendorMessage: msg, RetryAfter: resp.RetryAfter(time.Now())}
	default:
		e := adapters.Unexpected(Name, resp, "fail answer with unknown code", redact...)
		e.Code = code
		return e
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

// DefaultLimit says what CleverTap's 429 limits: requests in flight, not a
// rate. CleverTap's API Request Limit page: "too many concurrent
// requests", concurrency only, no per-minute limits (SandboxLimit's cap of
// 15 is its example figure, not a documented default, so no cap is set
// here beyond vendors.max_conns_per_vendor: the learner finds it).
func DefaultLimit() adapters.LimitConfig {
	c := adapters.DefaultLimitConfig()
	c.Throttle = adapters.ThrottleConcurrency
	return c
}

// defaultCommon is the common defaults with this vendor's DefaultLimit.
func defaultCommon() adapters.Common {
	c := adapters.DefaultCommon()
	c.Limit = DefaultLimit()
	return c
}

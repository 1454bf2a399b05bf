package exotel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

const (
	testSID     = "exotel8u3"
	testKey     = "key-3f9a0c"
	testToken   = "tok-secret-77d1e5"
	testContact = "4440b6e1a85f489b87d76d8779956caf"
)

// pageSuccess is the success example from Exotel's page.
const pageSuccess = `{ "request_id": "e623a09f108d4fe0b5c442024f3d30bb", "method": "DELETE", "http_code": 200, "response": { "code": 200, "error_data": null, "status": "success", "data": { "sid": "4440b6e1a85f489b87d76d8779956caf", "date_created": "2021-05-23T08:21:30Z", "date_updated": "2021-05-23T08:21:30Z", "account_sid": "exotel8u3", "number": "+919101234511", "first_name": "captain", "last_name": "exotel", "company_name": "Exotel", "email": "captain@email.com", "tag": "API", "custom_field": { "key": { "key1": "values1" } }, "uri": "/v2/accounts/exotel8u3/contacts/4440b6e1a85f489b87d76d8779956caf" } } }`

// pageNotFound is Exotel's v2 error shape.
const pageNotFound = `{"request_id":"5c0bd6a2a3f24c3c9f5e1f1d7c1e2a90","method":"DELETE","http_code":404,"response":{"code":404,"error_data":{"code":1000,"message":"Not Found","description":"Contact not found"},"status":"failure","data":null}}`

// personal lists what the page's and the sandbox's success bodies say
// about the person; no error may repeat it.
var personal = []string{SandboxContactNumber, SandboxContactEmail, "captain", "919101234511"}

func failure(httpCode int, errCode int, msg string) string {
	return fmt.Sprintf(`{"request_id":"r-%d","method":"DELETE","http_code":%d,"response":{"code":%d,"error_data":{"code":%d,"message":%q,"description":%q},"status":"failure","data":null}}`,
		httpCode, httpCode, httpCode, errCode, msg, msg)
}

func testConfig(baseURL string) Config {
	c := DefaultConfig()
	c.Enabled, c.BaseURL, c.AccountSID, c.APIKey, c.APIToken = true, baseURL, testSID, testKey, config.NewSecret(testToken)
	return c
}

func newAdapter(t *testing.T, srv *httptest.Server, edit ...func(*Config)) *Adapter {
	t.Helper()
	cfg := testConfig(srv.URL)
	for _, e := range edit {
		e(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return New(cfg, srv.Client())
}

func startSandbox(t *testing.T, knobs sandbox.Knobs) (*Sandbox, *httptest.Server) {
	t.Helper()
	sb := NewSandbox(testSID, testKey, testToken, knobs)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

func userDeleted(contact string) *event.UserDeleted {
	ev := &event.UserDeleted{EventID: "ev-1", UserID: "user-1", OccurredAt: time.Now(), Identifiers: map[string]string{}}
	if contact != "" {
		ev.Identifiers[DefaultContactField] = contact
	}
	return ev
}

// checkError asserts err is an *adapters.Error of class want that names
// none of the secrets, identifiers or personal data.
func checkError(t *testing.T, err error, want adapters.Class, secrets ...string) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
	}
	if ae.Class != want {
		t.Errorf("class = %s, want %s (%v)", ae.Class, want, err)
	}
	if ae.Vendor != Name {
		t.Errorf("vendor = %q, want %q", ae.Vendor, Name)
	}
	msg := adaptertest.Text(err)
	for _, s := range append(append([]string{testToken}, secrets...), personal...) {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
	if len(msg) >= 1000 {
		t.Errorf("error is %d bytes long", len(msg))
	}
	return ae
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		edit      func(*Config)
		wantField string // "" means valid
		wantBase  string
	}{
		{name: "defaults to the Singapore cluster", edit: func(c *Config) { c.BaseURL = "" }, wantBase: DefaultBaseURL},
		{name: "region sg", edit: func(c *Config) { c.BaseURL, c.Region = "", "sg" }, wantBase: "https://api.exotel.com"},
		{name: "region in is Mumbai", edit: func(c *Config) { c.BaseURL, c.Region = "", "in" }, wantBase: "https://api.in.exotel.com"},
		{name: "region is case-insensitive", edit: func(c *Config) { c.BaseURL, c.Region = "", " IN " }, wantBase: "https://api.in.exotel.com"},
		{name: "explicit base_url wins over region", edit: func(c *Config) { c.BaseURL, c.Region = "http://127.0.0.1:9", "in" }, wantBase: "http://127.0.0.1:9"},
		{name: "trailing slash allowed", edit: func(c *Config) { c.BaseURL = "https://api.exotel.com/" }, wantBase: "https://api.exotel.com/"},
		{name: "unknown region", edit: func(c *Config) { c.BaseURL, c.Region = "", "us" }, wantField: "region"},
		{name: "unknown region with base_url", edit: func(c *Config) { c.Region = "mumbai" }, wantField: "region"},
		{name: "base_url not a URL", edit: func(c *Config) { c.BaseURL = "api.exotel.com" }, wantField: "base_url"},
		{name: "base_url with query", edit: func(c *Config) { c.BaseURL = "https://api.exotel.com?x=1" }, wantField: "base_url"},
		{name: "base_url with path", edit: func(c *Config) { c.BaseURL = "https://api.exotel.com/v2" }, wantField: "base_url"},
		{name: "base_url plain http", edit: func(c *Config) { c.BaseURL = "http://api.exotel.com" }, wantField: "base_url"},
		{name: "base_url plain http allowed", edit: func(c *Config) { c.BaseURL, c.AllowInsecureHTTP = "http://api.exotel.com", true }, wantBase: "http://api.exotel.com"},
		{name: "region and base_url both empty", edit: func(c *Config) { c.BaseURL, c.Region = "", "" }, wantField: "region"},
		{name: "account_sid missing", edit: func(c *Config) { c.AccountSID = " " }, wantField: "account_sid"},
		{name: "api_key missing", edit: func(c *Config) { c.APIKey = "" }, wantField: "api_key"},
		{name: "api_token missing", edit: func(c *Config) { c.APIToken = config.Secret{} }, wantField: "api_token"},
		{name: "retry invalid", edit: func(c *Config) { c.Retry.MaxAttempts = -1 }, wantField: "retry.max_attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("https://api.exotel.com")
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if cfg.Endpoint() != tc.wantBase {
					t.Errorf("endpoint = %q, want %q", cfg.Endpoint(), tc.wantBase)
				}
				if cfg.ContactField != DefaultContactField {
					t.Errorf("contact_field = %q, want %q", cfg.ContactField, DefaultContactField)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Validate = %v, want a config.FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tc.wantField, err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("config error %q reveals the token", err)
			}
		})
	}
}

func TestConfigFromYAML(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "enabled: true\nregion: in\naccount_sid: exotel8u3\napi_key: k\n" +
		"api_token: {file: " + tokenFile + "}\ncontact_field: crm_contact\nretry: {max_attempts: 3}\n"
	p := filepath.Join(t.TempDir(), "exotel.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := config.Load(p, &cfg, config.Options{Environ: func() []string { return nil }}); err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.Endpoint() != "https://api.in.exotel.com" || cfg.ContactField != "crm_contact" ||
		cfg.Retry.MaxAttempts != 3 || cfg.APIToken.Reveal() != testToken {
		t.Errorf("decoded %+v", cfg)
	}
	if err := config.Decode(strings.NewReader("regoin: in\n"), &cfg); err == nil {
		t.Error("a misspelt key was accepted")
	}
}

// TestDeleteAgainstSandbox drives the adapter against the sandbox for every
// answer the sandbox can give.
func TestDeleteAgainstSandbox(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		knobs      sandbox.Knobs
		absent     bool
		edit       func(*Config)
		want       adapters.Outcome
		wantClass  adapters.Class
		wantStatus int
		wantCode   string
		wantRA     time.Duration
		wantMsg    string
		deleted    bool
	}{
		{name: "existing contact", want: adapters.Deleted, deleted: true},
		{name: "unknown contact", absent: true, want: adapters.AlreadyAbsent},
		{name: "forced 400", knobs: sandbox.Knobs{Force: "400"}, wantClass: adapters.ClassPermanent, wantStatus: 400, wantCode: "1001", wantMsg: "Bad Request"},
		{name: "forced 401", knobs: sandbox.Knobs{Force: "401"}, wantClass: adapters.ClassPermanent, wantStatus: 401, wantCode: "1010"},
		{name: "forced 403", knobs: sandbox.Knobs{Force: "403"}, wantClass: adapters.ClassPermanent, wantStatus: 403, wantCode: "1011"},
		{name: "forced 404", knobs: sandbox.Knobs{Force: "404"}, want: adapters.AlreadyAbsent},
		{name: "forced 429", knobs: sandbox.Knobs{Force: "429"}, wantClass: adapters.ClassRetryable, wantStatus: 429, wantCode: "1020", wantRA: time.Second},
		{name: "forced 500", knobs: sandbox.Knobs{Force: "500"}, wantClass: adapters.ClassRetryable, wantStatus: 500, wantCode: "1030"},
		{name: "forced 502", knobs: sandbox.Knobs{Force: "502"}, wantClass: adapters.ClassRetryable, wantStatus: 502},
		{name: "forced 503", knobs: sandbox.Knobs{Force: "503"}, wantClass: adapters.ClassRetryable, wantStatus: 503, wantRA: time.Second},
		{name: "forced html502", knobs: sandbox.Knobs{Force: FaultHTML502}, wantClass: adapters.ClassRetryable, wantStatus: 502, wantMsg: "502 Bad Gateway"},
		{name: "random failure", knobs: sandbox.Knobs{FailureRate: 1}, wantClass: adapters.ClassRetryable, wantStatus: 500},
		{name: "wrong token", edit: func(c *Config) { c.APIToken = config.NewSecret("nope-" + testToken) }, wantClass: adapters.ClassPermanent, wantStatus: 401, wantCode: "1010", wantMsg: "Authentication Failed"},
		{name: "wrong api key", edit: func(c *Config) { c.APIKey = "other" }, wantClass: adapters.ClassPermanent, wantStatus: 401, wantMsg: "Authentication Failed"},
		{name: "other account", edit: func(c *Config) { c.AccountSID = "exotel9zz" }, wantClass: adapters.ClassPermanent, wantStatus: 403, wantCode: "1011"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, tc.knobs)
			if tc.absent {
				sb.Ledger.SeedAbsent(testContact)
			}
			a := newAdapter(t, srv, func(c *Config) {
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			out, err := a.Delete(context.Background(), userDeleted(testContact))
			if tc.wantClass == 0 {
				if err != nil || out != tc.want {
					t.Fatalf("Delete = %s, %v; want %s", out, err, tc.want)
				}
			} else {
				if out != adapters.Failed {
					t.Errorf("outcome = %s, want failed", out)
				}
				ae := checkError(t, err, tc.wantClass, testContact)
				if ae.Status != tc.wantStatus {
					t.Errorf("status = %d, want %d", ae.Status, tc.wantStatus)
				}
				if tc.wantCode != "" && ae.Code != tc.wantCode {
					t.Errorf("code = %q, want %q", ae.Code, tc.wantCode)
				}
				if ae.RetryAfter != tc.wantRA {
					t.Errorf("retry after = %s, want %s", ae.RetryAfter, tc.wantRA)
				}
				if !strings.Contains(ae.Message+" "+ae.VendorMessage, tc.wantMsg) {
					t.Errorf("message %q (vendor: %q) does not contain %q", ae.Message, ae.VendorMessage, tc.wantMsg)
				}
			}
			if got := sb.Ledger.Deleted(testContact); got != tc.deleted {
				t.Errorf("ledger deleted = %v, want %v", got, tc.deleted)
			}
			if n := sb.Ledger.Requests(); n != 1 {
				t.Errorf("sandbox answered %d requests, want 1", n)
			}
		})
	}
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	// A burst of one, refilled every ~17 minutes: the second request is
	// throttled whatever the timing.
	sb, srv := startSandbox(t, sandbox.Knobs{ThrottleRPS: 0.001})
	a := newAdapter(t, srv)
	const c1, c2 = "00000000000000000000000000000c01", "00000000000000000000000000000c02"
	if out, err := a.Delete(context.Background(), userDeleted(c1)); err != nil || out != adapters.Deleted {
		t.Fatalf("first Delete = %s, %v", out, err)
	}
	out, err := a.Delete(context.Background(), userDeleted(c2))
	if out != adapters.Failed {
		t.Errorf("outcome = %s, want failed", out)
	}
	ae := checkError(t, err, adapters.ClassRetryable, c2)
	if ae.Status != http.StatusTooManyRequests || ae.RetryAfter < 10*time.Minute {
		t.Errorf("got status %d retry after %s, want 429 with the limiter's wait", ae.Status, ae.RetryAfter)
	}
	if sb.Ledger.Deleted(c2) {
		t.Error("throttled contact was deleted")
	}
}

func TestIdempotentDelete(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	a := newAdapter(t, srv)
	for i, want := range []adapters.Outcome{adapters.Deleted, adapters.AlreadyAbsent, adapters.AlreadyAbsent} {
		out, err := a.Delete(context.Background(), userDeleted(testContact))
		if err != nil || out != want {
			t.Fatalf("delete #%d = %s, %v; want %s", i+1, out, err, want)
		}
	}
	if n := sb.Ledger.Calls(testContact); n != 3 {
		t.Errorf("sandbox saw %d calls, want 3", n)
	}
	if got := sb.Ledger.Statuses(); got[200] != 1 || got[404] != 2 {
		t.Errorf("statuses = %v, want one 200 and two 404", got)
	}
}

func TestNotApplicable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		field string
		ev    *event.UserDeleted
	}{
		{name: "no identifiers", ev: &event.UserDeleted{EventID: "e", UserID: "u"}},
		{name: "other vendor's identifier", ev: &event.UserDeleted{EventID: "e", UserID: "u", Identifiers: map[string]string{"plivo_profile_uuid": "x"}}},
		{name: "empty value", ev: userDeleted("")},
		{name: "custom field absent", field: "crm_contact", ev: userDeleted(testContact)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			a := newAdapter(t, srv, func(c *Config) {
				if tc.field != "" {
					c.ContactField = tc.field
				}
			})
			out, err := a.Delete(context.Background(), tc.ev)
			if err != nil || out != adapters.NotApplicable {
				t.Fatalf("Delete = %s, %v; want not_applicable", out, err)
			}
			if n := sb.Ledger.Requests(); n != 0 {
				t.Errorf("sandbox answered %d requests, want none", n)
			}
		})
	}
}

func TestContactFieldUserID(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	a := newAdapter(t, srv, func(c *Config) { c.ContactField = event.UserIDField })
	out, err := a.Delete(context.Background(), &event.UserDeleted{EventID: "e", UserID: testContact})
	if err != nil || out != adapters.Deleted {
		t.Fatalf("Delete = %s, %v", out, err)
	}
	if !sb.Ledger.Deleted(testContact) {
		t.Error("the user id was not the contact deleted")
	}
}

// TestPathEscaping checks that no contact sid can change the path: one
// that would need escaping is not a contact sid, and is refused before any
// request (see TestMalformedContactSIDNeverSent).
func TestPathEscaping(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a/b", "x?y=z", "p#q", "%2F", "../x", "a b", "..%2f..", "c/../../accounts", "ü/€"} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			a := newAdapter(t, srv)
			out, err := a.Delete(context.Background(), userDeleted(id))
			if out != adapters.Failed {
				t.Fatalf("Delete = %s, %v; want failed", out, err)
			}
			checkError(t, err, adapters.ClassInvalidIdentifier, id)
			if n := sb.Ledger.Requests(); n != 0 {
				t.Errorf("sandbox answered %d requests, want none", n)
			}
		})
	}
}

func TestDotSegmentsRefused(t *testing.T) {
	t.Parallel()
	for _, id := range []string{".", ".."} {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			a := newAdapter(t, srv)
			out, err := a.Delete(context.Background(), userDeleted(id))
			if out != adapters.Failed {
				t.Errorf("outcome = %s, want failed", out)
			}
			checkError(t, err, adapters.ClassInvalidIdentifier)
			if n := sb.Ledger.Requests(); n != 0 {
				t.Errorf("sandbox answered %d requests, want none", n)
			}
		})
	}
}

// TestRequestShape checks what goes on the wire: DELETE, the exact path,
// Basic auth in a header and no credentials in the URL.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		seen *http.Request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Clone(context.Background())
		mu.Unlock()
		sandbox.WriteJSON(w, http.StatusOK, []byte(pageSuccess))
	}))
	t.Cleanup(srv.Close)
	a := newAdapter(t, srv, func(c *Config) { c.BaseURL = srv.URL + "/" })
	if out, err := a.Delete(context.Background(), userDeleted(testContact)); err != nil || out != adapters.Deleted {
		t.Fatalf("Delete = %s, %v", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen.Method != http.MethodDelete {
		t.Errorf("method = %s", seen.Method)
	}
	if got, want := seen.URL.EscapedPath(), "/v2/accounts/exotel8u3/contacts/"+testContact; got != want {
		t.Errorf("path = %q, want %q", got, want)
	}
	if seen.URL.RawQuery != "" || seen.URL.User != nil {
		t.Errorf("URL carries query %q or userinfo", seen.URL.RawQuery)
	}
	user, pass, ok := seen.BasicAuth()
	if !ok || user != testKey || pass != testToken {
		t.Errorf("basic auth = %q, %q, %v", user, pass, ok)
	}
	if seen.ContentLength > 0 {
		t.Errorf("request has a body of %d bytes", seen.ContentLength)
	}
}

// TestRetryAfterInEnvelopeOnly: a 200 whose envelope says 429 is still a
// throttle, and its Retry-After header counts.
func TestRetryAfterInEnvelopeOnly(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		sandbox.WriteJSON(w, http.StatusOK, []byte(failure(429, 1020, "Too Many Requests")))
	}))
	t.Cleanup(srv.Close)
	_, err := newAdapter(t, srv).Delete(context.Background(), userDeleted(testContact))
	ae := checkError(t, err, adapters.ClassRetryable, testContact)
	if ae.RetryAfter != 3*time.Second {
		t.Errorf("retry after = %s, want 3s", ae.RetryAfter)
	}
}

func fastRetry() adapters.RetryConfig {
	r := adapters.DefaultRetryConfig()
	r.InitialInterval, r.MaxInterval, r.MaxAttempts, r.RequestTimeout = time.Millisecond, 5*time.Millisecond, 4, 5*time.Second
	return r
}

func TestRetrierRecovers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		force     string
		wantWait  time.Duration
		fromRetry bool
	}{
		{name: "throttled once", force: "429", wantWait: time.Second, fromRetry: true},
		{name: "503 once", force: "503", wantWait: time.Second, fromRetry: true},
		{name: "500 once", force: "500"},
		{name: "proxy 502 once", force: FaultHTML502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// In a bubble the sandbox's Retry-After costs no real time.
			synctest.Test(t, func(t *testing.T) {
				sb := NewSandbox(testSID, testKey, testToken, sandbox.Knobs{Force: tc.force, ForceCount: 1})
				base, client := adaptertest.Serve(sb)
				cfg := testConfig(base)
				if err := cfg.Validate(); err != nil {
					t.Fatalf("config: %v", err)
				}
				a := New(cfg, client)
				obs := &adaptertest.Waits{}
				res := adapters.NewRetrier(fastRetry(), adapters.WithObserver(obs)).
					Do(context.Background(), a, userDeleted(testContact))
				if res.Outcome != adapters.Deleted || res.Err != nil || res.Attempts != 2 {
					t.Fatalf("result = %+v, want deleted on attempt 2", res)
				}
				if !sb.Ledger.Deleted(testContact) {
					t.Error("contact not deleted")
				}
				waits, fromH := obs.Got()
				if len(waits) != 1 || fromH[0] != tc.fromRetry || (tc.fromRetry && waits[0] != tc.wantWait) {
					t.Errorf("waits = %v (from Retry-After %v), want one wait of %s from header %v", waits, fromH, tc.wantWait, tc.fromRetry)
				}
			})
		})
	}
}

func TestRetrierStopsOnPermanent(t *testing.T) {
	t.Parallel()
	for _, force := range []string{"400", "401", "403"} {
		t.Run(force, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{Force: force})
			res := adapters.NewRetrier(fastRetry()).
				Do(context.Background(), newAdapter(t, srv), userDeleted(testContact))
			if res.Outcome != adapters.Failed || res.Attempts != 1 || res.Exhausted {
				t.Fatalf("result = %+v, want one failed attempt", res)
			}
			checkError(t, res.Err, adapters.ClassPermanent, testContact)
			if sb.Ledger.Requests() != 1 {
				t.Errorf("sandbox answered %d requests", sb.Ledger.Requests())
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	a := newAdapter(t, srv)
	srv.Close()
	out, err := a.Delete(context.Background(), userDeleted(testContact))
	if out != adapters.Failed {
		t.Errorf("outcome = %s", out)
	}
	checkError(t, err, adapters.ClassRetryable, testContact, testSID)
}

func TestNewDoesNotChangeCallersClient(t *testing.T) {
	t.Parallel()
	c := &http.Client{}
	New(testConfig("https://api.exotel.com"), c)
	if c.CheckRedirect != nil {
		t.Error("New modified the caller's client")
	}
	if a := New(testConfig("https://api.exotel.com"), nil); a.client == nil || a.Name() != Name {
		t.Error("New with a nil client")
	}
}

func resp(status int, body string, header ...string) *adapters.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &adapters.Response{Status: status, Header: h, Body: []byte(body)}
}

// TestClassify covers the parser on answers the sandbox does not give:
// disagreements between status and envelope, other shapes, damage.
func TestClassify(t *testing.T) {
	t.Parallel()
	truncated := pageSuccess[:strings.Index(pageSuccess, `"email"`)]
	for _, tc := range []struct {
		name      string
		resp      *adapters.Response
		want      adapters.Outcome
		wantClass adapters.Class
		wantCode  string
		wantRA    time.Duration
		wantMsg   string
	}{
		{name: "page success", resp: resp(200, pageSuccess), want: adapters.Deleted},
		{name: "success, codes as strings", resp: resp(200, `{"method":"DELETE","http_code":"200","response":{"code":"200","status":"success","data":{}}}`), want: adapters.Deleted},
		{name: "success without http_code", resp: resp(200, `{"response":{"status":"success","data":null}}`), want: adapters.Deleted},
		{name: "404 envelope", resp: resp(404, pageNotFound), want: adapters.AlreadyAbsent},
		{name: "200 carrying a 404 envelope", resp: resp(200, pageNotFound), want: adapters.AlreadyAbsent},
		{name: "400 carrying a 404 envelope", resp: resp(400, pageNotFound), want: adapters.AlreadyAbsent},
		{name: "404 from response.code only", resp: resp(404, `{"response":{"code":404,"status":"failure","error_data":{"message":"Not Found"}}}`), want: adapters.AlreadyAbsent},
		{name: "404 with odd error_data", resp: resp(404, `{"http_code":404,"response":{"code":404,"status":"failure","error_data":"Not Found"}}`), want: adapters.AlreadyAbsent},
		{name: "400", resp: resp(400, failure(400, 1001, "Invalid contact sid")), wantClass: adapters.ClassPermanent, wantCode: "1001", wantMsg: "Invalid contact sid"},
		{name: "401", resp: resp(401, failure(401, 1010, "Authentication Failed")), wantClass: adapters.ClassPermanent, wantCode: "1010", wantMsg: "Authentication Failed"},
		{name: "403", resp: resp(403, failure(403, 1011, "Forbidden")), wantClass: adapters.ClassPermanent, wantCode: "1011"},
		{name: "405", resp: resp(405, failure(405, 1012, "Method Not Allowed")), wantClass: adapters.ClassPermanent},
		{name: "409", resp: resp(409, failure(409, 1040, "Conflict")), wantClass: adapters.ClassPermanent},
		{name: "200 carrying a 400 envelope", resp: resp(200, failure(400, 1001, "Bad Request")), wantClass: adapters.ClassPermanent, wantMsg: "envelope http_code 400"},
		{name: "200 carrying a 500 envelope", resp: resp(200, failure(500, 1030, "oops")), wantClass: adapters.ClassRetryable},
		{name: "429 with seconds", resp: resp(429, failure(429, 1020, "Too Many Requests"), "Retry-After", "12"), wantClass: adapters.ClassRetryable, wantRA: 12 * time.Second, wantCode: "1020"},
		{name: "429 without Retry-After", resp: resp(429, failure(429, 1020, "Too Many Requests")), wantClass: adapters.ClassRetryable},
		{name: "500", resp: resp(500, failure(500, 1030, "Internal Server Error")), wantClass: adapters.ClassRetryable, wantMsg: "request_id r-500"},
		{name: "503 with Retry-After", resp: resp(503, failure(503, 1030, "Service Unavailable"), "Retry-After", "2"), wantClass: adapters.ClassRetryable, wantRA: 2 * time.Second},
		{name: "408", resp: resp(408, ""), wantClass: adapters.ClassRetryable},
		{name: "proxy 502 page", resp: resp(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"), wantClass: adapters.ClassRetryable, wantMsg: "502 Bad Gateway"},
		{name: "proxy 504 empty", resp: resp(504, ""), wantClass: adapters.ClassRetryable},
		{name: "500 carrying a 404 envelope", resp: resp(500, pageNotFound), wantClass: adapters.ClassRetryable},
		{name: "503 carrying a success envelope", resp: resp(503, pageSuccess), wantClass: adapters.ClassRetryable},
		{name: "429 carrying a success envelope", resp: resp(429, pageSuccess), wantClass: adapters.ClassRetryable},
		{name: "200 not JSON", resp: resp(200, "<html>maintenance</html>"), wantClass: adapters.ClassUnexpected, wantMsg: "maintenance"},
		{name: "200 empty", resp: resp(200, ""), wantClass: adapters.ClassUnexpected},
		{name: "204 empty", resp: resp(204, ""), wantClass: adapters.ClassUnexpected},
		{name: "200 null", resp: resp(200, "null"), wantClass: adapters.ClassUnexpected},
		{name: "200 array", resp: resp(200, "[]"), wantClass: adapters.ClassUnexpected},
		{name: "200 empty object", resp: resp(200, "{}"), wantClass: adapters.ClassUnexpected},
		{name: "200 truncated success", resp: resp(200, truncated), wantClass: adapters.ClassUnexpected},
		{name: "200 other JSON", resp: resp(200, `{"status":"ok"}`), wantClass: adapters.ClassUnexpected},
		{name: "200 unknown envelope status", resp: resp(200, `{"http_code":200,"response":{"code":200,"status":"pending"}}`), wantClass: adapters.ClassUnexpected, wantMsg: "pending"},
		{name: "200 failure with http_code 200", resp: resp(200, `{"http_code":200,"response":{"code":200,"status":"failure"}}`), wantClass: adapters.ClassUnexpected},
		{name: "200 success envelope saying 404", resp: resp(200, strings.Replace(pageSuccess, `"http_code": 200`, `"http_code": 404`, 1)), wantClass: adapters.ClassUnexpected},
		{name: "404 carrying a success envelope", resp: resp(404, pageSuccess), wantClass: adapters.ClassUnexpected},
		{name: "success envelope for GET", resp: resp(200, strings.Replace(pageSuccess, `"DELETE"`, `"GET"`, 1)), wantClass: adapters.ClassUnexpected, wantMsg: "GET"},
		{name: "bare 404 page", resp: resp(404, "<html>404 page not found</html>"), wantClass: adapters.ClassUnexpected, wantMsg: "not confirmed absent"},
		{name: "404 other JSON", resp: resp(404, `{"message":"Not Found"}`), wantClass: adapters.ClassUnexpected},
		{name: "401 proxy page", resp: resp(401, "<html>401 Authorization Required</html>"), wantClass: adapters.ClassPermanent},
		{name: "302", resp: resp(302, ""), wantClass: adapters.ClassUnexpected},
		{name: "code not a number", resp: resp(404, `{"http_code":"four","response":{"status":"failure"}}`), wantClass: adapters.ClassUnexpected},
		{name: "huge error body", resp: resp(400, failure(400, 1001, strings.Repeat("x", 100_000))), wantClass: adapters.ClassPermanent},
		{name: "huge HTML", resp: resp(200, strings.Repeat("<p>", 30_000)), wantClass: adapters.ClassUnexpected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := Classify(tc.resp, testContact, testToken)
			if tc.wantClass == 0 {
				if err != nil || out != tc.want {
					t.Fatalf("Classify = %s, %v; want %s", out, err, tc.want)
				}
				return
			}
			if out != adapters.Failed {
				t.Errorf("outcome = %s, want failed", out)
			}
			ae := checkError(t, err, tc.wantClass, testContact)
			if ae.Status != tc.resp.Status {
				t.Errorf("status = %d, want the HTTP status %d", ae.Status, tc.resp.Status)
			}
			if tc.wantCode != "" && ae.Code != tc.wantCode {
				t.Errorf("code = %q, want %q", ae.Code, tc.wantCode)
			}
			if ae.RetryAfter != tc.wantRA {
				t.Errorf("retry after = %s, want %s", ae.RetryAfter, tc.wantRA)
			}
			if !strings.Contains(ae.Message+" "+ae.VendorMessage, tc.wantMsg) {
				t.Errorf("message %q (vendor: %q) does not contain %q", ae.Message, ae.VendorMessage, tc.wantMsg)
			}
		})
	}
}

// TestClassifyRedacts: the vendor may echo the sid or worse into its error
// text, JSON-escaped or not; errors must carry neither.
func TestClassifyRedacts(t *testing.T) {
	t.Parallel()
	id := `c/"<&>`
	for _, body := range []string{
		failure(400, 1001, "contact "+id+" is invalid for key "+testToken),
		`{"request_id":"` + testToken + `","http_code":500,"response":{"status":"failure","error_data":{"message":"` + strings.Repeat("é", 300) + testToken + `"}}}`,
		`<html>` + id + " " + testToken + `</html>`,
		`{"request_id":"x","method":"DELETE","http_code":200,"response":{"status":"success","data":{"sid":"` + id + `","number":"+919101234511"`,
		`{"method":"DELETE","http_code":404,"response":{"status":"success","data":{"number":"+919101234511","email":"captain@email.com"}}}`,
		`{"data":{"number":"+919101234511"}}`,
	} {
		for _, status := range []int{200, 400, 404, 502} {
			_, err := Classify(resp(status, body), id, testToken)
			if err == nil {
				continue
			}
			checkError(t, err, adapters.ErrorClass(err), id)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, pageSuccess},
		{404, pageNotFound},
		{200, pageNotFound},
		{401, failure(401, 1010, "Authentication Failed")},
		{403, failure(403, 1011, "Forbidden")},
		{400, failure(400, 1001, "Bad Request")},
		{429, failure(429, 1020, "Too Many Requests")},
		{500, failure(500, 1030, "Internal Server Error")},
		{502, "<html><h1>502 Bad Gateway</h1></html>"},
		{200, pageSuccess[:200]},
		{200, ""},
		{204, "{}"},
		{302, ""},
	} {
		f.Add(s.status, []byte(s.body), "Retry-After", "3")
	}
	f.Add(200, []byte(pageSuccess), "Retry-After", "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Fuzz(func(t *testing.T, status int, body []byte, hk, hv string) {
		h := http.Header{}
		h.Add(hk, hv)
		out, err := Classify(&adapters.Response{Status: status, Header: h, Body: body}, testContact, testToken)
		if adaptertest.Classified(t, out, err) == nil {
			return
		}
		msg := adaptertest.Text(err)
		for _, s := range []string{testContact, testToken} {
			if strings.Contains(msg, s) {
				t.Errorf("error %q contains %q", msg, s)
			}
		}
	})
}

// TestConformance runs the checks every adapter shares (adaptertest.Run).
func TestConformance(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, conformanceHarness())
}

// conformanceHarness is the vendor as adaptertest sees it.
func conformanceHarness() adaptertest.Harness {
	return adaptertest.Harness{
		Name: Name,
		New: func(baseURL string, client *http.Client, retry adapters.RetryConfig) (adapters.Adapter, error) {
			cfg := testConfig(baseURL)
			cfg.Retry = retry
			return New(cfg, client), cfg.Validate()
		},
		Sandbox:  func() http.Handler { return NewSandbox(testSID, testKey, testToken, sandbox.Knobs{}) },
		Event:    func() *event.UserDeleted { return userDeleted(testContact) },
		Throttle: func(w http.ResponseWriter, r *http.Request) { writeStatus(w, r, http.StatusTooManyRequests) },
		Secrets:  []string{testToken, testKey},
	}
}

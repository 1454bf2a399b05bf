package webex

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
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
	testToken = "tok-Sup3rS3cret-0123456789"
	testKey   = "key-9463183918"
)

var _ adapters.Adapter = (*Adapter)(nil)

func validConfig(baseURL string) Config {
	c := DefaultConfig()
	c.Enabled, c.BaseURL, c.Token = true, baseURL, config.NewSecret(testToken)
	return c
}

func newAdapter(t *testing.T, srv *httptest.Server, mutate func(*Config)) *Adapter {
	t.Helper()
	cfg := validConfig(srv.URL)
	if mutate != nil {
		mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return New(cfg, srv.Client())
}

// startSandbox serves a sandbox; configure runs before the server starts,
// so the handler reads its fields without a race.
func startSandbox(t *testing.T, knobs sandbox.Knobs, configure ...func(*Sandbox)) (*Sandbox, *httptest.Server) {
	t.Helper()
	sb := NewSandbox(testToken, knobs)
	for _, c := range configure {
		c(sb)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

func newEvent(key string) *event.UserDeleted {
	return &event.UserDeleted{
		EventID:     "evt-0001",
		UserID:      "user-0001",
		OccurredAt:  time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		Identifiers: map[string]string{DefaultKeyField: key},
	}
}

// assertNoLeak fails if err's text names a secret or identifier.
func assertNoLeak(t *testing.T, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range values {
		if strings.Contains(adaptertest.Text(err), v) {
			t.Errorf("error text %q contains %q", adaptertest.Text(err), v)
		}
	}
}

func asError(t *testing.T, err error) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
	}
	return ae
}

func TestName(t *testing.T) {
	t.Parallel()
	if got := New(validConfig(PlaceholderBaseURL), http.DefaultClient).Name(); got != "webex" {
		t.Fatalf("Name() = %q", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tens := map[string]string{}
	for i := 1; i <= 10; i++ {
		tens["exparam"+strconv.Itoa(i)] = "v"
	}
	tests := []struct {
		name      string
		mutate    func(*Config)
		wantField string // "" for valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"trailing slash", func(c *Config) { c.BaseURL = "https://acme.webexcampaign.io/" }, ""},
		{"all options", func(c *Config) {
			c.ProfileName = "sampleprofile"
			c.Exparams = map[string]string{"exparam2": "erasured", "exparam10": "gdpr"}
			c.EventIDParam = "exparam1"
		}, ""},
		{"ten exparams", func(c *Config) { c.Exparams = tens }, ""},
		{"base_url missing", func(c *Config) { c.BaseURL = "" }, "base_url"},
		{"base_url placeholder", func(c *Config) { c.BaseURL = PlaceholderBaseURL }, "base_url"},
		{"base_url placeholder spelled otherwise", func(c *Config) { c.BaseURL = "HTTPS://YourDomain.WebexCampaign.io/" }, "base_url"},
		{"base_url scheme", func(c *Config) { c.BaseURL = "ftp://acme.webexcampaign.io" }, "base_url"},
		{"base_url no host", func(c *Config) { c.BaseURL = "https://" }, "base_url"},
		{"base_url path", func(c *Config) { c.BaseURL = "https://acme.webexcampaign.io/campaignapi" }, "base_url"},
		{"base_url query", func(c *Config) { c.BaseURL = "https://acme.webexcampaign.io?x=1" }, "base_url"},
		{"base_url plain http", func(c *Config) { c.BaseURL = "http://acme.webexcampaign.io" }, "base_url"},
		{"base_url plain http allowed", func(c *Config) { c.BaseURL = "http://acme.webexcampaign.io"; c.AllowInsecureHTTP = true }, ""},
		{"token missing", func(c *Config) { c.Token = config.Secret{} }, "token"},
		{"profile_name padded", func(c *Config) { c.ProfileName = " sampleprofile" }, "profile_name"},
		{"exparam0", func(c *Config) { c.Exparams = map[string]string{"exparam0": "v"} }, "exparams"},
		{"exparam11", func(c *Config) { c.Exparams = map[string]string{"exparam11": "v"} }, "exparams"},
		{"exparam01", func(c *Config) { c.Exparams = map[string]string{"exparam01": "v"} }, "exparams"},
		{"other name", func(c *Config) { c.Exparams = map[string]string{"key": "v"} }, "exparams"},
		{"eleven", func(c *Config) {
			c.Exparams = map[string]string{"extra": "v"}
			for k, v := range tens {
				c.Exparams[k] = v
			}
		}, "exparams"},
		{"empty value", func(c *Config) { c.Exparams = map[string]string{"exparam3": ""} }, "exparams.exparam3"},
		{"event_id_param name", func(c *Config) { c.EventIDParam = "event_id" }, "event_id_param"},
		{"event_id_param collides", func(c *Config) {
			c.Exparams = map[string]string{"exparam1": "v"}
			c.EventIDParam = "exparam1"
		}, "event_id_param"},
		{"retry", func(c *Config) { c.Retry.MaxAttempts = -1 }, "retry.max_attempts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig("https://acme.webexcampaign.io")
			tc.mutate(&cfg)
			err := cfg.Validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Validate() = %v, want a config.FieldError", err)
			}
			if fe.Field != tc.wantField {
				t.Fatalf("field = %q (%v), want %q", fe.Field, err, tc.wantField)
			}
			assertNoLeak(t, err, testToken)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	if cfg.KeyField != "webex_key" {
		t.Errorf("KeyField = %q", cfg.KeyField)
	}
	if cfg.BaseURL != "" {
		t.Errorf("BaseURL defaulted to %q; it must be configured", cfg.BaseURL)
	}
	if !reflect.DeepEqual(cfg.Retry, adapters.DefaultRetryConfig()) {
		t.Errorf("Retry = %+v", cfg.Retry)
	}
}

func TestDeleteThenAlreadyAbsent(t *testing.T) {
	t.Parallel()
	for _, numeric := range []bool{false, true} {
		sb, srv := startSandbox(t, sandbox.Knobs{}, func(sb *Sandbox) { sb.NumericCodes = numeric })
		a := newAdapter(t, srv, nil)
		ev := newEvent(testKey)

		out, err := a.Delete(context.Background(), ev)
		if err != nil || out != adapters.Deleted {
			t.Fatalf("first delete = %v, %v; want deleted", out, err)
		}
		if !sb.Ledger.Deleted(testKey) {
			t.Fatal("sandbox ledger does not show the key deleted")
		}
		out, err = a.Delete(context.Background(), ev)
		if err != nil || out != adapters.AlreadyAbsent {
			t.Fatalf("second delete = %v, %v; want already_absent", out, err)
		}
		if got := sb.Ledger.Calls(testKey); got != 2 {
			t.Fatalf("calls = %d, want 2", got)
		}
		if got := sb.Ledger.DeletedCount(); got != 1 {
			t.Fatalf("deleted count = %d, want 1", got)
		}
	}
}

func TestDeleteUnknownProfile(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	sb.Ledger.SeedAbsent(testKey)
	out, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
	if err != nil || out != adapters.AlreadyAbsent {
		t.Fatalf("Delete = %v, %v; want already_absent", out, err)
	}
	if sb.Ledger.DeletedCount() != 0 {
		t.Fatal("a seeded-absent profile was deleted")
	}
}

// capture records the last request a handler got, then passes it on.
type capture struct {
	next http.Handler
	mu   sync.Mutex
	reqs []captured
}

type captured struct {
	method, path string
	header       http.Header
	body         map[string]any
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body})
	c.mu.Unlock()
	r.Body = io.NopCloser(strings.NewReader(string(b)))
	c.next.ServeHTTP(w, r)
}

func (c *capture) last(t *testing.T) captured {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reqs) == 0 {
		t.Fatal("no request reached the server")
	}
	return c.reqs[len(c.reqs)-1]
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mutate   func(*Config)
		event    func(*event.UserDeleted)
		wantBody map[string]any
		ledgerID string
	}{
		{
			name:     "key only",
			mutate:   func(*Config) {},
			wantBody: map[string]any{"key": testKey},
			ledgerID: testKey,
		},
		{
			name: "profile, static exparams and event id",
			mutate: func(c *Config) {
				c.ProfileName = "sampleprofile"
				c.Exparams = map[string]string{"exparam2": "erasured", "exparam10": "gdpr-art-17"}
				c.EventIDParam = "exparam1"
			},
			wantBody: map[string]any{
				"profile-name": "sampleprofile", "key": testKey,
				"exparam1": "evt-0001", "exparam2": "erasured", "exparam10": "gdpr-art-17",
			},
			ledgerID: LedgerID("sampleprofile", testKey),
		},
		{
			name:     "event without an id leaves the param out",
			mutate:   func(c *Config) { c.EventIDParam = "exparam4" },
			event:    func(ev *event.UserDeleted) { ev.EventID = "" },
			wantBody: map[string]any{"key": testKey},
			ledgerID: testKey,
		},
		{
			name: "key from the user id",
			mutate: func(c *Config) {
				c.KeyField = event.UserIDField
			},
			event:    func(ev *event.UserDeleted) { ev.UserID = testKey; ev.Identifiers = nil },
			wantBody: map[string]any{"key": testKey},
			ledgerID: testKey,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := NewSandbox(testToken, sandbox.Knobs{})
			sb.ProfileNames = []string{"sampleprofile"}
			c := &capture{next: sb}
			srv := httptest.NewServer(c)
			t.Cleanup(srv.Close)
			ev := newEvent(testKey)
			if tc.event != nil {
				tc.event(ev)
			}
			out, err := newAdapter(t, srv, tc.mutate).Delete(context.Background(), ev)
			if err != nil || out != adapters.Deleted {
				t.Fatalf("Delete = %v, %v; want deleted", out, err)
			}
			got := c.last(t)
			if got.method != http.MethodPost || got.path != Path {
				t.Errorf("request = %s %s, want POST %s", got.method, got.path, Path)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if auth := got.header.Get("Authorization"); auth != "Bearer "+testToken {
				t.Errorf("Authorization = %q", auth)
			}
			gb, _ := json.Marshal(got.body)
			wb, _ := json.Marshal(tc.wantBody)
			if string(gb) != string(wb) {
				t.Errorf("body = %s, want %s", gb, wb)
			}
			if !sb.Ledger.Deleted(tc.ledgerID) {
				t.Errorf("ledger does not show %q deleted", tc.ledgerID)
			}
		})
	}
}

func TestUnknownProfileNameIsPermanent(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{}, func(sb *Sandbox) { sb.ProfileNames = []string{"sampleprofile"} })
	a := newAdapter(t, srv, func(c *Config) { c.ProfileName = "otherprofile" })
	out, err := a.Delete(context.Background(), newEvent(testKey))
	if out != adapters.Failed {
		t.Fatalf("outcome = %v", out)
	}
	ae := asError(t, err)
	if ae.Class != adapters.ClassPermanent || ae.Status != http.StatusOK || ae.Code != "102" {
		t.Fatalf("error = %+v, want permanent 200/102", ae)
	}
	if sb.Ledger.DeletedCount() != 0 {
		t.Fatal("profile deleted despite an unknown profile-name")
	}
}

// TestDocumentedCodes drives every failure code on the page through the
// sandbox and the adapter, with codes sent as strings and as numbers.
func TestDocumentedCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		force      string
		wantOut    adapters.Outcome
		wantClass  adapters.Class
		wantStatus int
		wantCode   string
		retryAfter bool
	}{
		{"102", adapters.Failed, adapters.ClassPermanent, 200, "102", false},
		{"1010", adapters.Failed, adapters.ClassRetryable, 200, "1010", false},
		{"1020", adapters.AlreadyAbsent, 0, 0, "", false},
		{"430", adapters.Failed, adapters.ClassPermanent, 401, "430", false},
		{"498", adapters.Failed, adapters.ClassPermanent, 401, "498", false},
		{"405", adapters.Failed, adapters.ClassPermanent, 405, "405", false},
		{"429", adapters.Failed, adapters.ClassRetryable, 429, "429", true},
		{"499", adapters.Failed, adapters.ClassRetryable, 499, "499", false},
		{"500", adapters.Failed, adapters.ClassRetryable, 500, "500", false},
		{"1001", adapters.Failed, adapters.ClassPermanent, 500, "1001", false},
		// Not on the page: the status decides.
		{"503", adapters.Failed, adapters.ClassRetryable, 503, "503", true},
		{"400", adapters.Failed, adapters.ClassPermanent, 400, "400", false},
		{"bogus", adapters.Failed, adapters.ClassRetryable, 500, "500", false},
	}
	for _, tc := range tests {
		for _, numeric := range []bool{false, true} {
			name := tc.force
			if numeric {
				name += "/numeric"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sb, srv := startSandbox(t, sandbox.Knobs{Force: tc.force}, func(sb *Sandbox) { sb.NumericCodes = numeric })
				out, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
				if out != tc.wantOut {
					t.Fatalf("outcome = %v (%v), want %v", out, err, tc.wantOut)
				}
				if tc.wantClass == 0 {
					if err != nil {
						t.Fatalf("err = %v, want nil", err)
					}
					return
				}
				ae := asError(t, err)
				if ae.Class != tc.wantClass || ae.Status != tc.wantStatus || ae.Code != tc.wantCode {
					t.Fatalf("error = %v, want %v HTTP %d code %s", err, tc.wantClass, tc.wantStatus, tc.wantCode)
				}
				if got := ae.RetryAfter > 0; got != tc.retryAfter {
					t.Fatalf("RetryAfter = %v, want set=%v", ae.RetryAfter, tc.retryAfter)
				}
				// A documented code carries the page's words; a bare status
				// (a gateway's 400 or 503) carries none.
				if ae.Description != Documented[tc.wantCode] {
					t.Errorf("description %q, want the page's %q", ae.Description, Documented[tc.wantCode])
				}
				assertNoLeak(t, err, testKey, testToken)
				if sb.Ledger.DeletedCount() != 0 {
					t.Error("a forced fault still deleted the profile")
				}
				if sb.Ledger.Calls(testKey) != 1 {
					t.Errorf("calls = %d, want 1", sb.Ledger.Calls(testKey))
				}
			})
		}
	}
}

func TestChaos(t *testing.T) {
	t.Parallel()
	t.Run("throttle", func(t *testing.T) {
		t.Parallel()
		// One request admitted, then none for a very long time.
		_, srv := startSandbox(t, sandbox.Knobs{ThrottleRPS: 0.001})
		a := newAdapter(t, srv, nil)
		if out, err := a.Delete(context.Background(), newEvent("key-a")); out != adapters.Deleted {
			t.Fatalf("first = %v, %v", out, err)
		}
		_, err := a.Delete(context.Background(), newEvent("key-b"))
		ae := asError(t, err)
		if ae.Class != adapters.ClassRetryable || ae.Status != 429 || ae.Code != "429" || ae.RetryAfter < time.Second {
			t.Fatalf("error = %+v, want retryable 429/429 with Retry-After", ae)
		}
	})
	t.Run("failure", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{FailureRate: 1})
		_, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
		ae := asError(t, err)
		if ae.Class != adapters.ClassRetryable || ae.Status != 500 || ae.Code != "500" {
			t.Fatalf("error = %+v, want retryable 500/500", ae)
		}
		if sb.Ledger.Deleted(testKey) {
			t.Fatal("a failed request deleted the profile")
		}
	})
}

// TestSandboxStrictness sends hand-made requests the adapter never would,
// checks the sandbox rejects them as Webex does, and that Classify reads
// each rejection right.
func TestSandboxStrictness(t *testing.T) {
	t.Parallel()
	const ok = `{"key":"` + testKey + `"}`
	auth := "Bearer " + testToken
	tests := []struct {
		name       string
		method     string
		path       string
		auth       string
		ctype      string
		body       string
		wantStatus int
		wantCode   string // "" for success
		wantClass  adapters.Class
	}{
		{"valid", "POST", Path, auth, "application/json", ok, 200, "", 0},
		{"charset allowed", "POST", Path, auth, "application/json; charset=utf-8", ok, 200, "", 0},
		{"scheme case", "POST", Path, "bearer " + testToken, "application/json", ok, 200, "", 0},
		{"all fields", "POST", Path, auth, "application/json", `{"profile-name":"sampleprofile","key":"k1","exparam1":"a","exparam10":"b"}`, 200, "", 0},
		{"GET", "GET", Path, auth, "application/json", "", 405, "405", adapters.ClassPermanent},
		{"DELETE", "DELETE", Path, auth, "application/json", ok, 405, "405", adapters.ClassPermanent},
		{"PUT", "PUT", Path, auth, "application/json", ok, 405, "405", adapters.ClassPermanent},
		{"trailing slash", "POST", Path + "/", auth, "application/json", ok, 404, "404", adapters.ClassPermanent},
		{"v2", "POST", "/campaignapi/resources/v2/delete", auth, "application/json", ok, 404, "404", adapters.ClassPermanent},
		{"key in path", "POST", Path + "/" + testKey, auth, "application/json", ok, 404, "404", adapters.ClassPermanent},
		{"escaped path", "POST", "/campaignapi/resources/v3%2Fdelete", auth, "application/json", ok, 404, "404", adapters.ClassPermanent},
		{"no auth", "POST", Path, "", "application/json", ok, 401, "430", adapters.ClassPermanent},
		{"basic auth", "POST", Path, "Basic dXNlcjpwYXNz", "application/json", ok, 401, "430", adapters.ClassPermanent},
		{"bare token", "POST", Path, testToken, "application/json", ok, 401, "430", adapters.ClassPermanent},
		{"empty bearer", "POST", Path, "Bearer ", "application/json", ok, 401, "430", adapters.ClassPermanent},
		{"wrong token", "POST", Path, "Bearer nope", "application/json", ok, 401, "498", adapters.ClassPermanent},
		{"expired token", "POST", Path, "Bearer expired-token", "application/json", ok, 401, "498", adapters.ClassPermanent},
		{"no content type", "POST", Path, auth, "", ok, 500, "1001", adapters.ClassPermanent},
		{"text content type", "POST", Path, auth, "text/plain", ok, 500, "1001", adapters.ClassPermanent},
		{"form content type", "POST", Path, auth, "application/x-www-form-urlencoded", "key=" + testKey, 500, "1001", adapters.ClassPermanent},
		{"empty body", "POST", Path, auth, "application/json", "", 500, "1001", adapters.ClassPermanent},
		{"not JSON", "POST", Path, auth, "application/json", "key=" + testKey, 500, "1001", adapters.ClassPermanent},
		{"truncated JSON", "POST", Path, auth, "application/json", `{"key":"` + testKey, 500, "1001", adapters.ClassPermanent},
		{"array", "POST", Path, auth, "application/json", `[` + ok + `]`, 500, "1001", adapters.ClassPermanent},
		{"null", "POST", Path, auth, "application/json", `null`, 500, "1001", adapters.ClassPermanent},
		{"trailing data", "POST", Path, auth, "application/json", ok + ok, 500, "1001", adapters.ClassPermanent},
		{"unknown field", "POST", Path, auth, "application/json", `{"key":"k2","email":"a@b.c"}`, 500, "1001", adapters.ClassPermanent},
		{"exparam11", "POST", Path, auth, "application/json", `{"key":"k3","exparam11":"x"}`, 500, "1001", adapters.ClassPermanent},
		{"exparam not a string", "POST", Path, auth, "application/json", `{"key":"k4","exparam1":7}`, 500, "1001", adapters.ClassPermanent},
		{"profile-name not a string", "POST", Path, auth, "application/json", `{"key":"k5","profile-name":7}`, 500, "1001", adapters.ClassPermanent},
		{"missing key", "POST", Path, auth, "application/json", `{"exparam1":"x"}`, 200, "102", adapters.ClassPermanent},
		{"empty key", "POST", Path, auth, "application/json", `{"key":""}`, 200, "102", adapters.ClassPermanent},
		{"blank key", "POST", Path, auth, "application/json", `{"key":"   "}`, 200, "102", adapters.ClassPermanent},
		{"numeric key", "POST", Path, auth, "application/json", `{"key":9463183918}`, 200, "102", adapters.ClassPermanent},
		{"unknown profile-name", "POST", Path, auth, "application/json", `{"key":"k6","profile-name":"nosuch"}`, 200, "102", adapters.ClassPermanent},
		{"empty profile-name", "POST", Path, auth, "application/json", `{"key":"k7","profile-name":""}`, 200, "102", adapters.ClassPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{}, func(sb *Sandbox) {
				sb.ExpiredToken = "expired-token"
				sb.ProfileNames = []string{"sampleprofile"}
			})
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := adapters.Send(context.Background(), srv.Client(), req, Name)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.wantStatus {
				t.Fatalf("status = %d (%s), want %d", resp.Status, resp.Body, tc.wantStatus)
			}
			var body apiBody
			if err := json.Unmarshal(resp.Body, &body); err != nil {
				t.Fatalf("body %q is not JSON: %v", resp.Body, err)
			}
			code, _, _ := scalar(body.Code)
			if code != tc.wantCode {
				t.Fatalf("code = %q (%s), want %q", code, resp.Body, tc.wantCode)
			}
			if tc.method != http.MethodPost && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if tc.name == "expired token" && !strings.Contains(string(resp.Body), "expired") {
				t.Errorf("expired token answer %s does not say so", resp.Body)
			}
			out, err := Classify(resp, testKey, testToken)
			if tc.wantCode == "" {
				if out != adapters.Deleted || err != nil {
					t.Fatalf("Classify = %v, %v; want deleted", out, err)
				}
				return
			}
			if ae := asError(t, err); ae.Class != tc.wantClass {
				t.Fatalf("class = %v, want %v", ae.Class, tc.wantClass)
			}
			if sb.Ledger.DeletedCount() != 0 {
				t.Fatal("a rejected request deleted a profile")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		wantOut    adapters.Outcome
		wantClass  adapters.Class
		wantCode   string
	}{
		{"success", 200, `{"transaction-id":"5f3a9b"}`, "", adapters.Deleted, 0, ""},
		{"numeric transaction-id", 200, `{"transaction-id":123456}`, "", adapters.Deleted, 0, ""},
		{"not found string", 200, `{"code":"1020","description":"Contact profile not found"}`, "", adapters.AlreadyAbsent, 0, ""},
		{"not found number", 200, `{"code":1020,"description":"Contact profile not found"}`, "", adapters.AlreadyAbsent, 0, ""},
		{"not found padded", 200, `{"code":" 1020 "}`, "", adapters.AlreadyAbsent, 0, ""},
		{"invalid profile id", 200, `{"code":102,"description":"Invalid profile id"}`, "", adapters.Failed, adapters.ClassPermanent, "102"},
		{"not processed", 200, `{"code":"1010","description":"The request was not processed."}`, "", adapters.Failed, adapters.ClassRetryable, "1010"},
		{"auth failed", 401, `{"code":430}`, "", adapters.Failed, adapters.ClassPermanent, "430"},
		{"token expired", 401, `{"code":"498"}`, "", adapters.Failed, adapters.ClassPermanent, "498"},
		{"method", 405, `{"code":"405"}`, "", adapters.Failed, adapters.ClassPermanent, "405"},
		{"throttle", 429, `{"code":"429"}`, "2", adapters.Failed, adapters.ClassRetryable, "429"},
		{"request failed", 499, `{"code":"499","description":"Request failed"}`, "", adapters.Failed, adapters.ClassRetryable, "499"},
		{"internal", 500, `{"code":500}`, "", adapters.Failed, adapters.ClassRetryable, "500"},
		{"invalid JSON is permanent despite 500", 500, `{"code":"1001","description":"Invalid input JSON"}`, "", adapters.Failed, adapters.ClassPermanent, "1001"},
		{"body code wins over status", 500, `{"code":"102"}`, "", adapters.Failed, adapters.ClassPermanent, "102"},
		// Shapes the page does not document.
		{"empty body", 200, ``, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"empty object", 200, `{}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"null", 200, `null`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"array", 200, `[{"transaction-id":"x"}]`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"not JSON", 200, `OK`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"truncated", 200, `{"transaction-id":"5f3a`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"empty transaction-id", 200, `{"transaction-id":""}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"object transaction-id", 200, `{"transaction-id":{}}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"code and transaction-id", 200, `{"code":"1020","transaction-id":"x"}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"boolean code", 200, `{"code":true}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"empty code", 200, `{"code":""}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"unknown code on 200", 200, `{"code":"7777"}`, "", adapters.Failed, adapters.ClassUnexpected, "7777"},
		{"float code", 200, `{"code":102.5}`, "", adapters.Failed, adapters.ClassUnexpected, "102.5"},
		{"not found on 500", 500, `{"code":"1020"}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"transaction-id on 202", 202, `{"transaction-id":"x"}`, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"redirect", 302, ``, "", adapters.Failed, adapters.ClassUnexpected, ""},
		{"gateway page", 502, `<html><body>Bad Gateway</body></html>`, "", adapters.Failed, adapters.ClassRetryable, ""},
		{"gateway timeout", 504, ``, "", adapters.Failed, adapters.ClassRetryable, ""},
		{"plain 404", 404, `Not Found`, "", adapters.Failed, adapters.ClassPermanent, ""},
		{"unknown code on 403", 403, `{"code":"403","description":"Forbidden"}`, "", adapters.Failed, adapters.ClassPermanent, "403"},
		{"boolean code on 503", 503, `{"code":false}`, "", adapters.Failed, adapters.ClassRetryable, ""},
		{"200 no code object on 503", 503, `{}`, "", adapters.Failed, adapters.ClassRetryable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &adapters.Response{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)}
			if tc.retryAfter != "" {
				resp.Header.Set("Retry-After", tc.retryAfter)
			}
			out, err := Classify(resp, testKey, testToken)
			if out != tc.wantOut {
				t.Fatalf("outcome = %v (%v), want %v", out, err, tc.wantOut)
			}
			if tc.wantClass == 0 {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			ae := asError(t, err)
			if ae.Class != tc.wantClass || ae.Code != tc.wantCode || ae.Status != tc.status {
				t.Fatalf("error = %+v, want class %v code %q status %d", ae, tc.wantClass, tc.wantCode, tc.status)
			}
			if tc.retryAfter != "" && ae.RetryAfter != 2*time.Second {
				t.Errorf("RetryAfter = %v", ae.RetryAfter)
			}
			if ae.Class == adapters.ClassUnexpected && tc.body != "" && !strings.Contains(ae.VendorMessage, tc.body[:min(len(tc.body), 10)]) {
				t.Errorf("unexpected error %q carries no body excerpt (vendor message %q)", ae.Message, ae.VendorMessage)
			}
		})
	}
}

func TestClassifyRedactsAndBounds(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 10_000)
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"description echoes key and token", 200, `{"code":"102","description":"Invalid profile id ` + testKey + ` for Bearer ` + testToken + `"}`},
		{"unknown code echoes key", 200, `{"code":"` + testKey + `","description":"` + testKey + `"}`},
		{"unknown shape echoes key", 200, `{"profile":"` + testKey + `"}`},
		{"gateway page echoes token", 502, `<p>` + testToken + `</p>`},
		{"huge description", 200, `{"code":"1010","description":"` + testKey + long + `"}`},
		{"huge unknown code", 500, `{"code":"` + long + testKey + `"}`},
		{"huge garbage", 200, long + testKey},
		{"control characters", 200, "{\"code\":\"102\",\"description\":\"a\\u0000b\\nc\"}\x00\x01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Classify(&adapters.Response{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)}, testKey, testToken)
			ae := asError(t, err)
			assertNoLeak(t, err, testKey, testToken)
			if n := len(err.Error()); n >= 1000 {
				t.Errorf("error text is %d bytes", n)
			}
			if len(ae.Code) > adapters.MaxExcerpt+4 {
				t.Errorf("code is %d bytes", len(ae.Code))
			}
			if strings.ContainsAny(err.Error(), "\x00\x01\n") {
				t.Errorf("error text %q holds control characters", err.Error())
			}
		})
	}
}

// TestRetryAfterOnRetryableCode: Webex may send a retryable code with
// HTTP 200; its Retry-After still counts. (The header's forms on a 429
// are in the conformance suite.)
func TestRetryAfterOnRetryableCode(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		sandbox.WriteJSON(w, http.StatusOK, []byte(`{"code":"1010","description":"slow down"}`))
	}))
	t.Cleanup(srv.Close)
	_, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
	ae := asError(t, err)
	if ae.Class != adapters.ClassRetryable || ae.RetryAfter != 7*time.Second {
		t.Fatalf("error = %+v, want retryable with RetryAfter 7s", ae)
	}
}

func TestRetrier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		knobs         sandbox.Knobs
		wantOut       adapters.Outcome
		wantAttempts  int
		wantExhausted bool
		wantClass     adapters.Class
	}{
		{"not processed twice then deleted", sandbox.Knobs{Force: "1010", ForceCount: 2}, adapters.Deleted, 3, false, 0},
		{"throttled once then deleted", sandbox.Knobs{Force: "429", ForceCount: 1}, adapters.Deleted, 2, false, 0},
		{"internal error then deleted", sandbox.Knobs{Force: "500", ForceCount: 1}, adapters.Deleted, 2, false, 0},
		{"499 until dead-lettered", sandbox.Knobs{Force: "499"}, adapters.Failed, 3, true, adapters.ClassRetryable},
		{"invalid profile id stops at once", sandbox.Knobs{Force: "102"}, adapters.Failed, 1, false, adapters.ClassPermanent},
		{"invalid JSON stops at once", sandbox.Knobs{Force: "1001"}, adapters.Failed, 1, false, adapters.ClassPermanent},
		{"expired token stops at once", sandbox.Knobs{Force: "498"}, adapters.Failed, 1, false, adapters.ClassPermanent},
		{"not found is final", sandbox.Knobs{Force: "1020"}, adapters.AlreadyAbsent, 1, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// In a bubble the sandbox's Retry-After and the backoff cost
			// no real time.
			synctest.Test(t, func(t *testing.T) {
				sb := NewSandbox(testToken, tc.knobs)
				base, client := adaptertest.Serve(sb)
				cfg := validConfig(base)
				cfg.Retry.MaxAttempts = 3
				if err := cfg.Validate(); err != nil {
					t.Fatalf("config: %v", err)
				}
				res := adapters.NewRetrier(cfg.Retry).Do(context.Background(), New(cfg, client), newEvent(testKey))
				if res.Outcome != tc.wantOut || res.Attempts != tc.wantAttempts || res.Exhausted != tc.wantExhausted {
					t.Fatalf("result = %+v, want %v after %d attempts, exhausted=%v", res, tc.wantOut, tc.wantAttempts, tc.wantExhausted)
				}
				if got := adapters.ErrorClass(res.Err); got != tc.wantClass {
					t.Fatalf("error class = %v (%v), want %v", got, res.Err, tc.wantClass)
				}
				if got := sb.Ledger.Calls(testKey); got != tc.wantAttempts {
					t.Fatalf("sandbox saw %d calls, want %d", got, tc.wantAttempts)
				}
				assertNoLeak(t, res.Err, testKey, testToken)
			})
		})
	}
}

func TestNotApplicable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ev   *event.UserDeleted
	}{
		{"no identifiers", &event.UserDeleted{EventID: "e", UserID: "u"}},
		{"other vendor's identifier", &event.UserDeleted{EventID: "e", UserID: "u", Identifiers: map[string]string{"plivo_profile_uuid": "x"}}},
		{"empty key", &event.UserDeleted{EventID: "e", UserID: "u", Identifiers: map[string]string{DefaultKeyField: ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			out, err := newAdapter(t, srv, nil).Delete(context.Background(), tc.ev)
			if out != adapters.NotApplicable || err != nil {
				t.Fatalf("Delete = %v, %v; want not_applicable", out, err)
			}
			if n := sb.Ledger.Requests(); n != 0 {
				t.Fatalf("%d requests sent, want none", n)
			}
		})
	}
}

// TestKeysCannotChangeTheRequest sends keys that would break a URL: the key
// travels in the JSON body, so the path stays fixed and Webex sees the key
// exactly.
func TestKeysCannotChangeTheRequest(t *testing.T) {
	t.Parallel()
	keys := []string{
		"a/b", "x?y=z", "../../admin", "%2Fdelete", "frag#ment", "ключ-профиля",
		`quote"and\backslash`, "<script>&amp;", "9463183918", "inner space",
	}
	sb := NewSandbox(testToken, sandbox.Knobs{})
	c := &capture{next: sb}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	a := newAdapter(t, srv, nil)
	for _, key := range keys {
		out, err := a.Delete(context.Background(), newEvent(key))
		if out != adapters.Deleted || err != nil {
			t.Fatalf("Delete(%q) = %v, %v", key, out, err)
		}
		if got := c.last(t); got.path != Path || got.body["key"] != key {
			t.Fatalf("key %q sent as path %q body key %q", key, got.path, got.body["key"])
		}
		if !sb.Ledger.Deleted(key) {
			t.Fatalf("ledger does not show %q deleted", key)
		}
	}
	if st := sb.Ledger.Statuses(); len(st) != 1 || st[http.StatusOK] != len(keys) {
		t.Fatalf("statuses = %v", st)
	}
}

func TestInvalidUTF8KeyIsRefused(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	key := "key-\xff\xfe"
	out, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(key))
	if out != adapters.Failed || asError(t, err).Class != adapters.ClassInvalidIdentifier {
		t.Fatalf("Delete = %v, %v; want invalid_identifier", out, err)
	}
	assertNoLeak(t, err, key)
	if n := sb.Ledger.Requests(); n != 0 {
		t.Fatalf("%d requests sent, want none", n)
	}
}

// TestVendorEchoesSecrets answers with descriptions that repeat the key and
// the token, as a careless vendor might.
func TestVendorEchoesSecrets(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"102", "1010", "430", "498", "405", "429", "499", "500", "1001", "9999"} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				status := http.StatusOK
				if info, ok := lookupCode(code); ok {
					status = info.status
				}
				body, _ := json.Marshal(map[string]string{
					"code":        code,
					"description": "rejected " + string(b) + " with " + r.Header.Get("Authorization"),
				})
				sandbox.WriteJSON(w, status, body)
			}))
			t.Cleanup(srv.Close)
			_, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
			ae := asError(t, err)
			assertNoLeak(t, err, testKey, testToken)
			if !strings.Contains(ae.VendorMessage, "[redacted]") {
				t.Errorf("vendor message %q does not show the redaction", ae.VendorMessage)
			}
			if strings.Contains(err.Error(), "rejected") {
				t.Errorf("error %q carries the vendor's words", err)
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Parallel()
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		a := newAdapter(t, srv, nil)
		srv.Close()
		_, err := a.Delete(context.Background(), newEvent(testKey))
		ae := asError(t, err)
		if ae.Class != adapters.ClassRetryable || ae.Status != 0 {
			t.Fatalf("error = %+v, want retryable without status", ae)
		}
		assertNoLeak(t, err, testKey, testToken)
	})
	t.Run("body cut short", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			writeCut(buf)
		}))
		t.Cleanup(srv.Close)
		_, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
		ae := asError(t, err)
		if ae.Class != adapters.ClassRetryable {
			t.Fatalf("error = %+v, want retryable", ae)
		}
	})
	t.Run("oversized body", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			pad := strings.Repeat("a", adapters.MaxResponseBytes)
			sandbox.WriteJSON(w, http.StatusOK, []byte(`{"pad":"`+pad+`","transaction-id":"x"}`))
		}))
		t.Cleanup(srv.Close)
		_, err := newAdapter(t, srv, nil).Delete(context.Background(), newEvent(testKey))
		ae := asError(t, err)
		if ae.Class != adapters.ClassUnexpected || len(err.Error()) >= 1000 {
			t.Fatalf("error = %v, want a bounded unexpected error", err)
		}
	})
}

// writeCut promises more body than it sends, then the connection closes.
func writeCut(w *bufio.ReadWriter) {
	_, _ = w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"transaction-")
	_ = w.Flush()
}

// fuzzVocabulary is every fixed text Classify may put in an error. A redact
// value found in it proves nothing about leaks, so the fuzz target skips it.
const fuzzVocabulary = "webex: unexpected retryable permanent (HTTP, code) [redacted] " +
	"unreadable body both a code and a transaction-id unreadable code neither transaction-id nor code " +
	"with an undocumented HTTP status: body `` " +
	"Invalid profile id The request was not processed. Contact profile not found " +
	"Authorization failed. This resource is not allowed to access using this TOKEN or KEY " +
	"Invalid token or Access token expired Method not supported " +
	"Too many requests. Throttle limit reached for the time window. " +
	"Request failed. Check the exact reason of failure in application code and description of error stream. " +
	"Internal server error Invalid input JSON"

// checkableSecret reports whether s looks like a real key or token that
// redaction must hide: long, alphanumeric, with a letter, and not a word
// of Classify's own.
func checkableSecret(s string) bool {
	if len(s) < 8 || strings.Contains(strings.ToLower(fuzzVocabulary), strings.ToLower(s)) {
		return false
	}
	letter := false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return letter
}

func FuzzClassify(f *testing.F) {
	seeds := []struct {
		status     int
		body       string
		retryAfter string
	}{
		{200, `{"transaction-id":"a1b2c3d4"}`, ""},
		{200, `{"code":"102","description":"Invalid profile id"}`, ""},
		{200, `{"code":1010,"description":"The request was not processed."}`, ""},
		{200, `{"code":"1020","description":"Contact profile not found"}`, ""},
		{401, `{"code":"430","description":"Authorization failed. This resource is not allowed to access using this TOKEN or KEY"}`, ""},
		{401, `{"code":498,"description":"Invalid token or Access token expired"}`, ""},
		{405, `{"code":"405","description":"Method not supported"}`, ""},
		{429, `{"code":"429","description":"Too many requests. Throttle limit reached for the time window."}`, "3"},
		{429, `{"code":429}`, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{499, `{"code":"499","description":"Request failed. Check the exact reason of failure in application code and description of error stream."}`, ""},
		{500, `{"code":"500","description":"Internal server error"}`, ""},
		{500, `{"code":"1001","description":"Invalid input JSON"}`, ""},
		{200, `{"profile-name":"sampleprofile","key":"9463183918","exparam1":"val1"}`, ""},
		{200, `{"code":"1020","transaction-id":"x"}`, ""},
		{200, `{"code":{"nested":true}}`, ""},
		{200, ``, ""},
		{502, `<html>Bad Gateway</html>`, "120"},
		{0, `{"transaction-id":`, ""},
		{-1, "\xff\xfe\x00", "-5"},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body), s.retryAfter, "key9463183918")
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter, secret string) {
		resp := &adapters.Response{Status: status, Header: http.Header{}, Body: body}
		if retryAfter != "" {
			resp.Header["Retry-After"] = []string{retryAfter}
		}
		out, err := Classify(resp, secret)
		ae := adaptertest.Classified(t, out, err)
		if ae == nil {
			return
		}
		msg := adaptertest.Text(err)
		if checkableSecret(secret) && strings.Contains(msg, secret) {
			t.Fatalf("error text %q contains the redacted value %q", msg, secret)
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
		Name:     Name,
		Sandbox:  func() http.Handler { return NewSandbox(testToken, sandbox.Knobs{}) },
		Throttle: func(w http.ResponseWriter, _ *http.Request) { (&Sandbox{}).writeCode(w, "429") },
		Event:    func() *event.UserDeleted { return newEvent(testKey) },
		Secrets:  []string{testToken},
		New: func(baseURL string, client *http.Client, retry adapters.RetryConfig) (adapters.Adapter, error) {
			cfg := validConfig(baseURL)
			cfg.Retry = retry
			return New(cfg, client), cfg.Validate()
		},
	}
}

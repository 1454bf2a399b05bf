package plivo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

const (
	testAuthID  = "MAODUZYTHJNJFKMDHINZ"
	testToken   = "ZjQ5ODhkMzQtMWVmMy00YjQ1LTk0ZDMt"
	testProfile = "f8ca5a50-50b8-438d-8068-28427b1c0e90"
	testOther   = "0c9a4b8e-1f2d-4e3a-9b7c-6d5e4f3a2b1c"
	testPrimary = "5d2f0e4c-3b1a-4c9d-8e7f-a1b2c3d4e5f6"
)

var _ adapters.Adapter = (*Adapter)(nil)

type testEnv struct {
	sb  *Sandbox
	srv *httptest.Server
	cfg Config
}

func newTestEnv(t *testing.T, knobs sandbox.Knobs) *testEnv {
	t.Helper()
	sb := NewSandbox(testAuthID, testToken, knobs)
	sb.PrimaryProfile = testPrimary
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &testEnv{sb: sb, srv: srv, cfg: testConfig(t, srv.URL)}
}

func testConfig(t *testing.T, baseURL string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled, cfg.BaseURL, cfg.AuthID, cfg.AuthToken = true, baseURL, testAuthID, config.NewSecret(testToken)
	cfg.Retry.InitialInterval = time.Millisecond
	cfg.Retry.MaxInterval = 5 * time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

func (e *testEnv) adapter() *Adapter { return New(e.cfg, e.srv.Client()) }

func profileEvent(id string) *event.UserDeleted {
	return &event.UserDeleted{EventID: "ev-1", UserID: "user-1", Identifiers: map[string]string{DefaultProfileField: id}}
}

// assertNoLeak fails if err's text holds the secret or any of values.
func assertNoLeak(t *testing.T, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range append(values, testToken, testAuthID) {
		if v != "" && strings.Contains(adaptertest.Text(err), v) {
			t.Errorf("error %q contains %q", adaptertest.Text(err), v)
		}
	}
}

func TestDeleteAgainstSandbox(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		knobs sandbox.Knobs
		cfg   func(*Config)
		setup func(*testing.T, *testEnv)
		id    string

		wantOutcome adapters.Outcome
		wantClass   adapters.Class
		wantStatus  int
		wantMsg     string
		wantRA      time.Duration // at least
		wantCalls   int           // requests that reached the profile
		wantDeleted bool
	}{
		{name: "deleted", id: testProfile,
			wantOutcome: adapters.Deleted, wantCalls: 1, wantDeleted: true},
		{name: "upper-case uuid", id: strings.ToUpper(testProfile),
			wantOutcome: adapters.Deleted, wantCalls: 1, wantDeleted: true},
		{name: "repeat is already absent", id: testProfile,
			setup: func(t *testing.T, e *testEnv) {
				if out, err := e.adapter().Delete(context.Background(), profileEvent(testProfile)); out != adapters.Deleted || err != nil {
					t.Fatalf("first delete: %v, %v", out, err)
				}
			},
			wantOutcome: adapters.AlreadyAbsent, wantCalls: 2, wantDeleted: true},
		{name: "unknown profile is already absent", id: testProfile,
			setup:       func(_ *testing.T, e *testEnv) { e.sb.Ledger.SeedAbsent(testProfile) },
			wantOutcome: adapters.AlreadyAbsent, wantCalls: 1},
		{name: "primary profile", id: testPrimary,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 400, wantMsg: "primary profile", wantCalls: 1},
		{name: "forced primary", id: testProfile, knobs: sandbox.Knobs{Force: FaultPrimary},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 400, wantMsg: "primary profile", wantCalls: 1},
		{name: "invalid uuid", id: "not-a-uuid",
			wantOutcome: adapters.Failed, wantClass: adapters.ClassInvalidIdentifier, wantStatus: 0, wantMsg: "not a UUID", wantCalls: 0},
		{name: "wrong token", id: testProfile, cfg: func(c *Config) { c.AuthToken = config.NewSecret("wrong-token-value") },
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 401, wantMsg: "authentication"},
		{name: "empty token", id: testProfile, cfg: func(c *Config) { c.AuthToken = config.Secret{} },
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 401, wantMsg: "authentication"},
		{name: "wrong auth_id", id: testProfile, cfg: func(c *Config) { c.AuthID = "MAWRONGWRONGWRONGWRO" },
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 401, wantMsg: "authentication"},
		{name: "forced 500", id: testProfile, knobs: sandbox.Knobs{Force: "500"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 500, wantCalls: 1},
		{name: "forced 502", id: testProfile, knobs: sandbox.Knobs{Force: "502"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 502, wantCalls: 1},
		{name: "forced 503 with retry-after", id: testProfile, knobs: sandbox.Knobs{Force: "503"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 503, wantRA: time.Second, wantCalls: 1},
		{name: "forced 504", id: testProfile, knobs: sandbox.Knobs{Force: "504"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 504, wantCalls: 1},
		{name: "forced 429 with retry-after", id: testProfile, knobs: sandbox.Knobs{Force: "429"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 429, wantRA: time.Second, wantCalls: 1},
		{name: "forced 400", id: testProfile, knobs: sandbox.Knobs{Force: "400"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 400, wantMsg: "bad request", wantCalls: 1},
		{name: "forced 401", id: testProfile, knobs: sandbox.Knobs{Force: "401"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 401, wantCalls: 1},
		{name: "forced 403", id: testProfile, knobs: sandbox.Knobs{Force: "403"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantStatus: 403, wantCalls: 1},
		{name: "forced 404 in Plivo's shape", id: testProfile, knobs: sandbox.Knobs{Force: "404"},
			wantOutcome: adapters.AlreadyAbsent, wantCalls: 1},
		{name: "forced 302 is unexpected", id: testProfile, knobs: sandbox.Knobs{Force: "302"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected, wantStatus: 302, wantCalls: 1},
		{name: "unknown forced fault", id: testProfile, knobs: sandbox.Knobs{Force: "bogus"},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 500, wantCalls: 1},
		{name: "failure rate 1", id: testProfile, knobs: sandbox.Knobs{FailureRate: 1},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 500, wantMsg: "internal server error", wantCalls: 1},
		{name: "throttled", id: testProfile, knobs: sandbox.Knobs{ThrottleRPS: 0.001},
			setup: func(t *testing.T, e *testEnv) {
				if out, err := e.adapter().Delete(context.Background(), profileEvent(testOther)); out != adapters.Deleted || err != nil {
					t.Fatalf("first delete: %v, %v", out, err)
				}
			},
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantStatus: 429, wantMsg: "too many requests",
			wantRA: 900 * time.Second, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, tc.knobs)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			if tc.cfg != nil {
				tc.cfg(&e.cfg)
			}
			out, err := e.adapter().Delete(context.Background(), profileEvent(tc.id))
			if out != tc.wantOutcome {
				t.Fatalf("outcome = %v (err %v), want %v", out, err, tc.wantOutcome)
			}
			if (err == nil) != out.Final() {
				t.Fatalf("outcome %v with error %v", out, err)
			}
			assertNoLeak(t, err, tc.id, e.cfg.AuthToken.Reveal())
			if tc.wantClass != 0 {
				var ae *adapters.Error
				if !errors.As(err, &ae) {
					t.Fatalf("err = %#v, want *adapters.Error", err)
				}
				if ae.Class != tc.wantClass || ae.Status != tc.wantStatus || ae.Vendor != Name {
					t.Errorf("got %v (class %v, status %d), want class %v status %d", ae, ae.Class, ae.Status, tc.wantClass, tc.wantStatus)
				}
				if !strings.Contains(ae.Message+" "+ae.VendorMessage, tc.wantMsg) {
					t.Errorf("message %q (vendor: %q) does not contain %q", ae.Message, ae.VendorMessage, tc.wantMsg)
				}
				if ae.RetryAfter < tc.wantRA || (tc.wantRA == 0 && ae.RetryAfter != 0) {
					t.Errorf("RetryAfter = %s, want at least %s", ae.RetryAfter, tc.wantRA)
				}
			}
			if got := e.sb.Ledger.Calls(tc.id); got != tc.wantCalls {
				t.Errorf("ledger calls for the profile = %d, want %d", got, tc.wantCalls)
			}
			if got := e.sb.Ledger.Deleted(tc.id); got != tc.wantDeleted {
				t.Errorf("ledger deleted = %v, want %v", got, tc.wantDeleted)
			}
		})
	}
}

// rawRequest sends a request the adapter never would.
func rawRequest(t *testing.T, e *testEnv, method, path string, auth func(*http.Request)) (*http.Response, map[string]string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]string
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s %s: body %q is not Plivo's JSON: %v", method, path, b, err)
	}
	return resp, body
}

var apiIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestSandboxStrictness(t *testing.T) {
	t.Parallel()
	good := func(r *http.Request) { r.SetBasicAuth(testAuthID, testToken) }
	profilePath := "/v1/Account/" + testAuthID + "/Profile/" + testProfile + "/"
	tests := []struct {
		name       string
		method     string
		path       string
		auth       func(*http.Request)
		wantStatus int
		wantError  string
	}{
		{"missing auth", http.MethodDelete, profilePath, nil, 401, "authentication credentials invalid"},
		{"bearer instead of basic", http.MethodDelete, profilePath,
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }, 401, "authentication credentials invalid"},
		{"wrong password", http.MethodDelete, profilePath,
			func(r *http.Request) { r.SetBasicAuth(testAuthID, testToken+"x") }, 401, "authentication credentials invalid"},
		{"wrong user", http.MethodDelete, profilePath,
			func(r *http.Request) { r.SetBasicAuth("MAOTHEROTHEROTHEROTH", testToken) }, 401, "authentication credentials invalid"},
		{"path names another account", http.MethodDelete, "/v1/Account/MAOTHEROTHEROTHEROTH/Profile/" + testProfile + "/",
			good, 401, "authentication credentials invalid"},
		{"GET", http.MethodGet, profilePath, good, 405, "method not allowed"},
		{"POST", http.MethodPost, profilePath, good, 405, "method not allowed"},
		{"PUT", http.MethodPut, profilePath, good, 405, "method not allowed"},
		{"no trailing slash", http.MethodDelete, strings.TrimSuffix(profilePath, "/"), good, 404, "not found"},
		{"extra segment", http.MethodDelete, profilePath + "x/", good, 404, "not found"},
		{"lower-case profile", http.MethodDelete, "/v1/Account/" + testAuthID + "/profile/" + testProfile + "/", good, 404, "not found"},
		{"wrong version", http.MethodDelete, "/v2/Account/" + testAuthID + "/Profile/" + testProfile + "/", good, 404, "not found"},
		{"empty uuid", http.MethodDelete, "/v1/Account/" + testAuthID + "/Profile//", good, 404, "not found"},
		{"empty account", http.MethodDelete, "/v1/Account//Profile/" + testProfile + "/", good, 404, "not found"},
		// The path is read before credentials, as by a router in front.
		{"wrong path without auth", http.MethodDelete, "/v1/Account/" + testAuthID + "/", nil, 404, "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, sandbox.Knobs{})
			resp, body := rawRequest(t, e, tc.method, tc.path, tc.auth)
			if resp.StatusCode != tc.wantStatus || body["error"] != tc.wantError {
				t.Errorf("got %d %v, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantError)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !apiIDRE.MatchString(body["api_id"]) {
				t.Errorf("api_id = %q, want a UUID", body["api_id"])
			}
			if tc.wantStatus == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if e.sb.Ledger.Calls(testProfile) != 0 || e.sb.Ledger.Deleted(testProfile) {
				t.Error("a rejected request reached the profile")
			}
			if got := e.sb.Ledger.Statuses()[tc.wantStatus]; got != 1 || e.sb.Ledger.Requests() != 1 {
				t.Errorf("ledger statuses = %v", e.sb.Ledger.Statuses())
			}
		})
	}
}

func TestSandboxSuccessBodyAsOnThePage(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, sandbox.Knobs{})
	resp, body := rawRequest(t, e, http.MethodDelete, "/v1/Account/"+testAuthID+"/Profile/"+testProfile+"/",
		func(r *http.Request) { r.SetBasicAuth(testAuthID, testToken) })
	if resp.StatusCode != 200 || body["message"] != "Profile deleted successfully." || !apiIDRE.MatchString(body["api_id"]) || len(body) != 2 {
		t.Errorf("got %d %v, want 200 {api_id, message: Profile deleted successfully.}", resp.StatusCode, body)
	}
	if !e.sb.Ledger.Deleted(testProfile) {
		t.Error("ledger does not show the deletion")
	}
}

// handlerEnv serves h and points an adapter at it, recording the escaped
// path and query of each request.
type handlerEnv struct {
	mu    sync.Mutex
	paths []string
	srv   *httptest.Server
	a     *Adapter
}

func newHandlerEnv(t *testing.T, h http.HandlerFunc) *handlerEnv {
	t.Helper()
	he := &handlerEnv{}
	he.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		he.mu.Lock()
		p := r.URL.EscapedPath()
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			p += "?" + r.URL.RawQuery
		}
		he.paths = append(he.paths, p)
		he.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(he.srv.Close)
	he.a = New(testConfig(t, he.srv.URL), he.srv.Client())
	return he
}

func (he *handlerEnv) Paths() []string {
	he.mu.Lock()
	defer he.mu.Unlock()
	return append([]string(nil), he.paths...)
}

func TestClassifyResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		wantOutcome adapters.Outcome
		wantClass   adapters.Class
		wantMsg     string
		wantRA      func(time.Duration) bool
	}{
		{name: "200 as on the page", status: 200,
			body:        `{"api_id": "aaf7717a-c149-11ec-a932-0242ac110003", "message": "Profile deleted successfully."}`,
			wantOutcome: adapters.Deleted},
		{name: "204 empty", status: 204, wantOutcome: adapters.Deleted},
		{name: "404 Plivo shape", status: 404, body: `{"api_id":"x","error":"not found"}`, wantOutcome: adapters.AlreadyAbsent},
		// A 200 or 404 that is not Plivo's JSON may come from a proxy or a
		// wrong host; reading it as done would lose the deletion.
		{name: "200 html", status: 200, body: "<html><body>Welcome</body></html>",
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected, wantMsg: "<html>"},
		{name: "200 empty", status: 200,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected},
		{name: "200 truncated json", status: 200, body: `{"api_id": "aaf7717a-c149`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected, wantMsg: "aaf7717a"},
		{name: "200 json array", status: 200, body: `[]`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected},
		{name: "200 json null", status: 200, body: `null`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected},
		{name: "404 html", status: 404, body: "<h1>Not Found</h1>",
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected},
		{name: "404 empty", status: 404,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected},
		{name: "400 json error", status: 400, body: `{"api_id":"x","error":"invalid profile_uuid"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantMsg: "invalid profile_uuid"},
		{name: "400 unknown shape", status: 400, body: `{"detail":"nope"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantMsg: `{"detail":"nope"}`},
		{name: "401", status: 401, body: `{"api_id":"x","error":"authentication credentials invalid"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantMsg: "authentication"},
		{name: "418", status: 418, body: "teapot",
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantMsg: "teapot"},
		// Retry-After's other forms are in the conformance suite.
		{name: "429 retry-after seconds", status: 429, header: map[string]string{"Retry-After": "7"},
			body:        `{"api_id":"x","error":"too many requests"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantMsg: "too many requests",
			wantRA: func(d time.Duration) bool { return d == 7*time.Second }},
		{name: "500 html", status: 500, body: "<html>\r\n<b>502</b>\x00</html>",
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantMsg: "<html>  <b>502</b> </html>"},
		{name: "500 echoes identifier and token", status: 500, body: "failed for " + testProfile + " with " + testToken,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassRetryable, wantMsg: "failed for [redacted] with [redacted]"},
		{name: "400 json echoes identifier", status: 400, body: `{"api_id":"x","error":"profile ` + testProfile + ` is primary"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantMsg: "profile [redacted] is primary"},
		{name: "400 huge body", status: 400, body: `{"api_id":"x","error":"` + strings.Repeat("e", 100_000) + `"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassPermanent, wantMsg: "eeee…"},
		{name: "200 beyond the read bound", status: 200, body: `{"api_id":"` + strings.Repeat("a", adapters.MaxResponseBytes) + `"}`,
			wantOutcome: adapters.Failed, wantClass: adapters.ClassUnexpected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			he := newHandlerEnv(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			out, err := he.a.Delete(context.Background(), profileEvent(testProfile))
			if out != tc.wantOutcome || (err == nil) != out.Final() {
				t.Fatalf("outcome = %v, err = %v; want %v", out, err, tc.wantOutcome)
			}
			assertNoLeak(t, err, testProfile)
			if err == nil {
				return
			}
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Class != tc.wantClass || ae.Status != tc.status || ae.Vendor != Name {
				t.Fatalf("err = %#v, want class %v status %d", err, tc.wantClass, tc.status)
			}
			if !strings.Contains(ae.Message+" "+ae.VendorMessage, tc.wantMsg) {
				t.Errorf("message %q (vendor: %q) does not contain %q", ae.Message, ae.VendorMessage, tc.wantMsg)
			}
			if n := len(err.Error()); n >= 1000 {
				t.Errorf("error text is %d bytes", n)
			}
			if tc.wantRA != nil && !tc.wantRA(ae.RetryAfter) {
				t.Errorf("RetryAfter = %s", ae.RetryAfter)
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var mu sync.Mutex
	he := newHandlerEnv(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(context.Background())
		mu.Unlock()
		sandbox.WriteJSON(w, 200, []byte(`{"api_id":"x","message":"Profile deleted successfully."}`))
	})
	if out, err := he.a.Delete(context.Background(), profileEvent(testProfile)); out != adapters.Deleted || err != nil {
		t.Fatalf("Delete = %v, %v", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	user, pass, ok := got.BasicAuth()
	if got.Method != http.MethodDelete || !ok || user != testAuthID || pass != testToken {
		t.Errorf("request %s with basic auth %v %q", got.Method, ok, user)
	}
	if want := "/v1/Account/" + testAuthID + "/Profile/" + testProfile + "/"; got.URL.Path != want {
		t.Errorf("path %q, want %q", got.URL.Path, want)
	}
	if got.ContentLength > 0 {
		t.Errorf("request has a %d-byte body; Plivo takes no arguments", got.ContentLength)
	}
}

// TestPathEscaping: an id that would need escaping in the path is not a
// profile UUID; it is refused before any request, so no escaping can go
// wrong at a proxy (see TestMalformedProfileUUIDNeverSent).
func TestPathEscaping(t *testing.T) {
	t.Parallel()
	ids := []string{"a/b", "../../v1/Account", "x?y=1", "a%2Fb", "a#frag", "a b", "%", "a;b", "Profile/" + testProfile}
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			he := newHandlerEnv(t, func(w http.ResponseWriter, r *http.Request) {
				sandbox.WriteJSON(w, 400, []byte(`{"api_id":"x","error":"invalid profile_uuid"}`))
			})
			out, err := he.a.Delete(context.Background(), profileEvent(id))
			if out != adapters.Failed || adapters.ErrorClass(err) != adapters.ClassInvalidIdentifier {
				t.Errorf("Delete = %v, %v; want invalid_identifier", out, err)
			}
			assertNoLeak(t, err, id)
			if p := he.Paths(); len(p) != 0 {
				t.Errorf("requested %q, want nothing", p)
			}
		})
	}
}

func TestDotSegmentsRefusedWithoutRequest(t *testing.T) {
	t.Parallel()
	for _, id := range []string{".", ".."} {
		e := newTestEnv(t, sandbox.Knobs{})
		out, err := e.adapter().Delete(context.Background(), profileEvent(id))
		var ae *adapters.Error
		if out != adapters.Failed || !errors.As(err, &ae) || ae.Class != adapters.ClassInvalidIdentifier {
			t.Errorf("Delete(%q) = %v, %v; want invalid_identifier", id, out, err)
		}
		if n := e.sb.Ledger.Requests(); n != 0 {
			t.Errorf("Delete(%q) sent %d requests", id, n)
		}
	}
}

func TestNotApplicable(t *testing.T) {
	t.Parallel()
	events := map[string]*event.UserDeleted{
		"no identifiers":      {EventID: "e", UserID: "u"},
		"other vendor's id":   {EventID: "e", UserID: "u", Identifiers: map[string]string{"clevertap_identity": "x"}},
		"empty profile field": {EventID: "e", UserID: "u", Identifiers: map[string]string{DefaultProfileField: ""}},
	}
	for name, ev := range events {
		e := newTestEnv(t, sandbox.Knobs{Force: "500"})
		out, err := e.adapter().Delete(context.Background(), ev)
		if out != adapters.NotApplicable || err != nil {
			t.Errorf("%s: Delete = %v, %v; want NotApplicable", name, out, err)
		}
		if n := e.sb.Ledger.Requests(); n != 0 {
			t.Errorf("%s: %d requests sent", name, n)
		}
	}

	// The profile field may name the event's user id.
	e := newTestEnv(t, sandbox.Knobs{})
	e.cfg.ProfileField = event.UserIDField
	out, err := e.adapter().Delete(context.Background(), &event.UserDeleted{UserID: testProfile})
	if out != adapters.Deleted || err != nil || !e.sb.Ledger.Deleted(testProfile) {
		t.Errorf("Delete by user id = %v, %v", out, err)
	}
}

func TestRetrierAgainstSandbox(t *testing.T) {
	t.Parallel()
	t.Run("transient failures then deleted", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sandbox.Knobs{Force: "500", ForceCount: 2})
		res := adapters.NewRetrier(e.cfg.Retry).Do(context.Background(), e.adapter(), profileEvent(testProfile))
		if res.Outcome != adapters.Deleted || res.Attempts != 3 || res.Err != nil {
			t.Fatalf("result %+v; want Deleted after 3 attempts", res)
		}
		if s := e.sb.Ledger.Statuses(); s[500] != 2 || s[200] != 1 || len(s) != 2 {
			t.Errorf("statuses %v", s)
		}
	})
	t.Run("permanent is not retried", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sandbox.Knobs{})
		res := adapters.NewRetrier(e.cfg.Retry).Do(context.Background(), e.adapter(), profileEvent(testPrimary))
		if res.Outcome != adapters.Failed || res.Attempts != 1 || res.Exhausted || adapters.ErrorClass(res.Err) != adapters.ClassPermanent {
			t.Fatalf("result %+v", res)
		}
		assertNoLeak(t, res.Err, testPrimary)
	})
	t.Run("throttle longer than the budget gives up at once", func(t *testing.T) {
		t.Parallel()
		e := newTestEnv(t, sandbox.Knobs{ThrottleRPS: 0.001})
		if out, err := e.adapter().Delete(context.Background(), profileEvent(testOther)); out != adapters.Deleted {
			t.Fatalf("first delete: %v, %v", out, err)
		}
		cfg := e.cfg.Retry
		cfg.MaxElapsedTime = time.Minute // the sandbox asks for ~1000s
		res := adapters.NewRetrier(cfg).Do(context.Background(), e.adapter(), profileEvent(testProfile))
		var ae *adapters.Error
		if res.Attempts != 1 || !res.Exhausted || !errors.As(res.Err, &ae) || ae.Status != 429 || ae.RetryAfter <= time.Minute {
			t.Fatalf("result %+v; want exhausted on the first 429", res)
		}
	})
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if c.BaseURL != DefaultBaseURL || c.ProfileField != DefaultProfileField || !reflect.DeepEqual(c.Retry, adapters.DefaultRetryConfig()) ||
		c.Limit != DefaultLimit() || c.Limit.MaxRate != 60 || c.Enabled || c.AllowInsecureHTTP {
		t.Errorf("defaults = %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"base url with trailing slash", func(c *Config) { c.BaseURL = "https://api.plivo.com/" }, ""},
		{"base url not http", func(c *Config) { c.BaseURL = "ftp://api.plivo.com" }, "base_url"},
		{"base url without scheme", func(c *Config) { c.BaseURL = "api.plivo.com" }, "base_url"},
		{"base url with path", func(c *Config) { c.BaseURL = "https://api.plivo.com/v1" }, "base_url"},
		{"base url with query", func(c *Config) { c.BaseURL = "https://api.plivo.com?x=1" }, "base_url"},
		{"base url with credentials", func(c *Config) { c.BaseURL = "https://" + testAuthID + ":" + testToken + "@api.plivo.com" }, "base_url"},
		{"plain http to Plivo", func(c *Config) { c.BaseURL = "http://api.plivo.com" }, "base_url"},
		{"plain http allowed", func(c *Config) { c.BaseURL = "http://api.plivo.com"; c.AllowInsecureHTTP = true }, ""},
		{"plain http to loopback", func(c *Config) { c.BaseURL = "http://127.0.0.1:8080" }, ""},
		{"no auth_id", func(c *Config) { c.AuthID = "" }, "auth_id"},
		{"blank auth_id", func(c *Config) { c.AuthID = "  " }, "auth_id"},
		{"no auth_token", func(c *Config) { c.AuthToken = config.Secret{} }, "auth_token"},
		{"empty auth_token", func(c *Config) { c.AuthToken = config.NewSecret("") }, "auth_token"},
		{"no profile_field", func(c *Config) { c.ProfileField = "" }, "profile_field"},
		{"bad retry", func(c *Config) { c.Retry.MaxAttempts = -1 }, "retry.max_attempts"},
		{"bad retry timeout", func(c *Config) { c.Retry.RequestTimeout = -time.Second }, "retry.request_timeout"},
	}
	for _, tc := range tests {
		c := DefaultConfig()
		c.AuthID, c.AuthToken = testAuthID, config.NewSecret(testToken)
		tc.mutate(&c)
		err := c.Validate()
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, config.ErrInvalid) {
			t.Errorf("%s: error %v, want a FieldError on %s", tc.name, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error %q holds the token", tc.name, err)
		}
	}
}

func TestConfigFromYAML(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "enabled: true\nbase_url: https://api.plivo.com\nauth_id: " + testAuthID +
		"\nauth_token: {file: " + tokenFile + "}\nprofile_field: plivo_uuid\nretry:\n  max_attempts: 3\n"
	load := func(doc string) (Config, error) {
		p := filepath.Join(t.TempDir(), "plivo.yaml")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		c := DefaultConfig()
		err := config.Load(p, &c, config.Options{Environ: func() []string { return nil }})
		return c, err
	}
	c, err := load(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.AuthID != testAuthID || c.AuthToken.Reveal() != testToken || c.ProfileField != "plivo_uuid" || c.Retry.MaxAttempts != 3 ||
		c.Retry.InitialInterval != adapters.DefaultRetryConfig().InitialInterval {
		t.Errorf("decoded %+v", c)
	}

	for _, bad := range []string{"auth_tokne: {file: x}\n", "auth_token: " + testToken + "\n"} {
		_, err := load(doc + bad)
		if err == nil {
			t.Errorf("%q decoded", bad)
		} else if strings.Contains(err.Error(), testToken) {
			t.Errorf("error %q holds the literal token", err)
		}
	}
}

// FuzzClassify checks Classify on any answer: no panic, nil error exactly
// for final outcomes, classified *Errors, bounded and redacted text.
func FuzzClassify(f *testing.F) {
	page := `{
"api_id": "aaf7717a-c149-11ec-a932-0242ac110003",
"message": "Profile deleted successfully."
}`
	seeds := []struct {
		status int
		ra     string
		body   string
	}{
		{200, "", page},
		{204, "", ""},
		{404, "", `{"api_id":"aaf7717a-c149-11ec-a932-0242ac110003","error":"not found"}`},
		{400, "", `{"api_id":"x","error":"primary profile of an account cannot be deleted"}`},
		{400, "", `{"api_id":"x","error":"invalid profile_uuid"}`},
		{401, "", `{"api_id":"x","error":"authentication credentials invalid"}`},
		{405, "", `{"api_id":"x","error":"method not allowed"}`},
		{429, "1", `{"api_id":"x","error":"too many requests"}`},
		{429, "Wed, 21 Oct 2015 07:28:00 GMT", ""},
		{500, "", `{"api_id":"x","error":"internal server error"}`},
		{503, "99999999999999999999", `<html>unavailable</html>`},
		{200, "", `<html>ok</html>`},
		{200, "", `{"api_id": "aaf7`},
		{404, "", ""},
		{0, "", ""},
		{999, "", "x"},
		{-1, "", "x"},
		{400, "", `{"error":"profile ` + testProfile + ` token ` + testToken + `"}`},
		{500, "", testProfile + "\x00\xff" + testToken},
		{400, "", `{"error":"\u0066` + testProfile[1:] + `"}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.ra, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		resp := &adapters.Response{Status: status, Header: http.Header{}, Body: body}
		if retryAfter != "" {
			resp.Header.Set("Retry-After", retryAfter)
		}
		out, err := Classify(resp, testProfile, testToken)
		ae := adaptertest.Classified(t, out, err)
		if ae == nil {
			return
		}
		if ae.Vendor != Name || ae.Status != status {
			t.Fatalf("vendor %q status %d", ae.Vendor, ae.Status)
		}
		text := adaptertest.Text(err)
		if strings.Contains(text, testProfile) || strings.Contains(text, testToken) {
			t.Fatalf("error text %q leaks a redacted value", text)
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
			cfg := DefaultConfig()
			cfg.Enabled, cfg.BaseURL, cfg.AuthID, cfg.AuthToken, cfg.Retry = true, baseURL, testAuthID, config.NewSecret(testToken), retry
			return New(cfg, client), cfg.Validate()
		},
		Sandbox: func() http.Handler { return NewSandbox(testAuthID, testToken, sandbox.Knobs{}) },
		Event:   func() *event.UserDeleted { return profileEvent(testProfile) },
		Throttle: func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusTooManyRequests, "too many requests")
		},
		Secrets: []string{testToken},
	}
}

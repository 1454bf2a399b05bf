package clevertap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
	testAccount  = "TEST-ACC-4KK"
	testPasscode = "pc-S3CRET-9f8e7d"
)

func validConfig(baseURL string) Config {
	c := DefaultConfig()
	c.BaseURL, c.AccountID, c.Passcode = baseURL, testAccount, config.NewSecret(testPasscode)
	return c
}

func newAdapter(t *testing.T, cfg Config, client *http.Client) *Adapter {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return New(cfg, client)
}

func startSandbox(t *testing.T, knobs sandbox.Knobs) (*Sandbox, *httptest.Server) {
	t.Helper()
	sb := NewSandbox(testAccount, testPasscode, knobs)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

func identityEvent(id string) *event.UserDeleted {
	return &event.UserDeleted{EventID: "evt-1", UserID: "user-1", Identifiers: map[string]string{DefaultIdentityField: id}}
}

func asError(t *testing.T, err error) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
	}
	return ae
}

// assertNoLeak fails if err's text holds any of values.
func assertNoLeak(t *testing.T, err error, values ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := adaptertest.Text(err)
	for _, v := range values {
		if v != "" && strings.Contains(msg, v) {
			t.Errorf("error text %q leaks %q", msg, v)
		}
	}
}

// fastRetry retries almost at once, so tests run quickly.
func fastRetry(attempts int) adapters.RetryConfig {
	r := adapters.DefaultRetryConfig()
	r.InitialInterval, r.MaxInterval, r.RandomizationFactor = time.Millisecond, 2*time.Millisecond, 0.1
	r.MaxElapsedTime, r.MaxAttempts, r.RequestTimeout = time.Minute, attempts, 5*time.Second
	return r
}

// inBubble runs f in a synctest bubble against a sandbox served in
// memory (adaptertest.Serve), so the sandbox's Retry-After and the
// Retrier's backoff cost no real time.
func inBubble(t *testing.T, knobs sandbox.Knobs, f func(t *testing.T, sb *Sandbox, a *Adapter)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		sb := NewSandbox(testAccount, testPasscode, knobs)
		base, client := adaptertest.Serve(sb)
		f(t, sb, newAdapter(t, validConfig(base), client))
	})
}

func TestConfig(t *testing.T) {
	t.Parallel()
	base := func(mut func(*Config)) Config {
		c := DefaultConfig()
		c.AccountID, c.Passcode = testAccount, config.NewSecret(testPasscode)
		if mut != nil {
			mut(&c)
		}
		return c
	}
	tests := []struct {
		name      string
		cfg       Config
		wantField string // "" means valid
		check     func(t *testing.T, c Config)
	}{
		{
			name: "defaults", cfg: base(nil),
			check: func(t *testing.T, c Config) {
				if c.Region != "eu1" || c.IDKind() != IDTypeIdentity || c.Field() != DefaultIdentityField {
					t.Errorf("defaults: region %q id_type %q id_field %q", c.Region, c.IDKind(), c.Field())
				}
				if c.BatchSize != MaxBatch || c.BatchWait != DefaultBatchWait {
					t.Errorf("batch defaults: %d, %s", c.BatchSize, c.BatchWait)
				}
				if got := c.Endpoint(); got != "https://eu1.api.clevertap.com" {
					t.Errorf("endpoint %q", got)
				}
				if c.Retry.MaxAttempts != adapters.DefaultRetryConfig().MaxAttempts {
					t.Errorf("retry defaults not applied: %+v", c.Retry)
				}
			},
		},
		{
			name: "guid picks the guid field", cfg: base(func(c *Config) { c.IDType = "GUID" }),
			check: func(t *testing.T, c Config) {
				if c.IDKind() != IDTypeGUID || c.Field() != DefaultGUIDField {
					t.Errorf("id_type %q id_field %q", c.IDKind(), c.Field())
				}
			},
		},
		{
			name: "explicit id_field kept", cfg: base(func(c *Config) { c.IDType = "guid"; c.IDField = "ct_id" }),
			check: func(t *testing.T, c Config) {
				if c.Field() != "ct_id" {
					t.Errorf("id_field %q", c.Field())
				}
			},
		},
		{
			name: "region normalised", cfg: base(func(c *Config) { c.Region = " IN1 " }),
			check: func(t *testing.T, c Config) {
				if got := c.Endpoint(); got != "https://in1.api.clevertap.com" {
					t.Errorf("endpoint %q", got)
				}
			},
		},
		{
			name: "base_url wins over region", cfg: base(func(c *Config) { c.Region = "us1"; c.BaseURL = "https://proxy.example/ct/" }),
			check: func(t *testing.T, c Config) {
				if got := c.Endpoint(); got != "https://proxy.example/ct" {
					t.Errorf("endpoint %q", got)
				}
			},
		},
		{
			name: "base_url without a region", cfg: base(func(c *Config) { c.BaseURL = "http://127.0.0.1:9"; c.Region = "" }),
			check: func(t *testing.T, c Config) {
				if got := c.Endpoint(); got != "http://127.0.0.1:9" {
					t.Errorf("endpoint %q", got)
				}
			},
		},
		{
			name: "batch_wait zero kept", cfg: base(func(c *Config) { c.BatchWait = 0 }),
			check: func(t *testing.T, c Config) {
				if c.BatchWait != 0 {
					t.Errorf("batch_wait %s", c.BatchWait)
				}
			},
		},
		{name: "no region and no base_url", cfg: base(func(c *Config) { c.Region = "" }), wantField: "region"},
		{name: "batch_size zero", cfg: base(func(c *Config) { c.BatchSize = 0 }), wantField: "batch_size"},
		{name: "base_url plain http", cfg: base(func(c *Config) { c.BaseURL = "http://proxy.example/ct" }), wantField: "base_url"},
		{
			name: "base_url plain http allowed", cfg: base(func(c *Config) { c.BaseURL = "http://proxy.example/ct"; c.AllowInsecureHTTP = true }),
			check: func(t *testing.T, c Config) {
				if got := c.Endpoint(); got != "http://proxy.example/ct" {
					t.Errorf("endpoint %q", got)
				}
			},
		},
		{name: "unknown region", cfg: base(func(c *Config) { c.Region = "eu2" }), wantField: "region"},
		{name: "unknown region beside base_url", cfg: base(func(c *Config) { c.Region = "mars1"; c.BaseURL = "https://x.example" }), wantField: "region"},
		{name: "base_url not http", cfg: base(func(c *Config) { c.BaseURL = "ftp://x.example" }), wantField: "base_url"},
		{name: "base_url with query", cfg: base(func(c *Config) { c.BaseURL = "https://x.example/?a=1" }), wantField: "base_url"},
		{name: "no account_id", cfg: base(func(c *Config) { c.AccountID = " " }), wantField: "account_id"},
		{name: "no passcode", cfg: base(func(c *Config) { c.Passcode = config.Secret{} }), wantField: "passcode"},
		{name: "bad id_type", cfg: base(func(c *Config) { c.IDType = "email" }), wantField: "id_type"},
		{name: "bad retry", cfg: base(func(c *Config) { c.Retry.MaxAttempts = -1 }), wantField: "retry.max_attempts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.cfg
			err := c.Validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("Validate = %v, want a FieldError on %q", err, tc.wantField)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
			if strings.Contains(err.Error(), testPasscode) {
				t.Errorf("error leaks the passcode: %v", err)
			}
		})
	}
}

func TestRegionsEndpoints(t *testing.T) {
	t.Parallel()
	for _, r := range Regions() {
		c := DefaultConfig()
		c.Region, c.AccountID, c.Passcode = r, testAccount, config.NewSecret(testPasscode)
		if err := c.Validate(); err != nil {
			t.Fatalf("region %s: %v", r, err)
		}
		if got, want := c.Endpoint(), "https://"+r+".api.clevertap.com"; got != want {
			t.Errorf("region %s: endpoint %q, want %q", r, got, want)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "passcode")
	if err := os.WriteFile(secret, []byte(testPasscode+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := fmt.Sprintf("enabled: true\nregion: in1\naccount_id: %s\npasscode: {file: %s}\nid_type: guid\nretry: {max_attempts: 3}\n", testAccount, secret)
	path := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	if err := config.Load(path, &c, config.Options{Environ: func() []string { return nil }}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Endpoint() != "https://in1.api.clevertap.com" || c.Field() != DefaultGUIDField || c.Passcode.Reveal() != testPasscode || c.Retry.MaxAttempts != 3 || !c.Enabled {
		t.Errorf("loaded %+v", c)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("regoin: in1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := DefaultConfig()
	if err := config.Load(bad, &c2, config.Options{Environ: func() []string { return nil }}); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("typo in key: Load = %v, want ErrInvalid", err)
	}
}

// TestRequestShape checks the exact request CleverTap documents.
func TestRequestShape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		idType   string
		prefix   string
		id       string
		wantBody string
	}{
		{name: "identity", idType: IDTypeIdentity, id: "client-19827239", wantBody: `{"identity":["client-19827239"]}`},
		{name: "guid", idType: IDTypeGUID, id: "df2e224d90874887b4d61153ef3a2508", wantBody: `{"guid":["df2e224d90874887b4d61153ef3a2508"]}`},
		{name: "path prefix", idType: IDTypeIdentity, prefix: "/proxy/", id: "x", wantBody: `{"identity":["x"]}`},
		{name: "id with path characters", idType: IDTypeIdentity, id: `a/b?c#d%2F"e`, wantBody: `{"identity":["a/b?c#d%2F\"e"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			type seen struct {
				method, path, query, account, passcode, ctype, body string
			}
			got := make(chan seen, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got <- seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("X-CleverTap-Account-Id"), r.Header.Get("X-CleverTap-Passcode"), r.Header.Get("Content-Type"), string(b)}
				sandbox.WriteJSON(w, http.StatusOK, []byte(`{"status":"success"}`))
			}))
			defer srv.Close()
			cfg := validConfig(srv.URL + tc.prefix)
			cfg.IDType = tc.idType
			a := newAdapter(t, cfg, srv.Client())
			ev := &event.UserDeleted{EventID: "e", Identifiers: map[string]string{DefaultIdentityField: tc.id, DefaultGUIDField: tc.id}}
			out, err := a.Delete(context.Background(), ev)
			if err != nil || out != adapters.Deleted {
				t.Fatalf("Delete = %v, %v", out, err)
			}
			s := <-got
			wantPath := strings.TrimSuffix(tc.prefix, "/") + DeletePath
			if s.method != http.MethodPost || s.path != wantPath || s.query != "" {
				t.Errorf("request %s %s?%s, want POST %s", s.method, s.path, s.query, wantPath)
			}
			if s.account != testAccount || s.passcode != testPasscode {
				t.Errorf("auth headers %q / %q", s.account, s.passcode)
			}
			if s.ctype != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", s.ctype)
			}
			if s.body != tc.wantBody {
				t.Errorf("body %s, want %s", s.body, tc.wantBody)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRegionHost checks, without a network, that a region picks its host.
func TestRegionHost(t *testing.T) {
	t.Parallel()
	for _, region := range Regions() {
		var got atomic.Value
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got.Store(r.URL.String())
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"status":"success"}`)), Request: r}, nil
		})}
		cfg := validConfig("")
		cfg.Region = region
		a := newAdapter(t, cfg, client)
		if out, err := a.Delete(context.Background(), identityEvent("someone")); err != nil || out != adapters.Deleted {
			t.Fatalf("%s: Delete = %v, %v", region, out, err)
		}
		if want := "https://" + region + ".api.clevertap.com/1/delete/profiles.json"; got.Load() != want {
			t.Errorf("%s: URL %v, want %s", region, got.Load(), want)
		}
	}
}

func TestDeleteAgainstSandbox(t *testing.T) {
	t.Parallel()

	t.Run("delete then repeat", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		const id = "client-19827239"
		for i := 1; i <= 2; i++ {
			// CleverTap answers success for a profile already marked, so the
			// repeat is Deleted too: AlreadyAbsent is never reported.
			out, err := a.Delete(context.Background(), identityEvent(id))
			if err != nil || out != adapters.Deleted {
				t.Fatalf("delete %d = %v, %v", i, out, err)
			}
			if !sb.Ledger.Deleted(id) || sb.Ledger.Calls(id) != i {
				t.Fatalf("after delete %d: deleted %v calls %d", i, sb.Ledger.Deleted(id), sb.Ledger.Calls(id))
			}
		}
		if st := sb.Ledger.Statuses(); st[http.StatusOK] != 2 || len(st) != 1 {
			t.Errorf("statuses %v", st)
		}
	})

	t.Run("unknown identity is success", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		sb.Ledger.SeedAbsent("nobody")
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		out, err := a.Delete(context.Background(), identityEvent("nobody"))
		if err != nil || out != adapters.Deleted {
			t.Fatalf("Delete = %v, %v", out, err)
		}
		if sb.Ledger.Calls("nobody") != 1 {
			t.Errorf("calls %d", sb.Ledger.Calls("nobody"))
		}
	})

	t.Run("guid", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		cfg := validConfig(srv.URL)
		cfg.IDType = IDTypeGUID
		a := newAdapter(t, cfg, srv.Client())
		const guid = "df2e224d90874887b4d61153ef3a2508"
		ev := &event.UserDeleted{Identifiers: map[string]string{DefaultGUIDField: guid, DefaultIdentityField: "other"}}
		if out, err := a.Delete(context.Background(), ev); err != nil || out != adapters.Deleted {
			t.Fatalf("Delete = %v, %v", out, err)
		}
		if !sb.Ledger.Deleted(guid) || sb.Ledger.Calls("other") != 0 {
			t.Errorf("guid deleted %v, identity calls %d", sb.Ledger.Deleted(guid), sb.Ledger.Calls("other"))
		}
	})

	t.Run("user id field", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		cfg := validConfig(srv.URL)
		cfg.IDField = event.UserIDField
		a := newAdapter(t, cfg, srv.Client())
		if out, err := a.Delete(context.Background(), &event.UserDeleted{UserID: "u-77"}); err != nil || out != adapters.Deleted {
			t.Fatalf("Delete = %v, %v", out, err)
		}
		if !sb.Ledger.Deleted("u-77") {
			t.Error("user id not deleted")
		}
	})

	t.Run("id with path characters stays in the body", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		for _, id := range []string{"a/b", "x?y=1", "../../admin", "p%2Fq", "#frag", `quo"te`, "ünï<code>&"} {
			if out, err := a.Delete(context.Background(), identityEvent(id)); err != nil || out != adapters.Deleted {
				t.Fatalf("%q: Delete = %v, %v", id, out, err)
			}
			if !sb.Ledger.Deleted(id) {
				t.Errorf("%q: not deleted as sent", id)
			}
		}
		if st := sb.Ledger.Statuses(); st[http.StatusNotFound] != 0 || st[http.StatusBadRequest] != 0 {
			t.Errorf("statuses %v", st)
		}
	})

	t.Run("missing identifier sends nothing", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		for _, idType := range []string{IDTypeIdentity, IDTypeGUID} {
			cfg := validConfig(srv.URL)
			cfg.IDType = idType
			a := newAdapter(t, cfg, srv.Client())
			for _, ev := range []*event.UserDeleted{
				{UserID: "u"},
				{UserID: "u", Identifiers: map[string]string{"plivo_profile_uuid": "p"}},
				{UserID: "u", Identifiers: map[string]string{DefaultIdentityField: "", DefaultGUIDField: ""}},
			} {
				if out, err := a.Delete(context.Background(), ev); err != nil || out != adapters.NotApplicable {
					t.Fatalf("%s: Delete = %v, %v, want not_applicable", idType, out, err)
				}
			}
		}
		if n := sb.Ledger.Requests(); n != 0 {
			t.Errorf("%d requests sent", n)
		}
	})
}

func TestDeleteMany(t *testing.T) {
	t.Parallel()
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("id-%03d", i)
		}
		return out
	}
	tests := []struct {
		name      string
		ids       []string
		want      adapters.Outcome
		wantClass adapters.Class
		requests  int
	}{
		{name: "none", ids: nil, want: adapters.NotApplicable},
		{name: "three", ids: []string{"a", "b/c", "d"}, want: adapters.Deleted, requests: 1},
		{name: "at the limit", ids: ids(MaxBatch), want: adapters.Deleted, requests: 1},
		{name: "over the limit", ids: ids(MaxBatch + 1), want: adapters.Failed, wantClass: adapters.ClassPermanent},
		{name: "an empty id", ids: []string{"alpha-1", ""}, want: adapters.Failed, wantClass: adapters.ClassInvalidIdentifier},
		{name: "invalid UTF-8", ids: []string{"ok", "bad\xff\xfeid"}, want: adapters.Failed, wantClass: adapters.ClassInvalidIdentifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			a := newAdapter(t, validConfig(srv.URL), srv.Client())
			out, err := a.deleteMany(context.Background(), tc.ids)
			if out != tc.want {
				t.Fatalf("deleteMany = %v, %v, want %v", out, err, tc.want)
			}
			if tc.wantClass != 0 {
				if ae := asError(t, err); ae.Class != tc.wantClass {
					t.Errorf("class %v, want %v", ae.Class, tc.wantClass)
				}
				assertNoLeak(t, err, append(tc.ids, testPasscode)...)
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if n := sb.Ledger.Requests(); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
			if tc.want == adapters.Deleted {
				for _, id := range tc.ids {
					if !sb.Ledger.Deleted(id) || sb.Ledger.Calls(id) != 1 {
						t.Errorf("%q: deleted %v calls %d", id, sb.Ledger.Deleted(id), sb.Ledger.Calls(id))
					}
				}
			}
		})
	}
}

func TestAuthFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		account  string
		passcode string
	}{
		{name: "wrong passcode", account: testAccount, passcode: "pc-WRONG-000000"},
		{name: "wrong account", account: "OTHER-ACC", passcode: testPasscode},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			cfg := validConfig(srv.URL)
			cfg.AccountID, cfg.Passcode = tc.account, config.NewSecret(tc.passcode)
			a := newAdapter(t, cfg, srv.Client())
			res := adapters.NewRetrier(fastRetry(5)).Do(context.Background(), a, identityEvent("victim-1"))
			if res.Outcome != adapters.Failed || res.Attempts != 1 || res.Exhausted {
				t.Fatalf("result %+v, want one permanent failure", res)
			}
			ae := asError(t, res.Err)
			if ae.Class != adapters.ClassPermanent || ae.Status != http.StatusUnauthorized || ae.Code != "401" {
				t.Errorf("error %+v", ae)
			}
			if !strings.Contains(ae.VendorMessage, "Invalid Account ID or Passcode") {
				t.Errorf("vendor message %q", ae.VendorMessage)
			}
			assertNoLeak(t, res.Err, tc.passcode, testPasscode, "victim-1")
			if sb.Ledger.Deleted("victim-1") || sb.Ledger.Calls("victim-1") != 0 {
				t.Error("unauthenticated request reached the ledger")
			}
		})
	}
}

// TestForcedFaults drives every status and body code CleverTap documents
// through the sandbox and the adapter.
func TestForcedFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		force      string
		class      adapters.Class
		status     int
		code       string
		retryAfter time.Duration
	}{
		{"400", adapters.ClassPermanent, 400, "400", 0},
		{"401", adapters.ClassPermanent, 401, "401", 0},
		{"403", adapters.ClassPermanent, 403, "403", 0},
		{"404", adapters.ClassPermanent, 404, "404", 0},
		{"405", adapters.ClassPermanent, 405, "405", 0},
		{"409", adapters.ClassPermanent, 409, "409", 0},
		{"408", adapters.ClassRetryable, 408, "408", 0},
		{"429", adapters.ClassRetryable, 429, "429", time.Second},
		{"500", adapters.ClassRetryable, 500, "500", 0},
		{"502", adapters.ClassRetryable, 502, "502", 0},
		{"503", adapters.ClassRetryable, 503, "503", time.Second},
		{"504", adapters.ClassRetryable, 504, "504", 0},
		{"body:400", adapters.ClassPermanent, 200, "400", 0},
		{"body:401", adapters.ClassPermanent, 200, "401", 0},
		{"body:403", adapters.ClassPermanent, 200, "403", 0},
		{"body:404", adapters.ClassPermanent, 200, "404", 0},
		{"body:405", adapters.ClassPermanent, 200, "405", 0},
		{"body:409", adapters.ClassPermanent, 200, "409", 0},
		{"body:429", adapters.ClassRetryable, 200, "429", time.Second},
		{"body:500", adapters.ClassRetryable, 200, "500", 0},
		{"body:503", adapters.ClassRetryable, 200, "503", time.Second},
		{"body:999", adapters.ClassUnexpected, 200, "999", 0},
		{"body:200", adapters.ClassUnexpected, 200, "200", 0},
		{"no-such-fault", adapters.ClassRetryable, 500, "500", 0},
	}
	for _, tc := range tests {
		t.Run(tc.force, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{Force: tc.force})
			a := newAdapter(t, validConfig(srv.URL), srv.Client())
			const id = "forced-user-1"
			out, err := a.Delete(context.Background(), identityEvent(id))
			if out != adapters.Failed {
				t.Fatalf("Delete = %v, %v, want failed", out, err)
			}
			ae := asError(t, err)
			if ae.Class != tc.class || ae.Status != tc.status || ae.Code != tc.code || ae.RetryAfter != tc.retryAfter {
				t.Errorf("got class %v status %d code %q retry-after %v; want %v %d %q %v",
					ae.Class, ae.Status, ae.Code, ae.RetryAfter, tc.class, tc.status, tc.code, tc.retryAfter)
			}
			if sb.Ledger.Deleted(id) || sb.Ledger.Calls(id) != 1 {
				t.Errorf("ledger: deleted %v calls %d", sb.Ledger.Deleted(id), sb.Ledger.Calls(id))
			}
			assertNoLeak(t, err, id, testPasscode)
		})
	}
}

func TestChaosKnobs(t *testing.T) {
	t.Parallel()

	t.Run("throttle", func(t *testing.T) {
		t.Parallel()
		// One request per ~17 minutes: the first is admitted, the second is
		// throttled whatever the machine's speed.
		sb, srv := startSandbox(t, sandbox.Knobs{ThrottleRPS: 0.001})
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		if out, err := a.Delete(context.Background(), identityEvent("first")); err != nil || out != adapters.Deleted {
			t.Fatalf("first = %v, %v", out, err)
		}
		out, err := a.Delete(context.Background(), identityEvent("second"))
		ae := asError(t, err)
		if out != adapters.Failed || ae.Class != adapters.ClassRetryable || ae.Status != 429 || ae.RetryAfter < time.Minute {
			t.Errorf("second = %v, %+v", out, ae)
		}
		if sb.Ledger.Deleted("second") {
			t.Error("throttled request deleted")
		}
	})

	t.Run("failure rate", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{FailureRate: 1})
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		out, err := a.Delete(context.Background(), identityEvent("x"))
		ae := asError(t, err)
		if out != adapters.Failed || ae.Class != adapters.ClassRetryable || ae.Status != 503 || ae.Code != "503" {
			t.Errorf("= %v, %+v", out, ae)
		}
		if sb.Ledger.Deleted("x") {
			t.Error("failed request deleted")
		}
	})
}

func TestRetrier(t *testing.T) {
	t.Parallel()

	t.Run("recovers after transient failures", func(t *testing.T) {
		t.Parallel()
		inBubble(t, sandbox.Knobs{Force: "500", ForceCount: 2}, func(t *testing.T, sb *Sandbox, a *Adapter) {
			res := adapters.NewRetrier(fastRetry(5)).Do(context.Background(), a, identityEvent("r1"))
			if res.Outcome != adapters.Deleted || res.Attempts != 3 || res.Err != nil {
				t.Fatalf("result %+v", res)
			}
			if !sb.Ledger.Deleted("r1") || sb.Ledger.Calls("r1") != 3 {
				t.Errorf("ledger: deleted %v calls %d", sb.Ledger.Deleted("r1"), sb.Ledger.Calls("r1"))
			}
		})
	})

	// The header's forms are in the conformance suite; this is the
	// sandbox's 429, and CleverTap's code 429 in a 200 "fail" body.
	t.Run("honours Retry-After", func(t *testing.T) {
		t.Parallel()
		for _, force := range []string{"429", "body:429"} {
			inBubble(t, sandbox.Knobs{Force: force, ForceCount: 1}, func(t *testing.T, sb *Sandbox, a *Adapter) {
				log := &adaptertest.Waits{}
				res := adapters.NewRetrier(fastRetry(5), adapters.WithObserver(log)).Do(context.Background(), a, identityEvent("r2"))
				if res.Outcome != adapters.Deleted || res.Attempts != 2 {
					t.Fatalf("%s: result %+v", force, res)
				}
				if waits, fromRA := log.Got(); len(waits) != 1 || waits[0] != time.Second || !fromRA[0] {
					t.Errorf("%s: waits %v from Retry-After %v, want [1s] [true]", force, waits, fromRA)
				}
				if !sb.Ledger.Deleted("r2") {
					t.Errorf("%s: not deleted", force)
				}
			})
		}
	})

	t.Run("permanent is not retried", func(t *testing.T) {
		t.Parallel()
		for _, force := range []string{"400", "body:401"} {
			inBubble(t, sandbox.Knobs{Force: force}, func(t *testing.T, _ *Sandbox, a *Adapter) {
				res := adapters.NewRetrier(fastRetry(5)).Do(context.Background(), a, identityEvent("r3"))
				if res.Outcome != adapters.Failed || res.Attempts != 1 || res.Exhausted || adapters.ErrorClass(res.Err) != adapters.ClassPermanent {
					t.Errorf("%s: result %+v", force, res)
				}
			})
		}
	})

	t.Run("unexpected is not retried", func(t *testing.T) {
		t.Parallel()
		inBubble(t, sandbox.Knobs{Force: "body:999"}, func(t *testing.T, _ *Sandbox, a *Adapter) {
			res := adapters.NewRetrier(fastRetry(5)).Do(context.Background(), a, identityEvent("r4"))
			if res.Outcome != adapters.Failed || res.Attempts != 1 || adapters.ErrorClass(res.Err) != adapters.ClassUnexpected {
				t.Errorf("result %+v", res)
			}
		})
	})

	t.Run("exhausted", func(t *testing.T) {
		t.Parallel()
		inBubble(t, sandbox.Knobs{Force: "503"}, func(t *testing.T, sb *Sandbox, a *Adapter) {
			res := adapters.NewRetrier(fastRetry(3)).Do(context.Background(), a, identityEvent("r5"))
			if res.Outcome != adapters.Failed || res.Attempts != 3 || !res.Exhausted || res.Interrupted() {
				t.Errorf("result %+v", res)
			}
			if sb.Ledger.Calls("r5") != 3 || sb.Ledger.Deleted("r5") {
				t.Errorf("ledger calls %d", sb.Ledger.Calls("r5"))
			}
		})
	})
}

// TestRetryAfterForms covers where CleverTap's throttle can come from
// besides a JSON 429, which the conformance suite covers in both header
// forms: a "fail" body with code 429 on HTTP 200, and a proxy's page.
func TestRetryAfterForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		header   func() string
		min, max time.Duration
	}{
		{name: "in a 200 fail body", status: 200, body: `{"status":"fail","error":"Too many concurrent requests","code":429}`, header: func() string { return "3" }, min: 3 * time.Second, max: 3 * time.Second},
		{name: "non-JSON gateway 429", status: 429, body: `<html>Too Many Requests</html>`, header: func() string { return "2" }, min: 2 * time.Second, max: 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if v := tc.header(); v != "" {
					w.Header().Set("Retry-After", v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			a := newAdapter(t, validConfig(srv.URL), srv.Client())
			_, err := a.Delete(context.Background(), identityEvent("ra-user"))
			ae := asError(t, err)
			if ae.Class != adapters.ClassRetryable {
				t.Errorf("class %v", ae.Class)
			}
			if ae.RetryAfter < tc.min || ae.RetryAfter > tc.max {
				t.Errorf("RetryAfter %v, want in [%v, %v]", ae.RetryAfter, tc.min, tc.max)
			}
		})
	}
}

// TestClassify covers every answer shape the adapter must read.
func TestClassify(t *testing.T) {
	t.Parallel()
	huge := `{"status":"success","pad":"` + strings.Repeat("x", adapters.MaxResponseBytes) + `"}`
	tests := []struct {
		name   string
		status int
		body   string
		want   adapters.Outcome
		class  adapters.Class
		code   string
	}{
		// The page's example and tolerated variants.
		{name: "success", status: 200, body: `{"status":"success"}`, want: adapters.Deleted},
		{name: "success with extra fields", status: 200, body: `{"status":"success","processed":1,"meta":{"a":[1,2]},"code":200}`, want: adapters.Deleted},
		{name: "success upper case", status: 200, body: `{"status":"SUCCESS"}`, want: adapters.Deleted},
		{name: "success empty unprocessed", status: 200, body: `{"status":"success","unprocessed":[]}`, want: adapters.Deleted},
		{name: "success null unprocessed", status: 200, body: `{"status":"success","unprocessed":null,"processed":1}`, want: adapters.Deleted},
		{name: "success zero unprocessed", status: 200, body: `{"status":"success","unprocessed":0}`, want: adapters.Deleted},
		{name: "success 202", status: 202, body: `{"status":"success"}`, want: adapters.Deleted},
		{name: "success lists unprocessed", status: 200, body: `{"status":"success","processed":0,"unprocessed":[{"status":"fail","code":517,"error":"x"}]}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "success counts unprocessed", status: 200, body: `{"status":"success","unprocessed":2}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "success odd unprocessed", status: 200, body: `{"status":"success","unprocessed":"some"}`, want: adapters.Failed, class: adapters.ClassUnexpected},

		// HTTP statuses from CleverTap's API errors page.
		{name: "400", status: 400, body: `{"status":"fail","error":"Invalid JSON payload","code":400}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "400"},
		{name: "401", status: 401, body: `{"status":"fail","error":"Invalid Account ID or Passcode","code":401}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "401"},
		{name: "403", status: 403, body: `{"status":"fail","error":"Forbidden","code":403}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "403"},
		{name: "404", status: 404, body: `{"status":"fail","error":"Not Found","code":404}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "404"},
		{name: "405", status: 405, body: `{"status":"fail","error":"Method Not Allowed","code":405}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "405"},
		{name: "409", status: 409, body: `{"status":"fail","error":"Conflict","code":409}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "409"},
		{name: "429", status: 429, body: `{"status":"fail","error":"Too many concurrent requests","code":429}`, want: adapters.Failed, class: adapters.ClassRetryable, code: "429"},
		{name: "500", status: 500, body: `{"status":"fail","error":"Internal Server Error","code":500}`, want: adapters.Failed, class: adapters.ClassRetryable, code: "500"},
		{name: "502 html", status: 502, body: `<html><body>Bad Gateway</body></html>`, want: adapters.Failed, class: adapters.ClassRetryable},
		{name: "503", status: 503, body: `{"status":"fail","error":"Service Unavailable","code":503}`, want: adapters.Failed, class: adapters.ClassRetryable, code: "503"},
		{name: "504 empty", status: 504, want: adapters.Failed, class: adapters.ClassRetryable},
		{name: "401 code in 400", status: 400, body: `{"status":"fail","error":"Invalid Account ID or Passcode","code":401}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "401"},
		{name: "400 plain text", status: 400, body: `bad request`, want: adapters.Failed, class: adapters.ClassPermanent},
		{name: "4xx with string code", status: 401, body: `{"status":"fail","code":"401"}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "401"},

		// "fail" sent with HTTP 200: the code decides.
		{name: "200 fail 400", status: 200, body: `{"status":"fail","error":"Either identity or guid is required","code":400}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "400"},
		{name: "200 fail 401", status: 200, body: `{"status":"fail","error":"Invalid Account ID or Passcode","code":401}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "401"},
		{name: "200 fail 403", status: 200, body: `{"status":"fail","code":403}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "403"},
		{name: "200 fail 429", status: 200, body: `{"status":"fail","code":429}`, want: adapters.Failed, class: adapters.ClassRetryable, code: "429"},
		{name: "200 fail 500", status: 200, body: `{"status":"fail","code":500}`, want: adapters.Failed, class: adapters.ClassRetryable, code: "500"},
		{name: "200 fail 503", status: 200, body: `{"status":"fail","code":503}`, want: adapters.Failed, class: adapters.ClassRetryable, code: "503"},
		{name: "200 fail string code", status: 200, body: `{"status":"fail","code":"401"}`, want: adapters.Failed, class: adapters.ClassPermanent, code: "401"},
		{name: "200 fail unknown code", status: 200, body: `{"status":"fail","error":"Something new","code":1001}`, want: adapters.Failed, class: adapters.ClassUnexpected, code: "1001"},
		{name: "200 fail 2xx code", status: 200, body: `{"status":"fail","code":200}`, want: adapters.Failed, class: adapters.ClassUnexpected, code: "200"},
		{name: "200 fail 600 code", status: 200, body: `{"status":"fail","code":600}`, want: adapters.Failed, class: adapters.ClassUnexpected, code: "600"},
		{name: "200 fail negative code", status: 200, body: `{"status":"fail","code":-1}`, want: adapters.Failed, class: adapters.ClassUnexpected, code: "-1"},
		{name: "200 fail without code", status: 200, body: `{"status":"fail","error":"oops"}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 fail fractional code", status: 200, body: `{"status":"fail","code":401.5}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 fail object code", status: 200, body: `{"status":"fail","code":{"n":401}}`, want: adapters.Failed, class: adapters.ClassUnexpected},

		// Shapes nobody documented.
		{name: "200 empty", status: 200, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 truncated", status: 200, body: `{"status":"succ`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 html", status: 200, body: `<html>maintenance</html>`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 empty object", status: 200, body: `{}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 unknown status", status: 200, body: `{"status":"ok"}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 array", status: 200, body: `[{"status":"success"}]`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 null", status: 200, body: `null`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 bare string", status: 200, body: `"success"`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 status not a string", status: 200, body: `{"status":1}`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 trailing garbage", status: 200, body: `{"status":"success"}xyz`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 cut by the read limit", status: 200, body: huge[:adapters.MaxResponseBytes], want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "200 binary", status: 200, body: "\x00\xff\xfe\x01{", want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "204 no content", status: 204, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "301 redirect", status: 301, body: `moved`, want: adapters.Failed, class: adapters.ClassUnexpected},
		{name: "100", status: 100, want: adapters.Failed, class: adapters.ClassUnexpected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp := &adapters.Response{Status: tc.status, Header: http.Header{}, Body: []byte(tc.body)}
			out, err := Classify(resp)
			if out != tc.want {
				t.Fatalf("outcome %v (%v), want %v", out, err, tc.want)
			}
			if tc.want.Final() {
				if err != nil {
					t.Fatalf("final outcome with error %v", err)
				}
				return
			}
			ae := asError(t, err)
			if ae.Class != tc.class || ae.Code != tc.code || ae.Status != tc.status || ae.Vendor != Name {
				t.Errorf("got class %v code %q status %d; want %v %q %d", ae.Class, ae.Code, ae.Status, tc.class, tc.code, tc.status)
			}
			if n := len(err.Error()); n > 400 {
				t.Errorf("error text is %d bytes", n)
			}
			if ae.Class == adapters.ClassUnexpected && len(tc.body) > 0 && ae.VendorMessage == "" {
				t.Errorf("unexpected answer without an excerpt: %q", ae.Message)
			}
		})
	}
}

// TestOddServers drives the adapter against servers that misbehave at the
// HTTP level.
func TestOddServers(t *testing.T) {
	t.Parallel()

	t.Run("oversized success body", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"status":"success","pad":"`+strings.Repeat("y", 2*adapters.MaxResponseBytes)+`"}`)
		}))
		defer srv.Close()
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		out, err := a.Delete(context.Background(), identityEvent("big"))
		if out != adapters.Failed || asError(t, err).Class != adapters.ClassUnexpected || len(err.Error()) > 400 {
			t.Errorf("= %v, %v", out, err)
		}
	})

	t.Run("connection cut mid-body", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, `{"status":"succ`)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		defer srv.Close()
		a := newAdapter(t, validConfig(srv.URL), srv.Client())
		out, err := a.Delete(context.Background(), identityEvent("cut-user"))
		ae := asError(t, err)
		if out != adapters.Failed || ae.Class != adapters.ClassRetryable {
			t.Errorf("= %v, %+v", out, ae)
		}
		assertNoLeak(t, err, "cut-user", testPasscode)
	})

	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		a := newAdapter(t, validConfig("http://"+addr), &http.Client{})
		out, err := a.Delete(context.Background(), identityEvent("gone-user"))
		ae := asError(t, err)
		if out != adapters.Failed || ae.Class != adapters.ClassRetryable || ae.Status != 0 {
			t.Errorf("= %v, %+v", out, ae)
		}
		assertNoLeak(t, err, "gone-user", testPasscode)
	})
}

// TestNoLeak has a server echo the request back in every way an answer
// could, and checks no error names the person or the passcode.
func TestNoLeak(t *testing.T) {
	t.Parallel()
	// JSON escapes <, > and & and the quote, so the echoed body holds a
	// different spelling of the id than the id itself.
	const id = `user<42>&"x"/é`
	escaped, _ := json.Marshal(id)
	escapedID := string(escaped[1 : len(escaped)-1])
	if escapedID == id {
		t.Fatal("test id needs characters JSON escapes")
	}
	tests := []struct {
		name   string
		status int
		render func(reqBody, passcode string) string
	}{
		{name: "fail body quoting the id", status: 400, render: func(b, p string) string {
			msg, _ := json.Marshal("bad identity " + id + " with passcode " + p)
			return `{"status":"fail","error":` + string(msg) + `,"code":400}`
		}},
		{name: "200 fail unknown code echoing the request", status: 200, render: func(b, p string) string {
			return `{"status":"fail","code":1001,"request":` + b + `,"passcode":"` + p + `"}`
		}},
		{name: "200 non-JSON echo", status: 200, render: func(b, p string) string { return "echo: " + b + " " + p }},
		{name: "500 text echo", status: 500, render: func(b, p string) string { return "upstream died on " + b + " (" + p + ")" }},
		{name: "success listing unprocessed", status: 200, render: func(b, p string) string {
			return `{"status":"success","unprocessed":[{"record":` + b + `}]}`
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if !strings.Contains(string(b), escapedID) {
					t.Errorf("request body %s lacks the escaped id", b)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.render(string(b), r.Header.Get("X-CleverTap-Passcode")))
			}))
			defer srv.Close()
			a := newAdapter(t, validConfig(srv.URL), srv.Client())
			out, err := a.Delete(context.Background(), identityEvent(id))
			if out != adapters.Failed || err == nil {
				t.Fatalf("= %v, %v", out, err)
			}
			assertNoLeak(t, err, id, escapedID, testPasscode, "user<42>", "user\\u003c42")
			if !strings.Contains(adaptertest.Text(err), "[redacted]") {
				t.Errorf("nothing was redacted in %q; is the echo reaching the message?", adaptertest.Text(err))
			}
		})
	}
}

// leakCheckable reports whether a fuzzed redact value can be checked for
// leaks: an identifier-like token (letters, digits, '-' and '_', with at
// least one letter and one digit). Shorter or plainer values can occur in
// the fixed words and numbers of any error text.
func leakCheckable(s string) bool {
	if len(s) < 6 {
		return false
	}
	letter, digit := false, false
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
			letter = true
		case r >= '0' && r <= '9':
			digit = true
		case r == '-' || r == '_':
		default:
			return false
		}
	}
	return letter && digit
}

func FuzzClassify(f *testing.F) {
	seeds := []struct {
		status int
		body   string
		ra     string
	}{
		{200, `{"status":"success"}`, ""},
		{200, `{"status":"success","processed":2,"unprocessed":[]}`, ""},
		{200, `{"status":"success","unprocessed":[{"status":"fail","code":517,"record":{"identity":"client-19827239"}}]}`, ""},
		{200, `{"status":"fail","error":"Invalid Account ID or Passcode","code":401}`, ""},
		{200, `{"status":"fail","error":"unknown client-19827239","code":"517"}`, ""},
		{400, `{"status":"fail","error":"Either identity or guid is required","code":400}`, ""},
		{401, `{"status":"fail","error":"Invalid Account ID or Passcode","code":401}`, ""},
		{429, `{"status":"fail","error":"Too many concurrent requests","code":429}`, "1"},
		{429, `{"status":"fail","code":429}`, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{503, `<html>Service Unavailable</html>`, ""},
		{200, `{"identity": ["client-19827239", "abc"]}`, ""},
		{200, `{"guid":"df2e224d90874887b4d61153ef3a2508"}`, ""},
		{200, `{"status":"succ`, ""},
		{204, ``, ""},
		{302, `moved to client-19827239`, ""},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body), s.ra, "client-19827239")
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter, secret string) {
		resp := &adapters.Response{Status: status, Header: http.Header{}, Body: body}
		if retryAfter != "" {
			resp.Header.Set("Retry-After", retryAfter)
		}
		out, err := Classify(resp, secret)
		ae := adaptertest.Classified(t, out, err)
		if ae == nil {
			if out != adapters.Deleted {
				t.Fatalf("final outcome %v; Classify only confirms deletions", out)
			}
			return
		}
		msg := adaptertest.Text(err)
		if leakCheckable(secret) && strings.Contains(msg, secret) {
			t.Fatalf("error text %q leaks %q", msg, secret)
		}
	})
}

// TestConformance runs the checks every adapter shares (adaptertest.Run),
// batching as by default and with one request per event.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{MaxBatch, 1} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			t.Parallel()
			adaptertest.Run(t, adaptertest.Harness{
				Name: Name,
				New: func(baseURL string, client *http.Client, retry adapters.RetryConfig) (adapters.Adapter, error) {
					cfg := validConfig(baseURL)
					cfg.Retry, cfg.BatchSize = retry, batch
					return New(cfg, client), cfg.Validate()
				},
				Sandbox: func() http.Handler { return NewSandbox(testAccount, testPasscode, sandbox.Knobs{}) },
				Event:   func() *event.UserDeleted { return identityEvent("conformance-user-1") },
				Throttle: func(w http.ResponseWriter, _ *http.Request) {
					writeFail(w, http.StatusTooManyRequests, http.StatusTooManyRequests, failMessage(http.StatusTooManyRequests))
				},
				Secrets: []string{testPasscode},
			})
		})
	}
}

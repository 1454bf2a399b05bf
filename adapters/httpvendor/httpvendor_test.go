package httpvendor_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/httpvendor"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

const (
	helpdeskToken  = "hd-token-0123456789abcdef"
	analyticsToken = "an-token-fedcba9876543210"
	examplePath    = "../../deployments/examples/http-vendor.yaml"
)

// example loads the declared vendors of deployments/examples/http-vendor.yaml,
// their secrets from a made-up environment and file, each aimed at
// baseURL instead of its real host.
func example(t testing.TB, baseURL string) map[string]*httpvendor.Config {
	t.Helper()
	var doc struct {
		Kafka   map[string]any `yaml:"kafka"`
		Vendors struct {
			HTTP map[string]*httpvendor.Config `yaml:"http"`
		} `yaml:"vendors"`
	}
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("/var/run/secrets/erasured/analytics-token"), []byte(writeFile(t, analyticsToken)))
	path := writeFile(t, string(b))
	if err := config.Load(path, &doc, config.Options{Environ: func() []string { return []string{"HELPDESK_API_TOKEN=" + helpdeskToken} }}); err != nil {
		t.Fatalf("loading %s: %v", examplePath, err)
	}
	for name, c := range doc.Vendors.HTTP {
		if baseURL != "" {
			c.URL = baseURL + c.URL[len(c.Endpoint()):]
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return doc.Vendors.HTTP
}

func writeFile(t testing.TB, s string) string {
	t.Helper()
	p := t.TempDir() + "/f"
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func sampleEvent() *event.UserDeleted {
	return &event.UserDeleted{
		EventID: "evt-1", UserID: "user-42", OccurredAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{"helpdesk_contact_id": "3141592653", "analytics_user_id": "u_8f3a2c"},
	}
}

// TestExampleAgainstItsSandbox runs each vendor of the example against
// the sandbox generated from the same declaration: a delete, the same
// delete again (already absent), an event without the identifier (not
// applicable), and each fault the sandbox can inject.
func TestExampleAgainstItsSandbox(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"helpdesk", "analytics"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var sb *httpvendor.Sandbox
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sb.ServeHTTP(w, r) }))
			defer srv.Close()
			cfg := example(t, srv.URL)[name]
			var err error
			if sb, err = httpvendor.NewSandbox(*cfg, sandbox.Knobs{}); err != nil {
				t.Fatal(err)
			}
			a, err := httpvendor.New(name, *cfg, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			ev := sampleEvent()
			for i, want := range []adapters.Outcome{adapters.Deleted, adapters.AlreadyAbsent} {
				out, err := a.Delete(ctx, ev)
				t.Logf("delete %d: %s %v", i+1, out, err)
				if out != want || err != nil {
					t.Fatalf("delete %d = %s, %v; want %s", i+1, out, err, want)
				}
			}
			id := ev.Identifiers[cfg.IdentifierField]
			if !sb.Ledger.Deleted(id) || sb.Ledger.Calls(id) != 2 {
				t.Errorf("ledger: deleted %v, calls %d; want deleted after 2 calls", sb.Ledger.Deleted(id), sb.Ledger.Calls(id))
			}
			none := sampleEvent()
			delete(none.Identifiers, cfg.IdentifierField)
			if out, err := a.Delete(ctx, none); out != adapters.NotApplicable || err != nil {
				t.Errorf("without the identifier: %s, %v; want not_applicable", out, err)
			}
			for _, c := range []struct {
				knobs sandbox.Knobs
				class adapters.Class
			}{
				{sandbox.Knobs{Force: "retryable"}, adapters.ClassRetryable},
				{sandbox.Knobs{Force: "permanent"}, adapters.ClassPermanent},
				{sandbox.Knobs{Force: "503"}, adapters.ClassRetryable},
				{sandbox.Knobs{FailureRate: 1}, adapters.ClassRetryable},
				{sandbox.Knobs{ThrottleRPS: 0.001}, adapters.ClassRetryable},
			} {
				sb.Chaos.Set(c.knobs)
				fresh := sampleEvent()
				fresh.Identifiers[cfg.IdentifierField] = map[string]string{"helpdesk": "2718281828", "analytics": "u_other"}[name]
				var out adapters.Outcome
				var err error
				for range 2 { // a throttle admits its burst first
					out, err = a.Delete(ctx, fresh)
				}
				if out != adapters.Failed || adapters.ErrorClass(err) != c.class {
					t.Errorf("knobs %+v: %s, %v; want failed, %s", c.knobs, out, err, c.class)
				}
				if err != nil && (strings.Contains(err.Error(), helpdeskToken) || strings.Contains(err.Error(), analyticsToken) || strings.Contains(err.Error(), fresh.Identifiers[cfg.IdentifierField])) {
					t.Errorf("error leaks: %v", err)
				}
			}
		})
	}
}

// TestSandboxIsStrict: a request that is not what the declaration says
// gets an error, never a deletion.
func TestSandboxIsStrict(t *testing.T) {
	t.Parallel()
	cfgs := example(t, "http://127.0.0.1")
	hd, an := cfgs["helpdesk"], cfgs["analytics"]
	basic := func(r *http.Request) { r.SetBasicAuth("privacy-bot@acme.example", helpdeskToken) }
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+analyticsToken) }
	goodBody := `{"regulation_type":"suppress_with_delete","subject_type":"user_id","subject_ids":["u_1"],"reference":"erasured evt-1"}`
	for _, c := range []struct {
		name, method, target, body string
		cfg                        *httpvendor.Config
		auth                       func(*http.Request)
		want                       int
	}{
		{"good delete", "DELETE", "/api/v2/contacts/31?permanent=true", "", hd, basic, 204},
		{"wrong method", "GET", "/api/v2/contacts/31?permanent=true", "", hd, basic, 405},
		{"wrong path", "DELETE", "/api/v2/contact/31?permanent=true", "", hd, basic, 404},
		{"query missing", "DELETE", "/api/v2/contacts/31", "", hd, basic, 404},
		{"extra segment", "DELETE", "/api/v2/contacts/31/x?permanent=true", "", hd, basic, 404},
		{"escaped slash", "DELETE", "/api/v2/contacts/3%2F1?permanent=true", "", hd, basic, 404},
		{"no auth", "DELETE", "/api/v2/contacts/31?permanent=true", "", hd, func(*http.Request) {}, 401},
		{"wrong password", "DELETE", "/api/v2/contacts/31?permanent=true", "", hd, func(r *http.Request) { r.SetBasicAuth("privacy-bot@acme.example", "x") }, 401},
		{"unexpected body", "DELETE", "/api/v2/contacts/31?permanent=true", "{}", hd, basic, 400},
		{"good post", "POST", "/v1/regulations", goodBody, an, bearer, 200},
		{"wrong token", "POST", "/v1/regulations", goodBody, an, func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") }, 401},
		{"body missing", "POST", "/v1/regulations", "", an, bearer, 400},
		{"body another shape", "POST", "/v1/regulations", `{"subject_ids":["u_1"]}`, an, bearer, 400},
		{"body wrong literal", "POST", "/v1/regulations", strings.Replace(goodBody, "suppress_with_delete", "suppress", 1), an, bearer, 400},
		{"body not JSON", "POST", "/v1/regulations", "subject=u_1", an, bearer, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			sb, err := httpvendor.NewSandbox(*c.cfg, sandbox.Knobs{})
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(c.method, "http://sandbox.test"+c.target, strings.NewReader(c.body))
			if c.body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
			c.auth(r)
			w := httptest.NewRecorder()
			sb.ServeHTTP(w, r)
			if w.Code != c.want {
				t.Errorf("status %d, want %d (%s)", w.Code, c.want, w.Body)
			}
			if deleted := sb.Ledger.DeletedCount(); (c.want < 300) != (deleted == 1) {
				t.Errorf("deleted %d", deleted)
			}
		})
	}
}

// TestConformance runs the shared conformance suite on both example
// vendors.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"helpdesk", "analytics"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfgs := example(t, "")
			adaptertest.Run(t, adaptertest.Harness{
				Name: name,
				New: func(baseURL string, client *http.Client, retry adapters.RetryConfig) (adapters.Adapter, error) {
					cfg := *cfgs[name]
					cfg.URL = baseURL + cfg.URL[len(cfg.Endpoint()):]
					cfg.Retry = retry
					return httpvendor.New(name, cfg, client)
				},
				Sandbox: func() http.Handler {
					// The suite serves at its own host: the sandbox sees
					// only the path.
					sb, err := httpvendor.NewSandbox(*cfgs[name], sandbox.Knobs{})
					if err != nil {
						t.Fatal(err)
					}
					return sb
				},
				Event: sampleEvent,
				Throttle: func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = w.Write([]byte(`{"error":{"code":"RateLimited"}}`))
				},
				Secrets: []string{helpdeskToken, analyticsToken},
			})
		})
	}
}

// TestValidate: each wrong declaration is refused, naming the field.
func TestValidate(t *testing.T) {
	t.Parallel()
	base := func() httpvendor.Config { return *example(t, "")["helpdesk"] }
	for _, c := range []struct {
		name  string
		edit  func(*httpvendor.Config)
		field string
	}{
		{"method", func(c *httpvendor.Config) { c.Method = "GET" }, "method"},
		{"no url", func(c *httpvendor.Config) { c.URL = "" }, "url"},
		{"placeholder in host", func(c *httpvendor.Config) { c.URL = "https://{identifiers.x}.example/a" }, "url"},
		{"placeholder in query", func(c *httpvendor.Config) { c.URL = "https://h.example/a?id={identifiers.helpdesk_contact_id}" }, "url"},
		{"unknown placeholder", func(c *httpvendor.Config) { c.URL = "https://h.example/a/{contact}" }, "url"},
		{"plain http", func(c *httpvendor.Config) { c.URL = "http://h.example/a/{identifiers.helpdesk_contact_id}" }, "url"},
		{"credentials in url", func(c *httpvendor.Config) { c.URL = "https://u:p@h.example/a/{identifiers.helpdesk_contact_id}" }, "url"},
		{"identifier not used", func(c *httpvendor.Config) { c.IdentifierField = "other" }, "identifier_field"},
		{"no pattern for a path id", func(c *httpvendor.Config) { c.IdentifierPattern = "" }, "identifier_pattern"},
		{"bad pattern", func(c *httpvendor.Config) { c.IdentifierPattern = "[" }, "identifier_pattern"},
		{"auth type", func(c *httpvendor.Config) { c.Auth.Type = "digest" }, "auth.type"},
		{"basic without password", func(c *httpvendor.Config) { c.Auth.Password = config.Secret{} }, "auth.password"},
		{"header without name", func(c *httpvendor.Config) { c.Auth.Type, c.Auth.Token = "header", config.NewSecret("t") }, "auth.header"},
		{"body on DELETE", func(c *httpvendor.Config) { c.Body = `{"id":"{identifiers.helpdesk_contact_id}"}` }, "body"},
		{"body not JSON", func(c *httpvendor.Config) { c.Method, c.Body = "POST", `{"id":` }, "body"},
		{"status", func(c *httpvendor.Config) { c.Responses[0].Status = "20x" }, "responses[0].status"},
		{"pointer", func(c *httpvendor.Config) { c.Responses[1].Pointer = "error/code" }, "responses[1].pointer"},
		{"code without pointer", func(c *httpvendor.Config) { c.Responses[0].Code = "x" }, "responses[0].code"},
		{"outcome", func(c *httpvendor.Config) { c.Responses[0].Outcome = "gone" }, "responses[0].outcome"},
		{"no deleted row", func(c *httpvendor.Config) { c.Responses = c.Responses[1:] }, "responses"},
		{"retry", func(c *httpvendor.Config) { c.Retry.MaxAttempts = -1 }, "retry.max_attempts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			cfg.Responses = append([]httpvendor.Response(nil), cfg.Responses...)
			c.edit(&cfg)
			err := cfg.Validate()
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Validate = %v; want an error on %s", err, c.field)
			}
			t.Logf("%v", err)
		})
	}
}

package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/httpvendor"
	"github.com/erasured/erasured/internal/daemon"
)

// TestVendorSectionsFromTheRegistry: the vendors section is built from the
// registry, yet reports as a static one would: an unknown vendor or key
// with its line and the nearest name, a wrong kind, and a declared
// vendor's validation, each on its YAML path; the environment
// reaches a registered vendor's keys, common ones included.
func TestVendorSectionsFromTheRegistry(t *testing.T) {
	t.Parallel()
	if got := strings.Join(adapters.Names(), ","); got != "clevertap,exotel,plivo,webex" {
		t.Fatalf("registered vendors %q", got)
	}
	const doc = `kafka: {brokers: ["k:9092"]}
vendors:
  exotl:
    enabled: true
  plivo:
    retry: {max_attempts: many}
  http:
    helpdesk:
      enabled: true
      methd: DELETE
    Bad-Name:
      enabled: false
    shop:
      enabled: true
      url: https://shop.example/v1/customers/{identifiers.shop_id}
      identifier_field: shop_id
      auth: {type: bearer}
      responses: [{status: "204", outcome: removed}]
`
	path := filepath.Join(t.TempDir(), "erasured.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := daemon.LoadConfig(path, func() []string { return nil })
	got := errorLines(err)
	t.Logf("errors:\n\t%s", strings.Join(got, "\n\t"))
	for _, want := range []string{
		"vendors.exotl (line 3): unknown key (did you mean exotel?)",
		`vendors.plivo.retry.max_attempts (line 6): "many" is not a whole number`,
		"vendors.http.helpdesk.methd (line 10): unknown key (did you mean method?)",
	} {
		if !contains(got, want) {
			t.Errorf("missing %q", want)
		}
	}

	// The YAML is fixed; validation speaks.
	fixed := strings.NewReplacer("exotl", "exotel", "max_attempts: many", "max_attempts: 3", "      methd: DELETE\n", "", "      enabled: true\n      url", "      enabled: true\n      allow_insecure_http: false\n      url").Replace(doc)
	if err := os.WriteFile(path, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := daemon.LoadConfig(path, func() []string {
		return []string{"ERASURED_VENDORS_EXOTEL_ACCOUNT_SID=acc1", "ERASURED_VENDORS_EXOTEL_RETRY_MAX_ATTEMPTS=4"}
	})
	got = errorLines(err)
	t.Logf("errors:\n\t%s", strings.Join(got, "\n\t"))
	for _, want := range []string{
		"vendors.http.Bad-Name: the name must be lower-case letters, digits and _, starting with a letter, at most 32 characters (it labels logs and metrics)",
		"vendors.http.helpdesk.url: must be set, such as https://api.example.com/v1/users/{identifiers.example_user_id}",
		"vendors.http.shop.identifier_pattern: must be set when the identifier goes into the url: the form the vendor's ids have, such as [0-9a-f]{24}",
		"vendors.http.shop.auth.token: must be set (env or file)",
		`vendors.http.shop.responses[0].outcome: must be deleted, already_absent, retryable or permanent, got "removed"`,
		"vendors.exotel.api_key: must be set",
	} {
		if !contains(got, want) {
			t.Errorf("missing %q", want)
		}
	}
	for _, line := range got {
		if strings.HasPrefix(line, "vendors.exotel.account_sid") {
			t.Errorf("the environment did not set account_sid: %s", line)
		}
	}
	if cfg != nil {
		t.Fatalf("an invalid configuration loaded")
	}

	// The environment reaches the registered section, common part
	// included.
	ok := filepath.Join(t.TempDir(), "ok.yaml")
	if err := os.WriteFile(ok, []byte("kafka: {brokers: [\"k:9092\"]}\nvendors:\n  exotel: {enabled: true, api_token: {env: TOK}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = daemon.LoadConfig(ok, func() []string {
		return []string{"TOK=t0k", "ERASURED_VENDORS_EXOTEL_ACCOUNT_SID=acc1", "ERASURED_VENDORS_EXOTEL_API_KEY=key1", "ERASURED_VENDORS_EXOTEL_RETRY_MAX_ATTEMPTS=4"}
	})
	if err != nil {
		t.Fatal(err)
	}
	ex := daemon.Vendor[*exotel.Config](&cfg.Vendors)
	if ex.AccountSID != "acc1" || ex.Retry.MaxAttempts != 4 || ex.APIToken.Reveal() != "t0k" || !ex.Enabled {
		t.Errorf("exotel section %+v", ex)
	}
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestCloneSharesNoSection: a clone's vendor sections, registered and
// declared, are its own.
func TestCloneSharesNoSection(t *testing.T) {
	t.Parallel()
	cfg := daemon.DefaultConfig()
	cfg.Vendors.HTTP = map[string]*httpvendor.Config{"shop": {Method: "DELETE"}}
	c := cfg.Clone()
	daemon.Vendor[*exotel.Config](&c.Vendors).Retry.MaxAttempts = 99
	c.Vendors.HTTP["shop"].Method = "POST"
	if got := daemon.Vendor[*exotel.Config](&cfg.Vendors).Retry.MaxAttempts; got == 99 {
		t.Error("the clone shares exotel's section")
	}
	if cfg.Vendors.HTTP["shop"].Method != "DELETE" {
		t.Error("the clone shares a declared vendor")
	}
}

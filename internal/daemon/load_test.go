package daemon_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/erasured/erasured/adapters/clevertap"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// loadDoc writes a configuration whose secrets are files in a temporary
// directory ("SECRET" in doc is replaced by {file: <a token file>}) and
// loads it with env as the whole environment.
func loadDoc(t *testing.T, doc string, env ...string) (*daemon.Config, error) {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte("tok-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc = strings.ReplaceAll(doc, "SECRET", "{file: "+tok+"}")
	p := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return daemon.LoadConfig(p, func() []string { return env })
}

// minimalDoc enables Plivo and CleverTap with nothing else set; cases
// append their own lines below vendors.plivo and vendors.clevertap.
const minimalDoc = `kafka: {brokers: ["127.0.0.1:9092"]}
vendors:
  plivo:
    enabled: true
    auth_id: MA1
    auth_token: SECRET
PLIVO
  clevertap:
    enabled: true
    account_id: ACC
    passcode: SECRET
CLEVERTAP
`

func withVendors(plivo, clevertap string) string {
	return strings.NewReplacer("PLIVO", plivo, "CLEVERTAP", clevertap).Replace(minimalDoc)
}

// TestLoadConfigKeepsExplicitZeros: a zero the operator wrote, where zero
// is a valid setting, must survive loading; defaults fill only what the
// file and the environment leave out.
func TestLoadConfigKeepsExplicitZeros(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plivo     string // lines below vendors.plivo, indented 4
		clevertap string // lines below vendors.clevertap
		env       []string
		check     func(*daemon.Config) (got any, want any)
	}{
		{
			name:  "retry.randomization_factor: 0 in YAML",
			plivo: "    retry: {randomization_factor: 0}",
			check: func(c *daemon.Config) (any, any) {
				return daemon.Vendor[*plivo.Config](&c.Vendors).Retry.RandomizationFactor, 0.0
			},
		},
		{
			name: "retry.randomization_factor=0 from the environment",
			env:  []string{"ERASURED_VENDORS_PLIVO_RETRY_RANDOMIZATION_FACTOR=0"},
			check: func(c *daemon.Config) (any, any) {
				return daemon.Vendor[*plivo.Config](&c.Vendors).Retry.RandomizationFactor, 0.0
			},
		},
		{
			name:      "clevertap batch_wait: 0s in YAML (send at once)",
			clevertap: "    batch_wait: 0s",
			check: func(c *daemon.Config) (any, any) {
				return daemon.Vendor[*clevertap.Config](&c.Vendors).BatchWait, time.Duration(0)
			},
		},
		{
			name: "clevertap batch_wait=0s from the environment",
			env:  []string{"ERASURED_VENDORS_CLEVERTAP_BATCH_WAIT=0s"},
			check: func(c *daemon.Config) (any, any) {
				return daemon.Vendor[*clevertap.Config](&c.Vendors).BatchWait, time.Duration(0)
			},
		},
		{
			name:      "clevertap retry.randomization_factor: 0 beside other retry keys",
			clevertap: "    retry: {randomization_factor: 0.0, max_attempts: 3}",
			check: func(c *daemon.Config) (any, any) {
				r := daemon.Vendor[*clevertap.Config](&c.Vendors).Retry
				return [2]any{r.RandomizationFactor, r.MaxAttempts}, [2]any{0.0, 3}
			},
		},
		// Defaults still fill what is left out, section by section.
		{
			name:  "absent keys of a nested section keep their defaults",
			plivo: "    retry: {max_attempts: 3}",
			check: func(c *daemon.Config) (any, any) {
				r := daemon.Vendor[*plivo.Config](&c.Vendors).Retry
				return [3]any{r.MaxAttempts, r.RandomizationFactor, r.InitialInterval}, [3]any{3, 0.5, 250 * time.Millisecond}
			},
		},
		{
			name:  "a null section keeps its defaults",
			plivo: "    retry: ~",
			check: func(c *daemon.Config) (any, any) {
				return daemon.Vendor[*plivo.Config](&c.Vendors).Retry.RandomizationFactor, 0.5
			},
		},
		{
			name: "nothing said: defaults",
			check: func(c *daemon.Config) (any, any) {
				return daemon.Vendor[*clevertap.Config](&c.Vendors).BatchWait, 5 * time.Millisecond
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadDoc(t, withVendors(tt.plivo, tt.clevertap), tt.env...)
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if got, want := tt.check(cfg); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestLoadConfigRejectsInvalidZeros: a zero that is not a valid setting is
// an error naming the field, not silently the default.
func TestLoadConfigRejectsInvalidZeros(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		top       string // extra top-level YAML
		plivo     string
		clevertap string
		env       []string
		field     string
	}{
		{name: "kafka.max_in_flight", env: []string{"ERASURED_KAFKA_MAX_IN_FLIGHT=0"}, field: "kafka.max_in_flight"},
		{name: "kafka.commit_interval", env: []string{"ERASURED_KAFKA_COMMIT_INTERVAL=0s"}, field: "kafka.commit_interval"},
		{name: "kafka.topic", env: []string{"ERASURED_KAFKA_TOPIC="}, field: "kafka.topic"},
		{name: "dead_letter.write_timeout", top: "dead_letter: {write_timeout: 0s}", field: "dead_letter.write_timeout"},
		{name: "event.max_bytes", top: "event: {max_bytes: 0}", field: "event.max_bytes"},
		{name: "vendors.max_conns_per_vendor", env: []string{"ERASURED_VENDORS_MAX_CONNS_PER_VENDOR=0"}, field: "vendors.max_conns_per_vendor"},
		{name: "log.level", top: `log: {level: ""}`, field: "log.level"},
		{name: "http.listen", top: `http: {listen: ""}`, field: "http.listen"},
		{name: "shutdown_timeout", top: "shutdown_timeout: 0s", field: "shutdown_timeout"},
		{name: "retry.max_attempts", plivo: "    retry: {max_attempts: 0}", field: "vendors.plivo.retry.max_attempts"},
		{name: "retry.multiplier", plivo: "    retry: {multiplier: 0}", field: "vendors.plivo.retry.multiplier"},
		{name: "limit.decrease_factor", plivo: "    limit: {decrease_factor: 0}", field: "vendors.plivo.limit.decrease_factor"},
		{name: "limit.max_pause", plivo: "    limit: {max_pause: 0s}", field: "vendors.plivo.limit.max_pause"},
		{name: "plivo.base_url", plivo: `    base_url: ""`, field: "vendors.plivo.base_url"},
		{name: "plivo.profile_field", plivo: `    profile_field: ""`, field: "vendors.plivo.profile_field"},
		{name: "clevertap.batch_size", clevertap: "    batch_size: 0", field: "vendors.clevertap.batch_size"},
		{name: "clevertap.region", clevertap: `    region: ""`, field: "vendors.clevertap.region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadDoc(t, withVendors(tt.plivo, tt.clevertap)+tt.top+"\n", tt.env...)
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("LoadConfig = %v, want a FieldError on %s", err, tt.field)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
}

// TestLoadConfigVendorBaseURL: plain http to a vendor carries its
// credentials and the person's identifiers in the clear, so it is refused
// unless the host is this machine or the vendor's section opts in.
func TestLoadConfigVendorBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		plivo     string
		clevertap string
		field     string // "" when the configuration is valid
	}{
		{name: "https", plivo: "    base_url: https://api.plivo.com"},
		{name: "http to a remote host", plivo: "    base_url: http://api.plivo.com", field: "vendors.plivo.base_url"},
		{name: "http to a remote host with a path", clevertap: "    base_url: http://proxy.example.com/ct", field: "vendors.clevertap.base_url"},
		{name: "HTTP in upper case", plivo: "    base_url: HTTP://api.plivo.com", field: "vendors.plivo.base_url"},
		{name: "http to an IP that is not loopback", plivo: "    base_url: http://10.0.0.1:8080", field: "vendors.plivo.base_url"},
		{name: "http to a look-alike of localhost", plivo: "    base_url: http://localhost.example.com", field: "vendors.plivo.base_url"},
		{name: "http to 127.0.0.1", plivo: "    base_url: http://127.0.0.1:8080"},
		{name: "http to 127.1.2.3", plivo: "    base_url: http://127.1.2.3:8080"},
		{name: "http to localhost", plivo: "    base_url: http://localhost:8080"},
		{name: "http to LOCALHOST.", plivo: "    base_url: http://LOCALHOST.:8080"},
		{name: "http to ::1", clevertap: "    base_url: http://[::1]:8080/ct"},
		{name: "http allowed explicitly", plivo: "    base_url: http://api.plivo.com\n    allow_insecure_http: true"},
		{name: "http allowed for another vendor only", plivo: "    base_url: http://api.plivo.com", clevertap: "    allow_insecure_http: true", field: "vendors.plivo.base_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadDoc(t, withVendors(tt.plivo, tt.clevertap))
			if tt.field == "" {
				if err != nil {
					t.Fatalf("LoadConfig: %v", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("LoadConfig = %v, want a FieldError on %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), "allow_insecure_http") {
				t.Errorf("error does not say how to opt in: %v", err)
			}
		})
	}
}

// TestLoadConfigErrorsDoNotEchoSecrets: an error about a base URL or a
// secret reference says which field is wrong, never what it holds, since a
// pasted credential is the usual reason it is wrong.
func TestLoadConfigErrorsDoNotEchoSecrets(t *testing.T) {
	t.Parallel()
	const secret = "Zq9tok3nValue"
	tests := []struct {
		name      string
		plivo     string
		clevertap string
		field     string
	}{
		{name: "base_url with user and password", plivo: "    base_url: https://MAKEY:" + secret + "@api.plivo.com", field: "vendors.plivo.base_url"},
		{name: "base_url with a user only", plivo: "    base_url: https://" + secret + "@api.plivo.com", field: "vendors.plivo.base_url"},
		{name: "base_url with a query", plivo: "    base_url: https://api.plivo.com/?auth_token=" + secret, field: "vendors.plivo.base_url"},
		{name: "base_url with a fragment", clevertap: "    base_url: https://eu1.api.clevertap.com/#" + secret, field: "vendors.clevertap.base_url"},
		{name: "base_url that does not parse", plivo: "    base_url: https://MAKEY:" + secret + "/x@api.plivo.com", field: "vendors.plivo.base_url"},
		{name: "base_url with a bad port", plivo: "    base_url: https://api.plivo.com:" + secret, field: "vendors.plivo.base_url"},
		{name: "base_url with another scheme", clevertap: "    base_url: ftp://" + secret + ".example.com", field: "vendors.clevertap.base_url"},
		{name: "base_url with a path (host-only vendor)", plivo: "    base_url: https://api.plivo.com/" + secret, field: "vendors.plivo.base_url"},
		{name: "secret env naming the token itself", clevertap: "    passcode: {env: " + secret + "-with.dots}", field: "vendors.clevertap.passcode"},
		{name: "secret env that is a mixed-case word", clevertap: "    passcode: {env: " + secret + "}", field: "vendors.clevertap.passcode"},
		{name: "secret mapping with a value key", clevertap: "    passcode: {env: CT_PASSCODE, value: " + secret + "}", field: "vendors.clevertap.passcode"},
		{name: "secret mapping with the token as a key", clevertap: "    passcode: {env: CT_PASSCODE, " + secret + ": x}", field: "vendors.clevertap.passcode"},
		{name: "secret file that is the token", clevertap: "    passcode: {file: " + secret + "}", field: "vendors.clevertap.passcode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A later passcode key replaces the minimal one: strip it.
			doc := withVendors(tt.plivo, tt.clevertap)
			if strings.Contains(tt.clevertap, "passcode:") {
				doc = strings.Replace(doc, "    passcode: SECRET\n", "", 1)
			}
			_, err := loadDoc(t, doc, "CT_PASSCODE=pc")
			if err == nil {
				t.Fatal("LoadConfig accepted it")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "MAKEY") {
				t.Errorf("error echoes the value: %v", err)
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("LoadConfig = %v, want a FieldError on %s", err, tt.field)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("error does not wrap config.ErrInvalid: %v", err)
			}
		})
	}
}

// TestInsecureVendorWarnedAtStartup: a vendor allowed plain http to another
// host is named in one warning when the daemon is wired (and in
// check-config's notices); a loopback or https vendor is not, and the URL
// itself is not logged.
func TestInsecureVendorWarnedAtStartup(t *testing.T) {
	t.Parallel()
	cfg, err := loadDoc(t, withVendors(
		"    base_url: http://plivo-proxy.internal:8080\n    allow_insecure_http: true",
		"    base_url: http://127.0.0.1:9/ct\n    allow_insecure_http: true"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.InsecureVendors(); len(got) != 1 || got[0] != "plivo" {
		t.Fatalf("InsecureVendors = %v, want [plivo]", got)
	}
	var buf bytes.Buffer
	daemon.New(cfg, zerolog.New(&buf), nil, nil)
	var warnings []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := m["message"].(string); m["level"] == "warn" && strings.Contains(msg, "allow_insecure_http") {
			warnings = append(warnings, msg)
		}
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "vendors.plivo.base_url ") {
		t.Fatalf("warnings = %q, want one naming vendors.plivo", warnings)
	}
	if strings.Contains(buf.String(), "plivo-proxy") || strings.Contains(buf.String(), "127.0.0.1:9") {
		t.Errorf("the log holds a base URL: %s", buf.String())
	}
}

// TestDefaultConfigHoldsNoMaps: YAML replaces a default list but merges
// its keys into a default map, so a map default would survive a document
// that meant to replace it. Defaults for maps (exparams, say) must stay
// nil; a new map field with a default needs another design.
func TestDefaultConfigHoldsNoMaps(t *testing.T) {
	t.Parallel()
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Map:
			if !v.IsNil() {
				t.Errorf("%s: DefaultConfig sets a map", path)
			}
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i), path+"."+v.Type().Field(i).Name)
				}
			}
		}
	}
	walk(reflect.ValueOf(daemon.DefaultConfig()), "Config")
}

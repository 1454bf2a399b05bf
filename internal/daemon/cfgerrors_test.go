package daemon_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// errorLines is every error LoadConfig reported, one per line.
func errorLines(err error) []string {
	var out []string
	for _, e := range config.Flatten(err) {
		out = append(out, strings.Split(e.Error(), "\n")...)
	}
	return out
}

// TestLoadConfigErrorMessages: each message names the YAML path (or the
// variable), says what is expected, suggests the key meant, and names no
// Go type; every mistake is reported at once.
func TestLoadConfigErrorMessages(t *testing.T) {
	t.Parallel()
	misspelt := "ERASURED_KAFKA_MAX_INFLIGHT"
	tests := []struct {
		name string
		doc  string // below kafka:
		env  []string
		want []string // each must be a line of the report
	}{
		{"misspelt key", "  max_inflight: 5\n", nil, []string{"kafka.max_inflight (line 3): unknown key (did you mean max_in_flight?)"}},
		{"duration in words", "  commit_interval: 1 second\n", nil, []string{`kafka.commit_interval (line 3): "1 second" is not a duration (e.g. 1s, 500ms, 1m30s)`}},
		{"number for a duration", "  drain_timeout: 10\n", nil, []string{`kafka.drain_timeout (line 3): "10" is not a duration (e.g. 1s, 500ms, 1m30s); a number needs a unit`}},
		{"word for a number", "  max_in_flight: lots\n", nil, []string{`kafka.max_in_flight (line 3): "lots" is not a whole number`}},
		{"list for a section", "  sasl: [a]\n", nil, []string{"kafka.sasl (line 3): must be a section of keys (key: value lines), not a list"}},
		{"misspelt variable", "", []string{misspelt + "=5"}, []string{misspelt + ": unknown variable: it sets no configuration key (did you mean ERASURED_KAFKA_MAX_IN_FLIGHT?)"}},
		{"_FILE of a plain field", "", []string{"ERASURED_KAFKA_TOPIC_FILE=/t"}, []string{"ERASURED_KAFKA_TOPIC_FILE: unknown variable: only a secret has a _FILE form; set ERASURED_KAFKA_TOPIC itself"}},
		{"everything at once", "  max_inflight: 5\n  commit_interval: 1 second\n  start_offset: newest\n  max_in_flight: 0\n",
			[]string{misspelt + "=5", "ERASURED_LOG_LEVEL=loud", "ERASURED_VENDORS_PLIVO_AUTH_TOKEN_FILE=/nonexistent/plivo-token"},
			[]string{
				"kafka.max_inflight (line 3): unknown key (did you mean max_in_flight?)",
				`kafka.commit_interval (line 4): "1 second" is not a duration (e.g. 1s, 500ms, 1m30s)`,
				"vendors.plivo.auth_token: from ERASURED_VENDORS_PLIVO_AUTH_TOKEN_FILE: file /nonexistent/plivo-token: no such file or directory",
				misspelt + ": unknown variable: it sets no configuration key (did you mean ERASURED_KAFKA_MAX_IN_FLIGHT?)",
				`kafka.start_offset: must be earliest or latest, got "newest"`,
				"kafka.max_in_flight: must be in [1, 100000], got 0",
				`log.level: must be trace, debug, info, warn or error, got "loud"`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := strings.Replace(withVendors("", ""), "kafka: {brokers: [\"127.0.0.1:9092\"]}\n", "kafka:\n  brokers: [\"127.0.0.1:9092\"]\n"+tc.doc, 1)
			_, err := loadDoc(t, doc, tc.env...)
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %v does not wrap config.ErrInvalid", err)
			}
			got := errorLines(err)
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("report lacks the line\n\t%s\ngot:\n\t%s", w, strings.Join(got, "\n\t"))
				}
			}
			for _, bad := range []string{"time.Duration", "consumer.Config", "not found in type", "unmarshal", "!!str"} {
				if strings.Contains(err.Error(), bad) {
					t.Errorf("report names a Go type (%s):\n%v", bad, err)
				}
			}
		})
	}
}

// TestMissingSecretHidesNothing: a secret that cannot be read is one error
// among the others, on its field, and brings no "must be set" with it.
func TestMissingSecretHidesNothing(t *testing.T) {
	t.Parallel()
	doc := `kafka: {brokers: ["127.0.0.1:9092"], max_in_flight: 0}
vendors:
  plivo: {enabled: true, auth_id: MA1, auth_token: {file: /nonexistent/erasured/plivo-auth-token}}
http: {listen: ""}
`
	_, err := loadDoc(t, doc)
	want := []string{
		"vendors.plivo.auth_token (line 3): file /nonexistent/erasured/plivo-auth-token: no such file or directory",
		"kafka.max_in_flight: must be in [1, 100000], got 0",
		"http.listen: must be set, such as :9090",
	}
	if got := errorLines(err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("report:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Field != "vendors.plivo.auth_token" || !errors.Is(err, config.ErrInvalid) {
		t.Errorf("first error %#v, want a FieldError on vendors.plivo.auth_token", fe)
	}
}

// TestKnownEnvIsAccepted: every ERASURED_* variable named anywhere in the
// repository (README, manifests, scripts, Makefile, code and tests) is a
// configuration key or one of daemon.KnownEnv, so none is refused as
// unknown. config/ is left out (its tests use a configuration of their
// own), and so is this file, whose misspellings are deliberate.
func TestKnownEnvIsAccepted(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`ERASURED_[A-Z0-9_]*[A-Z0-9]`)
	names := map[string]bool{}
	root := "../.."
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "config" || n == "testdata" || n == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() == "cfgerrors_test.go" {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 1<<20 {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for line := range strings.Lines(string(b)) {
			if strings.Contains(line, "did you mean") {
				// An example of the error itself (docs/configuration.md):
				// its misspelling is deliberate.
				continue
			}
			for _, n := range re.FindAllString(line, -1) {
				names[n] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("found only %d names; is the walk rooted at the repository?", len(names))
	}
	for n := range names {
		_, err := loadDoc(t, withVendors("", ""), n+"=x")
		for _, line := range errorLines(err) {
			if strings.HasPrefix(line, n+": unknown variable") {
				t.Errorf("%s is named in the repository but refused: %s", n, line)
			}
		}
	}
}

// TestExampleConfigWithoutSecrets: deployments/erasured.example.yaml
// checks on a machine without /var/run/secrets, with SkipSecrets (as
// check-config -skip-secrets), and with the README's env overrides.
func TestExampleConfigWithoutSecrets(t *testing.T) {
	t.Parallel()
	const example = "../../deployments/erasured.example.yaml"
	if _, err := os.Stat("/var/run/secrets/erasured"); err == nil {
		t.Skip("this machine has /var/run/secrets/erasured")
	}
	t.Run("unread secrets are reported, each on its field", func(t *testing.T) {
		t.Parallel()
		_, err := daemon.LoadConfig(example, func() []string { return nil })
		got := errorLines(err)
		for _, f := range []string{"vendors.plivo.auth_token", "vendors.webex.token", "vendors.exotel.api_token", "vendors.clevertap.passcode"} {
			found := false
			for _, g := range got {
				found = found || strings.HasPrefix(g, f+" (line ")
			}
			if !found {
				t.Errorf("no error on %s:\n\t%s", f, strings.Join(got, "\n\t"))
			}
		}
		if len(got) != 4 {
			t.Errorf("%d errors, want the 4 secrets:\n\t%s", len(got), strings.Join(got, "\n\t"))
		}
	})
	t.Run("skip secrets", func(t *testing.T) {
		t.Parallel()
		cfg, err := daemon.LoadConfigWith(example, func() []string { return nil }, daemon.LoadOptions{SkipSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		if tok := daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthToken; !tok.Unread() || tok.Source() != "file /var/run/secrets/erasured/plivo-auth-token" {
			t.Errorf("plivo token: unread %v, from %q", tok.Unread(), tok.Source())
		}
	})
	t.Run("env overrides", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		tok := filepath.Join(dir, "exotel")
		if err := os.WriteFile(tok, []byte("exotel-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := daemon.LoadConfig(example, func() []string {
			return []string{
				"ERASURED_VENDORS_PLIVO_AUTH_TOKEN=plivo-token",
				"ERASURED_VENDORS_WEBEX_TOKEN=webex-token",
				"ERASURED_VENDORS_EXOTEL_API_TOKEN_FILE=" + tok,
				"CLEVERTAP_PASSCODE=passcode",
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthToken.Reveal() != "plivo-token" || daemon.Vendor[*exotel.Config](&cfg.Vendors).APIToken.Reveal() != "exotel-token" {
			t.Error("overrides not applied")
		}
	})
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters/clevertap"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/internal/daemon"
)

// checkConfigRun runs check-config in process with the process
// environment (callers set it with t.Setenv).
func checkConfigRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), append([]string{"check-config"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCheckConfigOutputLoadsBack: what check-config prints is a
// configuration LoadConfig accepts, secrets as their sources, and checking
// it again prints the same.
// Not parallel: check-config reads the process environment.
func TestCheckConfigOutputLoadsBack(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "plivo-token")
	if err := os.WriteFile(tok, []byte("plivo-s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "kafka: {brokers: [\"127.0.0.1:1\"]}\nvendors:\n  plivo: {enabled: true, auth_id: MA1, auth_token: {file: " + tok + "}}\n" +
		"  clevertap: {enabled: true, region: in1, account_id: ACC, passcode: {env: T_CC_PASSCODE}}\n"
	first := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(first, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("T_CC_PASSCODE", "cc-s3cret-value")
	t.Setenv("ERASURED_REPLAY_SIGNING_KEY", "s3cret-value-s3cret-value-s3cret-value")
	t.Setenv("ERASURED_KAFKA_MAX_IN_FLIGHT", "7")
	code, out, errOut := checkConfigRun(t, "-config", first)
	if code != exitOK {
		t.Fatalf("check-config: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"auth_token: {file: " + tok + "}",
		"passcode: {env: T_CC_PASSCODE}",
		"signing_key: {env: ERASURED_REPLAY_SIGNING_KEY}",
		"max_in_flight: 7",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "s3cret-value") || strings.Contains(out, "[redacted]") {
		t.Errorf("output shows a secret or a redaction:\n%s", out)
	}
	second := filepath.Join(dir, "printed.yaml")
	if err := os.WriteFile(second, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := daemon.LoadConfig(second, nil)
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, out)
	}
	if daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthToken.Reveal() != "plivo-s3cret-value" || daemon.Vendor[*clevertap.Config](&cfg.Vendors).Passcode.Reveal() != "cc-s3cret-value" || cfg.Kafka.MaxInFlight != 7 {
		t.Errorf("loaded back: plivo token from %s, passcode from %s, max_in_flight %d",
			daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthToken.Source(), daemon.Vendor[*clevertap.Config](&cfg.Vendors).Passcode.Source(), cfg.Kafka.MaxInFlight)
	}
	code, again, errOut := checkConfigRun(t, "-config", second)
	if code != exitOK || again != out {
		t.Errorf("check-config of its own output: exit %d, %s\nprinted:\n%s\nfirst:\n%s", code, errOut, again, out)
	}
}

// TestCheckConfigExample: deployments/erasured.example.yaml on a machine
// without /var/run/secrets: each unreadable secret is an error on its
// field, and -skip-secrets checks the rest.
// Not parallel: check-config reads the process environment.
func TestCheckConfigExample(t *testing.T) {
	const example = "../../deployments/erasured.example.yaml"
	if _, err := os.Stat("/var/run/secrets/erasured"); err == nil {
		t.Skip("this machine has /var/run/secrets/erasured")
	}
	code, _, errOut := checkConfigRun(t, "-config", example)
	if code != exitConfig {
		t.Errorf("exit %d, want %d", code, exitConfig)
	}
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	// lineOf is the line of the example that holds s, so that the test
	// follows the file as it grows.
	lineOf := func(s string) int {
		before, _, ok := strings.Cut(string(src), s)
		if !ok {
			t.Fatalf("the example has no %q", s)
		}
		return strings.Count(before, "\n") + 1
	}
	for _, want := range []string{
		fmt.Sprintf("erasured: vendors.plivo.auth_token (line %d): file /var/run/secrets/erasured/plivo-auth-token: no such file or directory\n", lineOf("plivo-auth-token}")),
		fmt.Sprintf("erasured: vendors.webex.token (line %d): file /var/run/secrets/erasured/webex-token: no such file or directory\n", lineOf("webex-token}")),
		fmt.Sprintf("erasured: vendors.exotel.api_token (line %d): file /var/run/secrets/erasured/exotel-api-token: no such file or directory\n", lineOf("exotel-api-token}")),
		fmt.Sprintf("erasured: vendors.clevertap.passcode (line %d): environment variable CLEVERTAP_PASSCODE is not set\n", lineOf("{env: CLEVERTAP_PASSCODE}")),
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	code, out, errOut := checkConfigRun(t, "-skip-secrets", "-config", example)
	if code != exitOK {
		t.Fatalf("-skip-secrets: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(out, "auth_token: {file: /var/run/secrets/erasured/plivo-auth-token}") || !strings.Contains(errOut, "notice: secrets were not read") {
		t.Errorf("-skip-secrets output:\n%s\nstderr:\n%s", out, errOut)
	}
}

// TestCheckConfigReportsEveryError: one line per mistake, each on its
// YAML path or variable; the examples.
// Not parallel: check-config reads the process environment.
func TestCheckConfigReportsEveryError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "erasured.yaml")
	doc := "kafka:\n  brokers: [\"127.0.0.1:1\"]\n  max_inflight: 5\n  commit_interval: 1 second\n" +
		"vendors:\n  plivo: {enabled: true, auth_id: MA1, auth_token: {file: /nonexistent/plivo}}\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	// Concatenated, so the scan in internal/daemon's
	// TestKnownEnvIsAccepted does not take the misspelling for a name in
	// use.
	misspelt := "ERASURED" + "_KAFKA_MAX_INFLIGHT"
	t.Setenv(misspelt, "3")
	code, out, errOut := checkConfigRun(t, "-config", p)
	want := "erasured: kafka.max_inflight (line 3): unknown key (did you mean max_in_flight?)\n" +
		"erasured: kafka.commit_interval (line 4): \"1 second\" is not a duration (e.g. 1s, 500ms, 1m30s)\n" +
		"erasured: " + misspelt + ": unknown variable: it sets no configuration key (did you mean ERASURED_KAFKA_MAX_IN_FLIGHT?)\n" +
		"erasured: vendors.plivo.auth_token (line 6): file /nonexistent/plivo: no such file or directory\n"
	if code != exitConfig || errOut != want || out != "" {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

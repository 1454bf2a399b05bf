package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/internal/devstack"
)

// TestMain lets the test binary run as the erasured binary, so the tests
// below can start, SIGTERM and kill -9 the real command without building
// it first.
func TestMain(m *testing.M) {
	if os.Getenv("ERASURED_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startProcess runs this test binary as erasured with args.
func startProcess(t *testing.T, env []string, args ...string) *devstack.Process {
	t.Helper()
	return devstack.StartProcess(t, os.Args[0], append(env, "ERASURED_TEST_RUN_MAIN=1"), args...)
}

// stackEnv returns a config file and environment that point the daemon at
// the stack.
func stackEnv(t *testing.T, s *devstack.Stack, extraYAML string) (string, []string) {
	t.Helper()
	return s.ProcessConfig(t, "erasured-test", extraYAML)
}

func produce(t *testing.T, s *devstack.Stack, w *devstack.Workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second*devstack.WaitScale())
	defer cancel()
	if err := devstack.Produce(ctx, s.Brokers, devstack.Topic, w.Records); err != nil {
		t.Fatal(err)
	}
}

func countPlivoDeleted(s *devstack.Stack, w *devstack.Workload) int {
	return s.CountDeleted(w, "plivo")
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	devstack.WaitUntil(t, timeout, what, cond)
}

func healthyKnobs(latency time.Duration) map[string]sandbox.Knobs {
	k := sandbox.Knobs{Latency: latency}
	return map[string]sandbox.Knobs{"plivo": k, "webex": k, "exotel": k, "clevertap": k}
}

// flakyExotelStack is a dev stack whose vendors answer after latency,
// Exotel failing failureRate of its requests: the kill tests' world,
// where parts are parked and the retry worker deletes them later.
func flakyExotelStack(t *testing.T, partitions int32, latency time.Duration, failureRate float64) *devstack.Stack {
	t.Helper()
	knobs := healthyKnobs(latency)
	knobs["exotel"] = sandbox.Knobs{Latency: latency, FailureRate: failureRate}
	s, err := devstack.Start(devstack.Options{Partitions: partitions, Knobs: knobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// TestKill9LosesNothing kills the daemon with SIGKILL at random points of a
// backlog, restarts it, and checks that every event still ends deleted,
// and that what is redone is bounded by what can be unfinished at a kill.
func TestKill9LosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	const partitions, inFlight, kills = 4, 16, 3
	// Every event takes at least the vendors' 50ms, so at most
	// partitions*inFlight events finish per 50ms, whatever the machine's
	// speed: that makes the redelivery bound below independent of it.
	s, err := devstack.Start(devstack.Options{Partitions: partitions, Knobs: healthyKnobs(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	w := devstack.NewWorkload(3000, 500, 12)
	produce(t, s, w)
	path, env := stackEnv(t, s, "")
	env = append(env, "ERASURED_KAFKA_COMMIT_INTERVAL=50ms")

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var progress []int
	for k := 0; k < kills; k++ {
		p := startProcess(t, env, "run", "-config", path)
		// Kill somewhere in the next quarter of the backlog.
		target := countPlivoDeleted(s, w) + 200 + rnd.IntN(len(w.Events)/4)
		waitUntil(t, 60*time.Second, fmt.Sprintf("%d deletions before kill %d", target, k+1), func() bool {
			return countPlivoDeleted(s, w) >= min(target, len(w.Events)-1)
		})
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Exited()
		progress = append(progress, countPlivoDeleted(s, w))
	}
	p := startProcess(t, env, "run", "-config", path)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second*devstack.WaitScale())
	defer cancel()
	acc, err := s.WaitComplete(ctx, w)
	if err != nil {
		t.Fatalf("%v; last output:\n%s", err, devstack.Tail(p.Output(), 20))
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	t.Logf("killed at plivo-deleted counts %v; %s", progress, acc)
	if acc.DeletedEverywhere != acc.Produced {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced)
	}
	// At a kill, what is redone is what was in flight plus what finished
	// since the last commit. Commits come every 50ms, and at most one
	// in-flight window finishes per 50ms, so per kill the redone events
	// are at most about two windows; three allows for a slow commit.
	if bound := kills * partitions * inFlight * 3; acc.Redelivered > bound {
		t.Errorf("redelivered %d events over %d kills, want at most %d", acc.Redelivered, kills, bound)
	}
}

// TestSIGTERMDrainsAndCommits stops the daemon mid-backlog with SIGTERM:
// it must exit 0 within the shutdown timeout, having finished and
// committed its in-flight events, so a successor redoes nothing.
func TestSIGTERMDrainsAndCommits(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s, err := devstack.Start(devstack.Options{Partitions: 2, Knobs: healthyKnobs(100 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	w := devstack.NewWorkload(600, 600, 0)
	produce(t, s, w)
	path, env := stackEnv(t, s, "")

	p := startProcess(t, env, "run", "-config", path)
	waitUntil(t, 60*time.Second, "some deletions", func() bool { return countPlivoDeleted(s, w) >= 50 })
	start := time.Now()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0; output:\n%s", code, devstack.Tail(p.Output(), 20))
	}
	stopped := countPlivoDeleted(s, w)
	t.Logf("stopped in %s with %d of %d deleted", time.Since(start).Round(time.Millisecond), stopped, len(w.Events))
	if stopped == len(w.Events) {
		t.Fatal("the backlog finished before SIGTERM; the test proves nothing")
	}
	out := p.Output()
	for _, want := range []string{"stopping: no new fetches", "left consumer group", "erasured stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// The member left the group: no member remains.
	if gi := s.Cluster.GroupInfo("erasured-test"); gi != nil && len(gi.Members) != 0 {
		t.Errorf("group still has %d members after a clean stop", len(gi.Members))
	}

	p2 := startProcess(t, env, "run", "-config", path)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second*devstack.WaitScale())
	defer cancel()
	acc, err := s.WaitComplete(ctx, w)
	if err != nil {
		t.Fatalf("%v; output:\n%s", err, devstack.Tail(p2.Output(), 20))
	}
	t.Logf("after restart: %s", acc)
	if acc.Redelivered != 0 {
		t.Errorf("%d events were redone after a graceful stop; in-flight work must finish and be committed", acc.Redelivered)
	}
}

func TestExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := "kafka: {brokers: [\"127.0.0.1:1\"]}\nvendors:\n  plivo: {enabled: true, auth_id: MA1, auth_token: {env: T_TOKEN}}\n"
	tests := []struct {
		name      string
		args      []string
		env       []string
		wantCode  int
		wantInOut string
	}{
		{"unknown command", []string{"frobnicate"}, nil, exitConfig, "unknown command"},
		{"missing file", []string{"check-config", "-config", filepath.Join(dir, "nope.yaml")}, nil, exitConfig, "no such file"},
		{"typo in key", []string{"check-config", "-config", write("typo.yaml", "kafka: {brokerz: [x]}\n")}, nil, exitConfig, "brokerz"},
		{"no vendor", []string{"check-config", "-config", write("novendor.yaml", "kafka: {brokers: [\"127.0.0.1:1\"]}\n")}, nil, exitConfig, "vendors"},
		{"literal secret", []string{"check-config", "-config", write("literal.yaml", "kafka: {brokers: [\"127.0.0.1:1\"]}\nvendors:\n  plivo: {enabled: true, auth_id: MA1, auth_token: hunter2}\n")}, nil, exitConfig, "not a literal"},
		{"missing secret env", []string{"check-config", "-config", write("good1.yaml", good)}, nil, exitConfig, "T_TOKEN"},
		{"bad env override", []string{"check-config", "-config", write("good2.yaml", good)}, []string{"T_TOKEN=s3cret-value", "ERASURED_KAFKA_MAX_IN_FLIGHT=lots"}, exitConfig, "kafka.max_in_flight"},
		{"valid, secret as its source", []string{"check-config", "-config", write("good3.yaml", good)}, []string{"T_TOKEN=s3cret-value"}, exitOK, "auth_token: {env: T_TOKEN}"},
		// A secret with a control character (here echo's newline) would
		// reach a vendor or the SCRAM library, whose SASLprep error quotes
		// it: refused at load, naming the field, quoting nothing.
		{"secret with a trailing newline", []string{"check-config", "-config", write("good4.yaml", good)}, []string{"T_TOKEN=s3cret-value\n"}, exitConfig, "vendors.plivo.auth_token"},
		{"SCRAM password with a trailing newline", []string{"check-config", "-config", write("scram.yaml", good+"  webex: {enabled: false}\n")},
			[]string{"T_TOKEN=t", "ERASURED_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "ERASURED_KAFKA_SASL_USERNAME=erasured", "ERASURED_KAFKA_SASL_PASSWORD=s3cret-value\n"}, exitConfig, "kafka.sasl.password"},
		{"secret flag refused", []string{"run", "-auth-token", "x"}, nil, exitConfig, "flag provided but not defined"},
		{"no replay key: said so", []string{"check-config", "-config", write("good4.yaml", good)}, []string{"T_TOKEN=s3cret-value"}, exitOK, "notice: replay.signing_key is not set"},
		{"replay key too short", []string{"check-config", "-config", write("good5.yaml", good)}, []string{"T_TOKEN=x", "ERASURED_REPLAY_SIGNING_KEY=s3cret-value"}, exitConfig, "replay.signing_key: shorter than 32 bytes"},
		{"previous key without a key", []string{"check-config", "-config", write("good6.yaml", good)}, []string{"T_TOKEN=x", "ERASURED_REPLAY_PREVIOUS_SIGNING_KEYS=s3cret-value"}, exitConfig, "replay.previous_signing_keys: set without signing_key"},
		{"plain http vendor refused", []string{"check-config", "-config", write("http1.yaml", good)}, []string{"T_TOKEN=x", "ERASURED_VENDORS_PLIVO_BASE_URL=http://plivo-proxy.internal"}, exitConfig, "vendors.plivo.base_url: plain http"},
		{"plain http vendor allowed, noticed", []string{"check-config", "-config", write("http2.yaml", good)},
			[]string{"T_TOKEN=x", "ERASURED_VENDORS_PLIVO_BASE_URL=http://plivo-proxy.internal", "ERASURED_VENDORS_PLIVO_ALLOW_INSECURE_HTTP=true"}, exitOK, "notice: vendors.plivo.base_url is plain http"},
		{"replay key set", []string{"check-config", "-config", write("good7.yaml", good)}, []string{"T_TOKEN=x", "ERASURED_REPLAY_SIGNING_KEY=s3cret-value-s3cret-value-s3cret-value"}, exitOK, "signing_key: {env: ERASURED_REPLAY_SIGNING_KEY}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProcess(t, tt.env, tt.args...)
			code := p.ExitCode(t, 20*time.Second)
			out := p.Output()
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; output:\n%s", code, tt.wantCode, out)
			}
			if !strings.Contains(out, tt.wantInOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantInOut, out)
			}
			if strings.Contains(out, "s3cret-value") {
				t.Errorf("output leaks the secret:\n%s", out)
			}
		})
	}
}

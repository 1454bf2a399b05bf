package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/devstack"
)

// deadLetterStack is a dev stack whose dead-letter topic holds n records
// that failed at vendor, and one invalid record.
func deadLetterStack(t *testing.T, n int, vendor string) *devstack.Stack {
	t.Helper()
	s, err := devstack.Start(devstack.Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	at := time.Now()
	msgs := make([]kafka.Message, 0, n+1)
	for i := range n {
		r := dlq.Record{
			Original: kafka.Message{Topic: devstack.Topic, Partition: i % 4, Offset: int64(i), Time: at,
				Key: []byte(fmt.Sprintf("user-%d", i)), Value: []byte(fmt.Sprintf(`{"event_id":"e-%d"}`, i))},
			EventID: fmt.Sprintf("e-%d", i), Reason: dlq.ReasonRetriesExhausted,
			Failures: []dlq.Failure{{Vendor: vendor, Class: "retryable", Status: 503, Attempts: 3}},
		}
		msgs = append(msgs, r.Message(at))
	}
	bad := dlq.Record{Original: kafka.Message{Topic: devstack.Topic, Key: []byte("poison"), Value: []byte("{")}, Reason: dlq.ReasonInvalidEvent, Detail: "value: not JSON"}
	msgs = append(msgs, bad.Message(at))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second*devstack.WaitScale())
	defer cancel()
	if err := devstack.Produce(ctx, s.Brokers, devstack.DLQTopic, msgs); err != nil {
		t.Fatal(err)
	}
	return s
}

// runCLI runs erasured in-process.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second*devstack.WaitScale())
	defer cancel()
	code := run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestReplayUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"replay", "-h"}, exitOK, "erasured replay"},
		{"inspect help", []string{"dlq", "inspect", "-h"}, exitOK, "erasured dlq inspect"},
		{"dlq without inspect", []string{"dlq"}, exitConfig, "usage: erasured dlq inspect"},
		{"unknown flag", []string{"replay", "-token", "x"}, exitConfig, "flag provided but not defined"},
		{"no brokers", []string{"replay", "-dry-run"}, exitConfig, "brokers"},
		{"bad output", []string{"replay", "-brokers", "k:1", "-output", "xml"}, exitConfig, "output"},
		{"bad from", []string{"replay", "-brokers", "k:1", "-from", "yesterday"}, exitConfig, "from"},
		{"vendor typo", []string{"replay", "-brokers", "k:1", "-vendor", "plvio"}, exitConfig, `unknown vendor "plvio"`},
		{"bad reason", []string{"replay", "-brokers", "k:1", "-reason", "oops"}, exitConfig, "reason"},
		{"bad class", []string{"replay", "-brokers", "k:1", "-class", "fatal"}, exitConfig, "class"},
		{"bad since", []string{"replay", "-brokers", "k:1", "-since", "soon"}, exitConfig, "since"},
		{"until before since", []string{"replay", "-brokers", "k:1", "-since", "2026-01-02", "-until", "2026-01-01"}, exitConfig, "until"},
		{"follow dry run", []string{"replay", "-brokers", "k:1", "-follow", "-dry-run"}, exitConfig, "follow"},
		{"replay into the dlq", []string{"replay", "-brokers", "k:1", "-topic", "user-deleted.dlq"}, exitConfig, "topic"},
		{"missing ids file", []string{"replay", "-brokers", "k:1", "-event-ids-file", "/nonexistent/ids"}, exitConfig, "event-ids-file"},
		{"stray argument", []string{"replay", "-brokers", "k:1", "now"}, exitConfig, "unexpected arguments"},
		// Its restrictions would be ignored: replay refuses to run.
		{"no signing key", []string{"replay", "-brokers", "k:1"}, exitConfig, "replay.signing_key: not set"},
		{"missing config", []string{"dlq", "inspect", "-config", "/nonexistent.yaml"}, exitConfig, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errOut)
			}
			if !strings.Contains(out+errOut, tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out, errOut)
			}
		})
	}
}

func TestReplayCLIDryRunThenReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("kfake")
	}
	// Not parallel: the signing key comes from the environment, as the
	// daemon's does.
	s := deadLetterStack(t, 30, "webex")
	t.Setenv("ERASURED_REPLAY_SIGNING_KEY", s.ReplayKey)
	brokers := strings.Join(s.Brokers, ",")

	// Inspect: every record, counts by vendor and reason; nothing changes.
	code, out, errOut := runCLI(t, "dlq", "inspect", "-brokers", brokers, "-count")
	if code != exitOK || !strings.Contains(out, "inspected 31 records") || !strings.Contains(out, "webex 30") || !strings.Contains(out, "invalid_event 1") {
		t.Fatalf("inspect: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "e-0") {
		t.Errorf("-count listed records:\n%s", out)
	}

	// Dry run as JSON lines, filtered to three event ids, parsed back.
	code, out, errOut = runCLI(t, "replay", "-brokers", brokers, "-dry-run", "-output", "json", "-event-id", "e-1,e-2,e-3")
	if code != exitOK {
		t.Fatalf("dry run: exit %d\n%s", code, errOut)
	}
	var ids []string
	var sum dlq.SummaryLine
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rl dlq.RecordLine
		if err := json.Unmarshal([]byte(line), &rl); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		switch rl.Type {
		case "record":
			ids = append(ids, rl.EventID)
			if rl.Action != dlq.ActionReplay || strings.Join(rl.Vendors, ",") != "webex" {
				t.Errorf("record %+v", rl)
			}
		case "summary":
			_ = json.Unmarshal([]byte(line), &sum)
		}
	}
	if len(ids) != 3 || sum.Replayed != 3 || sum.Skipped != 28 || sum.ByVendor["webex"] != 3 || sum.Mode != "dry-run" {
		t.Errorf("dry run listed %v, summary %+v", ids, sum.Summary)
	}
	if !strings.Contains(errOut, "dry run of replaying") {
		t.Errorf("stderr lacks the plan:\n%s", errOut)
	}

	// The replay, as a table.
	code, out, errOut = runCLI(t, "replay", "-brokers", brokers, "-rate", "0")
	if code != exitOK {
		t.Fatalf("replay: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"replayed 30 of 31 records", "refuse:invalid_event", "invalid_event 1", "webex 30"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "user-1") {
		t.Errorf("output shows a key:\n%s%s", out, errOut)
	}
	// Again: resumes at the end, replays nothing.
	if code, out, _ = runCLI(t, "replay", "-brokers", brokers); code != exitOK || !strings.Contains(out, "replayed 0 of 0 records") {
		t.Errorf("second replay: exit %d\n%s", code, out)
	}
	// An unknown target topic is a configuration error.
	if code, _, errOut = runCLI(t, "replay", "-brokers", brokers, "-topic", "nope"); code != exitConfig || !strings.Contains(errOut, "unknown topic") {
		t.Errorf("unknown topic: exit %d\n%s", code, errOut)
	}
}

// TestReplayCLIInterruptedResumes interrupts the binary with SIGINT in the
// middle of a rate-limited replay, and runs it again with the daemon's
// configuration file: it resumes, and every record is replayed.
func TestReplayCLIInterruptedResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	const n = 60
	s := deadLetterStack(t, n, "plivo")
	path, env := stackEnv(t, s, "")

	p := startProcess(t, env, "replay", "-config", path, "-rate", "40", "-output", "json")
	waitUntil(t, 30*time.Second, "some records replayed", func() bool { return strings.Count(p.Output(), `"action":"replay"`) >= 10 })
	if err := p.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.ExitCode(t, 30*time.Second); code != exitRuntime {
		t.Fatalf("exit %d after SIGINT, want %d; output:\n%s", code, exitRuntime, devstack.Tail(p.Output(), 10))
	}
	if !strings.Contains(p.Output(), "run the same command again to resume") {
		t.Errorf("no resume hint:\n%s", devstack.Tail(p.Output(), 5))
	}
	first := strings.Count(p.Output(), `"action":"replay"`)

	p2 := startProcess(t, env, "replay", "-config", path, "-rate", "0", "-output", "json")
	if code := p2.ExitCode(t, 60*time.Second); code != exitOK {
		t.Fatalf("second run: exit %d\n%s", code, devstack.Tail(p2.Output(), 10))
	}
	second := strings.Count(p2.Output(), `"action":"replay"`)
	t.Logf("interrupted after %d records, resumed with %d", first, second)
	if first == n || first+second < n {
		t.Errorf("first run %d + second run %d, want an interruption and at least %d in all", first, second, n)
	}

	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second*devstack.WaitScale())
	defer cancel()
	for part := range 4 {
		msgs, err := devstack.ReadAll(ctx, s.Brokers, devstack.Topic, part)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got[string(m.Value)]++
		}
	}
	for i := range n {
		if got[fmt.Sprintf(`{"event_id":"e-%d"}`, i)] == 0 {
			t.Errorf("e-%d never replayed", i)
		}
	}
}

// TestKnownVendorsPassTheNameRule: every vendor name -vendor accepts is
// one the daemon honours in a restriction and inspect reads back.
func TestKnownVendorsPassTheNameRule(t *testing.T) {
	t.Parallel()
	for _, n := range knownVendors(nil) {
		if !dlq.ValidVendorName(n) {
			t.Errorf("vendor %q fails dlq.ValidVendorName", n)
		}
	}
}

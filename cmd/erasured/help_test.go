package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestHelp runs every way of asking for help in-process: each prints its
// text on stdout and exits 0, and each text is the command's own.
func TestHelp(t *testing.T) {
	t.Parallel()
	commands := []string{"run", "dev", "check-config", "replay", "dlq inspect"}
	tests := []struct {
		name string
		args []string
		want []string // in stdout
		not  []string // not in stdout
	}{
		{"-h", []string{"-h"}, commands, []string{"Usage of"}},
		{"-help", []string{"-help"}, commands, nil},
		{"--help", []string{"--help"}, commands, nil},
		{"help", []string{"help"}, commands, nil},
		{"no arguments but help", []string{"help", "dev"}, []string{"usage: erasured dev", "-rate"}, nil},
		{"run -h", []string{"run", "-h"}, []string{"usage: erasured run", "-config", "-log-format", "-log-level"}, []string{"Usage of"}},
		{"run --help", []string{"run", "--help"}, []string{"usage: erasured run"}, nil},
		{"check-config -h", []string{"check-config", "-h"}, []string{"usage: erasured check-config", "-config"}, []string{"-log-format"}},
		{"dev -h", []string{"dev", "-h"}, []string{"usage: erasured dev", "-listen", "-kafka-port", "-partitions", "-rate", "-events", "-log-level", "-log-format", "-summary", "-webex-rps", "webex", "exotel", "clevertap", "plivo", "poison"}, nil},
		{"replay -h", []string{"replay", "-h"}, []string{"usage: erasured replay", "-dry-run", "replay goes to them only"}, nil},
		{"dlq -h", []string{"dlq", "-h"}, []string{"usage: erasured dlq inspect"}, nil},
		{"dlq inspect -h", []string{"dlq", "inspect", "-h"}, []string{"usage: erasured dlq inspect", "-count", "-vendor"}, []string{"replay goes to them", "refuse records"}},
		{"help dlq", []string{"help", "dlq"}, []string{"usage: erasured dlq inspect"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != exitOK {
				t.Errorf("exit code = %d, want 0; stderr:\n%s", code, stderr.String())
			}
			out := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("stdout has %q:\n%s", n, out)
				}
			}
		})
	}
}

// TestBadUsage keeps exit code 2 for what is not help, with the command's
// usage on stderr.
func TestBadUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"-frobnicate"}, "flag provided but not defined: -frobnicate"},
		{[]string{"help", "frobnicate"}, "unknown command"},
		{[]string{"dev", "-nope"}, "usage: erasured dev"},
		{[]string{"run", "-nope"}, "usage: erasured run"},
		{[]string{"dlq"}, "usage: erasured dlq inspect"},
		{[]string{"dlq", "inspect", "-nope"}, "usage: erasured dlq inspect"},
		{[]string{"dev", "-log-format", "xml"}, "log-format"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitConfig {
				t.Errorf("exit code = %d, want %d", code, exitConfig)
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr.String())
			}
		})
	}
}

// TestMakeTargets checks what make would run: `make run` builds the binary,
// saying so, then runs it (not `go run`, whose exit status on Ctrl-C is 1
// and makes make report an error), and `make ci` runs .ci/run.
func TestMakeTargets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dry := func(target string) string {
		out, err := exec.Command("make", "-s", "-n", "-C", "../..", target).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	runOut := dry("run")
	for _, want := range []string{"building erasured", "go build -o bin/erasured ./cmd/erasured", "bin/erasured dev"} {
		if !strings.Contains(runOut, want) {
			t.Errorf("make run lacks %q:\n%s", want, runOut)
		}
	}
	if strings.Contains(runOut, "go run") {
		t.Errorf("make run uses go run:\n%s", runOut)
	}
	if b, d := strings.Index(runOut, "go build"), strings.Index(runOut, "bin/erasured dev"); b > d {
		t.Errorf("make run runs before it builds:\n%s", runOut)
	}
	if ci := dry("ci"); !strings.Contains(ci, ".ci/run") {
		t.Errorf("make ci does not run .ci/run:\n%s", ci)
	}
}

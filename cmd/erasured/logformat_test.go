package main

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestLogFormat: console lines for a person at a terminal, JSON records for
// everything else, and -log-format / log.format to choose.
func TestLogFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format   string
		tty      bool
		wantJSON bool
	}{
		{"json", true, true},
		{"json", false, true},
		{"console", false, false},
		{"console", true, false},
		{"auto", true, false},
		{"auto", false, true},
		{"", true, false},
		{"", false, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		log := newLoggerTTY(&buf, "info", tt.format, tt.tty)
		log.Info().Str("vendor", "webex").Msg("hello")
		log.Debug().Msg("hidden at info")
		out := buf.String()
		var rec map[string]any
		isJSON := json.Unmarshal([]byte(out), &rec) == nil
		if isJSON != tt.wantJSON {
			t.Errorf("format %q tty %v: JSON = %v, want %v: %q", tt.format, tt.tty, isJSON, tt.wantJSON, out)
			continue
		}
		if strings.Contains(out, "hidden") {
			t.Errorf("format %q: debug line at info: %q", tt.format, out)
		}
		if !isJSON {
			plain := ansi.ReplaceAllString(out, "")
			if !strings.Contains(plain, "INF") || !strings.Contains(plain, "hello") || !strings.Contains(plain, "vendor=webex") {
				t.Errorf("format %q tty %v: console line %q", tt.format, tt.tty, out)
			}
			// Colour only on a terminal.
			if strings.Contains(out, "\x1b[") != (tt.tty && !noColorSet()) {
				t.Errorf("format %q tty %v: colour codes wrong in %q", tt.format, tt.tty, out)
			}
		}
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func noColorSet() bool {
	_, ok := os.LookupEnv("NO_COLOR")
	return ok
}

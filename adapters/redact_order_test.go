package adapters

import (
	"strings"
	"testing"
)

// TestRedactionOrderIsTheFunctions is issue 10 item 12: a short identifier
// that is part of a longer secret must not split it, in whatever order the
// caller lists them, in Redact and in Excerpt alike.
func TestRedactionOrderIsTheFunctions(t *testing.T) {
	t.Parallel()
	const token = "sk_live_ab12cd34ef56"
	const id = "cd34" // a short id inside the token
	text := "auth " + token + " rejected for " + id
	for _, order := range [][]string{{id, token}, {token, id}} {
		for name, got := range map[string]string{
			"Redact":  Redact(text, order...),
			"Excerpt": Excerpt([]byte(text), order...),
		} {
			if got != "auth [redacted] rejected for [redacted]" {
				t.Errorf("%s(%q) = %q", name, order, got)
			}
			for _, piece := range []string{"sk_live", "ab12", "ef56"} {
				if strings.Contains(got, piece) {
					t.Errorf("%s(%q) = %q leaves %q of the token", name, order, got, piece)
				}
			}
		}
	}
}

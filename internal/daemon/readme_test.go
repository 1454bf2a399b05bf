package daemon_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/internal/daemon"
)

// TestReadmeMinimalConfigLoads keeps README's "A minimal configuration"
// true: it loads with the daemon's own loader (its secret files replaced
// by temporary ones), enables the vendor it shows, and leaves check-config
// nothing to warn about.
func TestReadmeMinimalConfigLoads(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "## A minimal configuration")
	if !ok {
		t.Fatal(`README.md has no "## A minimal configuration" section`)
	}
	_, after, ok = strings.Cut(after, "```yaml\n")
	if !ok {
		t.Fatal("the section has no yaml block")
	}
	doc, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("the yaml block is not closed")
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "secret")
	if err := os.WriteFile(key, []byte(strings.Repeat("k", 48)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc = regexp.MustCompile(`\{file: [^}]+\}`).ReplaceAllString(doc, "{file: "+key+"}")
	path := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := daemon.LoadConfig(path, func() []string { return []string{"LOG_FINGERPRINT_KEY=" + strings.Repeat("f", 48)} })
	if err != nil {
		t.Fatalf("README's minimal configuration does not load: %v", err)
	}
	if !daemon.Vendor[*plivo.Config](&cfg.Vendors).Enabled {
		t.Error("plivo is not enabled")
	}
	if n := cfg.Notices(); len(n) > 0 {
		t.Errorf("check-config would say %q", n)
	}
}

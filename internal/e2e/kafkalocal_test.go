package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestKafkaLocalClusterID: the cluster ids scripts/kafka-local.sh formats
// its broker with are Kafka's form (16 bytes, unpadded URL-safe base64) and
// never start with '-', which the storage tool's argument parser takes for
// an option: "argument --cluster-id/-t: expected one argument", and the
// suite's broker never starts (a CI run failed so; one random id in 64
// starts with '-', so 300 draws find one 99% of the time). It needs only
// bash, not a broker.
func TestKafkaLocalClusterID(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	form := regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)
	seen := map[string]bool{}
	for range 300 {
		out, err := exec.Command("bash", "../../scripts/kafka-local.sh", "cluster-id").Output()
		if err != nil {
			t.Fatalf("kafka-local.sh cluster-id: %v", err)
		}
		id := strings.TrimSpace(string(out))
		if !form.MatchString(id) || strings.HasPrefix(id, "-") {
			t.Fatalf("cluster id %q: want 22 URL-safe base64 characters, not starting with '-'", id)
		}
		seen[id] = true
	}
	if len(seen) < 300 {
		t.Errorf("%d distinct ids in 300 draws: not random", len(seen))
	}
}

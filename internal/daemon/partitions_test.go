package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/internal/devstack"
)

// split cuts a poison-free workload in two at n.
func split(w *devstack.Workload, n int) (*devstack.Workload, *devstack.Workload) {
	return &devstack.Workload{Events: w.Events[:n], Records: w.Records[:n]},
		&devstack.Workload{Events: w.Events[n:], Records: w.Records[n:]}
}

// waitAssigned waits until m has logged n partition assignments.
func waitAssigned(t *testing.T, m *member, n int) {
	t.Helper()
	waitUntil(t, 60*time.Second, "the member to be assigned partitions", func() bool {
		return strings.Count(m.log.String(), "partitions assigned") >= n
	})
}

// TestLatestStartIsPinnedAcrossRestarts: with start_offset latest, the
// first member to hold a partition fixes where the group starts, even when
// it reads nothing there. A member that joins, idles and leaves, then
// records written while no member runs, then a new member: the new member
// must read those records, not resolve "latest" again past them.
func TestLatestStartIsPinnedAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	s := startStack(t, 2, fastKnobs())
	cfg := testConfig(s)
	cfg.Kafka.StartOffset = "latest"
	w := devstack.NewWorkload(60, 60, 0)
	before, during := split(w, 20)

	// Written before the group ever ran: latest skips them.
	produce(t, s, before)
	m1 := startMember(t, cfg)
	waitAssigned(t, m1, 1)
	m1.stop(t)
	t.Logf("after the first member left: committed offsets %d and %d", committed(s, 0), committed(s, 1))

	// Written while no member runs: owed deletions.
	produce(t, s, during)
	m2 := startMember(t, cfg)
	acc := waitComplete(t, s, during, 30*time.Second)
	if acc.DeletedEverywhere != len(during.Events) {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, len(during.Events))
	}
	if n := countDeleted(s, before, "plivo"); n != 0 {
		t.Errorf("%d events written before the group first ran were deleted; start_offset latest must skip them", n)
	}
	checkLagZero(t, m2)
}

package daemon_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/erasured/erasured/internal/devstack"
)

// split cuts a poison-free workload in two at n.
func split(w *devstack.Workload, n int) (*devstack.Workload, *devstack.Workload) {
	return &devstack.Workload{Events: w.Events[:n], Records: w.Records[:n]},
		&devstack.Workload{Events: w.Events[n:], Records: w.Records[n:]}
}

// waitAssigned waits until m's main consumer has logged n partition
// assignments (its retry workers log theirs too, in their own groups).
func waitAssigned(t *testing.T, m *member, n int) {
	t.Helper()
	waitUntil(t, 60*time.Second, "the member to be assigned partitions", func() bool {
		return mainAssignments(m.log.String()) >= n
	})
}

func mainAssignments(log string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"component":"consumer"`) && strings.Contains(l, "partitions assigned") {
			n++
		}
	}
	return n
}

// TestLatestStartIsPinnedAcrossRestarts: with start_offset latest, the
// first member to hold a partition fixes where the group starts, even when
// it reads nothing there. A member that joins, idles and leaves, then
// records written while no member runs, then a new member: the new member
// must read those records, not resolve "latest" again past them.
func TestLatestStartIsPinnedAcrossRestarts(t *testing.T) {
	t.Parallel()
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

// TestNewPartitionsAreConsumed adds partitions to the topic while the
// group runs and writes to them at once: the group must pick them up
// without any other rebalance and read them from their first record, with
// either start_offset (a partition that did not exist when the group
// started has no backlog to skip; everything in it is owed). With two
// members, one of them is assigned only new partitions, so it must learn
// from the group's commits elsewhere that the group has started.
func TestNewPartitionsAreConsumed(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, tc := range []struct {
		start   string
		members int
	}{{"earliest", 1}, {"latest", 1}, {"latest", 2}} {
		t.Run(fmt.Sprintf("%s/%d members", tc.start, tc.members), func(t *testing.T) {
			s := startStack(t, 2, fastKnobs())
			cfg := testConfig(s)
			cfg.Kafka.StartOffset = tc.start
			cfg.Kafka.PartitionWatchInterval = 2 * time.Second
			w := devstack.NewWorkload(80, 80, 0)
			first, fresh := split(w, 20)

			var ms []*member
			for i := range tc.members {
				ms = append(ms, startMember(t, cfg))
				// Each join is one more generation for those already in.
				for j, m := range ms {
					waitAssigned(t, m, i-j+1)
				}
			}
			assignments := func() int {
				n := 0
				for _, m := range ms {
					n += mainAssignments(m.log.String())
				}
				return n
			}
			before := assignments()
			produce(t, s, first)
			waitComplete(t, s, first, 30*time.Second)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second*devstack.WaitScale())
			defer cancel()
			if err := devstack.AddPartitions(ctx, s.Brokers, devstack.Topic, 4); err != nil {
				t.Fatal(err)
			}
			for i, p := range []int{2, 3} {
				half := fresh.Records[i*30 : (i+1)*30]
				if err := devstack.ProduceToPartition(ctx, s.Brokers, devstack.Topic, p, half); err != nil {
					t.Fatal(err)
				}
			}
			if assignments() > before {
				t.Logf("the group rebalanced before the new partitions' records were all written: the test does not show they are read from the start")
			}

			acc := waitComplete(t, s, fresh, 60*time.Second)
			if acc.DeletedEverywhere != len(fresh.Events) {
				t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, len(fresh.Events))
			}
			waitUntil(t, 30*time.Second, "the commits of the new partitions to reach their ends", func() bool {
				return committed(s, 2) == 30 && committed(s, 3) == 30
			})
			t.Logf("%d generations joined in all", assignments())
		})
	}
}

// TestPartitionsAddedDuringAssignment adds partitions in the instant after
// the group's leader read the topic to assign it and before the
// generation starts. Every member's kafka-go watcher then takes the new
// count as its baseline and never sees a change; the leader must compare
// with what it assigned, or the new partitions wait for an unrelated
// rebalance.
func TestPartitionsAddedDuringAssignment(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s := startStack(t, 2, fastKnobs())
	cfg := testConfig(s)
	cfg.Kafka.PartitionWatchInterval = time.Second
	added := make(chan error, 1)
	// The leader sends SyncGroup after it assigned the partitions it read;
	// hold the first one until the topic has grown.
	s.Cluster.ControlKey(kmsg.SyncGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		s.Cluster.DropControl()
		done := make(chan struct{})
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second*devstack.WaitScale())
			defer cancel()
			added <- devstack.AddPartitions(ctx, s.Brokers, devstack.Topic, 4)
			close(done)
		}()
		s.Cluster.SleepControl(func() { <-done })
		return nil, nil, false
	})
	m := startMember(t, cfg)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	waitAssigned(t, m, 1)
	w := devstack.NewWorkload(60, 60, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second*devstack.WaitScale())
	defer cancel()
	for i, p := range []int{2, 3} {
		if err := devstack.ProduceToPartition(ctx, s.Brokers, devstack.Topic, p, w.Records[i*30:(i+1)*30]); err != nil {
			t.Fatal(err)
		}
	}
	acc := waitComplete(t, s, w, 30*time.Second)
	if acc.DeletedEverywhere != len(w.Events) {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, len(w.Events))
	}
	t.Logf("%d generations joined", mainAssignments(m.log.String()))
}

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/internal/devstack"
)

// 8. Partitions added mid-run: the running daemon picks them up within one
// partition_watch_interval, without any other rebalance, and reads them
// from their first record with either start_offset: what was written to
// a new partition before the daemon saw it is owed, never skipped.
func TestPartitionsAddedMidRun(t *testing.T) {
	for _, start := range []string{"earliest", "latest"} {
		t.Run(start, func(t *testing.T) {
			s := newSuite(t, suiteOptions{partitions: 2, env: []string{
				"ERASURED_KAFKA_START_OFFSET=" + start,
				"ERASURED_KAFKA_PARTITION_WATCH_INTERVAL=2s",
			}})
			w := devstack.NewWorkload(400, 400, 0)
			first := &devstack.Workload{Events: w.Events[:100], Records: w.Records[:100]}
			fresh := &devstack.Workload{Events: w.Events[100:], Records: w.Records[100:]}

			p := s.start()
			waitUntil(t, 120*time.Second, "the daemon to be assigned its partitions", func() bool {
				return mainAssignments(p.Output()) > 0
			})
			s.produce(first)
			s.waitComplete(first, 2*time.Minute, p)

			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := devstack.AddPartitions(ctx, s.addrs, s.stack.Topic, 4); err != nil {
				t.Fatal(err)
			}
			s.partitions = 4
			for i, part := range []int{2, 3} {
				half := fresh.Records[i*150 : (i+1)*150]
				if err := devstack.ProduceToPartition(ctx, s.addrs, s.stack.Topic, part, half); err != nil {
					t.Fatal(err)
				}
			}
			acc := s.waitComplete(fresh, 2*time.Minute, p)
			s.waitLagZero(60 * time.Second)
			t.Logf("counted: %s", acc)
			for _, l := range strings.Split(p.Output(), "\n") {
				if strings.Contains(l, "partitions assigned") || strings.Contains(l, "partitions revoked") || strings.Contains(l, "start offsets committed") || strings.Contains(l, "\"warn\"") || strings.Contains(l, "\"error\"") || strings.Contains(l, "circuit") {
					t.Log(l)
				}
			}
			if acc.DeletedEverywhere != acc.Produced {
				t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced)
			}
			if offs := groupOffsets(t, s.addrs, s.group, s.stack.Topic, 4); offs[2] != 150 || offs[3] != 150 {
				t.Errorf("committed offsets of the new partitions = %d, %d; want 150, 150", offs[2], offs[3])
			}
			s.stop(p)
		})
	}
}

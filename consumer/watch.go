package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// countingBalancer is a kafka-go group balancer that notes, on the member
// elected leader, how many partitions of the topic it assigned.
type countingBalancer struct {
	kafka.GroupBalancer
	c *Consumer
}

func (b countingBalancer) AssignGroups(members []kafka.GroupMember, partitions []kafka.Partition) kafka.GroupMemberAssignments {
	n := 0
	for _, p := range partitions {
		if p.Topic == b.c.cfg.Topic {
			n++
		}
	}
	b.c.assignedCount.Store(int64(n) + 1)
	return b.GroupBalancer.AssignGroups(members, partitions)
}

// watchAssignedCount runs on the leader for one generation: it reads the
// topic's partition count every PartitionWatchInterval and ends the
// generation, so the group rebalances, when it differs from the count the
// leader assigned.
//
// kafka-go's own watcher (WatchPartitionChanges) takes its baseline when
// the generation starts, after the leader read the topic: a partition
// added in between is in every member's baseline and in no assignment,
// and waits for an unrelated rebalance. The leader knows what it assigned.
// A count noted in an earlier, failed join can only be lower than the
// topic's; it costs one needless rebalance.
func (g *generation) watchAssignedCount(root, genCtx context.Context, assigned int) {
	c := g.c
	t := time.NewTicker(c.cfg.PartitionWatchInterval)
	defer t.Stop()
	var conn *kafka.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-genCtx.Done():
			return
		case <-root.Done():
			return
		case <-t.C:
		}
		n, err := c.partitionCount(genCtx, &conn)
		if err != nil {
			// Not this watcher's business: kafka-go's ends the generation
			// when the brokers cannot be reached.
			c.log.Debug().Err(err).Msg("reading the topic's partition count")
			continue
		}
		if n != assigned {
			c.log.Info().Int("partitions", n).Int("assigned", assigned).
				Msg("the topic's partition count differs from what this member assigned as the group's leader; rebalancing")
			return
		}
	}
}

// partitionCount returns how many partitions the topic has, asking over
// *conn, which it opens when nil and drops after a failure.
func (c *Consumer) partitionCount(ctx context.Context, conn **kafka.Conn) (int, error) {
	if *conn == nil {
		d := c.dialer
		if d == nil {
			d = &kafka.Dialer{Timeout: c.cfg.RequestTimeout, DualStack: true}
		}
		var err error
		for _, b := range c.cfg.Brokers {
			if *conn, err = d.DialContext(ctx, "tcp", b); err == nil {
				break
			}
		}
		if *conn == nil {
			return 0, fmt.Errorf("dialing the brokers: %w", err)
		}
	}
	if err := (*conn).SetDeadline(time.Now().Add(c.cfg.RequestTimeout)); err != nil {
		return 0, err
	}
	ps, err := (*conn).ReadPartitions(c.cfg.Topic)
	if err != nil {
		(*conn).Close()
		*conn = nil
		return 0, fmt.Errorf("reading the topic's partitions: %w", err)
	}
	return len(ps), nil
}

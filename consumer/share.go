package consumer

import (
	"context"

	"github.com/segmentio/kafka-go"
)

// OnShare sets f to hear, at each generation's start, how many partitions
// of the main topic this member was assigned and how many the topic has,
// so a deployment-wide budget can be split by share (the daemon gives each
// vendor limiter assigned/total). Call it before Run. A generation with no
// partition, or whose partition count cannot be read, is not reported: the
// last share stands.
func (c *Consumer) OnShare(f func(assigned, total int)) { c.onShare = f }

func (g *generation) reportShare(ctx context.Context, assigned int) {
	c := g.c
	if c.onShare == nil || assigned == 0 {
		return
	}
	var conn *kafka.Conn
	n, err := c.partitionCount(ctx, &conn)
	if conn != nil {
		conn.Close()
	}
	if err != nil || n == 0 {
		c.log.Debug().Err(err).Msg("reading the topic's partition count for this member's share")
		return
	}
	c.onShare(min(assigned, n), n)
}

package devstack

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// ProduceToPartition writes records to one partition of topic,
// synchronously, acks from all replicas: tests that add partitions use it
// to put records where a member has not looked yet.
func ProduceToPartition(ctx context.Context, brokers []string, topic string, partition int, records []kafka.Message) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond, BatchSize: 500,
		Balancer: kafka.BalancerFunc(func(_ kafka.Message, partitions ...int) int {
			for _, p := range partitions {
				if p == partition {
					return p
				}
			}
			// Not (yet) in the writer's metadata: the write fails below
			// rather than landing on another partition.
			return -1
		}),
		// Its own transport: the shared default caches metadata, and a
		// partition added a moment ago would look unknown.
		Transport: &kafka.Transport{},
	}
	defer w.Close()
	for i := 0; i < len(records); i += 500 {
		if err := w.WriteMessages(ctx, records[i:min(i+500, len(records))]...); err != nil {
			return fmt.Errorf("producing records %d.. to partition %d: %w", i, partition, err)
		}
	}
	return nil
}

// AddPartitions grows topic to count partitions and waits until each has a
// leader.
func AddPartitions(ctx context.Context, brokers []string, topic string, count int) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second, Transport: &kafka.Transport{IdleTimeout: time.Second}}
	resp, err := client.CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: int32(count)}},
	})
	if err != nil {
		return fmt.Errorf("adding partitions to %s: %w", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		return fmt.Errorf("adding partitions to %s: %w", topic, err)
	}
	for {
		// A connection per look: a transport would answer from its
		// metadata cache.
		if conn, err := kafka.DialContext(ctx, "tcp", brokers[0]); err == nil {
			ps, err := conn.ReadPartitions(topic)
			conn.Close()
			led := 0
			for _, p := range ps {
				if p.Leader.Host != "" {
					led++
				}
			}
			if err == nil && len(ps) == count && led == count {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d led partitions of %s: %w", count, topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Command kafkawait is the Go half of scripts/kafka-local.sh: it speaks the
// Kafka protocol through the same client library the daemon uses
// (segmentio/kafka-go), so "ready" means "ready for kafka-go", not merely
// "a TCP port is open".
//
// Usage:
//
//	kafkawait probe        -brokers ADDR [-timeout 3s]
//	kafkawait wait         -brokers ADDR [-timeout 90s]
//	kafkawait create-topic -brokers ADDR -topic NAME -partitions N [-replication 1] [-timeout 30s]
//	kafkawait apiversions  -brokers ADDR [-timeout 5s]
//
// Exit status 0 on success, 1 on failure (reason on stderr), 2 on bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:19092", "bootstrap broker host:port")
	var timeout time.Duration
	var err error
	switch cmd {
	case "probe":
		fs.DurationVar(&timeout, "timeout", 3*time.Second, "deadline for the single attempt")
		_ = fs.Parse(args)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		err = probe(ctx, client(*brokers, timeout))
	case "wait":
		fs.DurationVar(&timeout, "timeout", 90*time.Second, "give up after this long")
		_ = fs.Parse(args)
		err = wait(*brokers, timeout)
	case "create-topic":
		topic := fs.String("topic", "", "topic name")
		partitions := fs.Int("partitions", 0, "number of partitions")
		replication := fs.Int("replication", 1, "replication factor")
		fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
		_ = fs.Parse(args)
		if *topic == "" || *partitions < 1 {
			fmt.Fprintln(os.Stderr, "create-topic needs -topic and -partitions >= 1")
			os.Exit(2)
		}
		err = createTopic(*brokers, *topic, *partitions, *replication, timeout)
	case "apiversions":
		fs.DurationVar(&timeout, "timeout", 5*time.Second, "deadline")
		_ = fs.Parse(args)
		err = apiVersions(*brokers, timeout)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kafkawait %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kafkawait probe|wait|create-topic|apiversions -brokers HOST:PORT [flags]")
	os.Exit(2)
}

func client(addr string, timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(addr), Timeout: timeout}
}

// probe succeeds once the broker serves metadata that lists at least one
// broker and the group coordinator answers. Asking for a coordinator makes a
// KRaft broker create __consumer_offsets, so the first consumer group a test
// starts afterwards does not have to ride out COORDINATOR_NOT_AVAILABLE.
func probe(ctx context.Context, c *kafka.Client) error {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if len(md.Brokers) == 0 {
		return errors.New("metadata lists no brokers yet")
	}
	fc, err := c.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{
		Key:     "kafka-local-readiness-probe",
		KeyType: kafka.CoordinatorKeyTypeConsumer,
	})
	if err != nil {
		return fmt.Errorf("find coordinator: %w", err)
	}
	if fc.Error != nil {
		return fmt.Errorf("find coordinator: %w", fc.Error)
	}
	if fc.Coordinator == nil {
		return errors.New("find coordinator: no coordinator in response")
	}
	return nil
}

func wait(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		last = probe(ctx, client(addr, 3*time.Second))
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %v", addr, timeout, last)
}

// createTopic is idempotent: an existing topic with the requested partition
// count is success, one with a different count is an error (silently reusing
// it would make partition-sensitive tests lie).
func createTopic(addr, topic string, partitions, replication int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c := client(addr, timeout)
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{
		Topic:             topic,
		NumPartitions:     partitions,
		ReplicationFactor: replication,
	}}})
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	if terr := resp.Errors[topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %q: %w", topic, terr)
	}
	// CreateTopics returns before every partition has an elected leader;
	// wait for that so a producer started right after does not see
	// LEADER_NOT_AVAILABLE.
	for {
		n, ready, err := topicState(ctx, c, topic)
		switch {
		case err == nil && n != 0 && n != partitions:
			return fmt.Errorf("topic %q already exists with %d partitions, want %d", topic, n, partitions)
		case err == nil && ready:
			fmt.Printf("topic %s: %d partitions ready\n", topic, n)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topic %q partitions not ready after %s (last error: %v)", topic, timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func topicState(ctx context.Context, c *kafka.Client, topic string) (partitions int, ready bool, err error) {
	md, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, false, err
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return 0, false, t.Error
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.ID < 0 || p.Leader.Host == "" {
				return len(t.Partitions), false, nil
			}
		}
		return len(t.Partitions), len(t.Partitions) > 0, nil
	}
	return 0, false, fmt.Errorf("topic %q not in metadata", topic)
}

// connVersions lists the API versions that kafka-go's Conn (used by
// ConsumerGroup, Reader and the legacy Conn API) can send: for each API, at
// least one of these must be in the broker's [min,max] range. The protocol
// package (Client, Writer, Transport) negotiates the full range on its own.
var connVersions = map[int][]int{
	0:  {2, 3, 7},  // Produce (Conn.WriteMessages)
	1:  {2, 5, 10}, // Fetch (Reader)
	2:  {1},        // ListOffsets (Reader, Conn.ReadOffset)
	3:  {1, 6},     // Metadata
	8:  {2},        // OffsetCommit (Generation.CommitOffsets)
	9:  {1},        // OffsetFetch (Generation start offsets)
	10: {0},        // FindCoordinator
	11: {1, 2},     // JoinGroup
	12: {0},        // Heartbeat
	13: {0},        // LeaveGroup
	14: {0},        // SyncGroup
	18: {0},        // ApiVersions (sent on every new Conn)
}

// apiVersions prints the broker's ranges and flags any API that kafka-go's
// Conn would have no usable version for, which is how a Kafka upgrade that
// drops old protocol versions (KIP-896) shows up before a test hangs.
func apiVersions(addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := client(addr, timeout).ApiVersions(ctx, &kafka.ApiVersionsRequest{Addr: kafka.TCP(addr)})
	if err != nil {
		return err
	}
	if resp.Error != nil {
		return resp.Error
	}
	have := map[int]kafka.ApiVersionsResponseApiKey{}
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = k
	}
	keys := make([]int, 0, len(connVersions))
	for k := range connVersions {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var bad []string
	for _, k := range keys {
		b, ok := have[k]
		status := "ok"
		if !ok || !anyIn(connVersions[k], b.MinVersion, b.MaxVersion) {
			status = "UNSUPPORTED"
			bad = append(bad, fmt.Sprintf("api %d (%s)", k, b.ApiName))
		}
		fmt.Printf("api %2d %-16s broker v%d..v%d  kafka-go Conn uses %v  %s\n",
			k, b.ApiName, b.MinVersion, b.MaxVersion, connVersions[k], status)
	}
	if len(bad) > 0 {
		return fmt.Errorf("broker %s lacks versions kafka-go needs: %v", addr, bad)
	}
	return nil
}

func anyIn(vs []int, lo, hi int) bool {
	for _, v := range vs {
		if v >= lo && v <= hi {
			return true
		}
	}
	return false
}

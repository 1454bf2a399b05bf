// Package e2e is the reliability suite against a real Apache Kafka: the
// erasured binary, the vendor sandboxes, and a broker that is either the
// one KAFKA_BROKERS names (make test-kafka starts a local KRaft broker from
// Maven Central jars) or, where a Docker engine answers, one started with
// testcontainers. With neither, every test skips and says why.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/receipt"
	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
)

var (
	// binary is the erasured binary built for the suite.
	binary string

	buildOnce sync.Once
	buildErr  error
	buildDir  string

	containerOnce sync.Once
	container     *tckafka.KafkaContainer
	containerErr  error
	containerAddr []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if container != nil {
		_ = testcontainers.TerminateContainer(container)
	}
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildBinary builds erasured once, only when some test has a broker.
func buildBinary(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "erasured-e2e")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "erasured")
		build := exec.Command("go", "build", "-o", binary, "./cmd/erasured")
		build.Dir = "../.."
		out, err := build.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building erasured: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// brokers returns the suite's Kafka, or skips the test with the reason.
func brokers(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("real-Kafka suite: skipped with -short")
	}
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		buildBinary(t)
		var out []string
		for _, b := range strings.Split(env, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
		return out
	}
	// No broker named: try Docker. SkipIfProviderIsNotHealthy skips, with
	// its reason, where no Docker engine answers.
	testcontainers.SkipIfProviderIsNotHealthy(t)
	containerOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		container, containerErr = tckafka.Run(ctx, "confluentinc/confluent-local:7.5.0", tckafka.WithClusterID("erasured-e2e"))
		if containerErr == nil {
			containerAddr, containerErr = container.Brokers(ctx)
		}
	})
	if containerErr != nil {
		t.Fatalf("starting Kafka with testcontainers: %v", containerErr)
	}
	buildBinary(t)
	return containerAddr
}

// localScript returns the kafka-local.sh that runs the suite's broker, or
// skips: only a broker the suite controls can be restarted.
func localScript(t *testing.T) string {
	t.Helper()
	s := os.Getenv("ERASURED_KAFKA_LOCAL_SCRIPT")
	if s == "" {
		t.Skip("broker restart needs the broker started by scripts/kafka-local.sh (make test-kafka sets ERASURED_KAFKA_LOCAL_SCRIPT)")
	}
	return s
}

// uniqueName returns a topic or group name no other run uses, so the suite
// can run against a shared cluster.
func uniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// createTopics creates topic with partitions and its dead-letter topic with
// one partition, replication factor 1 (or the cluster default when it
// refuses 1), and waits until both have leaders.
func createTopics(t *testing.T, addrs []string, topic string, partitions int, dlqTopic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := newClient(addrs)
	topics := []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1},
		{Topic: dlqTopic, NumPartitions: 1, ReplicationFactor: -1},
		// The receipts topic: the daemon refuses to start without it.
		{Topic: receipt.TopicFor(topic), NumPartitions: partitions, ReplicationFactor: -1},
	}
	// The vendors' retry topics: the daemon refuses to start without them.
	for _, rt := range devstack.RetryTopics(topic) {
		topics = append(topics, kafka.TopicConfig{Topic: rt, NumPartitions: partitions, ReplicationFactor: -1})
	}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			t.Fatalf("creating topic %s: %v", name, err)
		}
	}
	waitForLeaders(t, addrs, topic, partitions)
	waitForLeaders(t, addrs, dlqTopic, 1)
	waitForLeaders(t, addrs, receipt.TopicFor(topic), partitions)
	for _, rt := range devstack.RetryTopics(topic) {
		waitForLeaders(t, addrs, rt, partitions)
	}
}

func waitForLeaders(t *testing.T, addrs []string, topic string, partitions int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := kafka.Dial("tcp", addrs[0])
		if err == nil {
			ps, err := conn.ReadPartitions(topic)
			conn.Close()
			ok := err == nil && len(ps) == partitions
			for _, p := range ps {
				ok = ok && p.Leader.Host != ""
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s has no leaders for its %d partitions after 60s", topic, partitions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func deleteTopic(t *testing.T, addrs []string, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := newClient(addrs)
	resp, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatalf("deleting %s: %v", topic, err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("deleting %s: %v", topic, err)
	}
}

// groupOffsets returns the group's committed offset per partition (-1 for
// none).
func groupOffsets(t *testing.T, addrs []string, group, topic string, partitions int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := newClient(addrs)
	ps := make([]int, partitions)
	for i := range ps {
		ps[i] = i
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: ps}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// endOffsets returns each partition's end offset.
func endOffsets(t *testing.T, addrs []string, topic string, partitions int) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	for p := range partitions {
		conn, err := kafka.DialLeader(context.Background(), "tcp", addrs[0], topic, p)
		if err != nil {
			t.Fatalf("dial leader of %s/%d: %v", topic, p, err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, p, err)
		}
		out[p] = last
	}
	return out
}

// lag is the group's total lag on topic.
func lag(t *testing.T, addrs []string, group, topic string, partitions int) int64 {
	t.Helper()
	ends := endOffsets(t, addrs, topic, partitions)
	committed := groupOffsets(t, addrs, group, topic, partitions)
	var total int64
	for p, end := range ends {
		c := committed[p]
		if c < 0 {
			c = 0
		}
		total += end - c
	}
	return total
}

// newClient returns an admin client with its own transport: kafka-go's
// default transport pools connections across clients, and after a broker
// restart every pooled connection is dead.
func newClient(addrs []string) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 30 * time.Second, Transport: &kafka.Transport{IdleTimeout: time.Second}}
}

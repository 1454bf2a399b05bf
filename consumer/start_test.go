package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestGroupHasCommits: a member assigned only partitions without a commit
// (say, partitions just added) must still see that its group has started
// when another partition has a commit, or start_offset latest would skip
// what the new partitions already hold.
func TestGroupHasCommits(t *testing.T) {
	t.Parallel()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "events"), kfake.SeedTopics(1, "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	client := &kafka.Client{Addr: kafka.TCP(cluster.ListenAddrs()...), Timeout: 10 * time.Second, Transport: &kafka.Transport{}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	commit := func(group, topic string, partition int, offset int64) {
		t.Helper()
		// A commit outside any generation, as an admin tool makes it.
		resp, err := client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1,
			Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: partition, Offset: offset}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range resp.Topics[topic] {
			if p.Error != nil {
				t.Fatal(p.Error)
			}
		}
	}
	commit("started", "events", 3, 0)
	commit("elsewhere", "other", 0, 5)

	for _, tc := range []struct {
		group string
		want  bool
	}{
		{"started", true},    // a commit on the last partition only
		{"new", false},       // no commit at all
		{"elsewhere", false}, // commits on another topic do not count
	} {
		got, err := groupHasCommits(ctx, client, tc.group, "events")
		if err != nil {
			t.Fatalf("%s: %v", tc.group, err)
		}
		if got != tc.want {
			t.Errorf("group %s: groupHasCommits = %v, want %v", tc.group, got, tc.want)
		}
	}
	if _, err := groupHasCommits(ctx, client, "started", "no-such-topic"); err == nil {
		t.Error("groupHasCommits on a missing topic: no error")
	}
}

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/retrytopic"
)

// TestKill9WhileRetryWorkersRun is issue 11's proof 3 for the retry
// workers: Exotel's parts of a workload are parked on its retry topic,
// Exotel fails 30% of its requests, and the daemon is killed with SIGKILL
// at random points while its Exotel retry worker calls, reschedules and
// commits. After the last restart every parked part is deleted at Exotel
// (at least once), nothing is dead-lettered, and the retry group's
// commits reach the end of the retry topic: none lost.
func TestKill9WhileRetryWorkersRun(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	const partitions, n, users, kills = 3, 400, 100, 3
	s := flakyExotelStack(t, partitions, 5*time.Millisecond, 0.3)
	w := devstack.NewWorkload(n, users, 0)
	if err := s.Park(context.Background(), w, "exotel", time.Now()); err != nil {
		t.Fatal(err)
	}
	path, env := stackEnv(t, s, "")
	env = append(env, "ERASURED_KAFKA_COMMIT_INTERVAL=50ms",
		"ERASURED_VENDORS_EXOTEL_RETRY_SCHEDULE=50ms,100ms",
		// Half of all requests failing keeps a breaker open most of the
		// time; this test is about kills, so Exotel runs without one.
		"ERASURED_VENDORS_EXOTEL_BREAKER_ENABLED=false")

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	deleted := func() int { return s.CountDeleted(w, "exotel") }
	var at []int
	for k := range kills {
		p := startProcess(t, env, "run", "-config", path)
		target := deleted() + 10 + rnd.IntN(n/5)
		waitUntil(t, 90*time.Second, fmt.Sprintf("%d Exotel deletions before kill %d", target, k+1), func() bool {
			return deleted() >= min(target, n-1)
		})
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Exited()
		at = append(at, deleted())
	}
	p := startProcess(t, env, "run", "-config", path)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("deleted %d of %d; last output:\n%s", deleted(), n, devstack.Tail(p.Output(), 40))
		}
	})
	waitUntil(t, 120*time.Second, "every parked part deleted at Exotel", func() bool { return deleted() == n })
	topic, group := retrytopic.TopicFor(s.Topic, "exotel"), retrytopic.GroupFor("erasured-test", "exotel")
	var records, committed int
	waitUntil(t, 60*time.Second, "the retry group's commits at the end of the retry topic", func() bool {
		records, committed = 0, 0
		gi := s.Cluster.GroupInfo(group)
		for part := range partitions {
			recs, err := devstack.ReadAll(context.Background(), s.Brokers, topic, part)
			if err != nil || gi == nil {
				return false
			}
			records += len(recs)
			c, ok := gi.Commits[topic][int32(part)]
			if !ok || c.Offset != int64(len(recs)) {
				return false
			}
			committed += int(c.Offset)
		}
		return true
	})
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	dls, err := devstack.ReadAll(context.Background(), s.Brokers, s.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 0 {
		t.Errorf("%d dead-letter records; a part owed for less than give_up_after must stay parked, not be dead-lettered", len(dls))
	}
	again := 0
	for _, ev := range w.Events {
		if s.Sandbox("exotel").Ledger.Calls(devstack.VendorIDs(ev)["exotel"]) > 1 {
			again++
		}
	}
	others := s.Sandbox("plivo").Ledger.Requests() + s.Sandbox("webex").Ledger.Requests() + s.Sandbox("clevertap").Ledger.Requests()
	if others != 0 {
		t.Errorf("%d requests to other vendors; only Exotel's parts were parked", others)
	}
	t.Logf("killed at Exotel-deleted counts %v; %d of %d parked parts deleted at Exotel (%d called more than once), %d Exotel requests, statuses %v; retry topic %d records, %d committed; 0 dead-lettered; other vendors' requests %d",
		at, deleted(), n, again, s.Sandbox("exotel").Ledger.Requests(), s.Sandbox("exotel").Ledger.Statuses(), records, committed, others)
}

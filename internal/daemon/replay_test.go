package daemon_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters/clevertap"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
)

// outageStack runs a stack where down refuses erasured's credentials
// (401) for everything, so that every event is dead-lettered with
// permanent_error listing down alone. (A vendor answering 503 is an outage,
// whose parts are parked on its retry topic, not dead-lettered: see
// TestVendorDownParksItsParts.)
func outageStack(t *testing.T, down string, n int) (*devstack.Stack, *devstack.Workload, *daemon.Config) {
	t.Helper()
	knobs := map[string]sandbox.Knobs{"plivo": {}, "webex": {}, "exotel": {}, "clevertap": {}}
	knobs[down] = sandbox.Knobs{Force: "401"}
	s := startStack(t, 4, knobs)
	w := devstack.NewWorkload(n, n, 0)
	produce(t, s, w)
	cfg := testConfig(s)
	short, breaker := &daemon.Vendor[*webex.Config](&cfg.Vendors).Retry, &daemon.Vendor[*webex.Config](&cfg.Vendors).Breaker
	switch down {
	case "plivo":
		short, breaker = &daemon.Vendor[*plivo.Config](&cfg.Vendors).Retry, &daemon.Vendor[*plivo.Config](&cfg.Vendors).Breaker
	case "exotel":
		short, breaker = &daemon.Vendor[*exotel.Config](&cfg.Vendors).Retry, &daemon.Vendor[*exotel.Config](&cfg.Vendors).Breaker
	case "clevertap":
		short, breaker = &daemon.Vendor[*clevertap.Config](&cfg.Vendors).Retry, &daemon.Vendor[*clevertap.Config](&cfg.Vendors).Breaker
	}
	short.InitialInterval, short.MaxInterval, short.MaxAttempts = 10*time.Millisecond, 20*time.Millisecond, 3
	// These tests count each event's requests to the down vendor, which
	// its circuit breaker exists to stop: with it, a replay during the
	// outage is refused without a request, and one just after it waits
	// out the cooldown, longer than these 3 quick attempts. The breaker
	// in an outage and after is TestDownVendorGetsOnlyProbes.
	breaker.Enabled = false
	return s, w, cfg
}

// vendorCalls snapshots, per vendor and event, how many requests named
// the event's id.
func vendorCalls(s *devstack.Stack, w *devstack.Workload) map[string][]int {
	out := map[string][]int{}
	for vendor, l := range s.Ledgers() {
		calls := make([]int, len(w.Events))
		for i, ev := range w.Events {
			calls[i] = l.Calls(devstack.VendorIDs(ev)[vendor])
		}
		out[vendor] = calls
	}
	return out
}

// deadLetters reads the dead-letter topic.
func deadLetters(t *testing.T, s *devstack.Stack) []kafka.Message {
	t.Helper()
	dls, err := devstack.ReadAll(context.Background(), s.Brokers, devstack.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	return dls
}

// waitAllDeadLettered waits until every event has a dead-letter record
// with replay count want, listing down alone.
func waitAllDeadLettered(t *testing.T, s *devstack.Stack, w *devstack.Workload, down, replays string) {
	t.Helper()
	waitUntil(t, 90*time.Second, "every event dead-lettered for "+down+" with replay count "+replays, func() bool {
		seen := map[string]bool{}
		for _, m := range deadLetters(t, s) {
			if c, _ := dlq.Header(m.Headers, dlq.HeaderReplayCount); c != replays {
				continue
			}
			if v, _ := dlq.Header(m.Headers, dlq.HeaderFailedVendors); v != down {
				t.Fatalf("dead-letter record lists %q, want %s alone", v, down)
			}
			id, _ := dlq.Header(m.Headers, dlq.HeaderEventID)
			seen[id] = true
		}
		return len(seen) == len(w.Events)
	})
}

// replay runs dlq.Replayer against the stack.
func replay(t *testing.T, s *devstack.Stack, mod func(*dlq.ReplayConfig)) dlq.Summary {
	t.Helper()
	cfg := dlq.DefaultReplayConfig()
	cfg.Brokers, cfg.DeadLetterTopic, cfg.Topic = s.Brokers, devstack.DLQTopic, devstack.Topic
	cfg.HeartbeatInterval, cfg.SessionTimeout, cfg.RebalanceTimeout = 300*time.Millisecond, 6*time.Second, 6*time.Second
	cfg.Keys = s.ReplayKeys()
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var w dlq.Writer
	if !cfg.DryRun {
		kw := dlq.NewReplayWriter(cfg, nil)
		defer kw.Close()
		w = kw
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second*devstack.WaitScale())
	defer cancel()
	sum, err := dlq.NewReplayer(cfg, w, nil, nil, dlq.NewReport(dlq.ReportOptions{Out: &out, Records: true})).Run(ctx)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	return sum
}

// waitMainTopicCommitted waits until the daemon has committed the end of
// every partition of the main topic: every replayed record is finished.
func waitMainTopicCommitted(t *testing.T, s *devstack.Stack, partitions int32) {
	t.Helper()
	waitUntil(t, 90*time.Second, "the daemon to finish the replayed records", func() bool {
		for p := range partitions {
			pi := s.Cluster.PartitionInfo(devstack.Topic, p)
			if pi == nil || committed(s, p) != pi.HighWatermark {
				return false
			}
		}
		return true
	})
}

// TestReplayAfterVendorOutage is the SRE's story: Webex is down, every
// event is dead-lettered listing Webex alone; Webex comes back; a dry run
// shows the plan, the replay republishes, and the daemon deletes every
// event at Webex while Plivo, Exotel and CleverTap are not called again.
func TestReplayAfterVendorOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	const n = 200
	s, w, cfg := outageStack(t, "webex", n)
	m := startMember(t, cfg)
	waitAllDeadLettered(t, s, w, "webex", "0")
	if d := countDeleted(s, w, "webex"); d != 0 {
		t.Fatalf("webex deleted %d during its outage", d)
	}
	for _, v := range []string{"plivo", "exotel", "clevertap"} {
		if d := countDeleted(s, w, v); d != n {
			t.Fatalf("%s deleted %d of %d during webex's outage", v, d, n)
		}
	}
	// Once everything is committed, no redelivery adds dead letters after
	// they are counted.
	waitUntil(t, 60*time.Second, "every event committed", func() bool { return committedAll(s, 4) == int64(len(w.Records)) })
	dlqBefore := len(deadLetters(t, s))
	before := vendorCalls(s, w)

	s.Sandbox("webex").Chaos.Set(sandbox.Knobs{}) // the outage ends

	dry := replay(t, s, func(c *dlq.ReplayConfig) { c.DryRun = true })
	if dry.Replayed != dlqBefore || dry.ByVendor["webex"] != dlqBefore || len(dry.ByVendor) != 1 {
		t.Fatalf("dry run: would replay %d (%v), want %d, to webex alone", dry.Replayed, dry.ByVendor, dlqBefore)
	}
	if c := committed(s, 0); c < 0 {
		t.Fatalf("no daemon commits")
	}
	if gi := s.Cluster.GroupInfo("erasured-replay"); gi != nil && len(gi.Commits) > 0 {
		t.Fatal("the dry run committed offsets")
	}

	sum := replay(t, s, func(c *dlq.ReplayConfig) { c.Rate = 500 })
	t.Logf("replay: read %d, replayed %d in %.1fs", sum.Read, sum.Replayed, sum.Seconds)
	if sum.Replayed != dlqBefore || !sum.Complete {
		t.Fatalf("replayed %d of %d dead-letter records (complete %v)", sum.Replayed, dlqBefore, sum.Complete)
	}
	waitUntil(t, 90*time.Second, "webex to delete every event", func() bool { return countDeleted(s, w, "webex") == n })
	waitMainTopicCommitted(t, s, 4)

	after := vendorCalls(s, w)
	for _, v := range []string{"plivo", "exotel", "clevertap"} {
		extra := 0
		for i := range w.Events {
			extra += after[v][i] - before[v][i]
		}
		if extra != 0 {
			t.Errorf("%s got %d more requests after the replay; only webex may be called again", v, extra)
		}
	}
	if got := len(deadLetters(t, s)); got != dlqBefore {
		t.Errorf("dead-letter topic grew from %d to %d records after the replay", dlqBefore, got)
	}
	// A second replay finds nothing new.
	if again := replay(t, s, nil); again.Read != 0 {
		t.Errorf("second replay read %d records, want 0", again.Read)
	}
	m.stop(t)
}

// TestReplayWhileVendorStillDown replays while the outage goes on: the
// daemon dead-letters the replayed records again, carrying the replay
// count, still for the failed vendor alone, and calls no other vendor;
// a replay past -max-replays refuses them.
func TestReplayWhileVendorStillDown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	const n = 40
	s, w, cfg := outageStack(t, "exotel", n)
	startMember(t, cfg)
	waitAllDeadLettered(t, s, w, "exotel", "0")
	before := vendorCalls(s, w)

	if sum := replay(t, s, nil); sum.Replayed != n {
		t.Fatalf("replayed %d, want %d", sum.Replayed, n)
	}
	waitAllDeadLettered(t, s, w, "exotel", "1")
	after := vendorCalls(s, w)
	for _, v := range []string{"plivo", "webex", "clevertap"} {
		for i := range w.Events {
			if after[v][i] != before[v][i] {
				t.Fatalf("%s called again for event %d (%d -> %d)", v, i, before[v][i], after[v][i])
			}
		}
	}
	for i := range w.Events {
		if after["exotel"][i] <= before["exotel"][i] {
			t.Fatalf("exotel not called again for event %d", i)
		}
	}

	// The group resumes after the first n records: it reads the n new
	// ones, each replayed once already; with -max-replays 1 all are
	// refused and nothing is written.
	sum := replay(t, s, func(c *dlq.ReplayConfig) { c.MaxReplays = 1 })
	if sum.Read != n || sum.Replayed != 0 || sum.Refused[dlq.RefuseMaxReplays] != n {
		t.Errorf("max-replays 1: read %d, replayed %d, refused %v; want %d read, all refused", sum.Read, sum.Replayed, sum.Refused, n)
	}
}

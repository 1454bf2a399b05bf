package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/receipt"
)

// suite is one test's world: its own topics and group on the broker, the
// four sandboxes, and a configuration for the binary.
type suite struct {
	t          *testing.T
	addrs      []string
	partitions int
	stack      *devstack.Stack
	group      string
	path       string
	env        []string
}

type suiteOptions struct {
	partitions int
	knobs      map[string]sandbox.Knobs
	wrap       func(string, http.Handler) http.Handler
	env        []string
}

func newSuite(t *testing.T, o suiteOptions) *suite {
	t.Helper()
	addrs := brokers(t)
	topic := uniqueName("user-deleted")
	dlqTopic := topic + ".dlq"
	createTopics(t, addrs, topic, o.partitions, dlqTopic)
	if o.knobs == nil {
		o.knobs = healthy(0)
	}
	st, err := devstack.Start(devstack.Options{Brokers: addrs, Topic: topic, DLQTopic: dlqTopic, Knobs: o.knobs, Wrap: o.wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	s := &suite{t: t, addrs: addrs, partitions: o.partitions, stack: st, group: uniqueName("erasured")}
	s.path, s.env = st.ProcessConfig(t, s.group, "")
	s.env = append(s.env, o.env...)
	return s
}

func healthy(latency time.Duration) map[string]sandbox.Knobs {
	k := sandbox.Knobs{Latency: latency}
	return map[string]sandbox.Knobs{"plivo": k, "webex": k, "exotel": k, "clevertap": k}
}

func (s *suite) start() *devstack.Process {
	s.t.Helper()
	return devstack.StartProcess(s.t, binary, s.env, "run", "-config", s.path)
}

func (s *suite) produce(w *devstack.Workload) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := devstack.Produce(ctx, s.addrs, s.stack.Topic, w.Records); err != nil {
		s.t.Fatal(err)
	}
}

func (s *suite) waitComplete(w *devstack.Workload, timeout time.Duration, p *devstack.Process) devstack.Account {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout*devstack.WaitScale())
	defer cancel()
	acc, err := s.stack.WaitComplete(ctx, w)
	if err != nil {
		out := ""
		if p != nil {
			out = devstack.Tail(p.Output(), 30)
		}
		s.t.Fatalf("%v\nlast output:\n%s", err, out)
	}
	return acc
}

func (s *suite) waitLagZero(timeout time.Duration) {
	s.t.Helper()
	waitUntil(s.t, timeout, "consumer group lag 0", func() bool {
		return lag(s.t, s.addrs, s.group, s.stack.Topic, s.partitions) == 0
	})
}

// stop sends SIGTERM and expects a clean exit.
func (s *suite) stop(p *devstack.Process) {
	s.t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	if code := p.ExitCode(s.t, 30*time.Second); code != 0 {
		s.t.Errorf("exit code after SIGTERM = %d, want 0; output:\n%s", code, devstack.Tail(p.Output(), 20))
	}
}

func (s *suite) plivoDeleted(w *devstack.Workload) int { return s.stack.CountDeleted(w, "plivo") }

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	devstack.WaitUntil(t, timeout, what, cond)
}

// 1. Ten thousand events over eight partitions, some poison: every event
// is deleted everywhere or dead-lettered, and the group's lag reaches 0.
func TestTenThousandEventsAllAccounted(t *testing.T) {
	s := newSuite(t, suiteOptions{partitions: 8})
	w := devstack.NewWorkload(10000, 2000, 30)
	s.produce(w)
	start := time.Now()
	p := s.start()
	acc := s.waitComplete(w, 5*time.Minute, p)
	took := time.Since(start)
	s.waitLagZero(60 * time.Second)
	t.Logf("counted: %s; %.0f events/s to completion (%s)", acc, float64(acc.Produced)/took.Seconds(), took.Round(time.Millisecond))
	if acc.DeletedEverywhere != acc.Produced {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced)
	}
	if got := acc.DeadLettered[dlq.ReasonInvalidEvent]; got != w.PoisonCount() {
		t.Errorf("invalid events dead-lettered = %d, want %d", got, w.PoisonCount())
	}
	s.stop(p)
}

// 2. kill -9 at random points, restart: nothing lost, redone work bounded.
// Issue 12's proof 3 too: Plivo dead-letters every 20th event (its
// primary profile) and Exotel fails half its requests, so parts are
// parked and its retry worker deletes them later: receipts of every
// outcome are being written at each kill. After each kill, no committed
// event lacks a receipt and no receipt claims a deletion the sandbox did
// not perform; at the end receipts and sandboxes agree exactly.
func TestKill9AtRandomPoints(t *testing.T) {
	const partitions, inFlight, kills = 4, 16, 3
	// Every event takes at least 50ms at the vendors, so at most
	// partitions*inFlight events finish per 50ms whatever the machine's
	// speed, which makes the redelivery bound independent of it.
	knobs := healthy(50 * time.Millisecond)
	knobs["exotel"] = sandbox.Knobs{Latency: 50 * time.Millisecond, FailureRate: 0.5}
	s := newSuite(t, suiteOptions{partitions: partitions, knobs: knobs,
		env: []string{"ERASURED_KAFKA_COMMIT_INTERVAL=50ms",
			// About three tries inline, then parked; the retry
			// worker's waits keep parts parked while kills come.
			"ERASURED_VENDORS_EXOTEL_RETRY_INLINE_BUDGET=200ms",
			"ERASURED_VENDORS_EXOTEL_RETRY_SCHEDULE=300ms,600ms",
			// Half of all requests failing would keep a breaker open.
			"ERASURED_VENDORS_EXOTEL_BREAKER_ENABLED=false"}})
	w := devstack.NewWorkload(4000, 800, 12)
	primaries, err := w.NamePrimary(20)
	if err != nil {
		t.Fatal(err)
	}
	s.produce(w)
	seed := devstack.KillSeed(t)
	t.Logf("seed %d (KILL_SEED=%d replays these kill points)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 11))
	var at []int
	seen := map[receipt.Outcome]int{}
	for k := range kills {
		p := s.start()
		target := min(s.plivoDeleted(w)+200+rnd.IntN(len(w.Events)/5), len(w.Events)-primaries-1)
		waitUntil(t, 120*time.Second, fmt.Sprintf("%d deletions before kill %d", target, k+1), func() bool {
			return s.plivoDeleted(w) >= target
		})
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Exited()
		at = append(at, s.plivoDeleted(w))
		for _, c := range s.auditAfterKill(k+1, w).Counts {
			for o, n := range c {
				seen[o] += n
			}
		}
	}
	p := s.start()
	acc := s.waitComplete(w, 5*time.Minute, p)
	settled := s.waitSettled(w, 5*time.Minute, p)
	s.waitLagZero(60 * time.Second)
	s.stop(p)
	t.Logf("killed at plivo-deleted counts %v; counted: %s; receipts seen at the kills %v; settled: %s", at, acc, seen, settled)
	if seen[receipt.Parked] == 0 || seen[receipt.DeadLettered] == 0 {
		t.Errorf("receipts seen at the kills %v: want parked and dead_lettered among them", seen)
	}
	if settled.Counts["plivo"][receipt.DeadLettered] != primaries {
		t.Errorf("plivo dead-lettered %d, want %d (the primary profiles)", settled.Counts["plivo"][receipt.DeadLettered], primaries)
	}
	// Settled: every part the vendors can delete is deleted.
	if d := s.stack.CountDeleted(w, "plivo") + primaries; d != acc.Produced || s.stack.CountDeleted(w, "exotel") != acc.Produced {
		t.Errorf("deleted at plivo %d (+%d primary profiles), at exotel %d; want %d", d-primaries, primaries, s.stack.CountDeleted(w, "exotel"), acc.Produced)
	}
	// What a kill makes the successor redo: the in-flight window plus what
	// finished since the last commit (50ms, at most one window); three
	// windows per kill allow for a slow commit.
	if bound := kills * partitions * inFlight * 3; acc.Redelivered > bound {
		t.Errorf("redelivered %d events over %d kills, want at most %d", acc.Redelivered, kills, bound)
	}
}

// 3. Rebalance: one member, two more join mid-stream, one leaves: nothing
// lost, per-user order kept.
func TestRebalanceJoinAndLeave(t *testing.T) {
	order := devstack.NewOrderRecorder()
	s := newSuite(t, suiteOptions{partitions: 6, knobs: healthy(20 * time.Millisecond), wrap: order.Wrap,
		env: []string{"ERASURED_KAFKA_MAX_IN_FLIGHT=2"}})
	w := devstack.NewWorkload(4000, 400, 0)
	s.produce(w)
	p1 := s.start()
	waitUntil(t, 120*time.Second, "progress by the first member", func() bool { return s.plivoDeleted(w) >= 400 })
	p2, p3 := s.start(), s.start()
	waitUntil(t, 120*time.Second, "progress after the join", func() bool { return s.plivoDeleted(w) >= 2000 })
	s.stop(p1)
	acc := s.waitComplete(w, 5*time.Minute, p2)
	s.waitLagZero(60 * time.Second)
	n, err := order.Check(w)
	if err != nil {
		t.Error(err)
	}
	joined := []int{}
	for _, p := range []*devstack.Process{p1, p2, p3} {
		joined = append(joined, mainAssignments(p.Output()))
	}
	t.Logf("counted: %s; order held for %d events; generations joined per member %v", acc, n, joined)
	if acc.DeletedEverywhere != acc.Produced {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced)
	}
	if joined[1] == 0 || joined[2] == 0 {
		t.Error("a joining member never got partitions")
	}
	s.stop(p2)
	s.stop(p3)
}

// 4. Broker restart mid-stream: the daemon reconnects by itself, loses
// nothing and does not exit.
func TestBrokerRestart(t *testing.T) {
	script := localScript(t)
	s := newSuite(t, suiteOptions{partitions: 4, knobs: healthy(20 * time.Millisecond)})
	w := devstack.NewWorkload(3000, 600, 0)
	s.produce(w)
	p := s.start()
	waitUntil(t, 120*time.Second, "progress before the restart", func() bool { return s.plivoDeleted(w) >= 500 })
	run := func(arg string) {
		cmd := exec.Command("bash", script, arg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", script, arg, err, out)
		}
	}
	run("stop")
	stoppedAt := s.plivoDeleted(w)
	time.Sleep(3 * time.Second)
	select {
	case <-p.Exited():
		t.Fatalf("the daemon exited while the broker was down:\n%s", devstack.Tail(p.Output(), 20))
	default:
	}
	run("start")
	acc := s.waitComplete(w, 5*time.Minute, p)
	s.waitLagZero(90 * time.Second)
	t.Logf("broker stopped at %d deletions, down 3s; counted: %s", stoppedAt, acc)
	if acc.DeletedEverywhere != acc.Produced {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced)
	}
	s.stop(p)
}

// 5. Vendor outage (issue 11's proof 1): two pipelines of the same
// 5,000 events and configuration run side by side, one with every vendor
// healthy, one with Exotel answering 503 to everything for the whole run.
// With Exotel down, the three healthy vendors delete every event at no
// less than 90% of the no-outage run's events/s (first vendor request to
// last deletion at the healthy vendors, devstack.Clock); Exotel receives
// no more than its breaker's probe budget over the run; every event's
// Exotel part is on Exotel's retry topic; none is lost or dead-lettered.
// The runs go at the same time so that the machine's load weighs on both
// alike; each is bound by its in-flight window (outage_test.go).
func TestVendorOutage(t *testing.T) {
	const n = 5000
	base := newOutageRun(t, "no outage", "", n)
	out := newOutageRun(t, "exotel down", "exotel", n)
	base.start()
	out.start()
	waitUntil(t, 4*time.Minute, "both runs: every event deleted at the healthy vendors and committed", func() bool {
		base.exited()
		out.exited()
		return base.done() && out.done()
	})
	// Requests first, then the duration: the budget read second covers
	// every request counted first.
	reqs := out.s.stack.Sandbox("exotel").Ledger.Requests()
	span := time.Since(out.clock.First())
	// At most one Exotel request per event in flight: the window.
	inFlight := outagePartitions * outageInFlight
	br := outageBreaker()
	budget := br.ProbeBudget(inFlight, span)

	acc := out.s.waitComplete(out.w, time.Minute, out.p)
	parked := out.s.parked("exotel")
	missing := 0
	for _, ev := range out.w.Events {
		if !parked[ev.EventID] {
			missing++
		}
	}
	baseRate, outRate := base.clock.Rate(n), out.clock.Rate(n)
	ratio := outRate / baseRate
	t.Logf("no outage: %d events in %s, %.0f events/s; exotel down: the healthy vendors finished %d events in %s, %.0f events/s; ratio %.2f",
		n, base.clock.Elapsed().Round(time.Millisecond), baseRate, n, out.clock.Elapsed().Round(time.Millisecond), outRate, ratio)
	t.Logf("exotel: %d requests over %s (answers %v); probe budget %d = %d consecutive failures + %d in flight - 1 + %d probes x %d cooldowns of %s",
		reqs, span.Round(time.Millisecond), out.s.stack.Sandbox("exotel").Ledger.Statuses(), budget, br.ConsecutiveFailures, inFlight, br.HalfOpenProbes, int(span/br.Cooldown), br.Cooldown)
	t.Logf("exotel retry topic: %d distinct events of %d; counted: %s", len(parked), n, acc)
	for _, r := range []*outageRun{base, out} {
		for _, v := range healthyVendors {
			if got := r.s.stack.CountDeleted(r.w, v); got != n {
				t.Errorf("%s: %s deleted %d of %d", r.name, v, got, n)
			}
		}
	}
	if ratio < 0.9 {
		t.Errorf("with exotel down the healthy vendors ran at %.0f events/s, %.0f%% of the %.0f events/s without the outage; want at least 90%%", outRate, 100*ratio, baseRate)
	}
	if reqs > budget {
		t.Errorf("exotel received %d requests, above its breaker's probe budget %d over %s", reqs, budget, span.Round(time.Millisecond))
	}
	if missing > 0 {
		t.Errorf("%d events have no Exotel part on its retry topic", missing)
	}
	if acc.Complete != n || len(acc.Missing) != 0 {
		t.Errorf("complete %d of %d, missing %d: none may be lost", acc.Complete, n, len(acc.Missing))
	}
	if dls := out.s.deadLetters(); len(dls) != 0 {
		t.Errorf("%d records dead-lettered; an outage parks", len(dls))
	}
	base.s.stop(base.p)
	out.s.stop(out.p)
}

// 6. Dead-letter topic unwritable: the committed offset stays below the
// record that cannot be dead-lettered, then passes it once the topic is
// back.
func TestDeadLetterTopicUnwritable(t *testing.T) {
	s := newSuite(t, suiteOptions{partitions: 1, env: []string{"ERASURED_DEAD_LETTER_RETRY_MAX=300ms"}})
	deleteTopic(t, s.addrs, s.stack.DLQTopic)
	w := devstack.NewWorkload(199, 50, 0)
	w.Records = append(w.Records[:10], append([]kafka.Message{devstack.PoisonRecord(0)}, w.Records[10:]...)...)
	s.produce(w)
	p := s.start()
	waitUntil(t, 120*time.Second, "the records after the poison one to be deleted", func() bool { return s.plivoDeleted(w) == len(w.Events) })
	time.Sleep(time.Second) // several commit intervals
	c := groupOffsets(t, s.addrs, s.group, s.stack.Topic, 1)[0]
	t.Logf("dead-letter topic gone: committed offset %d with %d records after offset 10 deleted", c, len(w.Events)-10)
	if c > 10 {
		t.Fatalf("committed offset %d passed offset 10, which is not yet dead-lettered", c)
	}
	if !strings.Contains(p.Output(), "dead-letter write failed; retrying, offset not committed") {
		t.Error("no log line says the dead-letter write is failing")
	}
	waitUntil(t, 60*time.Second, "the dead-letter topic to be re-created", func() bool {
		resp, err := newClient(s.addrs).CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: s.stack.DLQTopic, NumPartitions: 1, ReplicationFactor: -1}}})
		return err == nil && resp.Errors[s.stack.DLQTopic] == nil
	})
	waitUntil(t, 120*time.Second, "the commit to pass the poison record", func() bool {
		return groupOffsets(t, s.addrs, s.group, s.stack.Topic, 1)[0] == int64(len(w.Records))
	})
	dls, err := devstack.ReadAll(context.Background(), s.addrs, s.stack.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) == 0 {
		t.Fatal("the poison record never reached the dead-letter topic")
	}
	if off, _ := dlq.Header(dls[0].Headers, dlq.HeaderOriginalOffset); off != "10" {
		t.Errorf("dead-lettered original offset = %s, want 10", off)
	}
	s.stop(p)
}

// 7. Poison events (not JSON, missing ids, oversized) are dead-lettered
// with their reason and the partitions keep moving.
func TestPoisonEvents(t *testing.T) {
	s := newSuite(t, suiteOptions{partitions: 2})
	w := devstack.NewWorkload(500, 100, 60)
	s.produce(w)
	p := s.start()
	acc := s.waitComplete(w, 3*time.Minute, p)
	s.waitLagZero(60 * time.Second)
	dls, err := devstack.ReadAll(context.Background(), s.addrs, s.stack.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A redelivery (a rebalance on a busy machine, say) dead-letters a
	// poison record again: at least once, not exactly once. Count each
	// original record once, by where it was read.
	details := map[string]int{}
	seen := map[string]bool{}
	for _, m := range dls {
		if r, _ := dlq.Header(m.Headers, dlq.HeaderReason); r != string(dlq.ReasonInvalidEvent) {
			t.Errorf("reason %q, want invalid_event", r)
		}
		part, _ := dlq.Header(m.Headers, dlq.HeaderOriginalPartition)
		off, _ := dlq.Header(m.Headers, dlq.HeaderOriginalOffset)
		if seen[part+"/"+off] {
			continue
		}
		seen[part+"/"+off] = true
		d, _ := dlq.Header(m.Headers, dlq.HeaderDetail)
		for _, kind := range []string{"malformed", "missing_field", "oversized"} {
			if strings.Contains(d, kind) {
				details[kind]++
			}
		}
	}
	t.Logf("counted: %s; dead-letter details %v", acc, details)
	if acc.DeadLettered[dlq.ReasonInvalidEvent] != w.PoisonCount() {
		t.Errorf("invalid dead-lettered = %d, want %d", acc.DeadLettered[dlq.ReasonInvalidEvent], w.PoisonCount())
	}
	for _, kind := range []string{"malformed", "missing_field", "oversized"} {
		if details[kind] != w.PoisonCount()/3 {
			t.Errorf("%s records = %d, want %d", kind, details[kind], w.PoisonCount()/3)
		}
	}
	if acc.DeletedEverywhere != acc.Produced {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced)
	}
	s.stop(p)
}

// mainAssignments counts the main consumer's partition assignments in a
// daemon's JSON log; its retry workers log theirs too, in their groups.
func mainAssignments(log string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"component":"consumer"`) && strings.Contains(l, "partitions assigned") {
			n++
		}
	}
	return n
}

package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
)

// fastKnobs make every sandbox quick and mostly healthy, with enough
// trouble (Webex throttled, Exotel failing now and then) that retries and
// 429s happen; Plivo stays healthy so its call counts measure redelivery.
func fastKnobs() map[string]sandbox.Knobs {
	return map[string]sandbox.Knobs{
		"plivo":     {},
		"webex":     {ThrottleRPS: 400},
		"exotel":    {FailureRate: 0.05},
		"clevertap": {Latency: time.Millisecond},
	}
}

func startStack(t *testing.T, partitions int32, knobs map[string]sandbox.Knobs) *devstack.Stack {
	t.Helper()
	s, err := devstack.Start(devstack.Options{Partitions: partitions, Knobs: knobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// testConfig is the stack's configuration with timings suited to tests:
// kfake's minimum session timeout is 6s.
func testConfig(s *devstack.Stack) *daemon.Config {
	cfg := s.Config()
	cfg.Kafka.CommitInterval = 100 * time.Millisecond
	cfg.Kafka.MaxInFlight = 32
	cfg.Kafka.HeartbeatInterval = 300 * time.Millisecond
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Kafka.RebalanceTimeout = 6 * time.Second
	cfg.Kafka.DrainTimeout = 3 * time.Second
	cfg.Kafka.RequestTimeout = 2 * time.Second
	cfg.ShutdownTimeout = 10 * time.Second * devstack.WaitScale()
	retry := adapters.DefaultRetryConfig()
	retry.InitialInterval, retry.MaxInterval = 20*time.Millisecond, 200*time.Millisecond
	retry.MaxElapsedTime, retry.MaxAttempts, retry.RequestTimeout = 30*time.Second, 50, 2*time.Second
	for _, name := range adapters.Names() {
		cfg.Vendors.Section(name).Shared().Retry = retry
	}
	return cfg
}

// member is one running daemon.
type member struct {
	cancel context.CancelFunc
	done   chan error
	addr   string
	log    *syncBuffer
}

func startMember(t *testing.T, cfg *daemon.Config) *member {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration invalid: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	log := zerolog.New(buf).Level(zerolog.InfoLevel)
	d := daemon.New(cfg, log, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{cancel: cancel, done: make(chan error, 1), addr: ln.Addr().String(), log: buf}
	go func() { m.done <- d.Run(ctx, ln) }()
	t.Cleanup(func() {
		m.stop(t)
		if t.Failed() || os.Getenv("ERASURED_TEST_LOG") != "" {
			dumpLog(t, buf.String())
		}
	})
	return m
}

// stop stops the member gracefully and fails the test if it does not stop
// cleanly within the shutdown timeout.
func (m *member) stop(t *testing.T) {
	t.Helper()
	if m.cancel == nil {
		return
	}
	m.cancel()
	m.cancel = nil
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("daemon stopped with error: %v", err)
		}
	case <-time.After(20 * time.Second * devstack.WaitScale()):
		t.Errorf("daemon did not stop within %s", 20*time.Second*devstack.WaitScale())
		logStuckGoroutines(t)
	}
}

// logStuckGoroutines logs the stacks of the goroutines running erasured
// code, so a member that does not stop shows where it is stuck. Other
// parallel tests' members are in the dump too: look for the ones that
// wait longest ("[... minutes]").
func logStuckGoroutines(t *testing.T) {
	t.Helper()
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if !strings.Contains(g, "github.com/erasured/erasured/") || strings.Contains(g, "logStuckGoroutines") {
			continue
		}
		if n++; n > 150 {
			t.Log("... (more goroutines cut)")
			return
		}
		t.Log(g)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func produce(t *testing.T, s *devstack.Stack, w *devstack.Workload) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second*devstack.WaitScale())
	defer cancel()
	if err := devstack.Produce(ctx, s.Brokers, devstack.Topic, w.Records); err != nil {
		t.Fatal(err)
	}
}

func waitComplete(t *testing.T, s *devstack.Stack, w *devstack.Workload, timeout time.Duration) devstack.Account {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout*devstack.WaitScale())
	defer cancel()
	acc, err := s.WaitComplete(ctx, w)
	if err != nil {
		t.Fatalf("%v (first missing: %v)", err, first(acc.Missing, 5))
	}
	t.Logf("counted: %s", acc)
	return acc
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func TestPipelineAccountsForEveryEvent(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s := startStack(t, 4, fastKnobs())
	// Plivo's primary profile is refused permanently: those events must
	// be dead-lettered listing Plivo alone.
	w := devstack.NewWorkload(1000, 200, 30)
	for i := 0; i < len(w.Events); i += 100 {
		w.Events[i].Identifiers["plivo_profile_uuid"] = devstack.PrimaryProfile
	}
	w = rebuild(t, w)
	produce(t, s, w)
	m := startMember(t, testConfig(s))

	acc := waitComplete(t, s, w, 90*time.Second)
	if acc.DeadLettered[dlq.ReasonInvalidEvent] != w.PoisonCount() {
		t.Errorf("invalid records dead-lettered = %d, want %d", acc.DeadLettered[dlq.ReasonInvalidEvent], w.PoisonCount())
	}
	if got, want := acc.DeadLettered[dlq.ReasonPermanentError], 10; got != want {
		t.Errorf("permanent_error dead letters = %d, want %d (one per primary-profile event)", got, want)
	}
	if acc.DeletedEverywhere != acc.Produced-10 {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, acc.Produced-10)
	}
	checkLagZero(t, m)
}

// rebuild re-encodes a workload after a test edited its events.
func rebuild(t *testing.T, w *devstack.Workload) *devstack.Workload {
	t.Helper()
	if err := w.Reencode(); err != nil {
		t.Fatal(err)
	}
	return w
}

// checkLagZero waits for the member's lag gauges to read 0 on every
// partition, scraping /metrics as Prometheus would.
func checkLagZero(t *testing.T, m *member) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second * devstack.WaitScale())
	var body string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + m.addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			if lagAllZero(body) {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("consumer lag did not reach 0 on every partition; last scrape:\n%s", grepLines(body, "erasured_consumer_lag"))
}

func lagAllZero(metrics string) bool {
	n := 0
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "erasured_consumer_lag{") {
			n++
			if !strings.HasSuffix(l, " 0") {
				return false
			}
		}
	}
	return n > 0
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// dumpLog shows a failed test's daemon log lines that are not routine.
func dumpLog(t *testing.T, log string) {
	t.Helper()
	// The head shows startup, the tail what the member did last (where a
	// stuck test got stuck); the counts cover what is cut between them.
	const head, tail = 30, 60
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"event done"`) || l == "" {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) <= head+tail {
		for _, l := range lines {
			t.Log(l)
		}
		return
	}
	for _, l := range lines[:head] {
		t.Log(l)
	}
	cut := map[string]int{}
	for _, l := range lines[head : len(lines)-tail] {
		msg := l
		if i := strings.Index(l, `"message":"`); i >= 0 {
			msg = l[i+len(`"message":"`):]
			if j := strings.IndexByte(msg, '"'); j >= 0 {
				msg = msg[:j]
			}
		}
		cut[msg]++
	}
	t.Logf("... %d log lines cut, by message: %v", len(lines)-head-tail, cut)
	for _, l := range lines[len(lines)-tail:] {
		t.Log(l)
	}
}

// checkOrder fails t when some user's events reached Plivo out of order.
func checkOrder(t *testing.T, o *devstack.OrderRecorder, w *devstack.Workload) {
	t.Helper()
	n, err := o.Check(w)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("per-user order held for %d events", n)
}

func TestSameUserOrderHolds(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	fc := devstack.NewOrderRecorder()
	knobs := fastKnobs()
	// Latency with jitter gives later events every chance to overtake.
	knobs["plivo"] = sandbox.Knobs{Latency: time.Millisecond, Jitter: 10 * time.Millisecond}
	s, err := devstack.Start(devstack.Options{Partitions: 2, Knobs: knobs, Wrap: fc.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// 20 users, 30 events each.
	w := devstack.NewWorkload(600, 20, 0)
	produce(t, s, w)
	startMember(t, testConfig(s))
	waitComplete(t, s, w, 90*time.Second)
	checkOrder(t, fc, w)
}

func TestThrottledVendorDoesNotStallOthers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	knobs := fastKnobs()
	knobs["webex"] = sandbox.Knobs{ThrottleRPS: 2}
	s := startStack(t, 1, knobs)
	const n = 30
	w := devstack.NewWorkload(n, n, 0)
	produce(t, s, w)
	cfg := testConfig(s)
	// Throttling delays within the main flow: budgets well above the
	// ~15s it needs (on a loaded machine, more), so no part is parked
	// on the retry topic (TestVendorDownParksItsParts covers parking).
	daemon.Vendor[*webex.Config](&cfg.Vendors).Retry.InlineBudget, daemon.Vendor[*webex.Config](&cfg.Vendors).Retry.MaxElapsedTime = 2*time.Minute, 2*time.Minute
	startMember(t, cfg)

	// Held to 2 requests a second, Webex needs ~15s for 30 events; the
	// other vendors must not wait for it.
	others := []string{"plivo", "exotel", "clevertap"}
	waitUntil(t, 60*time.Second, "other vendors to delete every profile", func() bool {
		for _, v := range others {
			if countDeleted(s, w, v) < n {
				return false
			}
		}
		return true
	})
	webexDone := countDeleted(s, w, "webex")
	t.Logf("when the other vendors had deleted all %d, Webex had %d", n, webexDone)
	if webexDone >= n {
		t.Errorf("webex deleted all %d as soon as the others: the throttle did not bite, so the test proves nothing", n)
	}
	acc := waitComplete(t, s, w, 90*time.Second)
	if acc.DeletedEverywhere != n {
		t.Errorf("deleted everywhere = %d, want %d: throttling must delay, never fail", acc.DeletedEverywhere, n)
	}
	if s.Sandbox("webex").Ledger.Statuses()[http.StatusTooManyRequests] == 0 {
		t.Error("webex never answered 429")
	}
}

func TestSlowUserDoesNotStallOtherUsers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	// 50 users; user 0 has two events (seq 0 and seq 50). Plivo hangs on
	// seq 0's profile until the gate opens.
	w := devstack.NewWorkload(60, 50, 0)
	stuck := w.Events[0].Identifiers["plivo_profile_uuid"]
	gate := make(chan struct{})
	wrap := func(vendor string, h http.Handler) http.Handler {
		if vendor != "plivo" {
			return h
		}
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, stuck) {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
			h.ServeHTTP(rw, r)
		})
	}
	s, err := devstack.Start(devstack.Options{Partitions: 1, Knobs: fastKnobs(), Wrap: wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	produce(t, s, w)
	cfg := testConfig(s)
	pc := daemon.Vendor[*plivo.Config](&cfg.Vendors)
	pc.Retry.RequestTimeout = 500 * time.Millisecond
	// The stuck user's parts must wait inline, not park: on a loaded
	// machine the others took longer than the default 30s budget, and
	// the parked parts then waited for the retry worker past the test.
	pc.Retry.InlineBudget = 10 * time.Minute
	startMember(t, cfg)

	waitUntil(t, 60*time.Second, "every other user's events to finish", func() bool {
		dls, err := devstack.ReadAll(context.Background(), s.Brokers, devstack.DLQTopic, 0)
		if err != nil {
			return false
		}
		acc, err := s.Reconcile(w, dls)
		return err == nil && acc.Complete == len(w.Events)-2
	})
	if s.Sandbox("plivo").Ledger.Deleted(stuck) {
		t.Fatal("the stuck profile was deleted while the gate was closed")
	}
	if later := w.Events[50].Identifiers["plivo_profile_uuid"]; s.Sandbox("plivo").Ledger.Calls(later) != 0 {
		t.Errorf("user 0's second event reached Plivo before its first finished")
	}
	close(gate)
	acc := waitComplete(t, s, w, 60*time.Second)
	if acc.DeletedEverywhere != len(w.Events) {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, len(w.Events))
	}
}

func TestRebalanceOneToThreeLosesNothing(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	fc := devstack.NewOrderRecorder()
	knobs := map[string]sandbox.Knobs{
		"plivo": {Latency: 20 * time.Millisecond}, "webex": {Latency: 20 * time.Millisecond},
		"exotel": {Latency: 20 * time.Millisecond}, "clevertap": {Latency: 20 * time.Millisecond},
	}
	s, err := devstack.Start(devstack.Options{Partitions: 6, Knobs: knobs, Wrap: fc.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	w := devstack.NewWorkload(3000, 300, 0)
	produce(t, s, w)
	cfg := testConfig(s)
	// Few events in flight, so the backlog lasts through the rebalances.
	cfg.Kafka.MaxInFlight = 2

	m1 := startMember(t, cfg)
	waitUntil(t, 60*time.Second, "the first member to make progress", func() bool { return countDeleted(s, w, "plivo") >= 300 })
	m2 := startMember(t, cfg)
	m3 := startMember(t, cfg)
	waitUntil(t, 60*time.Second, "progress after the join", func() bool { return countDeleted(s, w, "plivo") >= 1500 })
	m1.stop(t)
	acc := waitComplete(t, s, w, 120*time.Second)
	if acc.DeletedEverywhere != len(w.Events) {
		t.Errorf("deleted everywhere = %d, want %d", acc.DeletedEverywhere, len(w.Events))
	}
	checkOrder(t, fc, w)
	for i, m := range []*member{m1, m2, m3} {
		t.Logf("member %d: %d generations joined", i+1, mainAssignments(m.log.String()))
	}
	if mainAssignments(m2.log.String()) == 0 || mainAssignments(m3.log.String()) == 0 {
		t.Error("a joining member never got partitions: no rebalance happened")
	}
}

func countDeleted(s *devstack.Stack, w *devstack.Workload, vendor string) int {
	return s.CountDeleted(w, vendor)
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	devstack.WaitUntil(t, timeout, what, cond)
}

// TestUnwritableDeadLetterTopicHoldsCommits deletes the dead-letter topic:
// a record that must be dead-lettered then cannot finish, so the
// partition's committed offset must stay below it, however many later
// records finish; once the topic is back, everything completes.
func TestUnwritableDeadLetterTopicHoldsCommits(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s := startStack(t, 1, map[string]sandbox.Knobs{})
	if err := s.Cluster.DeleteTopic(devstack.DLQTopic); err != nil {
		t.Fatal(err)
	}
	// One partition: record 10 is poison, the 190 after it are good.
	w := devstack.NewWorkload(199, 50, 0)
	poison := devstack.PoisonRecord(0)
	w.Records = append(w.Records[:10], append([]kafka.Message{poison}, w.Records[10:]...)...)
	produce(t, s, w)
	cfg := testConfig(s)
	cfg.DeadLetter.RetryMax = 200 * time.Millisecond
	m := startMember(t, cfg)

	waitUntil(t, 60*time.Second, "the good records after the poison one to be deleted", func() bool {
		return countDeleted(s, w, "plivo") == len(w.Events)
	})
	// Commits happen every 100ms; give them a few rounds.
	time.Sleep(500 * time.Millisecond)
	if c := committed(s, 0); c > 10 {
		t.Fatalf("committed offset %d is past the record (offset 10) that is not yet dead-lettered", c)
	} else {
		t.Logf("with the dead-letter topic gone: committed offset %d, %d later records deleted", c, len(w.Events)-10)
	}
	if !strings.Contains(m.log.String(), "dead-letter write failed; retrying, offset not committed") {
		t.Error("no log line says the dead-letter write is failing")
	}

	if err := s.Cluster.CreateTopic(devstack.DLQTopic, 1, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 60*time.Second, "the commit to pass the poison record", func() bool { return committed(s, 0) == int64(len(w.Records)) })
	dls, err := devstack.ReadAll(context.Background(), s.Brokers, devstack.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) == 0 {
		t.Fatal("the poison record never reached the dead-letter topic")
	}
	if r, _ := dlq.Header(dls[0].Headers, dlq.HeaderOriginalOffset); r != "10" {
		t.Errorf("dead-lettered original offset = %s, want 10", r)
	}
}

// committed returns the group's committed offset for a partition of the
// user-deleted topic, -1 if none.
func committed(s *devstack.Stack, partition int32) int64 {
	gi := s.Cluster.GroupInfo("erasured-dev")
	if gi == nil {
		return -1
	}
	c, ok := gi.Commits[devstack.Topic][partition]
	if !ok {
		return -1
	}
	return c.Offset
}

// TestCloudEventsBothModes runs CloudEvents in structured and binary mode
// through the whole pipeline, next to plain JSON: each is deleted at every
// vendor it names.
func TestCloudEventsBothModes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s := startStack(t, 2, map[string]sandbox.Knobs{})
	w := devstack.NewWorkload(30, 30, 0)
	for i := range w.Records {
		ev := w.Events[i]
		ids, err := json.Marshal(ev.Identifiers)
		if err != nil {
			t.Fatal(err)
		}
		data := fmt.Sprintf(`{"user_id":%q,"identifiers":%s}`, ev.UserID, ids)
		when := ev.OccurredAt.Format(time.RFC3339Nano)
		switch i % 3 {
		case 1: // structured mode
			w.Records[i].Value = []byte(fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/accounts","type":%q,"time":%q,"datacontenttype":"application/json","data":%s}`,
				ev.EventID, event.TypeUserDeleted, when, data))
			w.Records[i].Headers = []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=utf-8")}}
		case 2: // binary mode
			w.Records[i].Value = []byte(data)
			w.Records[i].Headers = []kafka.Header{
				{Key: "ce_specversion", Value: []byte("1.0")}, {Key: "ce_id", Value: []byte(ev.EventID)},
				{Key: "ce_source", Value: []byte("/accounts")}, {Key: "ce_type", Value: []byte(event.TypeUserDeleted)},
				{Key: "ce_time", Value: []byte(when)}, {Key: "content-type", Value: []byte("application/json")},
			}
		}
	}
	produce(t, s, w)
	startMember(t, testConfig(s))
	acc := waitComplete(t, s, w, 60*time.Second)
	if acc.DeletedEverywhere != len(w.Events) || len(acc.DeadLettered) != 0 {
		t.Errorf("deleted everywhere %d of %d, dead-lettered %v", acc.DeletedEverywhere, len(w.Events), acc.DeadLettered)
	}
}

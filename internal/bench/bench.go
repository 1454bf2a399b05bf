// Package bench measures how fast erasured drains a backlog of deletions
// and how well it uses each vendor's rate limit, next to a naive consumer
// on the same data. Each run starts a fresh stack (kfake, or fresh topics
// on a real broker, and a sandbox per registered vendor) in this process,
// produces the events, then runs the measured implementation as a child
// process (this binary again, see MaybeChild) so that its peak RSS, CPU
// time and allocations are its own. `make bench` drives it through
// cmd/erasured-bench.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/receipt"
)

// Scenario is one vendor behaviour to measure both implementations under.
type Scenario struct {
	Name string
	// Events is the backlog size.
	Events int
	// Latency is every sandbox's answer delay.
	Latency time.Duration
	// Throttled, when set, names the vendor admitting only ThrottleRPS
	// requests per second (429 with Retry-After beyond).
	Throttled   string
	ThrottleRPS float64
	// Naive says whether the naive baseline runs too.
	Naive bool
	// Limit, when its Shape is set, is the limit the Throttled vendor
	// enforces, in place of ThrottleRPS (limits.go).
	Limit sandbox.Limit
	// VendorLimit, when set, is erasured's limit configuration for the
	// Throttled vendor (a configured ceiling, throttle: concurrency).
	VendorLimit *adapters.LimitConfig
	// Replicas of erasured run at once in one group; 0 means 1.
	Replicas int
	// Ceiling, when set, is the deployment's configured ceiling the
	// figures are taken against, rather than the vendor's limit.
	Ceiling float64
	// Outage scenarios (outage.go): Down, when set, names the vendor
	// answering 503 to everything; an event counts as deleted once the
	// other vendors deleted it. Outage marks the scenarios of the outage
	// table, the no-outage baseline included. Timeout, when set, bounds
	// each run of the scenario below Options.RunTimeout.
	Down    string
	Outage  bool
	Timeout time.Duration
	// UntilDeleted ends a run when every event is deleted everywhere, not
	// when every offset is committed: a part whose Retry-After passes the
	// inline budget is parked, its offset committed, and deleted later by
	// a retry worker (limits.go: windows of 60 s).
	UntilDeleted bool
}

// Knobs returns the sandboxes' behaviour for s.
func (s Scenario) Knobs() map[string]sandbox.Knobs {
	k := map[string]sandbox.Knobs{}
	for _, v := range adapters.Names() {
		k[v] = sandbox.Knobs{Latency: s.Latency}
	}
	if s.Throttled != "" {
		kn := k[s.Throttled]
		kn.ThrottleRPS = s.ThrottleRPS
		kn.Limit = s.Limit
		k[s.Throttled] = kn
	}
	if s.Down != "" {
		kn := k[s.Down]
		kn.Force = "503"
		k[s.Down] = kn
	}
	return k
}

// Options shape a benchmark run.
type Options struct {
	// Scenarios to run, in order.
	Scenarios []Scenario
	// Partitions of the event topic.
	Partitions int
	// Brokers, when set, adds runs on that Kafka (fresh topics per run)
	// after the kfake ones.
	Brokers []string
	// RunTimeout bounds one run; a run cut short reports what it did,
	// marked partial.
	RunTimeout time.Duration
	// ProfileDir, when set, receives a CPU and an allocation profile of
	// each measured process.
	ProfileDir string
	// LogDir, when set, keeps each measured process's log.
	LogDir string
	// Binary is the executable to re-run as the measured process;
	// os.Executable() when empty.
	Binary string
	// Progress receives a line per run as it finishes; may be nil.
	Progress io.Writer
}

// Result is one run's figures.
type Result struct {
	Scenario Scenario
	Broker   string // "kfake" or "kafka"
	Impl     string
	// Complete is false when the run timed out: the figures cover what
	// was done.
	Complete bool
	// Deleted counts events deleted at every vendor; DeadLettered counts
	// records in the dead-letter topic.
	Deleted, DeadLettered int
	// Elapsed runs from the first vendor request to the moment every
	// event was deleted everywhere and every offset committed.
	Elapsed time.Duration
	// Requests counts every vendor's answers; Statuses by vendor and
	// HTTP status.
	Requests int
	Statuses map[string]map[int]int
	// P50 and P99 of the time from an event's first vendor request to its
	// last vendor deletion.
	P50, P99 time.Duration
	// PeakRSS of the measured process, in bytes.
	PeakRSS int64
	// CPU is the measured process's user and system time.
	CPU time.Duration
	// Mallocs is the measured process's heap allocations, start-up
	// included.
	Mallocs uint64
	// Late counts the throttled vendor's answers after its first window,
	// Late429 the 429s among them.
	Late, Late429 int
	// Against a fixed window: WindowOK answers accepted over Windows
	// whole windows, the last window of the run (where the backlog ran
	// out) left out (lateCounter.windows).
	WindowOK, Windows int
	// Steady is the throttled vendor's accepted answers per second after
	// its first window, to the last accepted request (lateCounter.steady).
	Steady float64
	// Busy is the share of a concurrency-capped vendor's slots accepted
	// requests kept busy after the first second (lateCounter.busy).
	Busy float64
}

// EventsPerSec is the drain rate.
func (r Result) EventsPerSec() float64 { return rate(r.Deleted, r.Elapsed) }

// CallsPerSec is the vendor request rate.
func (r Result) CallsPerSec() float64 { return rate(r.Requests, r.Elapsed) }

// Goodput is the throttled vendor's successful answers per second.
func (r Result) Goodput() float64 {
	ok := 0
	for st, n := range r.Statuses[r.Scenario.Throttled] {
		if st >= 200 && st < 300 {
			ok += n
		}
	}
	return rate(ok, r.Elapsed)
}

// Throttled429 is the share of the throttled vendor's answers that were
// 429.
func (r Result) Throttled429() float64 {
	total := 0
	for _, n := range r.Statuses[r.Scenario.Throttled] {
		total += n
	}
	if total == 0 {
		return 0
	}
	return float64(r.Statuses[r.Scenario.Throttled][429]) / float64(total)
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Run runs every scenario on kfake (and on Options.Brokers when set),
// erasured then the naive baseline, and returns the results in order.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Partitions <= 0 {
		o.Partitions = 8
	}
	if o.RunTimeout <= 0 {
		o.RunTimeout = 10 * time.Minute
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.Binary = exe
	}
	brokers := []string{"kfake"}
	if len(o.Brokers) > 0 {
		brokers = append(brokers, "kafka")
	}
	var out []Result
	for _, b := range brokers {
		for _, sc := range o.Scenarios {
			impls := []string{ImplErasured}
			if sc.Naive {
				impls = append(impls, ImplNaive)
			}
			for _, impl := range impls {
				r, err := runOne(ctx, o, sc, b, impl)
				if err != nil {
					return out, fmt.Errorf("%s on %s, %s: %w", sc.Name, b, impl, err)
				}
				out = append(out, r)
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "  %-10s %-6s %-8s %7d events in %6.1fs: %8.0f events/s\n", sc.Name, b, impl, r.Deleted, r.Elapsed.Seconds(), r.EventsPerSec())
				}
			}
		}
	}
	return out, nil
}

func runOne(ctx context.Context, o Options, sc Scenario, broker, impl string) (Result, error) {
	res := Result{Scenario: sc, Broker: broker, Impl: impl}
	id := fmt.Sprintf("bench-%d-%s-%s", time.Now().UnixNano(), sanitize(sc.Name), impl)
	stOpts := devstack.Options{Partitions: int32(o.Partitions), Knobs: sc.Knobs(), Topic: id, DLQTopic: id + ".dlq"}
	lc := newLateCounter(sc)
	if sc.Throttled != "" {
		stOpts.Wrap = func(vendor string, h http.Handler) http.Handler {
			if vendor == sc.Throttled {
				return lc.wrap(h)
			}
			return h
		}
	}
	if broker == "kafka" {
		stOpts.Brokers = o.Brokers
		if err := createTopics(ctx, o.Brokers, stOpts.Topic, o.Partitions, stOpts.DLQTopic); err != nil {
			return res, err
		}
	}
	st, err := devstack.Start(stOpts)
	if err != nil {
		return res, err
	}
	defer st.Close()

	w := devstack.NewWorkload(sc.Events, sc.Events, 0)
	timeout := o.RunTimeout
	if sc.Timeout > 0 {
		timeout = min(timeout, sc.Timeout)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := devstack.Produce(pctx, st.Brokers, st.Topic, w.Records); err != nil {
		return res, err
	}
	ends, err := endOffsets(pctx, st.Brokers, st.Topic, o.Partitions)
	if err != nil {
		return res, err
	}
	w.Records = nil // the broker has them; keep the heap of this process small
	tr := newTracker(st, w, sc.Down)

	dir, err := os.MkdirTemp("", "erasured-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	spec := childSpec{
		Impl: impl, Brokers: st.Brokers, Topic: st.Topic, DLQTopic: st.DLQTopic, Group: id, Partitions: o.Partitions,
		URLs:      st.URLs,
		StatsFile: filepath.Join(dir, "stats.json"),
	}
	if o.ProfileDir != "" {
		spec.CPUProfile = filepath.Join(o.ProfileDir, id+".cpu.pprof")
		spec.MemProfile = filepath.Join(o.ProfileDir, id+".allocs.pprof")
	}
	if o.LogDir != "" {
		spec.LogFile = filepath.Join(o.LogDir, id+".log")
	}
	if sc.VendorLimit != nil {
		spec.Limits = map[string]adapters.LimitConfig{sc.Throttled: *sc.VendorLimit}
	}
	replicas := max(1, sc.Replicas)
	if impl == ImplNaive {
		replicas = 1
	}
	var cmds []*exec.Cmd
	var stderrs []*strings.Builder
	exits := make([]chan error, replicas)
	exited := make(chan error, replicas)
	for i := range replicas {
		rs := spec
		rs.StatsFile = filepath.Join(dir, fmt.Sprintf("stats-%d.json", i))
		if i > 0 {
			rs.CPUProfile, rs.MemProfile = "", ""
			if rs.LogFile != "" {
				rs.LogFile = fmt.Sprintf("%s.%d", spec.LogFile, i)
			}
		}
		raw, _ := json.Marshal(rs)
		cmd := exec.Command(o.Binary)
		cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
		stderr := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = io.Discard, stderr
		if err := cmd.Start(); err != nil {
			for _, c := range cmds {
				_ = c.Process.Kill()
			}
			return res, err
		}
		cmds, stderrs = append(cmds, cmd), append(stderrs, stderr)
		exits[i] = make(chan error, 1)
		go func() { err := cmd.Wait(); exits[i] <- err; exited <- err }()
	}
	allStderr := func() string {
		var b strings.Builder
		for _, s := range stderrs {
			b.WriteString(s.String())
		}
		return b.String()
	}

	client := &kafka.Client{Addr: kafka.TCP(st.Brokers...), Timeout: 5 * time.Second}
	res.Complete, err = waitComplete(pctx, client, tr, id, st.Topic, ends, exited, sc.UntilDeleted)
	end := time.Now()
	if f := time.Unix(0, tr.finish.Load()); res.Complete && f.Before(end) && tr.done.Load() == int64(tr.n) {
		// Completion is the later of the last deletion and the commit
		// seen; the poll interval is not the daemon's time.
		end = latest(f, end.Add(-pollInterval/2))
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		for i, c := range cmds {
			_ = c.Process.Kill()
			<-exits[i]
		}
		return res, fmt.Errorf("%w; stderr: %s", err, tail(allStderr(), 20))
	}

	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for i, cmd := range cmds {
		select {
		case err = <-exits[i]:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			err = <-exits[i]
		}
		if err != nil {
			return res, fmt.Errorf("measured process: %w; stderr: %s", err, tail(allStderr(), 20))
		}
	}
	for i, cmd := range cmds {
		res.CPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("stats-%d.json", i))); err == nil {
			var cs childStats
			if json.Unmarshal(b, &cs) == nil {
				res.Mallocs += cs.Mallocs
				res.PeakRSS = max(res.PeakRSS, cs.PeakRSS)
			}
		}
	}

	if start := tr.start.Load(); start > 0 {
		res.Elapsed = end.Sub(time.Unix(0, start))
	}
	res.Deleted = int(tr.done.Load())
	res.Late, res.Late429 = int(lc.late.Load()), int(lc.late429.Load())
	res.WindowOK, res.Windows = lc.windows()
	res.Steady = lc.steady()
	res.Busy = lc.busy()
	lat := tr.latencies()
	res.P50, res.P99 = percentile(lat, 50), percentile(lat, 99)
	res.Statuses = map[string]map[int]int{}
	for v, l := range st.Ledgers() {
		res.Statuses[v] = l.Statuses()
		res.Requests += l.Requests()
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	defer rcancel()
	if dls, err := devstack.ReadAll(rctx, st.Brokers, st.DLQTopic, 0); err == nil {
		seen := map[string]bool{}
		for _, m := range dls {
			p, _ := dlq.Header(m.Headers, dlq.HeaderOriginalPartition)
			off, _ := dlq.Header(m.Headers, dlq.HeaderOriginalOffset)
			seen[p+"/"+off] = true
		}
		res.DeadLettered = len(seen)
	}
	return res, nil
}

const pollInterval = 20 * time.Millisecond

// waitComplete polls until every event is deleted everywhere and every
// partition's offset is committed to its end, the child exits, or ctx
// ends (then it reports false with the context's error).
func waitComplete(ctx context.Context, client *kafka.Client, tr *tracker, group, topic string, ends map[int]int64, exited <-chan error, untilDeleted bool) (bool, error) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case err := <-exited:
			return false, errors.Join(errChildExited, err)
		case <-t.C:
		}
		// The offsets say when the implementation is finished: what it
		// did not delete it dead-lettered.
		if untilDeleted && tr.done.Load() < int64(tr.n) {
			continue
		}
		if ok, err := committed(ctx, client, group, topic, ends); err == nil && ok {
			return true, nil
		}
	}
}

func committed(ctx context.Context, client *kafka.Client, group, topic string, ends map[int]int64) (bool, error) {
	parts := make([]int, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return false, err
	}
	got := 0
	for _, p := range resp.Topics[topic] {
		if p.Error != nil || p.CommittedOffset < ends[p.Partition] {
			return false, p.Error
		}
		got++
	}
	return got == len(ends), nil
}

func endOffsets(ctx context.Context, brokers []string, topic string, partitions int) (map[int]int64, error) {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	reqs := make([]kafka.OffsetRequest, partitions)
	for p := range reqs {
		reqs[p] = kafka.LastOffsetOf(p)
	}
	resp, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	ends := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, p.Error
		}
		ends[p.Partition] = p.LastOffset
	}
	if len(ends) != partitions {
		return nil, fmt.Errorf("end offsets of %d partitions, want %d", len(ends), partitions)
	}
	return ends, nil
}

// createTopics creates a run's topics on a real broker.
func createTopics(ctx context.Context, brokers []string, topic string, partitions int, dlqTopic string) error {
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
	topics := []kafka.TopicConfig{
		{Topic: topic, NumPartitions: partitions, ReplicationFactor: -1},
		{Topic: dlqTopic, NumPartitions: 1, ReplicationFactor: -1},
		// The daemon refuses to start without its receipts and retry
		// topics, like the platform's.
		{Topic: receipt.TopicFor(topic), NumPartitions: partitions, ReplicationFactor: -1},
	}
	for _, rt := range devstack.RetryTopics(topic) {
		topics = append(topics, kafka.TopicConfig{Topic: rt, NumPartitions: partitions, ReplicationFactor: -1})
	}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", name, err)
		}
	}
	// Wait for leaders, or the first produce fails.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := endOffsets(ctx, brokers, topic, partitions); err == nil {
			return nil
		} else if time.Now().After(deadline) {
			return fmt.Errorf("topic %s has no leaders: %w", topic, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// DefaultScenarios are `make bench`'s: n events with instant vendors,
// latencyN with every vendor answering in latency, throttleN with Webex
// admitting rps requests per second, and, when backlog > 0, a backlog of
// that many events for erasured alone (for its peak RSS).
func DefaultScenarios(n, latencyN, throttleN, backlog int, latency time.Duration, rps float64) []Scenario {
	var out []Scenario
	if n > 0 {
		out = append(out, Scenario{Name: "0ms", Events: n, Naive: true})
	}
	if latencyN > 0 {
		out = append(out, Scenario{Name: strconv.Itoa(int(latency/time.Millisecond)) + "ms", Events: latencyN, Latency: latency, Naive: true})
	}
	if throttleN > 0 {
		out = append(out, Scenario{Name: "throttled", Events: throttleN, Throttled: webex.Name, ThrottleRPS: rps, Naive: true})
	}
	if backlog > 0 {
		out = append(out, Scenario{Name: "backlog", Events: backlog})
	}
	return out
}

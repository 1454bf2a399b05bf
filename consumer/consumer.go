// Package consumer is erasured's Kafka side: a consumer-group member that
// reads user-deleted events, runs them through the vendors with bounded
// concurrency that keeps each user's events in order, and commits an offset
// only once every event below it is finished.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/kafkaauth"
)

// Config configures the consumer-group member.
type Config struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string `yaml:"brokers"`
	// Topic carries user-deleted events.
	Topic string `yaml:"topic"`
	// GroupID is the consumer group; every replica uses the same one.
	GroupID string `yaml:"group_id"`
	// StartOffset is where a new group starts: "earliest" (default;
	// nothing is skipped) or "latest" (what is in the topic when the group
	// first holds a partition is skipped). The first member to hold a
	// partition with no commit resolves the offset and commits it before
	// reading, so a restart never resolves it again. Once the group has
	// committed anywhere on the topic, a partition without a commit (one
	// added later) starts at its earliest offset whatever this says: its
	// records were all written after the group started, and are owed.
	StartOffset string `yaml:"start_offset"`
	// MaxInFlight bounds the events fetched and unfinished per partition.
	// Memory is bounded by it, whatever the backlog.
	MaxInFlight int `yaml:"max_in_flight"`
	// CommitInterval is how often finished offsets are committed.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// DrainTimeout is how long in-flight events may run on after their
	// partition is revoked or the daemon is stopping; what is unfinished
	// then is handed back (not committed) and redelivered.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout are the
	// group-membership timings sent to the coordinator.
	SessionTimeout    time.Duration `yaml:"session_timeout"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	RebalanceTimeout  time.Duration `yaml:"rebalance_timeout"`
	// FetchMaxBytes bounds one fetch; FetchMaxWait bounds how long a fetch
	// waits for data when there is none (it returns at once when there is).
	FetchMaxBytes int           `yaml:"fetch_max_bytes"`
	FetchMaxWait  time.Duration `yaml:"fetch_max_wait"`
	// RequestTimeout bounds group-coordination requests (join, sync,
	// heartbeat, offset commit). A heartbeat that times out ends the
	// generation, so it must outlast a busy broker's slowest answer.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// PartitionWatchInterval is how often each member asks the brokers
	// how many partitions the topic has; a change rebalances the group,
	// so partitions added to the topic are read within one interval.
	PartitionWatchInterval time.Duration `yaml:"partition_watch_interval"`
	// Auth is the tls and sasl sub-sections: how erasured and the brokers
	// authenticate each other. The daemon builds the consumer's Dialer and
	// the dead-letter writer's Transport from it.
	Auth kafkaauth.Config `yaml:",inline"`
}

// DefaultConfig is the configuration YAML and the environment are
// decoded over: a key they leave out keeps its value here, one they set
// (zero included) is kept and validated. A new field's default goes here.
func DefaultConfig() Config {
	return Config{
		Topic:             event.DefaultTopic,
		GroupID:           "erasured",
		StartOffset:       "earliest",
		MaxInFlight:       64,
		CommitInterval:    time.Second,
		DrainTimeout:      10 * time.Second,
		SessionTimeout:    30 * time.Second,
		HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout:  30 * time.Second,
		FetchMaxBytes:     10 << 20,
		// kafka-go asks the broker to wait FetchMaxWait minus up to 1s of
		// allowance for the round trip, and times the read out at
		// FetchMaxWait. Below a second the allowance shrinks to a quarter,
		// and a busy broker that answers an empty fetch a little late
		// breaks the connection. A fetch returns as soon as a record
		// arrives, so a long wait costs no latency.
		FetchMaxWait:           3 * time.Second,
		RequestTimeout:         10 * time.Second,
		PartitionWatchInterval: 5 * time.Second,
	}
}

// Validate names the first wrong field.
func (c *Config) Validate() error {
	var errs config.Errors
	if len(c.Brokers) == 0 {
		errs.Invalid("brokers", "must list at least one broker")
	}
	if strings.TrimSpace(c.Topic) == "" {
		errs.Invalid("topic", "must be set")
	}
	if strings.TrimSpace(c.GroupID) == "" {
		errs.Invalid("group_id", "must be set")
	}
	if c.StartOffset != "earliest" && c.StartOffset != "latest" {
		errs.Invalid("start_offset", "must be earliest or latest, got %q", c.StartOffset)
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 100000 {
		errs.Invalid("max_in_flight", "must be in [1, 100000], got %d", c.MaxInFlight)
	}
	if c.CommitInterval <= 0 {
		errs.Invalid("commit_interval", "must be positive, got %s", c.CommitInterval)
	}
	if c.DrainTimeout <= 0 {
		errs.Invalid("drain_timeout", "must be positive, got %s", c.DrainTimeout)
	}
	if c.SessionTimeout <= 0 {
		errs.Invalid("session_timeout", "must be positive, got %s", c.SessionTimeout)
	}
	if c.RebalanceTimeout <= 0 {
		errs.Invalid("rebalance_timeout", "must be positive, got %s", c.RebalanceTimeout)
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.SessionTimeout {
		errs.Invalid("heartbeat_interval", "must be positive and below session_timeout (%s), got %s", c.SessionTimeout, c.HeartbeatInterval)
	}
	if c.RequestTimeout <= 0 {
		errs.Invalid("request_timeout", "must be positive, got %s", c.RequestTimeout)
	}
	if c.HeartbeatInterval+c.DrainTimeout+c.RequestTimeout >= min(c.RebalanceTimeout, c.SessionTimeout) {
		// A member learns of a rebalance at its next heartbeat (up to
		// heartbeat_interval late), then drains (drain_timeout) and
		// commits (request_timeout) before it rejoins; the coordinator
		// waits rebalance_timeout for that. kafka-go stops heartbeating
		// when the generation ends, so the same time must also fit in one
		// session, counted from the last heartbeat. Otherwise the member
		// is evicted mid-drain: its partitions move while it still runs
		// their users' events (per-user order breaks) and its final
		// commit is refused (the finished work is redone).
		errs.Invalid("drain_timeout", "heartbeat_interval (%s) + drain_timeout (%s) + request_timeout (%s) = %s must be below min(rebalance_timeout, session_timeout) = %s",
			c.HeartbeatInterval, c.DrainTimeout, c.RequestTimeout, c.HeartbeatInterval+c.DrainTimeout+c.RequestTimeout, min(c.RebalanceTimeout, c.SessionTimeout))
	}
	if c.FetchMaxBytes < 1<<10 {
		errs.Invalid("fetch_max_bytes", "must be at least 1024, got %d", c.FetchMaxBytes)
	}
	if c.FetchMaxWait <= 0 {
		errs.Invalid("fetch_max_wait", "must be positive, got %s", c.FetchMaxWait)
	}
	if c.PartitionWatchInterval < time.Second || c.PartitionWatchInterval > time.Hour {
		// Each member asks once per interval; below a second that is load
		// for nothing, above an hour new partitions wait too long.
		errs.Invalid("partition_watch_interval", "must be in [1s, 1h], got %s", c.PartitionWatchInterval)
	}
	for i, b := range c.Brokers {
		if !strings.Contains(b, ":") {
			errs.Invalid(fmt.Sprintf("brokers[%d]", i), "must be host:port, got %q", b)
		}
	}
	errs.Add(c.Auth.Validate())
	return errs.Err()
}

// Observer hears about the group, for metrics and readiness.
type Observer interface {
	// Assigned is called when a generation starts, with its partitions.
	Assigned(generation int32, partitions []int)
	// Revoked is called when a generation's work has stopped.
	Revoked(generation int32)
	// Committed reports a commit and how long it took.
	Committed(partition int, offset int64, took time.Duration, err error)
	// Lag reports a partition's lag: its high watermark minus the
	// committed offset (lag.go).
	Lag(partition int, lag int64)
	// Fetched is called when a record is taken from a partition and
	// Released when its worker lets go of it, finished or interrupted:
	// in between the record is in flight.
	Fetched(partition int)
	Released(partition int, finished bool)
}

type nopObserver struct{}

func (nopObserver) Assigned(int32, []int)                      {}
func (nopObserver) Revoked(int32)                              {}
func (nopObserver) Committed(int, int64, time.Duration, error) {}
func (nopObserver) Lag(int, int64)                             {}
func (nopObserver) Fetched(int)                                {}
func (nopObserver) Released(int, bool)                         {}

// Consumer is one member of the consumer group.
type Consumer struct {
	cfg      Config
	proc     recordProcessor
	dialer   *kafka.Dialer
	log      zerolog.Logger
	observer Observer
	// assignedCount is one more than the partition count this member last
	// assigned the group as its leader; 0 when it has not since the last
	// generation started (see watchAssignedCount).
	assignedCount atomic.Int64
	// onShare hears this member's share of the topic (share.go).
	onShare func(assigned, total int)
}

// New returns a Consumer. dialer may be nil (plain TCP); o may be nil.
func New(cfg Config, proc *Processor, dialer *kafka.Dialer, log zerolog.Logger, o Observer) *Consumer {
	if o == nil {
		o = nopObserver{}
	}
	return &Consumer{cfg: cfg, proc: proc, dialer: dialer, log: log, observer: o}
}

// Run joins the group and processes events until ctx ends, then stops
// fetching, lets in-flight events finish within DrainTimeout, commits what
// is finished and leaves the group. It returns nil after a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	start := kafka.FirstOffset
	if c.cfg.StartOffset == "latest" {
		start = kafka.LastOffset
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                c.cfg.GroupID,
		Brokers:           c.cfg.Brokers,
		Dialer:            c.dialer,
		Topics:            []string{c.cfg.Topic},
		HeartbeatInterval: c.cfg.HeartbeatInterval,
		SessionTimeout:    c.cfg.SessionTimeout,
		RebalanceTimeout:  c.cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		Timeout:           c.cfg.RequestTimeout,
		// Without the watch, partitions added to the topic are not read
		// until some unrelated rebalance: with no restart, never.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: c.cfg.PartitionWatchInterval,
		// kafka-go stands in StartOffset for a partition with no commit;
		// startGeneration replaces it with a concrete, committed offset
		// before anything is read (see positions).
		StartOffset: start,
		ErrorLogger: kafkaLogger{c.log.With().Str("source", "kafka-go").Logger()},
		// kafka-go's defaults, noting what the leader assigns.
		GroupBalancers: []kafka.GroupBalancer{
			countingBalancer{kafka.RangeGroupBalancer{}, c},
			countingBalancer{kafka.RoundRobinGroupBalancer{}, c},
		},
	})
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	defer func() {
		// Close waits for the generation's work to drain and commit, then
		// leaves the group so partitions move at once, not after a session
		// timeout.
		if err := cg.Close(); err != nil {
			c.log.Warn().Err(err).Msg("leaving consumer group")
		}
		c.log.Info().Msg("left consumer group")
	}()

	for {
		gen, err := cg.Next(ctx)
		switch {
		case err == nil:
			c.startGeneration(ctx, gen)
		case ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed):
			return nil
		case kafkaauth.IsRejection(err):
			// Wrong credentials, certificate or ACLs do not heal by
			// retrying: stop with an error that says where to look.
			return fmt.Errorf("%w (check kafka.tls, kafka.sasl and the group's ACLs): %w", ErrRejected, err)
		default:
			// kafka-go backs off and rejoins by itself; a broker restart
			// lands here until the broker is back.
			c.log.Warn().Err(err).Msg("consumer group: joining failed; retrying")
		}
	}
}

// ErrRejected is wrapped by Run's error when the brokers refuse erasured's
// credentials, certificate or access to the group.
var ErrRejected = errors.New("the Kafka brokers refused erasured")

// generation is the work of one consumer-group generation.
type generation struct {
	c        *Consumer
	gen      *kafka.Generation
	commitMu sync.Mutex
	mu       sync.Mutex
	workers  map[int]*partitionWorker
	// startsCommitted, when set, reports the start offsets positions
	// committed.
	startsCommitted func()
}

func (c *Consumer) startGeneration(root context.Context, gen *kafka.Generation) {
	g := &generation{c: c, gen: gen, workers: map[int]*partitionWorker{}}
	if n := c.assignedCount.Swap(0); n > 0 {
		gen.Start(func(genCtx context.Context) { g.watchAssignedCount(root, genCtx, int(n-1)) })
	}
	gen.Start(func(genCtx context.Context) {
		assigned, err := g.positions(root, genCtx, gen.Assignments[c.cfg.Topic])
		if err != nil {
			// The generation or the daemon ended first; nothing was read.
			c.log.Info().Int32("generation", gen.ID).Err(err).Msg("generation ended before its start offsets were committed")
			return
		}
		parts := make([]int, 0, len(assigned))
		for _, a := range assigned {
			parts = append(parts, a.ID)
		}
		c.log.Info().Int32("generation", gen.ID).Ints("partitions", parts).Msg("partitions assigned")
		c.observer.Assigned(gen.ID, parts)
		g.reportShare(genCtx, len(parts))
		if g.startsCommitted != nil {
			g.startsCommitted()
		}

		var wg sync.WaitGroup
		wg.Add(len(assigned))
		for _, a := range assigned {
			gen.Start(func(genCtx context.Context) {
				defer wg.Done()
				g.runPartition(root, genCtx, a)
			})
		}
		g.commitLoop(root, genCtx)
		wg.Wait()
		c.log.Info().Int32("generation", gen.ID).Msg("partitions revoked")
		c.observer.Revoked(gen.ID)
	})
}

// runPartition reads one partition until the generation or the daemon
// ends, then drains and commits it.
func (g *generation) runPartition(root, genCtx context.Context, a kafka.PartitionAssignment) {
	c := g.c
	log := c.log.With().Int("partition", a.ID).Logger()
	fetchCtx, stopFetch := context.WithCancel(genCtx)
	defer stopFetch()
	stop := context.AfterFunc(root, stopFetch)
	defer stop()
	// Work runs on its own context: a revoke stops fetching at once, but
	// in-flight events get DrainTimeout to finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(root))
	defer cancelWork()
	workCtx = context.WithValue(workCtx, fetchStoppedKey{}, fetchCtx.Done())

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   c.cfg.Brokers,
		Topic:     c.cfg.Topic,
		Partition: a.ID,
		Dialer:    c.dialer,
		MinBytes:  1,
		MaxBytes:  c.cfg.FetchMaxBytes,
		MaxWait:   c.cfg.FetchMaxWait,
		// The reader prefetches; keep its queue near the in-flight limit
		// so memory stays bounded by configuration.
		QueueCapacity: max(c.cfg.MaxInFlight, 16),
		ErrorLogger:   kafkaLogger{log.With().Str("source", "kafka-go").Logger()},
	})
	defer r.Close()
	if err := r.SetOffset(a.Offset); err != nil {
		log.Error().Err(err).Int64("offset", a.Offset).Msg("cannot position reader")
		return
	}
	w := newPartitionWorker(a.ID, r, c.proc, a.Offset, c.cfg.MaxInFlight, log)
	w.observer = c.observer
	g.mu.Lock()
	g.workers[a.ID] = w
	g.mu.Unlock()

	err := w.fetch(fetchCtx, workCtx)
	if err != nil {
		// Returning from a Generation.Start function ends the generation
		// for every partition (kafka-go closes it), so the member rejoins
		// and this partition gets a fresh reader from its commit point.
		log.Error().Err(err).Msg("fetching stopped; the generation ends and the group rejoins")
	}

	// Drain: give in-flight events DrainTimeout, then hand back the rest.
	drained := make(chan struct{})
	go func() { w.drain(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(c.cfg.DrainTimeout):
		log.Warn().Int("in_flight", w.tracker.inFlight()).Dur("drain_timeout", c.cfg.DrainTimeout).
			Msg("drain timeout: handing back unfinished events; they will be redelivered")
		cancelWork()
		<-drained
	}
	g.commit(map[int]*partitionWorker{a.ID: w})
}

type fetchStoppedKey struct{}

// Stopping returns a channel closed once the partition whose work ctx
// belongs to stops fetching (revoked, or the daemon stopping); nil, which
// never fires, for any other context. Work that is only waiting (a retry
// worker's record before its due time) gives up at once on it rather
// than hold the drain: nothing was done, so the record is redelivered as
// it was.
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(fetchStoppedKey{}).(<-chan struct{})
	return ch
}

// commitLoop commits every CommitInterval until the generation or the
// daemon ends.
func (g *generation) commitLoop(root, genCtx context.Context) {
	t := time.NewTicker(g.c.cfg.CommitInterval)
	defer t.Stop()
	lagCtx, stopLag := context.WithCancel(genCtx)
	defer stopLag()
	go g.lagLoop(lagCtx, g.c.cfg.CommitInterval)
	for {
		select {
		case <-genCtx.Done():
			return
		case <-root.Done():
			return
		case <-t.C:
			g.mu.Lock()
			ws := make(map[int]*partitionWorker, len(g.workers))
			for p, w := range g.workers {
				ws[p] = w
			}
			g.mu.Unlock()
			g.commit(ws)
		}
	}
}

// commit commits, in one request, the commit point of every partition in
// ws that moved since its last commit.
func (g *generation) commit(ws map[int]*partitionWorker) {
	// Read the commit points under the lock: a point read before another
	// commit of the same partition could otherwise be committed after it,
	// moving the group's offset backwards.
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	offsets := map[int]int64{}
	for p, w := range ws {
		if off, moved := w.tracker.commitPoint(); moved {
			offsets[p] = off
		}
	}
	if len(offsets) == 0 {
		return
	}
	t0 := time.Now()
	err := g.gen.CommitOffsets(map[string]map[int]int64{g.c.cfg.Topic: offsets})
	took := time.Since(t0)
	for p, off := range offsets {
		g.c.observer.Committed(p, off, took, err)
		if err == nil {
			ws[p].tracker.markCommitted(off)
		}
	}
	if err != nil {
		// Not fatal: the events stay uncommitted and are redelivered to
		// whoever owns the partitions next. Deletes are idempotent.
		g.c.log.Warn().Err(err).Interface("offsets", offsets).Msg("offset commit failed")
	}
}

// kafkaLogger adapts zerolog to kafka-go's Logger.
type kafkaLogger struct{ log zerolog.Logger }

func (l kafkaLogger) Printf(format string, args ...any) {
	l.log.Warn().Msgf(format, args...)
}

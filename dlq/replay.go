package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/segmentio/kafka-go"
	"golang.org/x/time/rate"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// DefaultMaxReplays is how often a record may be replayed before replay
// refuses it.
const DefaultMaxReplays = 5

// ReplayConfig configures a replay of the dead-letter topic. Fields are
// named, in errors, by their command-line flags.
type ReplayConfig struct {
	Brokers []string
	// DeadLetterTopic is read; Topic receives the replayed records.
	DeadLetterTopic string
	Topic           string
	// GroupID is the replay's own consumer group: its committed offsets
	// are how far replay got, so that a re-run resumes.
	GroupID string
	// From is where reading starts. The zero value resumes from GroupID's
	// committed offsets (the earliest record where it has none); any
	// other value wins over them, and a real run commits it as the
	// group's new position before it reads.
	From Start
	// Follow keeps reading past the end as of the start, until ctx ends.
	Follow bool
	// DryRun reads and reports, writes nothing and commits nothing.
	DryRun bool
	Filter Filter
	// MaxReplays refuses records already replayed that many times.
	MaxReplays int
	// IncludeInvalid sends invalid_event records back unchanged instead
	// of refusing them.
	IncludeInvalid bool
	// Rate bounds republished records per second; 0 means no bound.
	Rate float64
	// WriteTimeout bounds one write; a failed write is retried for up to
	// WriteRetryFor, then the run stops (nothing is lost: the record's
	// offset is not committed, and a re-run starts with it).
	WriteTimeout  time.Duration
	WriteRetryFor time.Duration
	// FetchMaxWait bounds how long a fetch waits for records that are
	// not there yet; see consumer.Config.FetchMaxWait.
	FetchMaxWait time.Duration
	// RequestTimeout bounds metadata, offset and group requests.
	RequestTimeout time.Duration
	// Group membership timings, as in consumer.Config.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	// Keys signs each restriction replay writes (SigningConfig.Keyring):
	// the daemon honours only signed ones. A real run refuses to start
	// without it.
	Keys *Keyring
	// AcceptedTypes are the daemon's event.accepted_types, to decode an
	// original record read back for a dead letter written without its
	// value (see ReasonValueOmittedOriginalGone).
	AcceptedTypes []string
}

// DefaultReplayConfig is what the command's flags are applied over; a
// new field's default goes here. Rate is 0 (no bound) here; the command's
// -rate flag has its own default.
func DefaultReplayConfig() ReplayConfig {
	return ReplayConfig{
		DeadLetterTopic: DefaultTopic,
		Topic:           event.DefaultTopic,
		GroupID:         "erasured-replay",
		MaxReplays:      DefaultMaxReplays,
		WriteTimeout:    10 * time.Second,
		WriteRetryFor:   time.Minute,
		FetchMaxWait:    time.Second,
		RequestTimeout:  10 * time.Second,
		// Shorter than the daemon's: replay handles records on one
		// goroutine and heartbeats on another, so nothing it does delays
		// a heartbeat, and a re-run after a killed one waits out the dead
		// member's session.
		SessionTimeout:    10 * time.Second,
		HeartbeatInterval: time.Second,
		RebalanceTimeout:  10 * time.Second,
	}
}

// Validate names the first wrong field.
func (c *ReplayConfig) Validate() error {
	if err := validateBrokers(c.Brokers); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(c.DeadLetterTopic) == "":
		return config.Invalid("dlq-topic", "must be set")
	case strings.TrimSpace(c.Topic) == "":
		return config.Invalid("topic", "must be set")
	case c.Topic == c.DeadLetterTopic:
		return config.Invalid("topic", "must differ from the dead-letter topic %q, or replay would feed itself", c.DeadLetterTopic)
	case strings.TrimSpace(c.GroupID) == "":
		return config.Invalid("group", "must be set")
	case c.MaxReplays < 1:
		return config.Invalid("max-replays", "must be at least 1, got %d", c.MaxReplays)
	case c.Rate < 0:
		return config.Invalid("rate", "must be 0 (no limit) or positive, got %g", c.Rate)
	case c.Follow && c.DryRun:
		return config.Invalid("follow", "a dry run reads to the end and stops; drop -follow or -dry-run")
	case c.WriteTimeout <= 0:
		return config.Invalid("write-timeout", "must be positive, got %s", c.WriteTimeout)
	case c.WriteRetryFor <= 0:
		return config.Invalid("write-retry-for", "must be positive, got %s", c.WriteRetryFor)
	case c.FetchMaxWait <= 0:
		return config.Invalid("fetch-max-wait", "must be positive, got %s", c.FetchMaxWait)
	case c.RequestTimeout <= 0:
		return config.Invalid("request-timeout", "must be positive, got %s", c.RequestTimeout)
	case c.HeartbeatInterval <= 0 || c.HeartbeatInterval >= c.SessionTimeout:
		return config.Invalid("heartbeat-interval", "must be positive and below the session timeout (%s), got %s", c.SessionTimeout, c.HeartbeatInterval)
	case c.RebalanceTimeout <= 0:
		return config.Invalid("rebalance-timeout", "must be positive, got %s", c.RebalanceTimeout)
	}
	if err := c.Filter.Validate(); err != nil {
		return err
	}
	if c.Keys == nil && !c.DryRun {
		// Unsigned, the restrictions would be ignored and every replayed
		// record would go to every vendor: not what replay promises.
		return config.Invalid("replay.signing_key", "not set: replay signs the vendors it restricts a record to, and the daemon honours only signed restrictions; set replay.signing_key (the daemons' key) in -config or ERASURED_REPLAY_SIGNING_KEY[_FILE] (a -dry-run needs none)")
	}
	return nil
}

func validateBrokers(bs []string) error {
	if len(bs) == 0 {
		return config.Invalid("brokers", "must list at least one broker (or come from -config)")
	}
	for _, b := range bs {
		if !strings.Contains(b, ":") {
			return config.Invalid("brokers", "must be host:port, got %q", b)
		}
	}
	return nil
}

// ReplayMessage builds the record replay writes for dead-letter record
// dead: its key and value, its own (non-erasured) headers, and:
//
//	erasured-only-vendors        d.Vendors (omitted when empty: all vendors)
//	erasured-only-vendors-signature  keys' signature of the restriction
//	erasured-replay-count        e.ReplayCount + 1
//	erasured-replayed-from-*     e's erasured-original-* values
//	erasured-replayed-from-dead-letter  dead's topic/partition/offset
//	erasured-replayed-at         now
//
// dead is the dead-letter record, or, for one written without its value,
// the original read back (see Replayer.source).
func ReplayMessage(dead kafka.Message, e *Entry, d Decision, now time.Time, keys *Keyring) kafka.Message {
	hs := make([]kafka.Header, 0, len(dead.Headers)+8)
	for _, h := range dead.Headers {
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			hs = append(hs, h)
		}
	}
	add := func(k, v string) { hs = append(hs, kafka.Header{Key: k, Value: []byte(v)}) }
	if len(d.Vendors) > 0 {
		// Never an empty value: the daemon reads an empty restriction as
		// none, and would call every vendor.
		add(HeaderOnlyVendors, strings.Join(d.Vendors, ","))
		r := Restriction{EventID: e.EventID, ReplayCount: e.ReplayCount + 1, Vendors: d.Vendors, Key: dead.Key, Value: dead.Value}
		if sig := keys.Sign(&r); sig != "" {
			add(HeaderOnlyVendorsSignature, sig)
		}
	}
	add(HeaderReplayCount, strconv.Itoa(e.ReplayCount+1))
	for _, c := range [][2]string{
		{HeaderOriginalTopic, HeaderReplayedFromTopic},
		{HeaderOriginalPartition, HeaderReplayedFromPartition},
		{HeaderOriginalOffset, HeaderReplayedFromOffset},
		{HeaderOriginalTimestamp, HeaderReplayedFromTimestamp},
	} {
		if v, ok := Header(dead.Headers, c[0]); ok {
			add(c[1], v)
		}
	}
	add(HeaderReplayedFromDeadLetter, fmt.Sprintf("%s/%d/%d", dead.Topic, dead.Partition, dead.Offset))
	add(HeaderReplayedAt, now.UTC().Format(time.RFC3339Nano))
	return kafka.Message{Key: dead.Key, Value: dead.Value, Headers: hs}
}

// originalPartition sends a replayed record back to the partition it was
// first read from when it goes back to that topic, so that it queues
// behind, and ahead of, the same user's other events as it first did,
// whatever partitioner the original producer used. Otherwise it hashes
// the key.
type originalPartition struct {
	topic    string
	fallback kafka.Hash
}

func (b *originalPartition) Balance(m kafka.Message, parts ...int) int {
	if t, _ := Header(m.Headers, HeaderReplayedFromTopic); t == b.topic {
		if v, ok := Header(m.Headers, HeaderReplayedFromPartition); ok {
			if p, err := strconv.Atoi(v); err == nil && slices.Contains(parts, p) {
				return p
			}
		}
	}
	return b.fallback.Balance(m, parts...)
}

// NewReplayWriter returns the writer replay republishes with: every
// in-sync replica acknowledges a record before its dead-letter offset is
// committed.
func NewReplayWriter(cfg ReplayConfig, transport kafka.RoundTripper) *kafka.Writer {
	return &kafka.Writer{
		Addr:         kafka.TCP(cfg.Brokers...),
		Topic:        cfg.Topic,
		Balancer:     &originalPartition{topic: cfg.Topic},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 2 * time.Millisecond,
		MaxAttempts:  3,
		WriteTimeout: cfg.WriteTimeout,
		Transport:    transport,
	}
}

// Replayer republishes dead-letter records to the main topic.
type Replayer struct {
	cfg     ReplayConfig
	cl      *cluster
	w       Writer
	rep     *Report
	limiter *rate.Limiter
	now     func() time.Time
}

// NewReplayer returns a Replayer for cfg, which must be valid. w writes to
// cfg.Topic (NewReplayWriter); it may be nil for a dry run. dialer and
// transport may be nil (plain TCP).
func NewReplayer(cfg ReplayConfig, w Writer, dialer *kafka.Dialer, transport kafka.RoundTripper, rep *Report) *Replayer {
	lim := rate.NewLimiter(rate.Inf, 1)
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), 1)
	}
	if rep == nil {
		rep = NewReport(ReportOptions{})
	}
	return &Replayer{
		cfg: cfg, cl: newCluster(cfg.Brokers, dialer, transport, cfg.RequestTimeout),
		w: w, rep: rep, limiter: lim, now: time.Now,
	}
}

// commitEvery and commitInterval bound how much handled work waits for a
// commit: a run killed without a chance to commit replays at most that
// much again.
const (
	commitEvery    = 100
	commitInterval = 200 * time.Millisecond
)

// Run replays until every partition reaches the end it had when Run
// started (or, following, until ctx ends), and prints the summary. It
// returns an error wrapping ctx's error when ctx ended first (not when
// following), ErrUnknownTopic when a topic is missing, or the failure
// that stopped it. Whatever stopped it, nothing is lost: an offset is
// committed only once the records below it are handled, and a re-run
// resumes there.
func (r *Replayer) Run(ctx context.Context) (Summary, error) {
	mode := "replay"
	if r.cfg.DryRun {
		mode = "dry-run"
	}
	sum := newSummary(mode)
	started := r.now()
	err := r.run(ctx, &sum)
	sum.Seconds = r.now().Sub(started).Seconds()
	if r.cfg.Follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil
	}
	sum.Complete = err == nil && !r.cfg.Follow
	r.rep.Finish(sum)
	return sum, err
}

func (r *Replayer) run(ctx context.Context, sum *Summary) error {
	snap, err := r.cl.snapshot(ctx, r.cfg.DeadLetterTopic, r.cfg.From)
	if err != nil {
		return err
	}
	if _, err := r.cl.partitions(ctx, r.cfg.Topic); err != nil {
		return err
	}
	if r.cfg.DryRun {
		committed := map[int]int64{}
		if !r.cfg.From.Explicit() {
			if committed, err = r.cl.committed(ctx, r.cfg.GroupID, r.cfg.DeadLetterTopic, snap.parts); err != nil {
				return err
			}
		}
		spans := map[int]span{}
		for _, p := range snap.parts {
			if !inScope(r.cfg.From, p) {
				continue
			}
			c, ok := committed[p]
			if !ok {
				c = -1
			}
			spans[p] = snap.spanOf(p, snap.startOf(r.cfg.From, p, c), false)
		}
		r.begin(sum, spans)
		return r.cl.consume(ctx, r.cfg.DeadLetterTopic, spans, r.cfg.FetchMaxWait, func(m kafka.Message) error {
			e := ParseEntry(m)
			d := Decide(&e, &r.cfg.Filter, r.policy())
			_, d, err := r.source(ctx, m, &e, d)
			if err != nil {
				return err
			}
			sum.add(&e, d, false)
			if d.Action == ActionReplay {
				sum.replayed(d)
			}
			r.rep.Record(&e, d)
			r.rep.Progress(sum)
			return nil
		})
	}
	return r.runGroup(ctx, snap, sum)
}

func (r *Replayer) policy() Policy {
	return Policy{MaxReplays: r.cfg.MaxReplays, IncludeInvalid: r.cfg.IncludeInvalid}
}

// begin notes where the run starts and how much it has to read.
func (r *Replayer) begin(sum *Summary, spans map[int]span) {
	parts := make([]int, 0, len(spans))
	for p := range spans {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	cells := make([]string, len(parts))
	for i, p := range parts {
		s := spans[p]
		sum.Total += s.records()
		end := "follow"
		if !s.following() {
			end = strconv.FormatInt(s.end, 10)
		}
		cells[i] = fmt.Sprintf("%d:%d..%s", p, s.start, end)
	}
	from := "the group's committed offsets (earliest where none)"
	if r.cfg.From.Explicit() {
		from = "-from " + r.cfg.From.String()
	}
	verb := "replaying"
	if r.cfg.DryRun {
		verb = "dry run of replaying"
	}
	r.rep.Notice("%s %s to %s, group %s, from %s; partitions %s; %d records to read",
		verb, r.cfg.DeadLetterTopic, r.cfg.Topic, r.cfg.GroupID, from, strings.Join(cells, " "), sum.Total)
}

// runGroup joins the replay's consumer group and replays its partitions,
// committing after each record is handled. A rebalance (another replay
// with the same group) ends the generation; the member rejoins and goes
// on from the committed offsets.
func (r *Replayer) runGroup(ctx context.Context, snap *snapshot, sum *Summary) error {
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                r.cfg.GroupID,
		Brokers:           r.cfg.Brokers,
		Dialer:            r.cl.dialer,
		Topics:            []string{r.cfg.DeadLetterTopic},
		HeartbeatInterval: r.cfg.HeartbeatInterval,
		SessionTimeout:    r.cfg.SessionTimeout,
		RebalanceTimeout:  r.cfg.RebalanceTimeout,
		JoinGroupBackoff:  time.Second,
		Timeout:           r.cfg.RequestTimeout,
		StartOffset:       kafka.FirstOffset,
	})
	if err != nil {
		return fmt.Errorf("replay consumer group: %w", err)
	}
	defer cg.Close()
	r.rep.Notice("joining consumer group %s (after a run that was killed rather than interrupted, this waits up to the session timeout, %s, for the dead member to expire)",
		r.cfg.GroupID, r.cfg.SessionTimeout)

	first := true
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, kafka.ErrGroupClosed) {
				return err
			}
			// kafka-go backs off (JoinGroupBackoff) and rejoins.
			r.rep.Notice("joining group %s failed, retrying: %v", r.cfg.GroupID, err)
			continue
		}
		spans := map[int]span{}
		reset := map[int]int64{}
		for _, a := range gen.Assignments[r.cfg.DeadLetterTopic] {
			if !inScope(r.cfg.From, a.ID) {
				continue
			}
			var start int64
			if first && r.cfg.From.Explicit() {
				start = snap.startOf(r.cfg.From, a.ID, -1)
				reset[a.ID] = start
			} else {
				// a.Offset is the committed offset, or FirstOffset (-2)
				// where there is none.
				start = snap.startOf(Start{}, a.ID, a.Offset)
			}
			spans[a.ID] = snap.spanOf(a.ID, start, r.cfg.Follow)
		}
		if first {
			r.begin(sum, spans)
		}
		if len(reset) > 0 {
			// -from wins over the committed offsets: record it as the
			// group's position first, so that a rebalance or an
			// interruption before the first commit resumes from it.
			if err := gen.CommitOffsets(map[string]map[int]int64{r.cfg.DeadLetterTopic: reset}); err != nil {
				return fmt.Errorf("setting group %s to -from %s: %w", r.cfg.GroupID, r.cfg.From, err)
			}
		}
		first = false
		res := make(chan error, 1)
		gen.Start(func(genCtx context.Context) {
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			stop := context.AfterFunc(genCtx, cancel)
			defer stop()
			res <- r.replaySpans(wctx, gen, spans, sum)
		})
		err = <-res
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.Canceled):
			r.rep.Notice("group %s rebalanced; rejoining and resuming from the committed offsets", r.cfg.GroupID)
		default:
			return err
		}
	}
}

// replaySpans replays spans within one generation. Offsets are committed
// from this goroutine only (kafka-go's generation shares one connection
// with its heartbeats), each covering only records fully handled:
// republished and acknowledged, skipped or refused.
func (r *Replayer) replaySpans(ctx context.Context, gen *kafka.Generation, spans map[int]span, sum *Summary) error {
	pending := map[int]int64{}
	handled := 0
	lastCommit := r.now()
	commit := func() {
		if len(pending) == 0 {
			return
		}
		if err := gen.CommitOffsets(map[string]map[int]int64{r.cfg.DeadLetterTopic: pending}); err != nil {
			sum.CommitFailures++
			r.rep.Notice("offset commit failed (the next run reads those records again): %v", err)
		}
		pending = map[int]int64{}
		handled = 0
		lastCommit = r.now()
	}
	defer commit()
	return r.cl.consume(ctx, r.cfg.DeadLetterTopic, spans, r.cfg.FetchMaxWait, func(m kafka.Message) error {
		e := ParseEntry(m)
		d := Decide(&e, &r.cfg.Filter, r.policy())
		src, d, err := r.source(ctx, m, &e, d)
		if err != nil {
			return err
		}
		if d.Action == ActionReplay {
			if err := r.limiter.Wait(ctx); err != nil {
				return err
			}
			if err := r.republish(ctx, src, &e, d); err != nil {
				return err
			}
		}
		sum.add(&e, d, false)
		if d.Action == ActionReplay {
			sum.replayed(d)
		}
		pending[m.Partition] = m.Offset + 1
		handled++
		r.rep.Record(&e, d)
		r.rep.Progress(sum)
		if handled >= commitEvery || r.now().Sub(lastCommit) >= commitInterval {
			commit()
		}
		return nil
	})
}

// republish writes the replayed record, retrying a failed write for up to
// WriteRetryFor.
func (r *Replayer) republish(ctx context.Context, dead kafka.Message, e *Entry, d Decision) error {
	msg := ReplayMessage(dead, e, d, r.now(), r.cfg.Keys)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 200 * time.Millisecond
	b.MaxInterval = 5 * time.Second
	b.MaxElapsedTime = r.cfg.WriteRetryFor
	attempt := 0
	op := func() error {
		attempt++
		wctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
		defer cancel()
		err := r.w.WriteMessages(wctx, msg)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		r.rep.Notice("republishing %s/%d@%d to %s failed (attempt %d), retrying: %v",
			dead.Topic, dead.Partition, dead.Offset, r.cfg.Topic, attempt, err)
		return err
	}
	if err := backoff.Retry(op, backoff.WithContext(b, ctx)); err != nil {
		return fmt.Errorf("republishing %s/%d@%d to %s after %d attempts: %w", dead.Topic, dead.Partition, dead.Offset, r.cfg.Topic, attempt, err)
	}
	return nil
}

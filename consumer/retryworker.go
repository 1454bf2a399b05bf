package consumer

// The retry worker lives here, not in package retrytopic: it is a
// consumer-group member like the main flow's, and reuses that member
// whole (group join, start offsets committed before reading, per-user
// lanes, the offset tracker, drain and commit discipline, lag) by giving
// Consumer a different recordProcessor. retrytopic holds only the record
// format, which the main flow's parking (this package) also imports, so
// putting the worker there would make a cycle.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/receipt"
	"github.com/erasured/erasured/retrytopic"
)

// RetryProducer writes one record to one partition of a retry topic and
// returns its offset once every in-sync replica has it. The worker writes
// a rescheduled record to the partition it read the old one from, so a
// user's records keep their order there.
type RetryProducer interface {
	Produce(ctx context.Context, topic string, partition int, m kafka.Message) (int64, error)
}

// Pauser says whether a vendor is paused (vendors.<name>.paused, or at
// runtime through vendors.pause_file): a paused vendor's retry worker
// calls nothing and waits, so parked parts stay parked until it is
// unpaused. *Pauses provides it; nil means never paused.
type Pauser interface {
	Paused(vendor string) bool
}

// RetryOutcome is what became of one retry-topic record, for
// erasured_retry_unparked_total.
type RetryOutcome string

const (
	RetryDeleted       RetryOutcome = "deleted"
	RetryAlreadyAbsent RetryOutcome = "already_absent"
	RetryNotApplicable RetryOutcome = "not_applicable"
	RetryRescheduled   RetryOutcome = "rescheduled"
	RetryDeadLettered  RetryOutcome = "dead_lettered"
)

// RetryObserver hears about retry-topic records, for metrics.
type RetryObserver interface {
	Unparked(vendor string, o RetryOutcome)
	// RetryAttempted counts one request the worker made to the vendor.
	RetryAttempted(vendor string)
}

type nopRetryObserver struct{}

func (nopRetryObserver) Unparked(string, RetryOutcome) {}
func (nopRetryObserver) RetryAttempted(string)         {}

// RetryWorkerConfig is one vendor's retry worker.
type RetryWorkerConfig struct {
	// Vendor is the adapter and Retrier the main flow uses for it, so
	// the worker shares its breaker and limiter.
	Vendor Vendor
	// Topic is the vendor's retry topic; GroupID the worker's group.
	Topic   string
	GroupID string
	// Retry holds the schedule, give_up_after and max_pending.
	Retry adapters.RetryConfig
}

// RetryWorkerOption adjusts a RetryWorker.
type RetryWorkerOption func(*retryProcessor)

// WithParkedIndex tells ix (the main flow's parked-user index) each time
// a parked part becomes final: Done once per parked record deleted,
// absent, not applicable or dead-lettered, never for a reschedule.
func WithParkedIndex(ix ParkedIndex) RetryWorkerOption {
	return func(p *retryProcessor) { p.index = ix }
}

// WithRetryObserver reports outcomes and attempts to o.
func WithRetryObserver(o RetryObserver) RetryWorkerOption {
	return func(p *retryProcessor) { p.observer = o }
}

// WithPauser makes the worker wait while p says its vendor is paused.
func WithRetryReceipts(r Receipts, fp *event.Fingerprinter) RetryWorkerOption {
	return func(rp *retryProcessor) {
		if r.Now == nil {
			r.Now = time.Now
		}
		rp.receipts, rp.fp = &r, fp
	}
}

// WithPauser makes a paused vendor's worker wait without calling.
func WithPauser(pz Pauser) RetryWorkerOption {
	return func(p *retryProcessor) { p.pause = pz }
}

// WithGroupObserver reports the worker's group (lag, commits) to o.
func WithGroupObserver(o Observer) RetryWorkerOption {
	return func(p *retryProcessor) { p.group = o }
}

// RetryWorker consumes one vendor's retry topic.
type RetryWorker struct {
	c *Consumer
	p *retryProcessor
}

// circuitRecheck is how often a worker whose vendor's circuit is open
// asks again: the breaker has no notification, and after its cooldown
// it half-opens only when asked.
const circuitRecheck = time.Second

// NewRetryWorker returns the retry worker for one vendor. kcfg is the main
// flow's Kafka section (brokers, timings, auth); the worker replaces its
// topic, group, start offset (always earliest: every parked record is
// owed) and in-flight bound (retry.max_pending).
func NewRetryWorker(kcfg Config, wc RetryWorkerConfig, dl DeadLetterer, prod RetryProducer, decode event.DecodeOptions, dialer *kafka.Dialer, log zerolog.Logger, opts ...RetryWorkerOption) *RetryWorker {
	kcfg.Topic = wc.Topic
	kcfg.GroupID = wc.GroupID
	kcfg.StartOffset = "earliest"
	kcfg.MaxInFlight = wc.Retry.MaxPending
	vendor := wc.Vendor.Adapter.Name()
	log = log.With().Str("vendor", vendor).Str("retry_topic", wc.Topic).Logger()
	p := &retryProcessor{
		v: wc.Vendor, vendor: vendor, cfg: wc.Retry, topic: wc.Topic, dlq: dl, prod: prod, decode: decode,
		log: log, observer: nopRetryObserver{}, now: time.Now,
		heads: map[int]map[string]int64{}, held: map[heldKey]time.Time{},
	}
	for _, o := range opts {
		o(p)
	}
	c := &Consumer{cfg: kcfg, proc: p, dialer: dialer, log: log, observer: p.group}
	if c.observer == nil {
		c.observer = nopObserver{}
	}
	return &RetryWorker{c: c, p: p}
}

// Run consumes the retry topic until ctx ends, then drains and commits
// like Consumer.Run. With a parked index, it also tells the index when
// the whole retry topic holds nothing unfinished (watchDrained).
func (w *RetryWorker) Run(ctx context.Context) error {
	if w.p.index != nil {
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		go w.watchDrained(wctx, drainedInterval)
	}
	return w.c.Run(ctx)
}

// drainedInterval is how often a worker checks whether its retry topic
// is drained.
const drainedInterval = 5 * time.Second

// watchDrained calls the index's Drained each interval in which the
// group's committed offset is at the high watermark on every partition
// of the retry topic, whichever member holds them: then no user has a
// part parked at the vendor, and users another replica's worker finished
// (or an overflow) stop parking behind. The high watermarks are read
// before and after the commits; a park written in between makes them
// differ, and the check waits for the next round.
func (w *RetryWorker) watchDrained(ctx context.Context, interval time.Duration) {
	cfg := w.c.cfg
	t := transportFor(w.c.dialer)
	defer t.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: t, Timeout: cfg.RequestTimeout}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
		drained, err := topicDrained(rctx, cl, cfg.Topic, cfg.GroupID)
		cancel()
		if err != nil {
			w.c.log.Debug().Err(err).Msg("cannot tell whether the retry topic is drained")
			continue
		}
		if drained {
			w.p.index.Drained(w.p.vendor)
		}
	}
}

// topicDrained reports whether group has committed, on every partition of
// topic, up to its high watermark (a partition with no record needs no
// commit).
func topicDrained(ctx context.Context, cl *kafka.Client, topic, group string) (bool, error) {
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return false, err
	}
	var parts []int
	for _, tp := range md.Topics {
		if tp.Name == topic && tp.Error == nil {
			for _, p := range tp.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	if len(parts) == 0 {
		return false, fmt.Errorf("%s has no partitions", topic)
	}
	wm := &watermarks{client: cl, topic: topic}
	first, high, err := wm.read(ctx, parts)
	if err != nil {
		return false, err
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return false, err
	}
	committed := map[int]int64{}
	for _, p := range of.Topics[topic] {
		if p.Error == nil {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	_, again, err := wm.read(ctx, parts)
	if err != nil {
		return false, err
	}
	for _, p := range parts {
		h, ok := high[p]
		if !ok || again[p] != h {
			return false, nil
		}
		if partitionLag(h, first[p], committedOr(committed, p), true) > 0 {
			return false, nil
		}
	}
	return true, nil
}

func committedOr(m map[int]int64, p int) int64 {
	if c, ok := m[p]; ok {
		return c
	}
	return -1
}

// Vendor names the worker's vendor.
func (w *RetryWorker) Vendor() string { return w.p.vendor }

// Topic is the retry topic the worker reads.
func (w *RetryWorker) Topic() string { return w.p.topic }

// OldestParkedAge is the age, from its first failure, of the oldest
// parked part the worker holds (0 when it holds none): it grows toward
// give_up_after while a vendor stays down.
func (w *RetryWorker) OldestParkedAge() time.Duration { return w.p.oldestAge() }

type heldKey struct {
	partition int
	offset    int64
}

// retryProcessor is the recordProcessor of a retry worker.
type retryProcessor struct {
	v        Vendor
	vendor   string
	cfg      adapters.RetryConfig
	topic    string
	dlq      DeadLetterer
	prod     RetryProducer
	decode   event.DecodeOptions
	log      zerolog.Logger
	observer RetryObserver
	group    Observer
	index    ParkedIndex
	pause    Pauser
	receipts *Receipts
	fp       *event.Fingerprinter
	now      func() time.Time

	mu sync.Mutex
	// heads holds, per partition and user, the offset of the record this
	// worker last rescheduled for the user: the user's records below it
	// are rescheduled behind it, never run ahead of it.
	heads map[int]map[string]int64
	// held is the origin (first failure) of every record fetched and not
	// yet released, for the oldest-age gauge.
	held map[heldKey]time.Time
}

var _ recordProcessor = (*retryProcessor)(nil)

// origin is when a parked part's clock toward give_up_after started.
func origin(p *retrytopic.Parked) time.Time {
	if !p.FirstFailure.IsZero() {
		return p.FirstFailure
	}
	return p.ParkedAt
}

// Decode reads the retry record and the event it carries; the event's
// user orders the lanes.
func (rp *retryProcessor) Decode(msg kafka.Message) (*event.UserDeleted, error) {
	p, err := retrytopic.Decode(msg)
	if err != nil {
		return nil, err
	}
	rp.mu.Lock()
	rp.held[heldKey{msg.Partition, msg.Offset}] = origin(&p)
	rp.mu.Unlock()
	return event.Decode(p.Original.Key, p.Original.Value, eventHeaders(p.Original.Headers), rp.decode)
}

func (rp *retryProcessor) release(msg kafka.Message) {
	rp.mu.Lock()
	delete(rp.held, heldKey{msg.Partition, msg.Offset})
	rp.mu.Unlock()
}

func (rp *retryProcessor) oldestAge() time.Duration {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	var oldest time.Time
	for _, t := range rp.held {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(rp.now().Sub(oldest), 0)
}

// head returns the offset of the user's rescheduled head record in the
// partition, if there is one above off; a record at or past it clears it.
func (rp *retryProcessor) head(partition int, user string, off int64) (int64, bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	h, ok := rp.heads[partition][user]
	if ok && off < h {
		return h, true
	}
	if ok {
		delete(rp.heads[partition], user)
	}
	return 0, false
}

func (rp *retryProcessor) setHead(partition int, user string, off int64) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.heads[partition] == nil {
		rp.heads[partition] = map[string]int64{}
	}
	rp.heads[partition][user] = off
}

// Process carries one retry record to its end: final at the vendor,
// rescheduled durably, or dead-lettered durably. It returns
// ErrInterrupted, leaving the record uncommitted, when the partition
// stops first.
func (rp *retryProcessor) Process(ctx context.Context, msg kafka.Message, ev *event.UserDeleted, decErr error) error {
	defer rp.release(msg)
	log := rp.log.With().Int("partition", msg.Partition).Int64("offset", msg.Offset).Logger()
	p, perr := retrytopic.Decode(msg)
	if perr != nil {
		// A record no worker can read never gets better: dead-letter it
		// as it is, at once, so it blocks nothing.
		return rp.deadLetter(ctx, log, dlq.Record{Original: msg, Reason: dlq.ReasonInvalidEvent, Detail: perr.Error()}, nil, nil)
	}
	if decErr != nil {
		return rp.deadLetter(ctx, log, dlq.Record{Original: p.Original, EventID: p.EventID, Reason: dlq.ReasonInvalidEvent, Detail: decErr.Error()}, nil, nil)
	}
	if p.Vendor != rp.vendor {
		// Written to the wrong topic by hand: calling another vendor from
		// here would bypass its breaker and limiter.
		return rp.deadLetter(ctx, log, dlq.Record{Original: p.Original, EventID: p.EventID, Reason: dlq.ReasonInvalidEvent,
			Detail: fmt.Sprintf("retry record for vendor %s on %s's retry topic", p.Vendor, rp.vendor)}, nil, nil)
	}
	if _, behind := rp.head(msg.Partition, ev.UserID, msg.Offset); behind {
		// The user's earlier part was rescheduled past this one: follow
		// it, uncalled, so the later part never runs ahead.
		p.Reason = retrytopic.ReasonBehind
		p.ParkedAt = rp.now()
		return rp.reschedule(ctx, log, msg, ev, &p, false)
	}

	deadline := origin(&p).Add(rp.cfg.GiveUpAfter)
	for {
		// Wait for the due time (or the give-up time, if sooner) with one
		// timer; a stop interrupts the wait at once.
		if err := rp.waitUntil(ctx, minTime(p.Due, deadline)); err != nil {
			return err
		}
		if !rp.now().Before(deadline) {
			return rp.giveUp(ctx, log, &p, ev)
		}
		if rp.v.Retrier.CircuitOpen() || (rp.pause != nil && rp.pause.Paused(rp.vendor)) {
			// Calling would be refused (or must not happen: paused);
			// rescheduling would only churn the topic. Wait for the
			// breaker to half-open, or for the unpause.
			p.Due = rp.now().Add(circuitRecheck)
			continue
		}
		res := rp.v.Retrier.Once(ctx, rp.v.Adapter, ev)
		if res.Interrupted() && ctx.Err() != nil {
			return ErrInterrupted
		}
		if res.Attempts == 0 && errors.Is(res.Err, adapters.ErrCircuitOpen) {
			// Refused without a request (the half-open probes were
			// taken): not an attempt.
			p.Due = rp.now().Add(circuitRecheck)
			continue
		}
		rp.observer.RetryAttempted(rp.vendor)
		if res.Outcome.Final() {
			// The receipt says so before the record may be committed.
			part := receipt.PartOf(res, receipt.Parked, rp.now())
			part.Attempts = p.Attempts + res.Attempts
			if !p.FirstFailure.IsZero() {
				first := p.FirstFailure.UTC()
				part.FirstAttempt = &first
			}
			if err := rp.writeReceipt(ctx, ev, part); err != nil {
				log.Warn().Err(err).Msg("parked part not finished: receipt write abandoned; it will be redelivered")
				return errors.Join(ErrInterrupted, err)
			}
			o := RetryOutcome(res.Outcome.String())
			rp.observer.Unparked(rp.vendor, o)
			rp.done(ev)
			log.Debug().Str("outcome", string(o)).Int("attempts", p.Attempts+res.Attempts).Msg("parked part final")
			return nil
		}
		now := rp.now()
		a := retrytopic.Attempt{At: now, Class: adapters.ErrorClass(res.Err).String(), By: "retry"}
		var ae *adapters.Error
		if errors.As(res.Err, &ae) {
			a.Status, a.Code = ae.Status, ae.Code
		}
		p.AddAttempt(a)
		if adapters.ErrorClass(res.Err) == adapters.ClassRetryable && adapters.IsThrottled(res.Err) {
			// A 429 is the vendor saying "later", not the part failing:
			// the step stays, and the part is tried again here once the
			// vendor's Retry-After has passed (throttleWait), instead of
			// a reschedule at the next step that would leave a small
			// per-minute window unused for minutes. The vendor's limiter
			// paces the next call with every other caller's. Meanwhile
			// the record stays uncommitted (redelivered if the worker
			// stops: a stop interrupts the wait at once) and the user's
			// later records behind it in the partition wait in its lane;
			// other users' parts run beside it up to max_pending. They
			// are at the same vendor, which is throttling: acceptable.
			p.Due = minTime(now.Add(rp.throttleWait(res.Err, p.Step)), deadline)
			log.Debug().Int("attempts", p.Attempts).Int("step", p.Step).Time("due", p.Due).Msg("parked part throttled by the vendor; trying again after its Retry-After")
			continue
		}
		if adapters.ErrorClass(res.Err) != adapters.ClassRetryable {
			// Permanent, invalid identifier, unexpected: retrying later
			// would fail the same way.
			f := failureOf(res, personalValues(ev))
			f.Attempts = p.Attempts
			return rp.deadLetter(ctx, log, dlq.Record{
				Original: p.Original, EventID: p.EventID, Reason: dlq.ReasonPermanentError,
				Failures: []dlq.Failure{f}, FirstFailure: p.FirstFailure, LastFailure: p.LastFailure,
				Detail: historyDetail("failed permanently at the retry topic", &p),
			}, ev, &p)
		}
		p.Due = minTime(now.Add(rp.cfg.ScheduleWait(p.Step)), deadline)
		p.Step++
		p.Reason = retrytopic.ReasonRescheduled
		p.ParkedAt = now
		return rp.reschedule(ctx, log, msg, ev, &p, true)
	}
}

// throttleFloor is the wait after a 429 that names no Retry-After: the
// least a throttled part waits before its next call at the retry worker.
const throttleFloor = time.Second

// throttleWait is how long a part the vendor throttled (err) waits before
// its next call, with step failures at the retry topic so far: the
// vendor's Retry-After as said, even past the step's wait (calling a
// vendor that named an hour every minute would not honour it), though
// never past the schedule's longest wait, so a garbled or hostile header
// cannot hold a part for days; throttleFloor when it names none, at most
// the step's wait.
func (rp *retryProcessor) throttleWait(err error, step int) time.Duration {
	var ae *adapters.Error
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return min(ae.RetryAfter, rp.cfg.LongestWait())
	}
	return min(throttleFloor, rp.cfg.ScheduleWait(step))
}

// waitUntil returns nil at t, ErrInterrupted if the partition stops
// first.
func (rp *retryProcessor) waitUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(rp.now())
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ErrInterrupted
	case <-Stopping(ctx):
		return ErrInterrupted
	}
}

// reschedule writes p back to the record's own partition of the retry
// topic, durably, and only then lets the old record finish (its offset
// may then be committed). When head is set (the part was tried and
// failed), the user's records below the new one are rescheduled behind
// it; a record rescheduled behind is no new head.
func (rp *retryProcessor) reschedule(ctx context.Context, log zerolog.Logger, msg kafka.Message, ev *event.UserDeleted, p *retrytopic.Parked, head bool) error {
	m := p.Message()
	var off int64
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval, b.MaxElapsedTime = 100*time.Millisecond, 5*time.Second, 0
	err := backoff.RetryNotify(func() error {
		var err error
		off, err = rp.prod.Produce(ctx, rp.topic, msg.Partition, m)
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		return err
	}, backoff.WithContext(b, ctx), func(err error, next time.Duration) {
		log.Warn().Err(err).Dur("retry_in", next).Msg("rescheduling a parked part: retry topic write failed; retrying")
	})
	if err != nil {
		return errors.Join(ErrInterrupted, err)
	}
	if head {
		rp.setHead(msg.Partition, ev.UserID, off)
	}
	rp.observer.Unparked(rp.vendor, RetryRescheduled)
	log.Debug().Str("reason", string(p.Reason)).Int("attempts", p.Attempts).Time("due", p.Due).Int64("new_offset", off).Msg("parked part rescheduled")
	return nil
}

// giveUp dead-letters a part past give_up_after with its history.
func (rp *retryProcessor) giveUp(ctx context.Context, log zerolog.Logger, p *retrytopic.Parked, ev *event.UserDeleted) error {
	f := dlq.Failure{Vendor: rp.vendor, Attempts: p.Attempts, Class: p.LastClass, Status: p.LastStatus, Code: p.LastCode,
		Message: "gave up after " + rp.cfg.GiveUpAfter.String() + " on the retry topic"}
	if f.Class == "" {
		f.Class = adapters.ClassRetryable.String()
	}
	first, last := p.FirstFailure, p.LastFailure
	if first.IsZero() {
		first = p.ParkedAt
	}
	if last.IsZero() {
		last = first
	}
	return rp.deadLetter(ctx, log, dlq.Record{
		Original: p.Original, EventID: p.EventID, Reason: dlq.ReasonRetriesExhausted,
		Failures: []dlq.Failure{f}, FirstFailure: first, LastFailure: last,
		Detail: historyDetail("gave up after "+rp.cfg.GiveUpAfter.String(), p),
	}, ev, p)
}

// historyDetail is the dead-letter detail of a parked part: why, the
// attempt count and the history (times, statuses, classes, vendor codes;
// nothing that identifies the person).
func historyDetail(why string, p *retrytopic.Parked) string {
	h := make([]string, 0, len(p.History))
	for _, a := range p.History {
		s := a.At.UTC().Format("2006-01-02T15:04:05.000Z") + " " + a.By + " " + a.Class
		if a.Status != 0 {
			s += fmt.Sprintf(" %d", a.Status)
		}
		if a.Code != "" {
			s += " " + a.Code
		}
		h = append(h, s)
	}
	return fmt.Sprintf("%s: %d attempts; history (last %d): %v", why, p.Attempts, len(h), h)
}

// deadLetter publishes rec and finishes the record; with ev and p (the
// part's event and parked record) it also writes the receipt and tells
// the parked index the user's part is done.
func (rp *retryProcessor) deadLetter(ctx context.Context, log zerolog.Logger, rec dlq.Record, ev *event.UserDeleted, p *retrytopic.Parked) error {
	if err := rp.dlq.Publish(ctx, rec); err != nil {
		log.Warn().Err(err).Msg("parked part not finished: dead-letter write abandoned; it will be redelivered")
		return errors.Join(ErrInterrupted, err)
	}
	if ev != nil && p != nil {
		part := receipt.Part{Outcome: receipt.DeadLettered, Attempts: p.Attempts, Status: p.LastStatus, Code: p.LastCode, RecordedAt: rp.now().UTC()}
		if !p.FirstFailure.IsZero() {
			first, last := p.FirstFailure.UTC(), p.LastFailure.UTC()
			part.FirstAttempt, part.LastAttempt = &first, &last
		}
		if err := rp.writeReceipt(ctx, ev, part); err != nil {
			log.Warn().Err(err).Msg("parked part not finished: receipt write abandoned; it will be redelivered")
			return errors.Join(ErrInterrupted, err)
		}
	}
	user := ""
	if ev != nil {
		user = ev.UserID
	}
	rp.observer.Unparked(rp.vendor, RetryDeadLettered)
	log.Warn().Str("reason", string(rec.Reason)).Str("detail", rec.Detail).Msg("parked part dead-lettered")
	if user != "" && rp.index != nil {
		rp.index.Done(rp.vendor, user)
	}
	return nil
}

// writeReceipt records the vendor's part of ev, settled at the retry
// topic; readers fold it into the event's earlier receipts.
func (rp *retryProcessor) writeReceipt(ctx context.Context, ev *event.UserDeleted, part receipt.Part) error {
	if rp.receipts == nil {
		return nil
	}
	r := receipt.New(ev, rp.fp, rp.receipts.Deadline, rp.receipts.Now())
	r.Set(rp.vendor, part)
	return rp.receipts.Writer.Write(ctx, r)
}

func (rp *retryProcessor) done(ev *event.UserDeleted) {
	if rp.index != nil {
		rp.index.Done(rp.vendor, ev.UserID)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// KafkaRetryProducer is the RetryProducer over a kafka-go Client: one
// Produce request per record, acks from all in-sync replicas.
type KafkaRetryProducer struct {
	client *kafka.Client
}

// NewKafkaRetryProducer returns a producer for brokers; transport may be
// nil (plain TCP).
func NewKafkaRetryProducer(brokers []string, transport kafka.RoundTripper, timeout time.Duration) *KafkaRetryProducer {
	return &KafkaRetryProducer{client: &kafka.Client{Addr: kafka.TCP(brokers...), Transport: transport, Timeout: timeout}}
}

// Produce writes m to topic's partition and returns its offset.
func (k *KafkaRetryProducer) Produce(ctx context.Context, topic string, partition int, m kafka.Message) (int64, error) {
	res, err := k.client.Produce(ctx, &kafka.ProduceRequest{
		Topic: topic, Partition: partition, RequiredAcks: kafka.RequireAll,
		Records: kafka.NewRecordReader(kafka.Record{Time: time.Now(), Key: kafka.NewBytes(m.Key), Value: kafka.NewBytes(m.Value), Headers: m.Headers}),
	})
	if err != nil {
		return 0, fmt.Errorf("writing to %s[%d]: %w", topic, partition, err)
	}
	if res.Error != nil {
		return 0, fmt.Errorf("writing to %s[%d]: %w", topic, partition, res.Error)
	}
	return res.BaseOffset, nil
}

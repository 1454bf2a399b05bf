package consumer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/event"
)

// fetcher is the part of a partition reader the worker uses.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
}

// recordProcessor is what a partition worker hands records to; *Processor
// in production.
type recordProcessor interface {
	Decode(msg kafka.Message) (*event.UserDeleted, error)
	Process(ctx context.Context, msg kafka.Message, ev *event.UserDeleted, decErr error) error
}

// job is one fetched record on its way through a lane.
type job struct {
	msg    kafka.Message
	ev     *event.UserDeleted
	decErr error
}

// partitionWorker reads one partition and runs its records through lanes:
// records of one user run one after another, in offset order; records of
// different users run concurrently. At most maxInFlight records are
// fetched and unfinished at once, which bounds memory whatever the
// backlog: the fetch loop waits for a free slot before it fetches.
type partitionWorker struct {
	partition int
	reader    fetcher
	proc      recordProcessor
	tracker   *offsetTracker
	log       zerolog.Logger

	slots chan struct{}
	mu    sync.Mutex
	lanes map[string]*lane
	wg    sync.WaitGroup
	// onFinish is called after each record finishes (tests).
	onFinish func(kafka.Message, error)
	// observer, when set, hears of each record fetched and released, for
	// the in-flight gauge and readiness.
	observer Observer
}

type lane struct{ queue []job }

func newPartitionWorker(partition int, r fetcher, proc recordProcessor, start int64, maxInFlight int, log zerolog.Logger) *partitionWorker {
	return &partitionWorker{
		partition: partition,
		reader:    r,
		proc:      proc,
		tracker:   newOffsetTracker(start),
		log:       log,
		slots:     make(chan struct{}, maxInFlight),
		lanes:     map[string]*lane{},
	}
}

// fetch reads records until fetchCtx ends or the reader fails, handing
// each to a lane that runs it with workCtx. It returns without waiting for
// the lanes; call drain for that.
func (w *partitionWorker) fetch(fetchCtx, workCtx context.Context) error {
	// Finished records behind an unfinished one (a dead-letter write that
	// keeps failing) stay tracked until it finishes; past this window the
	// loop stops fetching, so memory stays bounded even then.
	maxWindow := windowPerSlot * cap(w.slots)
	for {
		if err := w.waitForWindow(fetchCtx, maxWindow); err != nil {
			return nil
		}
		select {
		case w.slots <- struct{}{}:
		case <-fetchCtx.Done():
			return nil
		}
		msg, err := w.reader.FetchMessage(fetchCtx)
		if err != nil {
			<-w.slots
			if fetchCtx.Err() != nil {
				return nil
			}
			return err
		}
		if err := w.tracker.track(msg.Offset); err != nil {
			// A reader never goes backwards within one assignment; if it
			// did, running the record could not be committed safely.
			<-w.slots
			return err
		}
		if w.observer != nil {
			w.observer.Fetched(w.partition)
		}
		ev, decErr := w.proc.Decode(msg)
		w.dispatch(workCtx, laneKey(msg, ev), job{msg: msg, ev: ev, decErr: decErr})
	}
}

// windowPerSlot sizes the tracked window: finished-but-uncommittable
// records allowed per in-flight slot.
const windowPerSlot = 64

// waitForWindow returns once the tracked window is below max, or ctx's
// error. It polls: a full window means something upstream is stuck, and
// that is rare and slow.
func (w *partitionWorker) waitForWindow(ctx context.Context, max int) error {
	if w.tracker.window() < max {
		return nil
	}
	w.log.Warn().Int("window", max).Msg("fetching paused: too many finished records wait behind an unfinished one")
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for w.tracker.window() >= max {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	w.log.Info().Msg("fetching resumed")
	return nil
}

// laneKey orders records by user. A record that did not decode has no user
// and gets a lane of its own: it only needs a dead-letter write.
func laneKey(msg kafka.Message, ev *event.UserDeleted) string {
	if ev == nil {
		return "\x00offset:" + strconv.FormatInt(msg.Offset, 10)
	}
	return ev.UserID
}

func (w *partitionWorker) dispatch(ctx context.Context, key string, j job) {
	w.mu.Lock()
	if l, ok := w.lanes[key]; ok {
		l.queue = append(l.queue, j)
		w.mu.Unlock()
		return
	}
	l := &lane{}
	w.lanes[key] = l
	w.mu.Unlock()

	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			w.run(ctx, j)
			w.mu.Lock()
			if len(l.queue) == 0 {
				delete(w.lanes, key)
				w.mu.Unlock()
				return
			}
			j = l.queue[0]
			l.queue[0] = job{}
			l.queue = l.queue[1:]
			w.mu.Unlock()
		}
	}()
}

func (w *partitionWorker) run(ctx context.Context, j job) {
	defer func() { <-w.slots }()
	err := w.proc.Process(ctx, j.msg, j.ev, j.decErr)
	if err == nil {
		w.tracker.finish(j.msg.Offset)
	} else if !errors.Is(err, ErrInterrupted) {
		// Process only fails by interruption; anything else is a bug, and
		// the record stays unfinished so it is redelivered.
		w.log.Error().Err(err).Int64("offset", j.msg.Offset).Msg("record processing failed; it will be redelivered")
	}
	if w.observer != nil {
		w.observer.Released(w.partition, err == nil)
	}
	if w.onFinish != nil {
		w.onFinish(j.msg, err)
	}
}

// drain waits for every dispatched record to finish or be interrupted.
// Cancel the work context to make it quick.
func (w *partitionWorker) drain() { w.wg.Wait() }

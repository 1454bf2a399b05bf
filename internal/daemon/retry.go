package daemon

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/retrytopic"
)

// vendorRetry returns each vendor's retry section by name, registered
// and declared vendors alike.
func vendorRetry(cfg *Config) map[string]adapters.RetryConfig {
	out := map[string]adapters.RetryConfig{}
	for _, v := range cfg.Vendors.sectionsInOrder() {
		out[v.name] = v.cfg.Shared().Retry
	}
	return out
}

// firstWait is each vendor's first retry-schedule step: a new park is
// due that long after it was written.
func firstWait(cfg *Config) func(vendor string) time.Duration {
	rcs := vendorRetry(cfg)
	return func(vendor string) time.Duration {
		if rc, ok := rcs[vendor]; ok {
			return rc.ScheduleWait(0)
		}
		return retrytopic.DefaultFirstWait
	}
}

// buildRetryWorkers returns one retry worker per enabled vendor, each
// calling its vendor through the same adapter and Retrier (so the same
// breaker and limiter) as the main flow, each in a group of its own.
// Readiness hears each worker's group, like the main consumer's; the
// parked-user index hears each parked part that becomes final, and a
// paused vendor's worker calls nothing.
func buildRetryWorkers(cfg *Config, vendors []consumer.Vendor, dl consumer.DeadLetterer, m *consumer.RetryMetrics, ready *readiness,
	index consumer.ParkedIndex, pauses *consumer.Pauses, dialer *kafka.Dialer, transport kafka.RoundTripper, log zerolog.Logger,
	extra ...consumer.RetryWorkerOption) []*consumer.RetryWorker {
	rcs := vendorRetry(cfg)
	topics := cfg.RetryTopics()
	prod := consumer.NewKafkaRetryProducer(cfg.Kafka.Brokers, transport, cfg.Kafka.RequestTimeout)
	var ws []*consumer.RetryWorker
	for _, v := range vendors {
		name := v.Adapter.Name()
		m.Init(name, rcs[name].GiveUpAfter)
		w := consumer.NewRetryWorker(cfg.Kafka, consumer.RetryWorkerConfig{
			Vendor: v, Topic: topics[name], GroupID: retrytopic.GroupFor(cfg.Kafka.GroupID, name), Retry: rcs[name],
		}, dl, prod, cfg.DecodeOptions(), dialer, log,
			append([]consumer.RetryWorkerOption{consumer.WithRetryObserver(m), consumer.WithGroupObserver(m.Group(name, ready.worker(name))),
				consumer.WithParkedIndex(index), consumer.WithPauser(pauses)}, extra...)...)
		m.Oldest(name, w.OldestParkedAge)
		ws = append(ws, w)
	}
	return ws
}

// runConsumers runs the main consumer and every retry worker until ctx
// ends, then lets each drain and commit; it returns once all stopped.
// One that fails (the brokers refuse erasured) stops the others.
func (d *Daemon) runConsumers(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 1+len(d.retryWorkers))
	run := func(i int, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = f(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	run(0, d.consumer.Run)
	for i, w := range d.retryWorkers {
		run(i+1, w.Run)
	}
	wg.Wait()
	return errors.Join(errs...)
}

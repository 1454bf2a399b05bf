// Package daemon wires erasured together: configuration sections,
// vendors, the dead-letter publisher, the consumer and the HTTP endpoint
// for metrics and probes. cmd/erasured and the integration tests use it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/receipt"
	"github.com/erasured/erasured/retrytopic"
)

// buildVendors returns the enabled vendors, each with its retry policy
// and its limiter, which every in-flight event shares; lm exports the
// limiters' learned rates. Each vendor's circuit breaker sits in its
// HTTP transport, where it counts and gates every request, and in its
// Retrier, which fails an attempt at once while the circuit is open; bm
// exports the breakers, and each state change is logged to blog. Each vendor's HTTP transport holds as many
// connections as its limiter lets requests run at once, so requests reuse
// them rather than queue inside the transport or reconnect. Retries are
// logged to log at debug.
func buildVendors(cfg *Config, o adapters.Observer, lm *adapters.LimiterMetrics, bm *adapters.BreakerMetrics, log, blog zerolog.Logger) []consumer.Vendor {
	var vs []consumer.Vendor
	v := &cfg.Vendors
	topics := cfg.RetryTopics()
	paused := map[string]bool{}
	for _, s := range v.sectionsInOrder() {
		paused[s.name] = s.cfg.Shared().Paused
	}
	add := func(name string, lc adapters.LimitConfig, rc adapters.RetryConfig, bc adapters.BreakerConfig, build func(*http.Client, *adapters.Limiter) adapters.Adapter) {
		conns := lc.MaxConcurrency
		if conns == 0 {
			conns = v.MaxConnsPerVendor
		}
		l := adapters.NewLimiter(lc, conns)
		b := adapters.NewBreaker(name, bc, adapters.WithBreakerLogger(blog))
		a := build(l.Wrap(b.Wrap(adapters.NewHTTPClient(conns))), l)
		lm.Add(a.Name(), l)
		bm.Add(b)
		vs = append(vs, consumer.Vendor{Adapter: a, Retrier: adapters.NewRetrier(rc,
			adapters.WithObserver(o), adapters.WithLimiter(l), adapters.WithBreaker(b), adapters.WithLogger(log)),
			Breaker: b, RetryTopic: topics[name], InlineBudget: rc.InlineBudget, Paused: paused[name]})
	}
	for _, sec := range v.sectionsInOrder() {
		common := sec.cfg.Shared()
		if !common.Enabled {
			continue
		}
		add(sec.name, common.Limit, common.Retry, common.Breaker, func(c *http.Client, l *adapters.Limiter) adapters.Adapter {
			a, err := sec.build(adapters.Deps{Client: c, Limiter: l})
			if err != nil {
				// Validate accepted the section, so this is a wiring bug
				// (a Spec's New handed another vendor's section), found
				// at start before any event is read.
				panic(fmt.Sprintf("building vendor %s: %v", sec.name, err))
			}
			return a
		})
	}
	return vs
}

// Daemon is the wired process: consumer, dead-letter publisher, HTTP
// endpoint.
type Daemon struct {
	cfg       *Config
	log       zerolog.Logger
	reg       *prometheus.Registry
	consumer  *consumer.Consumer
	pub       *dlq.Publisher
	parker    *retrytopic.Publisher
	receipts  *receipt.Writer
	tracker   *receipt.Tracker
	pauses    *consumer.Pauses
	index     *consumer.Index
	transport kafka.RoundTripper
	dialer    *kafka.Dialer
	ready     *readiness
	// retryWorkers consume the enabled vendors' retry topics (retry.go).
	retryWorkers []*consumer.RetryWorker
}

// rebuildTimeout bounds the startup read of one vendor's retry topic
// (RebuildIndex); past it the vendor's parts all park behind until its
// retry worker drains the topic.
const rebuildTimeout = 30 * time.Second

// New wires a daemon for cfg, which must be valid. dialer and transport
// may be nil (plain TCP to the brokers).
func New(cfg *Config, log zerolog.Logger, dialer *kafka.Dialer, transport kafka.RoundTripper) *Daemon {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := consumer.NewMetrics(reg)
	ready := newReadiness(cfg.HTTP.StallTimeout, time.Now, m)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "erasured_ready",
		Help: "1 when /readyz answers ok: in the group, dead-letter writes working, not stalled.",
	}, ready.ready))

	w := dlq.NewWriter(cfg.DeadLetter, cfg.Kafka.Brokers, transport)
	pub := dlq.NewPublisher(cfg.DeadLetter, w, log.With().Str("component", "dlq").Logger(), dlqObservers{m, ready})
	lm := adapters.NewLimiterMetrics(reg)
	vendors := buildVendors(cfg, m, lm, adapters.NewBreakerMetrics(reg),
		log.With().Str("component", "retry").Logger(), log.With().Str("component", "breaker").Logger())
	var names []string
	configPaused := map[string]bool{}
	for _, v := range vendors {
		m.InitVendor(v.Adapter.Name())
		names = append(names, v.Adapter.Name())
		configPaused[v.Adapter.Name()] = v.Paused
	}
	parker := retrytopic.NewPublisher(cfg.DeadLetter, retrytopic.NewWriter(cfg.DeadLetter, cfg.Kafka.Brokers, transport),
		log.With().Str("component", "park").Logger(), m)
	pauses := consumer.NewPauses(names, configPaused, cfg.Vendors.PauseFile, log.With().Str("component", "pause").Logger())
	pauses.Register(reg)
	index := consumer.NewIndex(names, consumer.DefaultParkedIndexCap, log.With().Str("component", "park").Logger())
	index.Register(reg, names)
	// One fingerprinter for the main flow and the retry workers: without
	// log.fingerprint_key it is random, and both must name a user alike
	// on receipts.
	fp := cfg.Fingerprinter()
	receipts := receipt.NewWriter(receipt.WriterConfig{Brokers: cfg.Kafka.Brokers, Topic: cfg.ReceiptsTopic(), Transport: transport,
		WriteTimeout: cfg.Receipts.WriteTimeout, RetryInitial: cfg.DeadLetter.RetryInitial, RetryMax: cfg.DeadLetter.RetryMax},
		log.With().Str("component", "receipts").Logger(), reg)
	tracker := receipt.NewTracker(cfg.Compliance.Deadline, names, time.Now)
	reg.MustRegister(tracker)
	proc := consumer.NewProcessor(vendors, pub, cfg.DecodeOptions(), log, m, consumer.WithFingerprinter(fp),
		consumer.WithParking(consumer.Parking{Parker: parker, Index: index, Pauses: pauses, FirstWait: firstWait(cfg)}),
		consumer.WithReceipts(consumer.Receipts{Writer: receipts, Deadline: cfg.Compliance.Deadline}))
	proc.VerifyRestrictions(cfg.Replay.Keyring(), consumer.NewRestrictionMetrics(reg))
	for _, n := range cfg.Notices() {
		log.Warn().Msg(n)
	}
	c := consumer.New(cfg.Kafka, proc, dialer, log.With().Str("component", "consumer").Logger(), ready)
	// A configured max_rate or max_concurrency is the Deployment's: this
	// replica takes its partitions' share of it. The retry workers run
	// in this process and share this replica's limiters, so its budget.
	c.OnShare(func(assigned, total int) { lm.SetShare(float64(assigned) / float64(total)) })
	d := &Daemon{cfg: cfg, log: log, reg: reg, consumer: c, pub: pub, parker: parker, receipts: receipts, tracker: tracker, pauses: pauses, index: index, transport: transport, dialer: dialer, ready: ready}
	d.retryWorkers = buildRetryWorkers(cfg, vendors, pub, consumer.NewRetryMetrics(reg), ready, index, pauses, dialer, transport,
		log.With().Str("component", "retry_worker").Logger(),
		consumer.WithRetryReceipts(consumer.Receipts{Writer: receipts, Deadline: cfg.Compliance.Deadline}, fp))
	return d
}

// ParkedIndex is the index the main flow parks behind; a retry worker
// calls its Done and Drained.
func (d *Daemon) ParkedIndex() consumer.ParkedIndex { return d.index }

// ErrMissingTopic is wrapped by Run's error when a topic erasured writes
// to does not exist. Topics are created by the platform, like the
// dead-letter topic: erasured never creates one.
var ErrMissingTopic = errors.New("topic does not exist")

// checkTopics asks the brokers for every enabled vendor's retry topic and
// names the first one missing, with the key that sets it.
func (d *Daemon) checkTopics(ctx context.Context) error {
	topics := d.cfg.RetryTopics()
	names := make([]string, 0, len(topics)+1)
	// byTopic names the key that sets each topic.
	byTopic := map[string]string{}
	for v, t := range topics {
		names = append(names, t)
		byTopic[t] = "retry topic " + t + " (" + d.cfg.Vendors.path(v) + ".retry.topic)"
	}
	rt := d.cfg.ReceiptsTopic()
	names = append(names, rt)
	byTopic[rt] = "receipts topic " + rt + " (receipts.topic)"
	cl := &kafka.Client{Addr: kafka.TCP(d.cfg.Kafka.Brokers...), Timeout: d.cfg.Kafka.RequestTimeout, Transport: d.transport}
	cctx, cancel := context.WithTimeout(ctx, d.cfg.Kafka.RequestTimeout)
	md, err := cl.Metadata(cctx, &kafka.MetadataRequest{Topics: names})
	cancel()
	if err != nil {
		// Brokers unreachable, or refusing erasured: the consumer
		// reports that better (and retries while a broker restarts).
		// Only a definite "no such topic" stops startup.
		d.log.Warn().Err(err).Msg("could not check the retry and receipts topics at startup; a missing one will show as failing writes")
		return nil
	}
	found := map[string]bool{}
	for _, t := range md.Topics {
		if !errors.Is(t.Error, kafka.UnknownTopicOrPartition) && (t.Error != nil || len(t.Partitions) > 0) {
			// Present (an error other than unknown, such as no leader
			// yet, is not "missing").
			found[t.Name] = true
		}
	}
	var errs []error
	for _, t := range names {
		if !found[t] {
			errs = append(errs, fmt.Errorf("%s: %w; create it like the dead-letter topic (see README: Outages, Compliance)", byTopic[t], ErrMissingTopic))
		}
	}
	return errors.Join(errs...)
}

type dlqObservers []dlq.Observer

func (os dlqObservers) Published(r dlq.Reason) {
	for _, o := range os {
		o.Published(r)
	}
}

func (os dlqObservers) WriteFailed(err error) {
	for _, o := range os {
		o.WriteFailed(err)
	}
}

// Handler serves /metrics, /healthz and /readyz.
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := d.ready.check(); !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Registry returns the daemon's metrics registry.
func (d *Daemon) Registry() *prometheus.Registry { return d.reg }

// Run serves HTTP on ln and consumes until ctx ends, then stops within
// ShutdownTimeout. A stop that overruns it is a runtime failure.
func (d *Daemon) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error().Err(err).Msg("metrics server stopped")
		}
	}()

	if err := d.checkTopics(ctx); err != nil {
		_ = d.pub.Close()
		_ = d.parker.Close()
		_ = d.receipts.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return err
	}
	// Before the first event: a user parked before this process started
	// stays parked behind (order across restarts and rebalances).
	groups := map[string]string{}
	topics := d.cfg.RetryTopics()
	for v := range topics {
		groups[v] = retrytopic.GroupFor(d.cfg.Kafka.GroupID, v)
	}
	consumer.RebuildIndex(ctx, d.index, consumer.RebuildSource{
		Brokers: d.cfg.Kafka.Brokers, Dialer: d.dialer, Transport: d.transport,
		Topics: topics, Groups: groups, Decode: d.cfg.DecodeOptions(), Timeout: rebuildTimeout,
	}, d.log.With().Str("component", "park").Logger())
	pctx, stopPauses := context.WithCancel(ctx)
	defer stopPauses()
	go d.pauses.Run(pctx, consumer.DefaultPauseInterval)
	// The deadline metrics follow the receipts topic from its start; a
	// failure there costs the metrics, never a deletion.
	go func() {
		scan := dlq.ScanConfig{Brokers: d.cfg.Kafka.Brokers, Dialer: d.dialer, Transport: d.transport,
			RequestTimeout: d.cfg.Kafka.RequestTimeout, FetchMaxWait: d.cfg.Kafka.FetchMaxWait}
		for pctx.Err() == nil {
			if err := d.tracker.Run(pctx, scan, d.cfg.ReceiptsTopic()); err != nil {
				d.log.Warn().Err(err).Str("component", "receipts").Msg("following the receipts topic for the deadline metrics failed; retrying in 30s")
			}
			select {
			case <-pctx.Done():
			case <-time.After(30 * time.Second):
			}
		}
	}()

	done := make(chan error, 1)
	go func() { done <- d.runConsumers(ctx) }()

	var err error
	stopBy := time.Now().Add(d.cfg.ShutdownTimeout)
	select {
	case err = <-done:
	case <-ctx.Done():
		stopBy = time.Now().Add(d.cfg.ShutdownTimeout)
		d.log.Info().Dur("shutdown_timeout", d.cfg.ShutdownTimeout).Msg("stopping: no new fetches; draining in-flight events")
		select {
		case err = <-done:
		case <-time.After(d.cfg.ShutdownTimeout):
			err = fmt.Errorf("shutdown overran %s; unfinished events will be redelivered", d.cfg.ShutdownTimeout)
		}
	}
	// The writers get what is left of the shutdown timeout, and at least
	// minWriterClose.
	if cerr := d.closeWriters(max(time.Until(stopBy), minWriterClose)); cerr != nil && err == nil {
		err = cerr
	}
	sctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return err
}

// minWriterClose is the least time closing the writers gets at the end
// of Run, even after a shutdown that used all of its timeout;
// httpShutdownTimeout is the HTTP server's, after that.
const (
	minWriterClose      = 2 * time.Second
	httpShutdownTimeout = 2 * time.Second
)

// StopBudget is the longest Run takes to return once its context ends:
// the pod's termination grace period must exceed it.
func (c *Config) StopBudget() time.Duration {
	return c.ShutdownTimeout + minWriterClose + httpShutdownTimeout
}

// closeWriters closes the dead-letter, retry-topic and receipts writers,
// giving up after timeout (see closeAll).
func (d *Daemon) closeWriters(timeout time.Duration) error {
	return closeAll(timeout,
		namedCloser{"dead-letter writer", d.pub},
		namedCloser{"retry-topic writer", d.parker},
		namedCloser{"receipts writer", d.receipts})
}

type namedCloser struct {
	name string
	io.Closer
}

// closeAll closes cs in order and returns their errors, or gives up after
// timeout. kafka-go's Writer.Close waits for every batch in flight; after
// a shutdown that overran, events are still being handed off, and under a
// slow broker that wait was seen to hold Run past the pod's grace period.
// Nothing is lost by not waiting: a hand-off that was not acknowledged
// was not committed, so its event is redelivered.
func closeAll(timeout time.Duration, cs ...namedCloser) error {
	done := make(chan error, 1)
	go func() {
		var errs []error
		for _, c := range cs {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing %s: %w", c.name, err))
			}
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		return fmt.Errorf("closing the Kafka writers overran %s; hand-offs not acknowledged were not committed and will be redelivered", timeout)
	}
}

// Package daemon wires erasured together: configuration sections,
// vendors, the dead-letter publisher, the consumer and the HTTP endpoint
// for metrics and probes. cmd/erasured and the integration tests use it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/clevertap"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/dlq"
)

// buildVendors returns the enabled vendors with their retry policies.
func buildVendors(cfg *Config, o adapters.Observer) []consumer.Vendor {
	var vs []consumer.Vendor
	n := cfg.Vendors.MaxConnsPerVendor
	add := func(a adapters.Adapter, rc adapters.RetryConfig) {
		vs = append(vs, consumer.Vendor{Adapter: a, Retrier: adapters.NewRetrier(rc, adapters.WithObserver(o), adapters.WithConcurrency(n))})
	}
	v := &cfg.Vendors
	if v.Plivo.Enabled {
		add(plivo.New(v.Plivo, adapters.NewHTTPClient(n)), v.Plivo.Retry)
	}
	if v.Webex.Enabled {
		add(webex.New(v.Webex, adapters.NewHTTPClient(n)), v.Webex.Retry)
	}
	if v.Exotel.Enabled {
		add(exotel.New(v.Exotel, adapters.NewHTTPClient(n)), v.Exotel.Retry)
	}
	if v.CleverTap.Enabled {
		add(clevertap.New(v.CleverTap, adapters.NewHTTPClient(n)), v.CleverTap.Retry)
	}
	return vs
}

// Daemon is the wired process: consumer, dead-letter publisher, HTTP
// endpoint.
type Daemon struct {
	cfg      *Config
	log      zerolog.Logger
	reg      *prometheus.Registry
	consumer *consumer.Consumer
	pub      *dlq.Publisher
	ready    *readiness
}

// readiness is what /readyz reports: the member holds a generation and the
// last dead-letter write, if any, succeeded.
type readiness struct {
	inGroup  atomic.Bool
	dlqOK    atomic.Bool
	observer consumer.Observer
}

func (r *readiness) Assigned(gen int32, parts []int) {
	r.inGroup.Store(true)
	r.observer.Assigned(gen, parts)
}
func (r *readiness) Revoked(gen int32) { r.inGroup.Store(false); r.observer.Revoked(gen) }
func (r *readiness) Committed(p int, off int64, took time.Duration, err error) {
	r.observer.Committed(p, off, took, err)
}
func (r *readiness) Lag(p int, lag int64) { r.observer.Lag(p, lag) }

func (r *readiness) Published(reason dlq.Reason) { r.dlqOK.Store(true) }
func (r *readiness) WriteFailed(error)           { r.dlqOK.Store(false) }

// New wires a daemon for cfg, which must be valid. dialer and transport
// may be nil (plain TCP to the brokers).
func New(cfg *Config, log zerolog.Logger, dialer *kafka.Dialer, transport kafka.RoundTripper) *Daemon {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := consumer.NewMetrics(reg)
	ready := &readiness{observer: m}
	ready.dlqOK.Store(true)

	w := dlq.NewWriter(cfg.DeadLetter, cfg.Kafka.Brokers, transport)
	pub := dlq.NewPublisher(cfg.DeadLetter, w, log.With().Str("component", "dlq").Logger(), dlqObservers{m, ready})
	proc := consumer.NewProcessor(buildVendors(cfg, m), pub, cfg.DecodeOptions(), log, m)
	c := consumer.New(cfg.Kafka, proc, dialer, log.With().Str("component", "consumer").Logger(), ready)
	return &Daemon{cfg: cfg, log: log, reg: reg, consumer: c, pub: pub, ready: ready}
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
		switch {
		case !d.ready.inGroup.Load():
			http.Error(w, "not in the consumer group", http.StatusServiceUnavailable)
		case !d.ready.dlqOK.Load():
			http.Error(w, "dead-letter writes failing", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
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

	done := make(chan error, 1)
	go func() { done <- d.consumer.Run(ctx) }()

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		d.log.Info().Dur("shutdown_timeout", d.cfg.ShutdownTimeout).Msg("stopping: no new fetches; draining in-flight events")
		select {
		case err = <-done:
		case <-time.After(d.cfg.ShutdownTimeout):
			err = fmt.Errorf("shutdown overran %s; unfinished events will be redelivered", d.cfg.ShutdownTimeout)
		}
	}
	if cerr := d.pub.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing dead-letter writer: %w", cerr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return err
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
)

// devOptions shape the embedded stack.
type devOptions struct {
	listen     string
	kafkaPort  int
	partitions int
	rate       float64
	events     int
	logLevel   string
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := devOptions{}
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9090", "address of /metrics, /healthz, /readyz")
	fs.IntVar(&o.kafkaPort, "kafka-port", 0, "port of the in-process Kafka (0: any free port)")
	fs.IntVar(&o.partitions, "partitions", 8, "partitions of the user-deleted topic")
	fs.Float64Var(&o.rate, "rate", 25, "sample events produced per second")
	fs.IntVar(&o.events, "events", 0, "stop producing after this many events (0: never)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if o.partitions < 1 || o.rate <= 0 || o.events < 0 {
		fmt.Fprintln(stderr, "erasured dev: -partitions and -rate must be positive, -events not negative")
		return exitConfig
	}
	log := newLogger(stdout, o.logLevel)

	stack, err := devstack.Start(devstack.Options{Partitions: int32(o.partitions), KafkaPort: o.kafkaPort})
	if err != nil {
		log.Error().Err(err).Msg("dev stack failed to start")
		return exitRuntime
	}
	defer stack.Close()
	// Replays against the stack sign with the stack's key: hand it over
	// in a file only this user reads, never in a log line.
	keyFile, err := writeReplayKey(stack.ReplayKey)
	if err != nil {
		log.Error().Err(err).Msg("cannot write the dev replay signing key")
		return exitRuntime
	}
	defer os.RemoveAll(filepath.Dir(keyFile))
	cfg := stack.Config()
	cfg.HTTP.Listen = o.listen
	cfg.Log.Level = o.logLevel
	if err := cfg.Validate(); err != nil {
		log.Error().Err(err).Msg("dev configuration is invalid (a bug)")
		return exitRuntime
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		log.Error().Err(err).Str("listen", cfg.HTTP.Listen).Msg("cannot listen for metrics; pick another with -listen")
		return exitConfig
	}
	base := "http://" + ln.Addr().String()
	log.Info().
		Strs("kafka", stack.Brokers).
		Str("topic", devstack.Topic).Str("dead_letter_topic", devstack.DLQTopic).
		Interface("sandboxes", stack.URLs).
		Str("metrics", base+"/metrics").Str("healthz", base+"/healthz").Str("readyz", base+"/readyz").
		Str("replay", "ERASURED_REPLAY_SIGNING_KEY_FILE="+keyFile+" erasured replay -brokers "+strings.Join(stack.Brokers, ",")).
		Msg("dev stack up: in-process Kafka and vendor sandboxes (plivo healthy, webex throttled at 15 req/s, exotel failing 15%, clevertap slow)")

	var wg sync.WaitGroup
	var produced atomic.Int64
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	wg.Add(2)
	go func() { defer wg.Done(); produceSamples(pctx, log, stack.Brokers, o, &produced) }()
	go func() { defer wg.Done(); watchDeadLetters(pctx, log, stack.Brokers) }()
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				log.Info().Int64("produced", produced.Load()).
					Int("plivo_deleted", stack.Plivo.Ledger.DeletedCount()).
					Int("webex_deleted", stack.Webex.Ledger.DeletedCount()).
					Int("exotel_deleted", stack.Exotel.Ledger.DeletedCount()).
					Int("clevertap_deleted", stack.CleverTap.Ledger.DeletedCount()).
					Msg("dev stack progress")
			}
		}
	}()

	d := daemon.New(cfg, log, nil, nil)
	err = d.Run(ctx, ln)
	stopProducing()
	wg.Wait()
	if err != nil {
		log.Error().Err(err).Msg("erasured stopped with an error")
		return exitRuntime
	}
	log.Info().Msg("erasured stopped")
	return exitOK
}

// writeReplayKey writes key to a new private file and returns its path.
func writeReplayKey(key string) (string, error) {
	dir, err := os.MkdirTemp("", "erasured-dev-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "replay-signing-key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return path, nil
}

// produceSamples writes sample events: mostly good ones, some naming
// Plivo's primary profile (a permanent error), some poison.
func produceSamples(ctx context.Context, log zerolog.Logger, brokers []string, o devOptions, produced *atomic.Int64) {
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: devstack.Topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond}
	defer w.Close()
	t := time.NewTicker(time.Duration(float64(time.Second) / o.rate))
	defer t.Stop()
	for n := 1; o.events == 0 || n <= o.events; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		key, value := devstack.SampleEvent(n)
		if err := w.WriteMessages(ctx, kafka.Message{Key: key, Value: value}); err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Msg("sample producer: write failed")
			}
			continue
		}
		produced.Add(1)
	}
	log.Info().Int("events", o.events).Msg("sample producer done")
}

// watchDeadLetters logs what reaches the dead-letter topic, as an SRE
// would see it.
func watchDeadLetters(ctx context.Context, log zerolog.Logger, brokers []string) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: devstack.DLQTopic, Partition: 0, MaxWait: time.Second})
	defer r.Close()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				log.Warn().Err(err).Msg("dead-letter watcher stopped")
			}
			return
		}
		reason, _ := dlq.Header(m.Headers, dlq.HeaderReason)
		vendors, _ := dlq.Header(m.Headers, dlq.HeaderFailedVendors)
		detail, _ := dlq.Header(m.Headers, dlq.HeaderDetail)
		origOff, _ := dlq.Header(m.Headers, dlq.HeaderOriginalOffset)
		origPart, _ := dlq.Header(m.Headers, dlq.HeaderOriginalPartition)
		log.Info().Str("component", "dev-dlq-watcher").Int64("dlq_offset", m.Offset).
			Str("reason", reason).Str("failed_vendors", vendors).Str("detail", detail).
			Str("original_partition", origPart).Str("original_offset", origOff).
			Msg("dead-letter record")
	}
}

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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/webex"
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
	logFormat  string
	summary    time.Duration
	webexRPS   float64
}

// devDefaultRate stays below the throttled Webex sandbox's limit
// (devDefaultWebexRPS), so the backlog drains: a new user should see
// events flow, not a queue that grows for ever.
const (
	devDefaultRate     = 10
	devDefaultWebexRPS = 15
)

var devHelp = `usage: erasured dev [flags]

Runs the daemon on an embedded stack, all in this process, nothing to
install: an in-process Kafka (topics user-deleted, with -partitions
partitions, and user-deleted.dlq), one sandbox per vendor, and a producer
of sample events. Ctrl-C stops it cleanly (exit 0).

The sandboxes:
` + devSandboxes() + `
Plivo's sandbox also enforces Plivo's documented limit, a fixed window of
300 requests per 5 s answered 429 without Retry-After: a -rate above 60
shows erasured learning it.
The sample events, -rate a second: every 25th names Plivo's primary
profile, which Plivo refuses to delete (dead-lettered as permanent_error);
every 40th is poison (dead-lettered at once as invalid_event). Users repeat,
so per-user order matters.

Every -summary the stack prints one line: events done per second, per
vendor deleted, retried, throttled and dead-lettered, dead letters, lag
(high watermark minus committed offset, summed over partitions). Per-event
lines are at debug (-log-level debug), with every retry, its wait and the
wait's source (backoff, retry_after, limiter); dead-lettered events are
logged at warn.

A -rate above -webex-rps builds a backlog on purpose; the summary line says
so. /metrics, /healthz and /readyz are served on -listen.

flags:
`

// devSandboxes lists the registered vendors' sandboxes and how each
// behaves (adapters.Dev.About), for the help text.
func devSandboxes() string {
	var b strings.Builder
	for _, spec := range adapters.Specs() {
		line := fmt.Sprintf("  %-10s ", spec.Name)
		for _, word := range strings.Fields(spec.Dev.About) {
			if len(line)+1+len(word) > 74 && strings.TrimSpace(line) != "" && !strings.HasSuffix(line, " ") {
				b.WriteString(line + "\n")
				line = strings.Repeat(" ", 13)
			} else if !strings.HasSuffix(line, " ") {
				line += " "
			}
			line += word
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	setUsage(fs, devHelp)
	o := devOptions{}
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9090", "address of /metrics, /healthz, /readyz")
	fs.IntVar(&o.kafkaPort, "kafka-port", 0, "port of the in-process Kafka, for a client of your own (0: any free port)")
	fs.IntVar(&o.partitions, "partitions", 8, "partitions of the user-deleted topic")
	fs.Float64Var(&o.rate, "rate", devDefaultRate, "sample events produced per second; above -webex-rps the backlog grows")
	fs.IntVar(&o.events, "events", 0, "stop producing after this many events (0: never)")
	fs.StringVar(&o.logLevel, "log-level", "info", "trace, debug (every event and retry), info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", logFormatAuto, "json, console or auto (console on a terminal, JSON otherwise)")
	fs.DurationVar(&o.summary, "summary", 5*time.Second, "print a summary line this often (0: never)")
	fs.Float64Var(&o.webexRPS, "webex-rps", devDefaultWebexRPS, "requests per second the Webex sandbox admits before it answers 429")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if o.partitions < 1 || o.rate <= 0 || o.events < 0 || o.summary < 0 || o.webexRPS <= 0 {
		fmt.Fprintln(stderr, "erasured dev: -partitions, -rate and -webex-rps must be positive, -events and -summary not negative")
		return exitConfig
	}
	if _, err := zerolog.ParseLevel(o.logLevel); err != nil || o.logLevel == "" {
		fmt.Fprintf(stderr, "erasured dev: -log-level must be trace, debug, info, warn or error, got %q\n", o.logLevel)
		return exitConfig
	}
	switch o.logFormat {
	case logFormatAuto, logFormatJSON, logFormatConsole:
	default:
		fmt.Fprintf(stderr, "erasured dev: -log-format must be json, console or auto, got %q\n", o.logFormat)
		return exitConfig
	}
	log := newLogger(stdout, o.logLevel, o.logFormat)

	knobs := devstack.DevKnobs()
	k := knobs[webex.Name]
	k.ThrottleRPS = o.webexRPS
	knobs[webex.Name] = k
	// Plivo's limit shape, as its vendor documents it (plivo.SandboxLimit).
	pk := knobs[plivo.Name]
	pk.Limit = plivo.SandboxLimit
	knobs[plivo.Name] = pk
	stack, err := devstack.Start(devstack.Options{Partitions: int32(o.partitions), KafkaPort: o.kafkaPort, Knobs: knobs})
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
	cfg.Log.Format = o.logFormat
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
	log.Info().Strs("kafka", stack.Brokers).Str("metrics", base+"/metrics").Str("readyz", base+"/readyz").
		Msg("dev stack up: in-process Kafka, a sandbox per vendor, sample events (erasured dev -h says what each does)")
	for _, spec := range adapters.Specs() {
		what := spec.Dev.About
		if spec.Name == webex.Name {
			what = fmt.Sprintf("throttled at %g req/s", o.webexRPS)
		}
		if spec.Name == plivo.Name {
			what += ", under Plivo's fixed window of 300 per 5s (429 without Retry-After)"
		}
		log.Info().Str("url", stack.URLs[spec.Name]).Msgf("sandbox %-9s %s", spec.Name, what)
	}
	note := ""
	if o.rate > o.webexRPS {
		note = fmt.Sprintf("backlog grows on purpose: -rate %g/s is above webex's %g req/s", o.rate, o.webexRPS)
		log.Warn().Msg(note)
	}
	log.Info().Msgf("producing %g sample events a second; every 25th and every 40th are dead-lettered on purpose", o.rate)
	log.Info().Msg("replay the dead letters with: ERASURED_REPLAY_SIGNING_KEY_FILE=" + keyFile + " erasured replay -brokers " + strings.Join(stack.Brokers, ","))

	d := daemon.New(cfg, log, nil, nil)
	var wg sync.WaitGroup
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	wg.Add(2)
	go func() { defer wg.Done(); produceSamples(pctx, log, stack.Brokers, o) }()
	go func() { defer wg.Done(); watchDeadLetters(pctx, log, stack.Brokers) }()
	sum := newSummarizer(log, d.Registry(), note, o.logFormat == logFormatJSON || (o.logFormat == logFormatAuto && !isTerminal(stdout)))
	if o.summary > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); sum.every(pctx, o.summary) }()
	}

	err = d.Run(ctx, ln)
	stopProducing()
	wg.Wait()
	if o.summary > 0 {
		sum.line(time.Now(), "at stop: ", true)
	}
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

// summarizer logs summary lines read from the daemon's metrics registry.
// With fields, JSON logs also get the numbers as fields.
type summarizer struct {
	log    zerolog.Logger
	g      prometheus.Gatherer
	note   string
	fields bool
	prev   devstack.Counters
}

func newSummarizer(log zerolog.Logger, g prometheus.Gatherer, note string, fields bool) *summarizer {
	s := &summarizer{log: log, g: g, note: note, fields: fields}
	s.prev, _ = devstack.ReadCounters(g, time.Now())
	return s
}

// line logs one summary line, prefix first. The line at stop keeps the
// lag last seen: leaving the group drops the lag series, and 0 would say
// the backlog was gone.
func (s *summarizer) line(now time.Time, prefix string, atStop bool) {
	cur, err := devstack.ReadCounters(s.g, now)
	if err != nil {
		s.log.Warn().Err(err).Msg("summary skipped")
		return
	}
	if atStop {
		cur.Lag = s.prev.Lag
	}
	sum := devstack.Summarize(s.prev, cur, s.note)
	ev := s.log.Info()
	if s.fields {
		ev = ev.Str("component", "summary").EmbedObject(sum)
	}
	ev.Msg(prefix + sum.String())
	s.prev = cur
}

// every logs a line every interval until ctx ends.
func (s *summarizer) every(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.line(now, "", false)
		}
	}
}

// produceSamples writes sample events: mostly good ones, some naming
// Plivo's primary profile (a permanent error), some poison.
func produceSamples(ctx context.Context, log zerolog.Logger, brokers []string, o devOptions) {
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
	}
	log.Info().Int("events", o.events).Msg("sample producer done")
}

// watchDeadLetters logs, at debug, what reaches the dead-letter topic, as
// an SRE would see it; the daemon's own warning and the summary line say
// it at info.
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
		log.Debug().Str("component", "dev-dlq-watcher").Int64("dlq_offset", m.Offset).
			Str("reason", reason).Str("failed_vendors", vendors).Str("detail", detail).
			Str("original_partition", origPart).Str("original_offset", origOff).
			Msg("dead-letter record")
	}
}

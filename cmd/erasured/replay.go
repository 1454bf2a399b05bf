package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/daemon"
)

// knownVendors are the names -vendor accepts: the registered vendors'
// (adapters/install), and those the configuration declares
// (vendors.http.<name>) when it is loaded.
func knownVendors(cfg *daemon.Config) []string {
	names := adapters.Names()
	if cfg != nil {
		names = append(names, slices.Sorted(maps.Keys(cfg.Vendors.HTTP))...)
	}
	return names
}

// readFlags are the flags replay and dlq inspect share: where to read and
// what to select.
type readFlags struct {
	// loaded is the configuration settings loaded, if any.
	loaded                                  *daemon.Config
	config, brokers, dlqTopic, from, output string
	vendors, reasons, classes, since, until string
	eventIDs, eventIDsFile                  string
	follow, quiet                           bool
	maxReplays                              int
	set                                     map[string]bool
}

// register defines the shared flags on fs; replay says whether fs is
// replay's (true) or dlq inspect's, where -vendor and -max-replays mean
// something else.
func (r *readFlags) register(fs *flag.FlagSet, replay bool) {
	fields := "kafka.brokers, kafka.topic and dead_letter.topic"
	if !replay {
		fields = "kafka.brokers and dead_letter.topic"
	}
	fs.StringVar(&r.config, "config", "", "daemon YAML configuration to take "+fields+" from, with its TLS and SASL (default $ERASURED_CONFIG); flags override it")
	fs.StringVar(&r.brokers, "brokers", "", "Kafka brokers, host:port,... (default: from -config, else $ERASURED_KAFKA_BROKERS)")
	fs.StringVar(&r.dlqTopic, "dlq-topic", "", "dead-letter topic (default: dead_letter.topic from -config, else user-deleted.dlq)")
	fs.StringVar(&r.output, "output", "table", "table, or json for one JSON object a line")
	if replay {
		fs.StringVar(&r.vendors, "vendor", "", "only records that failed at one of these vendors (comma-separated); replay goes to them only")
		fs.IntVar(&r.maxReplays, "max-replays", dlq.DefaultMaxReplays, "refuse records already replayed this many times")
	} else {
		fs.StringVar(&r.vendors, "vendor", "", "only records that failed at one of these vendors (comma-separated)")
		fs.IntVar(&r.maxReplays, "max-replays", dlq.DefaultMaxReplays, "the ACTION column shows records already replayed this many times as refused, as replay -max-replays would")
	}
	fs.StringVar(&r.reasons, "reason", "", "only these reasons: retries_exhausted, permanent_error, invalid_event (comma-separated)")
	fs.StringVar(&r.classes, "class", "", "only vendor failures of these classes: retryable, permanent, unexpected, invalid_identifier (comma-separated)")
	fs.StringVar(&r.since, "since", "", "only records dead-lettered at or after this time (RFC 3339, 2006-01-02[ 15:04] UTC, or a duration ago: 2h, 7d)")
	fs.StringVar(&r.until, "until", "", "only records dead-lettered before this time (same forms as -since)")
	fs.StringVar(&r.eventIDs, "event-id", "", "only these event ids (comma-separated)")
	fs.StringVar(&r.eventIDsFile, "event-ids-file", "", "only the event ids in this file, one a line (# comments)")
	fs.BoolVar(&r.follow, "follow", false, "keep reading new records until interrupted")
	fs.BoolVar(&r.quiet, "quiet", false, "no progress and no notices on stderr")
}

// kafkaSettings are what the reading commands take from the daemon's
// configuration.
type kafkaSettings struct {
	brokers         []string
	topic, dlqTopic string
	// dialer and transport carry the configuration's TLS and SASL; nil
	// (plain TCP) without -config.
	dialer    *kafka.Dialer
	transport kafka.RoundTripper
	// keys sign replay's restrictions: replay.signing_key of -config, or
	// ERASURED_REPLAY_SIGNING_KEY[_FILE] without it; nil when unset.
	keys *dlq.Keyring
	// acceptedTypes are -config's event.accepted_types.
	acceptedTypes []string
}

// settings loads -config (or $ERASURED_CONFIG) when given, then applies
// the flags that were set.
func (r *readFlags) settings() (kafkaSettings, error) {
	s := kafkaSettings{topic: event.DefaultTopic, dlqTopic: dlq.DefaultTopic}
	if r.config != "" || os.Getenv("ERASURED_CONFIG") != "" {
		cfg, err := daemon.LoadConfig(r.config, nil)
		if err != nil {
			return s, err
		}
		r.loaded = cfg
		s.brokers, s.topic, s.dlqTopic = cfg.Kafka.Brokers, cfg.Kafka.Topic, cfg.DeadLetter.Topic
		if s.dialer, err = cfg.Kafka.Auth.Dialer(); err != nil {
			return s, err
		}
		if s.transport, err = cfg.Kafka.Auth.Transport(); err != nil {
			return s, err
		}
		s.keys, s.acceptedTypes = cfg.Replay.Keyring(), cfg.Event.AcceptedTypes
	} else {
		if env := os.Getenv("ERASURED_KAFKA_BROKERS"); env != "" {
			s.brokers = dlq.SplitList(env)
		}
		// The daemon's own variables, so that one secret serves both.
		var sc struct {
			Replay dlq.SigningConfig `yaml:"replay"`
		}
		if err := config.ApplyEnv(&sc, daemon.EnvPrefix, os.Environ()); err != nil {
			return s, err
		}
		if err := config.Nest("replay", sc.Replay.Validate()); err != nil {
			return s, err
		}
		s.keys = sc.Replay.Keyring()
	}
	if r.set["brokers"] {
		s.brokers = dlq.SplitList(r.brokers)
	}
	if r.set["dlq-topic"] {
		s.dlqTopic = r.dlqTopic
	}
	return s, nil
}

// filter builds the filter from the flags.
func (r *readFlags) filter(now time.Time) (dlq.Filter, error) {
	f := dlq.Filter{Vendors: dlq.SplitList(r.vendors), Classes: dlq.SplitList(r.classes), EventIDs: dlq.SplitList(r.eventIDs)}
	for _, s := range dlq.SplitList(r.reasons) {
		f.Reasons = append(f.Reasons, dlq.Reason(s))
	}
	var err error
	if r.since != "" {
		if f.Since, err = dlq.ParseTime(r.since, now); err != nil {
			return f, config.Invalid("since", "%v", err)
		}
	}
	if r.until != "" {
		if f.Until, err = dlq.ParseTime(r.until, now); err != nil {
			return f, config.Invalid("until", "%v", err)
		}
	}
	if r.eventIDsFile != "" {
		ids, err := readIDs(r.eventIDsFile)
		if err != nil {
			return f, config.Invalid("event-ids-file", "%v", err)
		}
		if len(ids) == 0 {
			return f, config.Invalid("event-ids-file", "%s lists no event id; it would select everything", r.eventIDsFile)
		}
		f.EventIDs = append(f.EventIDs, ids...)
	}
	if err := f.CheckVendors(knownVendors(r.loaded)); err != nil {
		return f, err
	}
	return f, nil
}

func (r *readFlags) start(now time.Time) (dlq.Start, error) {
	st, err := dlq.ParseStart(r.from, now)
	if err != nil {
		return st, config.Invalid("from", "%v", err)
	}
	return st, nil
}

func (r *readFlags) format() (dlq.Format, error) {
	switch f := dlq.Format(r.output); f {
	case dlq.FormatTable, dlq.FormatJSON:
		return f, nil
	}
	return "", config.Invalid("output", "must be table or json, got %q", r.output)
}

// maxIDsFileBytes bounds an event-ids file.
const maxIDsFileBytes = 16 << 20

func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(io.LimitReader(f, maxIDsFileBytes))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	return ids, sc.Err()
}

// report builds the Report: records and summary on stdout, progress and
// notices on stderr (a bar on a terminal, plain lines otherwise).
func (r *readFlags) report(stdout, stderr io.Writer, format dlq.Format, records bool) *dlq.Report {
	o := dlq.ReportOptions{Out: stdout, Format: format, Records: records}
	if !r.quiet {
		o.Progress = stderr
		// Records piped to another program (| jq, | head) reach the
		// terminal at that program's pace, and a bar redrawn in between
		// would tear its lines: plain progress lines then.
		o.ProgressTTY = isTerminal(stderr) && !isPipe(stdout)
		o.SameTerminal = o.ProgressTTY && isTerminal(stdout)
	}
	return dlq.NewReport(o)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func isPipe(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}

// parseReadFlags parses args like parseFlags, then notes which flags were
// set.
func parseReadFlags(fs *flag.FlagSet, r *readFlags, args []string, stdout, stderr io.Writer) (int, bool) {
	var code int
	var ok bool
	r.set, code, ok = parseSetFlags(fs, args, stdout, stderr)
	return code, ok
}

// parseSetFlags parses args like parseFlags and returns the names of the
// flags given, so that a flag overrides the configuration only when set.
func parseSetFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (map[string]bool, int, bool) {
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return nil, code, false
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set, exitOK, true
}

const replayHelp = `usage: erasured replay [flags]

Republishes dead-letter records to the main topic with their original key,
value and headers, limited (erasured-only-vendors) to the vendors that
failed, and counts the replay (erasured-replay-count). Reads from where the
replay's consumer group (-group) got to, to the end of the dead-letter topic
as of the start (or on, with -follow), committing each record only once its
republished copy is acknowledged by every in-sync replica. Interrupted, it
loses nothing: run it again and it resumes (a few records may be replayed
twice; deletes are idempotent).

Start point (-from): by default the group's committed offsets, and the
earliest record where it has none. An explicit -from wins over the committed
offsets: a real run first sets the group to it, then reads. Forms:
  earliest | latest | 0:15,3:200 (partition:offset; other partitions are
  left alone) | a time: 2026-11-27T10:00:00Z, 2026-11-27, 2h (ago).

Each restriction is signed (erasured-only-vendors-signature, HMAC-SHA256
with replay.signing_key, the daemons' key, from -config or
ERASURED_REPLAY_SIGNING_KEY[_FILE]); the daemon honours only signed ones,
and a real run refuses to start without the key.

Records are refused, and listed, when already replayed -max-replays times,
when they are invalid_event (they need fixing; -include-invalid sends them
back unchanged, to every vendor), when their headers cannot be read, or
when they were dead-lettered without their value and the original is no
longer retained at its erasured-original-* offset (value_omitted_original_gone;
while it is, replay republishes the original read back from there).
Always run with -dry-run first.

Exit codes: 0 done, 1 runtime failure or interrupted (re-run to resume),
2 bad usage or configuration.

flags:
`

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	setUsage(fs, replayHelp)
	var rf readFlags
	rf.register(fs, true)
	topic := fs.String("topic", "", "topic to republish to (default: kafka.topic from -config, else user-deleted)")
	group := fs.String("group", "erasured-replay", "the replay's consumer group; its committed offsets are how far replay got")
	fs.StringVar(&rf.from, "from", "", "start point; see above (default: the group's committed offsets)")
	dryRun := fs.Bool("dry-run", false, "print what would be replayed; write and commit nothing")
	includeInvalid := fs.Bool("include-invalid", false, "send invalid_event records back unchanged (to every vendor) instead of refusing them")
	rateFlag := fs.Float64("rate", 100, "republished records per second at most (0: no limit)")
	if code, ok := parseReadFlags(fs, &rf, args, stdout, stderr); !ok {
		return code
	}
	now := time.Now()
	cfg, ks, format, err := replayConfig(&rf, now, *topic, *group, *dryRun, *includeInvalid, *rateFlag)
	if err != nil {
		printErrorsAs(stderr, "erasured replay", err)
		return exitConfig
	}
	rep := rf.report(stdout, stderr, format, true)
	var w dlq.Writer
	if !cfg.DryRun {
		kw := dlq.NewReplayWriter(cfg, ks.transport)
		defer kw.Close()
		w = kw
	}
	sum, err := dlq.NewReplayer(cfg, w, ks.dialer, ks.transport, rep).Run(ctx)
	return exitFor(stderr, "replay", sum, err)
}

func replayConfig(rf *readFlags, now time.Time, topic, group string, dryRun, includeInvalid bool, rateLimit float64) (dlq.ReplayConfig, kafkaSettings, dlq.Format, error) {
	cfg := dlq.DefaultReplayConfig()
	format, err := rf.format()
	if err != nil {
		return cfg, kafkaSettings{}, "", err
	}
	ks, err := rf.settings()
	if err != nil {
		return cfg, ks, "", err
	}
	if rf.set["topic"] {
		ks.topic = topic
	}
	if cfg.From, err = rf.start(now); err != nil {
		return cfg, ks, "", err
	}
	if cfg.Filter, err = rf.filter(now); err != nil {
		return cfg, ks, "", err
	}
	cfg.Brokers, cfg.Topic, cfg.DeadLetterTopic, cfg.GroupID = ks.brokers, ks.topic, ks.dlqTopic, group
	cfg.Follow, cfg.DryRun, cfg.IncludeInvalid = rf.follow, dryRun, includeInvalid
	cfg.MaxReplays, cfg.Rate = rf.maxReplays, rateLimit
	cfg.Keys, cfg.AcceptedTypes = ks.keys, ks.acceptedTypes
	return cfg, ks, format, cfg.Validate()
}

const inspectHelp = `usage: erasured dlq inspect [flags]

Lists and counts dead-letter records with their erasured-* headers decoded,
from the earliest record (or -from) to the end as of the start (or on, with
-follow). Changes nothing: joins no group, commits and writes nothing. Keys,
values and the original record's own header values are never printed (they
identify the person); the ACTION column says what a replay would do.

flags:
`

func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dlq inspect", flag.ContinueOnError)
	setUsage(fs, inspectHelp)
	var rf readFlags
	rf.register(fs, false)
	fs.StringVar(&rf.from, "from", "earliest", "start point: earliest, latest, 0:15,3:200 (partition:offset) or a time (RFC 3339, 2006-01-02, 2h ago)")
	countOnly := fs.Bool("count", false, "print only the counts")
	switch {
	case len(args) > 0 && isHelpFlag(args[0]):
		// dlq has one subcommand: its help is inspect's.
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	case len(args) == 0 || args[0] != "inspect":
		fmt.Fprintln(stderr, "usage: erasured dlq inspect [flags]   (erasured dlq inspect -h for the flags)")
		return exitConfig
	}
	if code, ok := parseReadFlags(fs, &rf, args[1:], stdout, stderr); !ok {
		return code
	}
	now := time.Now()
	cfg, ks, format, err := inspectConfig(&rf, now)
	if err != nil {
		printErrorsAs(stderr, "erasured dlq inspect", err)
		return exitConfig
	}
	rep := rf.report(stdout, stderr, format, !*countOnly)
	sum, err := dlq.Inspect(ctx, cfg, ks.dialer, ks.transport, rep)
	return exitFor(stderr, "dlq inspect", sum, err)
}

func inspectConfig(rf *readFlags, now time.Time) (dlq.InspectConfig, kafkaSettings, dlq.Format, error) {
	cfg := dlq.DefaultInspectConfig()
	format, err := rf.format()
	if err != nil {
		return cfg, kafkaSettings{}, "", err
	}
	ks, err := rf.settings()
	if err != nil {
		return cfg, ks, "", err
	}
	if cfg.From, err = rf.start(now); err != nil {
		return cfg, ks, "", err
	}
	if cfg.Filter, err = rf.filter(now); err != nil {
		return cfg, ks, "", err
	}
	cfg.Brokers, cfg.Topic, cfg.Follow, cfg.MaxReplays = ks.brokers, ks.dlqTopic, rf.follow, rf.maxReplays
	return cfg, ks, format, cfg.Validate()
}

// exitFor maps a run's error to an exit code.
func exitFor(stderr io.Writer, cmd string, sum dlq.Summary, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, dlq.ErrUnknownTopic) || errors.Is(err, dlq.ErrBadStart) || errors.Is(err, config.ErrInvalid):
		fmt.Fprintf(stderr, "erasured %s: %v\n", cmd, err)
		return exitConfig
	case errors.Is(err, context.Canceled) && cmd == "replay":
		fmt.Fprintf(stderr, "erasured %s: interrupted after %d of %d records; run the same command again to resume\n", cmd, sum.Read, sum.Total)
		return exitRuntime
	case cmd == "replay":
		fmt.Fprintf(stderr, "erasured %s: %v (nothing is lost: run the same command again to resume)\n", cmd, err)
		return exitRuntime
	default:
		fmt.Fprintf(stderr, "erasured %s: %v\n", cmd, err)
		return exitRuntime
	}
}

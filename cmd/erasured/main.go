// Command erasured carries out account deletions at third-party vendors.
//
//	erasured run [-config FILE]   the daemon (default subcommand)
//	erasured dev [-listen ADDR]   the daemon on an embedded stack: in-process
//	                              Kafka, vendor sandboxes, sample events
//	erasured check-config [-config FILE]
//	erasured replay [flags]       republish dead-letter records (replay.go)
//	erasured dlq inspect [flags]  list and count dead-letter records
//
// Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or
// configuration. Secrets never come from flags: see docs/configuration.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		switch a := args[0]; {
		case isHelpFlag(a):
			// Before the default below: a bare -h asks about erasured,
			// not about its default subcommand.
			cmd, args = "help", args[1:]
		case a != "" && a[0] != '-':
			cmd, args = a, args[1:]
		}
	}
	switch cmd {
	case "run":
		return runDaemon(ctx, args, stdout, stderr)
	case "dev":
		return runDev(ctx, args, stdout, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "replay":
		return runReplay(ctx, args, stdout, stderr)
	case "dlq":
		return runDLQ(ctx, args, stdout, stderr)
	case "receipts":
		return runReceipts(ctx, args, stdout, stderr)
	case "help":
		if len(args) > 0 {
			// help CMD is CMD -h.
			if args[0] == "help" || isHelpFlag(args[0]) {
				usage(stdout)
				return exitOK
			}
			return run(ctx, []string{args[0], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "erasured: unknown command %q\n", cmd)
		usage(stderr)
		return exitConfig
	}
}

// isHelpFlag reports whether arg asks for help the way flag.Parse
// understands it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h":
		return true
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: erasured <command> [flags]

commands:
  run           run the daemon (reads -config FILE or $ERASURED_CONFIG, then ERASURED_* env); the default
  dev           run the daemon on an embedded stack: in-process Kafka, vendor sandboxes, sample events
  check-config  load and validate the configuration, report every mistake, print it (secrets as their source)
  replay        republish dead-letter records to the main topic, for the vendors that failed
  dlq inspect   list and count dead-letter records with their headers decoded; changes nothing
  receipts      the proof of erasure: latest state of each event per vendor, owed and overdue deletions; receipts mark
  help          this text; help COMMAND (or COMMAND -h) for the command's flags

exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or configuration
`)
}

// parseFlags parses args into fs. Asked for help (-h, -help, --help), it
// prints fs's usage on stdout and returns exitOK; on a bad flag it prints
// the error and the usage on stderr and returns exitConfig. ok is true
// when the command should go on.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	switch {
	case err == nil:
		fs.SetOutput(stderr)
		return exitOK, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK, false
	default:
		fs.SetOutput(stderr)
		fmt.Fprintf(stderr, "erasured %s: %v\n", fs.Name(), err)
		fs.Usage()
		return exitConfig, false
	}
}

// setUsage makes fs print head, then its flags, on its output.
func setUsage(fs *flag.FlagSet, head string) {
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), head)
		fs.PrintDefaults()
	}
}

const configHelp = "YAML configuration file (default $ERASURED_CONFIG); secrets come from env or files, never flags"

func checkConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	setUsage(fs, `usage: erasured check-config [-config FILE] [-skip-secrets]

Loads the configuration as the daemon would (the file, then ERASURED_*
variables), validates it, reports every mistake at once, one per line,
each named by its YAML path, and prints the result as YAML: each secret as
its source ({env: NAME} or {file: PATH}), never its value, so the output
loads again. Exit codes: 0 valid, 2 invalid.

flags:
`)
	path := fs.String("config", "", configHelp)
	skip := fs.Bool("skip-secrets", false, "do not read secret files or variables: check the rest, on a machine without the secrets (each secret that names a source counts as set)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	cfg, err := daemon.LoadConfigWith(*path, nil, daemon.LoadOptions{SkipSecrets: *skip})
	if err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	if *skip {
		fmt.Fprintln(stderr, "erasured: notice: secrets were not read (-skip-secrets): that each file exists and each variable is set, and what they hold, is not checked")
	}
	for _, n := range cfg.Notices() {
		fmt.Fprintf(stderr, "erasured: notice: %s\n", n)
	}
	if err := printConfig(stdout, cfg); err != nil {
		fmt.Fprintf(stderr, "erasured: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

// printErrors writes each error a configuration load reported (see
// config.Flatten) on its own line.
func printErrors(w io.Writer, err error) {
	printErrorsAs(w, "erasured", err)
}

// printErrorsAs is printErrors with prefix before each line.
func printErrorsAs(w io.Writer, prefix string, err error) {
	for _, e := range config.Flatten(err) {
		fmt.Fprintf(w, "%s: %v\n", prefix, e)
	}
}

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	setUsage(fs, `usage: erasured run [flags]   (also: erasured [flags])

Runs the daemon: joins the consumer group, deletes each user-deleted event
at every enabled vendor, dead-letters what cannot be done, and serves
/metrics, /healthz and /readyz on http.listen. Configuration: -config FILE
(or $ERASURED_CONFIG), then ERASURED_* variables; see docs/configuration.md. SIGTERM or
SIGINT stops it gracefully. Exit codes: 0 clean stop, 1 runtime failure,
2 bad usage or configuration.

flags:
`)
	path := fs.String("config", "", configHelp)
	level := fs.String("log-level", "", "trace, debug, info, warn or error (default: log.level from the configuration, else info)")
	format := fs.String("log-format", "", "json, console or auto: console on a terminal, JSON otherwise (default: log.format from the configuration, else auto)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	cfg, err := daemon.LoadConfig(*path, nil)
	if err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	// Flags win over the file and the environment.
	if *level != "" {
		cfg.Log.Level = *level
	}
	if *format != "" {
		cfg.Log.Format = *format
	}
	if err := cfg.Validate(); err != nil {
		printErrors(stderr, err)
		return exitConfig
	}
	// TLS material and SASL credentials were checked by LoadConfig.
	dialer, err := cfg.Kafka.Auth.Dialer()
	if err != nil {
		fmt.Fprintf(stderr, "erasured: %v\n", err)
		return exitConfig
	}
	transport, err := cfg.Kafka.Auth.Transport()
	if err != nil {
		fmt.Fprintf(stderr, "erasured: %v\n", err)
		return exitConfig
	}
	log := newLogger(stdout, cfg.Log.Level, cfg.Log.Format)
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		log.Error().Err(err).Str("listen", cfg.HTTP.Listen).Msg("cannot listen for metrics")
		return exitRuntime
	}
	d := daemon.New(cfg, log, dialer, transport)
	log.Info().Str("metrics", "http://"+ln.Addr().String()+"/metrics").Strs("brokers", cfg.Kafka.Brokers).
		Str("topic", cfg.Kafka.Topic).Str("group", cfg.Kafka.GroupID).Str("dead_letter_topic", cfg.DeadLetter.Topic).
		Bool("tls", cfg.Kafka.Auth.TLS.Enabled).Str("sasl", cfg.Kafka.Auth.SASL.Mechanism).
		Msg("erasured starting")
	if err := d.Run(ctx, ln); err != nil {
		log.Error().Err(err).Msg("erasured stopped with an error")
		return exitRuntime
	}
	log.Info().Msg("erasured stopped")
	return exitOK
}

// Log formats -log-format and log.format take.
const (
	logFormatAuto    = "auto"
	logFormatJSON    = "json"
	logFormatConsole = "console"
)

// newLogger returns a logger at level writing to w in format (both
// already validated): JSON, zerolog's console writer, or for auto (and
// "") the console writer when w is a terminal and JSON otherwise, so a
// person at a terminal reads lines and a log pipeline gets records.
func newLogger(w io.Writer, level, format string) zerolog.Logger {
	return newLoggerTTY(w, level, format, isTerminal(w))
}

func newLoggerTTY(w io.Writer, level, format string, tty bool) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	if format == logFormatConsole || (tty && (format == "" || format == logFormatAuto)) {
		// Colour only on a terminal, and never when NO_COLOR is set
		// (no-color.org).
		_, noColor := os.LookupEnv("NO_COLOR")
		w = zerolog.ConsoleWriter{Out: w, NoColor: !tty || noColor, TimeFormat: "15:04:05"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// printConfig writes cfg as YAML, each secret as its source.
func printConfig(w io.Writer, cfg *daemon.Config) error {
	return config.EncodeWithSources(w, cfg)
}

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
// configuration. Secrets never come from flags: see README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

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
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
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
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "erasured: unknown command %q\n", cmd)
		usage(stderr)
		return exitConfig
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: erasured <command> [flags]

commands:
  run           run the daemon (reads -config FILE or $ERASURED_CONFIG, then ERASURED_* env)
  dev           run the daemon on an embedded stack: in-process Kafka, vendor sandboxes, sample events
  check-config  load and validate the configuration, print it with secrets redacted
  replay        republish dead-letter records to the main topic, for the vendors that failed (-h for flags)
  dlq inspect   list and count dead-letter records with their headers decoded; changes nothing

exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or configuration
`)
}

func configFlags(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (default $ERASURED_CONFIG); secrets come from env or files, never flags")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return *path, nil
}

func checkConfig(args []string, stdout, stderr io.Writer) int {
	path, err := configFlags("check-config", args, stderr)
	if err != nil {
		return exitConfig
	}
	cfg, err := daemon.LoadConfig(path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "erasured: %v\n", err)
		return exitConfig
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

func runDaemon(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	path, err := configFlags("run", args, stderr)
	if err != nil {
		return exitConfig
	}
	cfg, err := daemon.LoadConfig(path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "erasured: %v\n", err)
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
	log := newLogger(stdout, cfg.Log.Level)
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

// newLogger returns a JSON logger at level (already validated).
func newLogger(w io.Writer, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// printConfig writes cfg as YAML; secrets print redacted.
func printConfig(w io.Writer, cfg *daemon.Config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return err
	}
	return enc.Close()
}

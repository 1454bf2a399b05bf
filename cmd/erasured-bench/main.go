// Command erasured-bench measures erasured against a naive consumer on the
// same backlog, with the vendor sandboxes answering instantly, slowly, or
// throttled, and prints one table. `make bench` runs it; see docs/performance.md,
// figures and how to read them.
//
//	erasured-bench [-n 20000] [-latency-n 4000] [-throttle-n 10000]
//	               [-backlog 0] [-latency 50ms] [-rps 500]
//	               [-limit-seconds 20] [-outage-n 10000] [-only REGEXP]
//	               [-profile DIR] [-log DIR]
//
// KAFKA_BROKERS=host:port,... adds the same runs on that Kafka, on fresh
// topics.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/erasured/erasured/internal/bench"
)

func main() {
	// The measured process is this binary again.
	bench.MaybeChild()

	n := flag.Int("n", 20000, "events in the main scenario (vendors answer at once); 0 skips it")
	latencyN := flag.Int("latency-n", 4000, "events in the slow-vendor scenario; 0 skips it")
	throttleN := flag.Int("throttle-n", 10000, "events in the throttled-vendor scenario; 0 skips it")
	backlog := flag.Int("backlog", 0, "events in an extra backlog scenario, erasured only, for peak RSS (1000000 for the README figure)")
	latency := flag.Duration("latency", 50*time.Millisecond, "every vendor's answer delay in the slow-vendor scenario")
	rps := flag.Float64("rps", 500, "requests per second the throttled vendor (Webex) admits")
	limitSeconds := flag.Float64("limit-seconds", 20, "length of each rate-limit scenario at its limit, in seconds (one per limit shape, and 3 replicas sharing a ceiling); 0 skips them")
	outageN := flag.Int("outage-n", 10000, "events in each outage scenario (every vendor answering in -latency, then Exotel answering 503 to everything); 0 skips them")
	partitions := flag.Int("partitions", 8, "partitions of the event topic")
	timeout := flag.Duration("run-timeout", 10*time.Minute, "bound on one run; a run cut short is reported as partial")
	profile := flag.String("profile", "", "directory for CPU and allocation profiles of each measured process")
	logDir := flag.String("log", "", "directory to keep each measured process's log in")
	only := flag.String("only", "", "run only the scenarios whose name matches this regular expression (e.g. '^(sw|cap)-')")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	scenarios, err := bench.Select(append(append(bench.DefaultScenarios(*n, *latencyN, *throttleN, *backlog, *latency, *rps), bench.LimitScenarios(*limitSeconds)...),
		bench.OutageScenarios(*outageN, *latency)...), *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "erasured-bench: -only:", err)
		os.Exit(2)
	}
	o := bench.Options{
		Scenarios:  scenarios,
		Partitions: *partitions,
		RunTimeout: *timeout,
		ProfileDir: *profile,
		LogDir:     *logDir,
		Progress:   os.Stderr,
	}
	if b := strings.TrimSpace(os.Getenv("KAFKA_BROKERS")); b != "" {
		o.Brokers = strings.Split(b, ",")
	}
	for _, d := range []string{*profile, *logDir} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				fmt.Fprintln(os.Stderr, "erasured-bench:", err)
				os.Exit(1)
			}
		}
	}
	fmt.Printf("erasured-bench: %s/%s, %d CPUs, GOMAXPROCS %d, %s, %d partitions\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), *partitions)
	results, err := bench.Run(ctx, o)
	fmt.Println()
	bench.Print(os.Stdout, *partitions, results)
	if err != nil {
		fmt.Fprintln(os.Stderr, "erasured-bench:", err)
		os.Exit(1)
	}
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
)

// childEnv names the environment variable that turns the bench binary (or
// test binary) into the measured process: its value is a JSON childSpec.
const childEnv = "ERASURED_BENCH_CHILD"

// Implementations measured.
const (
	ImplErasured = "erasured"
	ImplNaive    = "naive"
)

// childSpec is what the measured process needs: where the stack is, and
// which implementation to run.
type childSpec struct {
	Impl       string            `json:"impl"`
	Brokers    []string          `json:"brokers"`
	Topic      string            `json:"topic"`
	DLQTopic   string            `json:"dlq_topic"`
	Group      string            `json:"group"`
	Partitions int               `json:"partitions"`
	URLs       map[string]string `json:"urls"`
	// StatsFile receives the child's childStats when it stops.
	StatsFile string `json:"stats_file"`
	// LogFile receives the daemon's log; empty discards it (it is still
	// written, so its cost is measured).
	LogFile    string `json:"log_file"`
	CPUProfile string `json:"cpu_profile"`
	MemProfile string `json:"mem_profile"`
	// Limits replaces vendors' limit configuration, by vendor name.
	Limits map[string]adapters.LimitConfig `json:"limits"`
}

// childStats is what the child reports about itself when it stops.
type childStats struct {
	// PeakRSS is VmHWM from /proc/self/status, in bytes. The rusage a
	// parent gets from wait4 will not do: Linux carries the parent's
	// high-water mark into a child across fork and exec.
	PeakRSS    int64  `json:"peak_rss"`
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"total_alloc"`
	NumGC      uint32 `json:"num_gc"`
}

// MaybeChild runs the measured process and exits when this process was
// started as one (see childEnv); otherwise it returns at once. Call it
// first thing in main and in TestMain.
func MaybeChild() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "bench child: bad spec: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runChild(ctx, spec); err != nil {
		fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func runChild(ctx context.Context, spec childSpec) error {
	if spec.CPUProfile != "" {
		f, err := os.Create(spec.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	cfg := daemonConfig(spec)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	var logOut io.Writer = io.Discard
	if spec.LogFile != "" {
		f, err := os.Create(spec.LogFile)
		if err != nil {
			return err
		}
		defer f.Close()
		logOut = f
	}
	log := zerolog.New(logOut).Level(zerolog.InfoLevel).With().Timestamp().Logger()

	var err error
	switch spec.Impl {
	case ImplErasured:
		var ln net.Listener
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		err = daemon.New(cfg, log, nil, nil).Run(ctx, ln)
	case ImplNaive:
		err = runNaive(ctx, cfg, spec.Partitions, log)
	default:
		err = fmt.Errorf("unknown implementation %q", spec.Impl)
	}
	if err != nil {
		return err
	}
	if spec.MemProfile != "" {
		f, ferr := os.Create(spec.MemProfile)
		if ferr == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := json.Marshal(childStats{PeakRSS: peakRSS(), Mallocs: ms.Mallocs, TotalAlloc: ms.TotalAlloc, NumGC: ms.NumGC})
	return os.WriteFile(spec.StatsFile, b, 0o600)
}

// daemonConfig is the dev stack's configuration with the production retry
// policy (five minutes, twelve attempts: nothing is dead-lettered that
// retries could save) and a commit interval short enough not to dominate a
// twenty-thousand-event run. Everything else is erasured's defaults:
// max_in_flight 64 per partition, 64 requests at once per vendor, no rate
// limit until a vendor throttles, CleverTap batches of up to 100.
func daemonConfig(spec childSpec) *daemon.Config {
	st := &devstack.Stack{
		Brokers: spec.Brokers, Topic: spec.Topic, DLQTopic: spec.DLQTopic, URLs: spec.URLs,
	}
	cfg := st.Config()
	cfg.Kafka.GroupID = spec.Group
	cfg.Kafka.CommitInterval = 200 * time.Millisecond
	cfg.HTTP.Listen = "127.0.0.1:0"
	for _, name := range adapters.Names() {
		cfg.Vendors.Section(name).Shared().Retry = adapters.DefaultRetryConfig()
	}
	for name, lc := range spec.Limits {
		cfg.Vendors.Section(name).Shared().Limit = lc
	}
	return cfg
}

// errChildExited is returned when the measured process stops by itself.
var errChildExited = errors.New("measured process exited")

// peakRSS reads this process's peak resident set size, 0 if unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

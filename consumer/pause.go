package consumer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// PauseSource says whether a vendor is paused: every part for it is
// parked, reason paused, without calling it.
type PauseSource interface {
	Paused(vendor string) bool
}

// DefaultPauseInterval is how often Pauses re-reads the pause file.
const DefaultPauseInterval = 2 * time.Second

// Pauses is the vendors paused in configuration (vendors.<name>.paused)
// or listed in the pause file (vendors.pause_file), re-read every few
// seconds. The file is polled for its content, not watched: a Kubernetes
// ConfigMap mount swaps a symlink to a new directory, which file-change
// notifications on the file itself miss. A missing file lists no vendor
// (the ConfigMap is optional); an unreadable one keeps the last list read.
type Pauses struct {
	configured map[string]bool
	known      []string
	file       string
	log        zerolog.Logger

	mu     sync.RWMutex
	listed map[string]bool
	// unknown is how many names the last read listed that are no
	// enabled vendor; only Reload's caller (one at a time) touches it.
	unknown int
}

// NewPauses returns the pauses of vendors (their names), configured
// paused as in configured, plus file's list (file may be empty: no file).
// The file is read once here, so the first event already sees it.
func NewPauses(vendors []string, configured map[string]bool, file string, log zerolog.Logger) *Pauses {
	p := &Pauses{configured: map[string]bool{}, known: slices.Clone(vendors), file: file, log: log, listed: map[string]bool{}}
	for v, on := range configured {
		if on {
			p.configured[v] = true
			log.Warn().Str("vendor", v).Str("source", "config").Msg("vendor paused: its parts are parked without calling it")
		}
	}
	p.Reload()
	return p
}

// Paused implements PauseSource.
func (p *Pauses) Paused(vendor string) bool {
	if p == nil {
		return false
	}
	if p.configured[vendor] {
		return true
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.listed[vendor]
}

// Run re-reads the file every interval until ctx ends.
func (p *Pauses) Run(ctx context.Context, interval time.Duration) {
	if p == nil || p.file == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Reload()
		}
	}
}

// Reload reads the file now and logs one line per vendor whose pause
// changed.
func (p *Pauses) Reload() {
	if p.file == "" {
		return
	}
	data, err := os.ReadFile(p.file)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = nil, nil
	}
	if err != nil {
		p.log.Warn().Err(err).Str("pause_file", p.file).Msg("pause file unreadable; keeping the pauses last read")
		return
	}
	names := ParsePauseFile(data)
	next := map[string]bool{}
	unknown := 0
	for _, n := range names {
		if slices.Contains(p.known, n) {
			next[n] = true
		} else {
			unknown++
		}
	}
	p.mu.Lock()
	prev := p.listed
	p.listed = next
	p.mu.Unlock()
	for _, v := range p.known {
		switch {
		case next[v] && !prev[v]:
			p.log.Warn().Str("vendor", v).Str("source", "pause_file").Bool("paused_in_config", p.configured[v]).
				Msg("vendor paused: its parts are parked without calling it")
		case !next[v] && prev[v]:
			p.log.Warn().Str("vendor", v).Str("source", "pause_file").Bool("paused_in_config", p.configured[v]).
				Msg("vendor unpaused in the pause file")
		}
	}
	if unknown != p.unknown {
		// Counted, not named: the line quotes nothing from the file.
		p.unknown = unknown
		if unknown > 0 {
			p.log.Warn().Int("unknown_names", unknown).Str("pause_file", p.file).Msg("pause file lists names that are no enabled vendor; ignored")
		}
	}
}

// ParsePauseFile reads a pause file: one vendor name a line; blanks,
// surrounding space and what follows a '#' are ignored. Names are
// lower-cased.
func ParsePauseFile(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.ToLower(strings.TrimSpace(line))
		if line != "" && !slices.Contains(out, line) {
			out = append(out, line)
		}
	}
	return out
}

// Register exports erasured_vendor_paused{vendor}: 1 while paused.
func (p *Pauses) Register(reg prometheus.Registerer) {
	for _, v := range p.known {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "erasured_vendor_paused",
			Help:        "1 while the vendor is paused (vendors.<name>.paused or the pause file): its parts are parked without calling it.",
			ConstLabels: prometheus.Labels{"vendor": v},
		}, func() float64 {
			if p.Paused(v) {
				return 1
			}
			return 0
		}))
	}
}

package dlq

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
)

// InspectConfig configures a read of the dead-letter topic that changes
// nothing: no group joins, no offset is committed, nothing is written.
type InspectConfig struct {
	Brokers []string
	Topic   string
	// From is where reading starts; the zero value (resume) reads from the
	// earliest record, since inspecting has no group to resume.
	From Start
	// Follow keeps reading new records until ctx ends.
	Follow bool
	Filter Filter
	// MaxReplays is the limit the ACTION column applies, to show which
	// records a replay with it would refuse.
	MaxReplays     int
	FetchMaxWait   time.Duration
	RequestTimeout time.Duration
}

// DefaultInspectConfig is what the command's flags are applied over; a
// new field's default goes here.
func DefaultInspectConfig() InspectConfig {
	return InspectConfig{
		Topic:          DefaultTopic,
		MaxReplays:     DefaultMaxReplays,
		FetchMaxWait:   time.Second,
		RequestTimeout: 10 * time.Second,
	}
}

// Validate names the first wrong field.
func (c *InspectConfig) Validate() error {
	if err := validateBrokers(c.Brokers); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(c.Topic) == "":
		return config.Invalid("dlq-topic", "must be set")
	case c.MaxReplays < 1:
		return config.Invalid("max-replays", "must be at least 1, got %d", c.MaxReplays)
	case c.FetchMaxWait <= 0:
		return config.Invalid("fetch-max-wait", "must be positive, got %s", c.FetchMaxWait)
	case c.RequestTimeout <= 0:
		return config.Invalid("request-timeout", "must be positive, got %s", c.RequestTimeout)
	}
	return c.Filter.Validate()
}

// Inspect lists and counts the dead-letter records cfg selects, with their
// erasured-* headers decoded, and prints the summary. Each record's ACTION
// says what a replay with cfg.MaxReplays would do with it. dialer and
// transport may be nil.
func Inspect(ctx context.Context, cfg InspectConfig, dialer *kafka.Dialer, transport kafka.RoundTripper, rep *Report) (Summary, error) {
	if rep == nil {
		rep = NewReport(ReportOptions{})
	}
	sum := newSummary("inspect")
	started := time.Now()
	err := inspect(ctx, cfg, newCluster(cfg.Brokers, dialer, transport, cfg.RequestTimeout), rep, &sum)
	if cfg.Follow && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil
	}
	sum.Seconds = time.Since(started).Seconds()
	sum.Complete = err == nil && !cfg.Follow
	rep.Finish(sum)
	return sum, err
}

func inspect(ctx context.Context, cfg InspectConfig, cl *cluster, rep *Report, sum *Summary) error {
	from := cfg.From
	if !from.Explicit() {
		from = Start{Kind: StartEarliest}
	}
	policy := Policy{MaxReplays: cfg.MaxReplays}
	return cl.scan(ctx, cfg.Topic, from, cfg.Follow, cfg.FetchMaxWait, func(n int64) {
		sum.Total = n
		rep.Notice("inspecting %s from %s: %d records", cfg.Topic, from, sum.Total)
	}, func(m kafka.Message) error {
		e := ParseEntry(m)
		d := Decide(&e, &cfg.Filter, policy)
		sum.add(&e, d, true)
		rep.Record(&e, d)
		rep.Progress(sum)
		return nil
	})
}

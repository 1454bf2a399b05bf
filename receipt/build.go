package receipt

import (
	"errors"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// DefaultDeadline is the GDPR's month (Art. 12(3)) counted as 30 days.
// The CCPA regulations allow 45 days; set compliance.deadline to the
// shortest deadline among the laws that apply.
const DefaultDeadline = 30 * 24 * time.Hour

// Config places the receipts; the YAML's receipts section.
type Config struct {
	// Topic is the receipts topic; empty means <kafka.topic>.receipts.
	Topic string `yaml:"topic"`
	// WriteTimeout bounds one receipt write; the publisher retries past it.
	WriteTimeout time.Duration `yaml:"write_timeout"`
}

// DefaultConfig is what the YAML overwrites.
func DefaultConfig() Config { return Config{WriteTimeout: 10 * time.Second} }

// Validate checks c.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.WriteTimeout <= 0 {
		errs.Invalid("write_timeout", "must be positive, got %s", c.WriteTimeout)
	}
	return errs.Err()
}

// ComplianceConfig is the YAML's compliance section.
type ComplianceConfig struct {
	// Deadline is counted from an event's occurred_at: by then every
	// vendor's part must be final.
	Deadline time.Duration `yaml:"deadline"`
}

// DefaultComplianceConfig is what the YAML overwrites.
func DefaultComplianceConfig() ComplianceConfig { return ComplianceConfig{Deadline: DefaultDeadline} }

// Validate checks c: a day at least (a shorter one is a unit mistake),
// and at most two years, the CCPA's record-keeping horizon.
func (c *ComplianceConfig) Validate() error {
	if c.Deadline < 24*time.Hour || c.Deadline > 2*365*24*time.Hour {
		return config.Invalid("deadline", "must be between 24h and 17520h (two years), got %s", c.Deadline)
	}
	return nil
}

// New starts the receipt of ev: its id, the user's fingerprint, when it
// occurred and its deadline. Parts are added with Set.
func New(ev *event.UserDeleted, fp *event.Fingerprinter, deadline time.Duration, now time.Time) *Receipt {
	return &Receipt{
		Schema:     Schema,
		EventID:    ev.EventID,
		User:       fp.Fingerprint(ev.UserID),
		OccurredAt: ev.OccurredAt.UTC(),
		FinishedAt: now.UTC(),
		Deadline:   ev.OccurredAt.Add(deadline).UTC(),
		Vendors:    map[string]Part{},
	}
}

// Set records a vendor's part.
func (r *Receipt) Set(vendor string, p Part) {
	if r.Vendors == nil {
		r.Vendors = map[string]Part{}
	}
	r.Vendors[vendor] = p
}

// PartOf is the part a Retrier's result records. A final result maps to
// its outcome; a failed one to otherwise (parked, paused or
// dead_lettered: the caller knows which). Only a final answer from the
// vendor becomes deleted or already_absent, so a receipt never claims a
// deletion the vendor did not confirm.
func PartOf(res adapters.Result, otherwise Outcome, now time.Time) Part {
	p := Part{Attempts: res.Attempts, RecordedAt: now.UTC(), Reference: res.Reference, BatchSize: res.BatchSize}
	switch res.Outcome {
	case adapters.Deleted:
		p.Outcome = Deleted
	case adapters.AlreadyAbsent:
		p.Outcome = AlreadyAbsent
	case adapters.NotApplicable:
		p.Outcome = NotApplicable
	default:
		p.Outcome = otherwise
	}
	if res.Attempts > 0 {
		first := now.Add(-res.Duration).UTC()
		last := now.UTC()
		if p.Outcome != Deleted && p.Outcome != AlreadyAbsent && !res.LastFailure.IsZero() {
			last = res.LastFailure.UTC()
		}
		p.FirstAttempt, p.LastAttempt = &first, &last
	}
	var ae *adapters.Error
	if errors.As(res.Err, &ae) {
		p.Status, p.Code = ae.Status, ae.Code
	}
	return p
}

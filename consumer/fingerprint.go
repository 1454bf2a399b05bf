package consumer

import "github.com/erasured/erasured/event"

// ProcessorOption configures a Processor.
type ProcessorOption func(*Processor)

// WithFingerprinter names the user in the per-event log line by f's keyed
// fingerprint. Give every replica a Fingerprinter with the same key so
// their lines about one person correlate. Without this option the
// Processor draws a random key of its own (event.RandomFingerprinter):
// fingerprints then correlate within the process only, and are never an
// unkeyed hash anyone could recompute.
func WithFingerprinter(f *event.Fingerprinter) ProcessorOption {
	return func(p *Processor) {
		if f != nil {
			p.fp = f
		}
	}
}

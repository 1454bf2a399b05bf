package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/receipt"
)

const receiptsHelp = `usage: erasured receipts [flags]
       erasured receipts mark -event-id ID -vendor V -outcome O -note TEXT [-by NAME]

Reads the receipts topic (default <kafka.topic>.receipts) from a start point
to its end and prints the latest state of each event: what every vendor
answered, when, and what is still owed. Several receipts of one event are
folded vendor by vendor, the newest winning. Nothing printed is an
identifier: users appear as their keyed fingerprint, and -user computes
that fingerprint locally from a user id with the daemons' key
(log.fingerprint_key from -config, or ERASURED_LOG_FINGERPRINT_KEY[_FILE]).

-status: owed (anything not done, dead-lettered included), done,
dead_lettered, parked. With -vendor, the status is that vendor's part's.
-summary prints counts per vendor and outcome, owed, overdue (past the
deadline) and the oldest owed event instead of the events.

mark records an outcome for a part erasured could not settle itself, for
example a deletion done by hand at the vendor: the receipt then says who
(-by, default $USER) and why (-note), and the part stops counting as owed.

Exit codes: 0 done, 1 runtime failure or interrupted, 2 bad usage or
configuration.

flags:
`

type receiptFlags struct {
	config, brokers, topic, from, output string
	eventIDs, user, vendors, status      string
	since, until                         string
	summary, quiet                       bool
	set                                  map[string]bool
}

func (r *receiptFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.config, "config", "", "daemon YAML configuration to take kafka.brokers, kafka.topic and log.fingerprint_key from, with its TLS and SASL (default $ERASURED_CONFIG)")
	fs.StringVar(&r.brokers, "brokers", "", "Kafka brokers, host:port,... (default: from -config, else $ERASURED_KAFKA_BROKERS)")
	fs.StringVar(&r.topic, "topic", "", "receipts topic (default: <kafka.topic>.receipts)")
	fs.StringVar(&r.from, "from", "earliest", "start point: earliest, 0:15,3:200, or a time (2026-11-27, 2h ago as 2h)")
}

type receiptSettings struct {
	scan  dlq.ScanConfig
	topic string
	fp    *event.Fingerprinter
}

func (r *receiptFlags) settings() (receiptSettings, error) {
	s := receiptSettings{topic: receipt.TopicFor(event.DefaultTopic), scan: dlq.ScanConfig{RequestTimeout: 10 * time.Second, FetchMaxWait: time.Second}}
	var key config.Secret
	if r.config != "" || os.Getenv("ERASURED_CONFIG") != "" {
		cfg, err := daemon.LoadConfig(r.config, nil)
		if err != nil {
			return s, err
		}
		s.scan.Brokers, s.topic, key = cfg.Kafka.Brokers, receipt.TopicFor(cfg.Kafka.Topic), cfg.Log.FingerprintKey
		if s.scan.Dialer, err = cfg.Kafka.Auth.Dialer(); err != nil {
			return s, err
		}
		if s.scan.Transport, err = cfg.Kafka.Auth.Transport(); err != nil {
			return s, err
		}
	} else {
		if env := os.Getenv("ERASURED_KAFKA_BROKERS"); env != "" {
			s.scan.Brokers = dlq.SplitList(env)
		}
		var lc struct {
			Log struct {
				FingerprintKey config.Secret `yaml:"fingerprint_key"`
			} `yaml:"log"`
		}
		if err := config.ApplyEnv(&lc, daemon.EnvPrefix, os.Environ()); err != nil {
			return s, err
		}
		key = lc.Log.FingerprintKey
	}
	if r.set["brokers"] {
		s.scan.Brokers = dlq.SplitList(r.brokers)
	}
	if r.set["topic"] {
		s.topic = r.topic
	}
	if len(s.scan.Brokers) == 0 {
		return s, config.Invalid("brokers", "no Kafka brokers: give -brokers, -config or ERASURED_KAFKA_BROKERS")
	}
	if key.IsSet() {
		fp, err := event.NewFingerprinter([]byte(key.Reveal()))
		if err != nil {
			return s, config.Invalid("log.fingerprint_key", "%v", err)
		}
		s.fp = fp
	}
	return s, nil
}

func (r *receiptFlags) filter(s receiptSettings, now time.Time) (receipt.Filter, error) {
	f := receipt.Filter{EventIDs: dlq.SplitList(r.eventIDs), Vendors: dlq.SplitList(r.vendors), Status: receipt.Status(r.status)}
	var errs config.Errors
	if r.status != "" && !containsStatus(f.Status) {
		errs.Invalid("status", "must be one of owed, done, dead_lettered, parked, got %q", r.status)
	}
	for _, v := range f.Vendors {
		if !dlq.ValidVendorName(v) {
			errs.Invalid("vendor", "%q is not a vendor name", v)
		}
	}
	if r.user != "" {
		if s.fp == nil {
			errs.Invalid("user", "needs the daemons' fingerprint key (log.fingerprint_key in -config, or ERASURED_LOG_FINGERPRINT_KEY[_FILE]): without it no fingerprint can match")
		} else {
			f.User = s.fp.Fingerprint(r.user)
		}
	}
	var err error
	if r.since != "" {
		if f.Since, err = dlq.ParseTime(r.since, now); err != nil {
			errs.Invalid("since", "%v", err)
		}
	}
	if r.until != "" {
		if f.Until, err = dlq.ParseTime(r.until, now); err != nil {
			errs.Invalid("until", "%v", err)
		}
	}
	return f, errs.Err()
}

func containsStatus(s receipt.Status) bool {
	for _, x := range receipt.Statuses {
		if x == s {
			return true
		}
	}
	return false
}

// readBook scans the receipts topic into a Book, with progress on stderr
// (a bar on a terminal, a line every few seconds otherwise).
func readBook(ctx context.Context, s receiptSettings, from dlq.Start, stderr io.Writer, quiet bool) (*receipt.Book, error) {
	b := receipt.NewBook()
	var total int64
	tty := isTerminal(stderr)
	last := time.Now()
	show := func(final bool) {
		if quiet || total == 0 {
			return
		}
		pct := float64(b.Read) * 100 / float64(total)
		switch {
		case tty:
			const width = 30
			n := int(pct / 100 * width)
			fmt.Fprintf(stderr, "\r[%s%s] %d/%d records %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", width-n), b.Read, total, pct)
			if final {
				fmt.Fprintln(stderr)
			}
		case final || time.Since(last) >= 5*time.Second:
			fmt.Fprintf(stderr, "read %d/%d records (%.0f%%)\n", b.Read, total, pct)
			last = time.Now()
		}
	}
	err := dlq.Scan(ctx, s.scan, s.topic, from, func(n int64) {
		total = n
		if !quiet {
			fmt.Fprintf(stderr, "reading %s from %s: %d records\n", s.topic, from, n)
		}
	}, func(m kafka.Message) error {
		b.Add(m.Value)
		if tty && b.Read%256 == 0 {
			show(false)
		} else if !tty {
			show(false)
		}
		return nil
	})
	show(true)
	if err == nil && b.Malformed > 0 && !quiet {
		fmt.Fprintf(stderr, "%d records are not receipts erasured reads; they were skipped\n", b.Malformed)
	}
	return b, err
}

func runReceipts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "mark" {
		return runReceiptsMark(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("receipts", flag.ContinueOnError)
	setUsage(fs, receiptsHelp)
	var rf receiptFlags
	rf.register(fs)
	fs.StringVar(&rf.eventIDs, "event-id", "", "only these event ids (comma-separated)")
	fs.StringVar(&rf.user, "user", "", "only this user's events: a user id, fingerprinted locally, never printed")
	fs.StringVar(&rf.vendors, "vendor", "", "only events with a part at these vendors (comma-separated)")
	fs.StringVar(&rf.status, "status", "", "owed, done, dead_lettered or parked")
	fs.StringVar(&rf.since, "since", "", "only events that occurred at or after this time (RFC 3339, 2006-01-02, or a duration ago: 2h, 7d)")
	fs.StringVar(&rf.until, "until", "", "only events that occurred before this time")
	fs.StringVar(&rf.output, "output", "table", "table, json (one receipt a line) or csv (one row per event and vendor)")
	fs.BoolVar(&rf.summary, "summary", false, "print counts instead of the events")
	fs.BoolVar(&rf.quiet, "quiet", false, "no progress on stderr")
	var code int
	var ok bool
	if rf.set, code, ok = parseSetFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	now := time.Now()
	s, err := rf.settings()
	var (
		errs   config.Errors
		filter receipt.Filter
		from   dlq.Start
		format receipt.Format
	)
	errs.Add(err)
	if err == nil {
		filter, err = rf.filter(s, now)
		errs.Add(err)
	}
	if from, err = dlq.ParseStart(rf.from, now); err != nil {
		errs.Invalid("from", "%v", err)
	}
	if format, err = receipt.ParseFormat(rf.output); err != nil {
		errs.Invalid("output", "must be table, json or csv, got %q", rf.output)
	}
	if err := errs.Err(); err != nil {
		printErrorsAs(stderr, "erasured receipts", err)
		return exitConfig
	}
	b, err := readBook(ctx, s, from, stderr, rf.quiet)
	if err != nil {
		return receiptsFailed(stderr, err)
	}
	rs := b.Select(filter)
	if rf.summary {
		err = receipt.PrintSummary(stdout, format, receipt.Summarize(rs, now), now)
	} else {
		err = receipt.Print(stdout, format, rs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "erasured receipts: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

func receiptsFailed(stderr io.Writer, err error) int {
	if errors.Is(err, dlq.ErrUnknownTopic) {
		fmt.Fprintf(stderr, "erasured receipts: %v (the platform creates it; see docs/deployment.md)\n", err)
		return exitConfig
	}
	fmt.Fprintf(stderr, "erasured receipts: %v\n", err)
	return exitRuntime
}

var markOutcomes = []receipt.Outcome{receipt.Deleted, receipt.AlreadyAbsent, receipt.NotApplicable}

func runReceiptsMark(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("receipts mark", flag.ContinueOnError)
	setUsage(fs, receiptsHelp)
	var rf receiptFlags
	rf.register(fs)
	eventID := fs.String("event-id", "", "the event (required)")
	vendor := fs.String("vendor", "", "the vendor whose part is settled (required)")
	outcome := fs.String("outcome", "", "deleted, already_absent or not_applicable (required)")
	note := fs.String("note", "", "why, in words an auditor will read (required; no personal data)")
	by := fs.String("by", os.Getenv("USER"), "who records it")
	var code int
	var ok bool
	if rf.set, code, ok = parseSetFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	var errs config.Errors
	if *eventID == "" {
		errs.Invalid("event-id", "is required")
	}
	if !dlq.ValidVendorName(*vendor) {
		errs.Invalid("vendor", "is required: a vendor name")
	}
	o := receipt.Outcome(*outcome)
	valid := false
	for _, k := range markOutcomes {
		valid = valid || o == k
	}
	if !valid {
		errs.Invalid("outcome", "must be deleted, already_absent or not_applicable, got %q", *outcome)
	}
	if strings.TrimSpace(*note) == "" {
		errs.Invalid("note", "is required: say why the part is settled")
	}
	if strings.TrimSpace(*by) == "" {
		errs.Invalid("by", "is required (default $USER)")
	}
	s, err := rf.settings()
	errs.Add(err)
	now := time.Now()
	from, err := dlq.ParseStart(rf.from, now)
	if err != nil {
		errs.Invalid("from", "%v", err)
	}
	if err := errs.Err(); err != nil {
		printErrorsAs(stderr, "erasured receipts mark", err)
		return exitConfig
	}
	b, err := readBook(ctx, s, from, stderr, true)
	if err != nil {
		return receiptsFailed(stderr, err)
	}
	r, ok := b.Get(*eventID)
	if !ok {
		fmt.Fprintf(stderr, "erasured receipts mark: no receipt for event %s in %s; erasured has not finished it yet\n", *eventID, s.topic)
		return exitConfig
	}
	p, ok := r.Vendors[*vendor]
	if !ok {
		fmt.Fprintf(stderr, "erasured receipts mark: event %s has no part at %s (vendors: %s)\n", *eventID, *vendor, strings.Join(r.VendorNames(), ", "))
		return exitConfig
	}
	p.Outcome, p.RecordedAt = o, now.UTC()
	p.Manual = &receipt.Manual{By: *by, Note: *note, At: now.UTC()}
	r.Vendors[*vendor] = p
	r.FinishedAt = now.UTC()
	w := receipt.NewWriter(receipt.WriterConfig{Brokers: s.scan.Brokers, Topic: s.topic, Transport: s.scan.Transport}, zerolog.Nop(), nil)
	defer w.Close()
	if err := w.Write(ctx, r); err != nil {
		fmt.Fprintf(stderr, "erasured receipts mark: %v\n", err)
		return exitRuntime
	}
	fmt.Fprintf(stdout, "event %s: %s marked %s by %s; event now %s\n", *eventID, *vendor, o, *by, r.Status())
	return exitOK
}

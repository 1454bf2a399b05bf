package dlq

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Summary counts what a replay or an inspection did.
type Summary struct {
	// Mode is "replay", "dry-run" or "inspect".
	Mode string `json:"mode"`
	// Read counts dead-letter records read.
	Read int `json:"read"`
	// Matched counts records the filter selected.
	Matched int `json:"matched"`
	// Skipped counts records the filter left out.
	Skipped int `json:"skipped"`
	// Replayed counts records republished and acknowledged (in a dry run:
	// that would be).
	Replayed int `json:"replayed"`
	// Refused counts selected records not replayed, by why.
	Refused map[Refusal]int `json:"refused"`
	// ByReason counts selected records by dead-letter reason.
	ByReason map[Reason]int `json:"by_reason"`
	// ByVendor counts, per vendor, the selected records that failed
	// there (inspect) or that are replayed to it (replay, dry run).
	ByVendor map[string]int `json:"by_vendor"`
	// ByClass counts the selected records' vendor failures by error class.
	ByClass map[string]int `json:"by_class"`
	// CommitFailures counts failed offset commits; the records they
	// covered will be read again by the next run (harmless duplicates).
	CommitFailures int `json:"commit_failures,omitempty"`
	// Total is how many records the run set out to read, 0 when
	// following.
	Total int64 `json:"total"`
	// Complete is false when the run stopped before the end it set out to
	// reach; re-running resumes.
	Complete bool    `json:"complete"`
	Seconds  float64 `json:"seconds"`
}

func newSummary(mode string) Summary {
	return Summary{
		Mode: mode, Refused: map[Refusal]int{}, ByReason: map[Reason]int{},
		ByVendor: map[string]int{}, ByClass: map[string]int{},
	}
}

// RefusedTotal sums Refused.
func (s *Summary) RefusedTotal() int {
	n := 0
	for _, v := range s.Refused {
		n += v
	}
	return n
}

// add counts one record and what was decided for it.
func (s *Summary) add(e *Entry, d Decision, inspect bool) {
	s.Read++
	if d.Action == ActionSkip {
		s.Skipped++
		return
	}
	s.Matched++
	s.ByReason[e.Reason]++
	for _, f := range e.Failures {
		if f.Class != "" {
			s.ByClass[f.Class]++
		}
	}
	switch {
	case inspect:
		for _, v := range e.FailedVendors {
			s.ByVendor[v]++
		}
	case d.Action == ActionRefuse:
		s.Refused[d.Refusal]++
	}
}

// replayed counts a record as replayed to d's vendors.
func (s *Summary) replayed(d Decision) {
	s.Replayed++
	if len(d.Vendors) == 0 {
		s.ByVendor["all"]++
	}
	for _, v := range d.Vendors {
		s.ByVendor[v]++
	}
}

// Format is how records and the summary print.
type Format string

const (
	// FormatTable prints aligned columns for people.
	FormatTable Format = "table"
	// FormatJSON prints one JSON object a line: a "record" line per
	// selected record, then a "summary" line.
	FormatJSON Format = "json"
)

// ReportOptions shape a Report.
type ReportOptions struct {
	// Out receives the records and the summary.
	Out    io.Writer
	Format Format
	// Progress, when set, receives progress and notices: a redrawn bar
	// when ProgressTTY, plain lines every ProgressEvery otherwise.
	Progress      io.Writer
	ProgressTTY   bool
	ProgressEvery time.Duration
	// SameTerminal says Out and Progress are one terminal: the bar is
	// cleared before a record line and drawn again after it.
	SameTerminal bool
	// Records, when false, prints only the summary.
	Records bool
	// Now is the clock, for tests; time.Now when nil.
	Now func() time.Time
}

// Report prints records, progress and the summary. It is safe for use
// from one goroutine at a time (replay and inspect handle records on one
// goroutine); Notice may be called from others.
type Report struct {
	o        ReportOptions
	mu       sync.Mutex
	header   bool
	drawn    bool
	started  time.Time
	lastDraw time.Time
	// lastSummary is what the bar last showed, to draw it again after a
	// record line.
	lastSummary *Summary
}

// NewReport returns a Report.
func NewReport(o ReportOptions) *Report {
	if o.Format == "" {
		o.Format = FormatTable
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return &Report{o: o, started: o.Now(), lastDraw: o.Now()}
}

// recordJSON is one "record" line of FormatJSON.
type recordJSON struct {
	Type string `json:"type"`
	*Entry
	Failures []FailureView `json:"failures,omitempty"`
	Decision
}

// FailureView is a vendor's failure as FormatJSON prints it.
type FailureView struct {
	Vendor        string `json:"vendor"`
	Class         string `json:"class"`
	Status        int    `json:"status,omitempty"`
	Code          string `json:"code,omitempty"`
	Description   string `json:"description,omitempty"`
	Message       string `json:"message,omitempty"`
	VendorMessage string `json:"vendor_message,omitempty"`
	Attempts      int    `json:"attempts"`
}

// RecordLine is a FormatJSON "record" line read back: the entry with its
// failures and the decision. Tests and scripts use it.
type RecordLine struct {
	Type string `json:"type"`
	Entry
	Failures []FailureView `json:"failures"`
	Decision
}

// SummaryLine is the FormatJSON "summary" line read back.
type SummaryLine struct {
	Type string `json:"type"`
	Summary
}

// Record prints one record and what was decided for it. Skipped records
// are not printed.
func (r *Report) Record(e *Entry, d Decision) {
	if !r.o.Records || d.Action == ActionSkip {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked()
	switch r.o.Format {
	case FormatJSON:
		fs := make([]FailureView, len(e.Failures))
		for i, f := range e.Failures {
			fs[i] = FailureView(f)
		}
		b, err := json.Marshal(recordJSON{Type: "record", Entry: e, Failures: fs, Decision: d})
		if err != nil {
			b = []byte(`{"type":"record","error":` + strconv.Quote(err.Error()) + `}`)
		}
		fmt.Fprintf(r.o.Out, "%s\n", b)
	default:
		if !r.header {
			r.header = true
			fmt.Fprintf(r.o.Out, tableRow, "PART", "OFFSET", "EVENT_ID", "REASON", "FAILED (vendor:class/status)", "REPLAYS", "DEAD_LETTERED", "ACTION")
		}
		id := e.EventID
		if id == "" {
			id = "-"
		}
		dl := "-"
		if t := e.TimeDeadLettered(); !t.IsZero() {
			dl = t.UTC().Format("2006-01-02T15:04:05Z")
		}
		failed := failedCell(e)
		if len(e.Problems) > 0 {
			failed += " !" + strconv.Itoa(len(e.Problems)) + " problem(s)"
		}
		if e.ValueOmitted {
			// Replay reads the original back, if it is still retained.
			failed += " [value omitted]"
		}
		fmt.Fprintf(r.o.Out, tableRow, strconv.Itoa(e.Partition), strconv.FormatInt(e.Offset, 10), id,
			string(e.Reason), failed, strconv.Itoa(e.ReplayCount), dl, d.String())
	}
	r.drawLocked(nil)
}

const tableRow = "%-4s %-8s %-36s %-17s %-34s %-7s %-20s %s\n"

// failedCell renders the failed vendors as vendor:class/status.
func failedCell(e *Entry) string {
	if e.Reason == ReasonInvalidEvent {
		if e.Detail != "" {
			return e.Detail
		}
		return "-"
	}
	if len(e.FailedVendors) == 0 {
		return "-"
	}
	cells := make([]string, 0, len(e.FailedVendors))
	for _, v := range e.FailedVendors {
		f, ok := e.Failure(v)
		switch {
		case !ok:
			cells = append(cells, v+":?")
		case f.Status != 0:
			cells = append(cells, v+":"+f.Class+"/"+strconv.Itoa(f.Status))
		default:
			cells = append(cells, v+":"+f.Class)
		}
	}
	return strings.Join(cells, ",")
}

// Notice prints a line of context (where a run starts, what it skips) to
// the progress stream; nothing when there is none.
func (r *Report) Notice(format string, args ...any) {
	if r.o.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked()
	fmt.Fprintf(r.o.Progress, format+"\n", args...)
}

// Progress redraws the bar (TTY) or prints a line every ProgressEvery.
func (r *Report) Progress(s *Summary) {
	if r.o.Progress == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.o.Now()
	every := r.o.ProgressEvery
	if r.o.ProgressTTY {
		every = 100 * time.Millisecond
	}
	if now.Sub(r.lastDraw) < every {
		return
	}
	r.lastDraw = now
	if r.o.ProgressTTY {
		r.drawLocked(s)
		return
	}
	fmt.Fprintln(r.o.Progress, "progress: "+r.progressText(s, now))
}

func (r *Report) progressText(s *Summary, now time.Time) string {
	var b strings.Builder
	if s.Total > 0 {
		fmt.Fprintf(&b, "%d/%d read (%d%%)", s.Read, s.Total, int64(s.Read)*100/s.Total)
	} else {
		fmt.Fprintf(&b, "%d read", s.Read)
	}
	verb := "replayed"
	switch s.Mode {
	case "dry-run":
		verb = "would replay"
	case "inspect":
		verb = ""
	}
	if verb != "" {
		fmt.Fprintf(&b, ", %s %d, skipped %d, refused %d", verb, s.Replayed, s.Skipped, s.RefusedTotal())
	} else {
		fmt.Fprintf(&b, ", matched %d", s.Matched)
	}
	if secs := now.Sub(r.started).Seconds(); secs >= 1 {
		fmt.Fprintf(&b, ", %.0f/s", float64(s.Read)/secs)
	}
	return b.String()
}

// drawLocked draws the bar for s, or redraws the last one when s is nil.
func (r *Report) drawLocked(s *Summary) {
	if !r.o.ProgressTTY || r.o.Progress == nil {
		return
	}
	if s == nil {
		if !r.o.SameTerminal || r.lastSummary == nil {
			return
		}
		s = r.lastSummary
	}
	r.lastSummary = s
	const width = 24
	bar := strings.Repeat("-", width)
	if s.Total > 0 {
		n := min(int(int64(s.Read)*width/s.Total), width)
		bar = strings.Repeat("#", n) + strings.Repeat("-", width-n)
	}
	fmt.Fprintf(r.o.Progress, "\r\033[K[%s] %s", bar, r.progressText(s, r.o.Now()))
	r.drawn = true
}

// clearLocked erases a drawn bar so a line can be printed.
func (r *Report) clearLocked() {
	if r.drawn {
		fmt.Fprint(r.o.Progress, "\r\033[K")
		r.drawn = false
	}
}

// Finish prints the summary.
func (r *Report) Finish(s Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clearLocked()
	if r.o.Format == FormatJSON {
		b, _ := json.Marshal(SummaryLine{Type: "summary", Summary: s})
		fmt.Fprintf(r.o.Out, "%s\n", b)
		return
	}
	w := r.o.Out
	if r.header {
		fmt.Fprintln(w)
	}
	switch s.Mode {
	case "inspect":
		fmt.Fprintf(w, "inspected %d records in %.1fs: %d matched, %d skipped by filters\n", s.Read, s.Seconds, s.Matched, s.Skipped)
	case "dry-run":
		fmt.Fprintf(w, "dry run, nothing was written: %d records read in %.1fs, %d would be replayed, %d skipped by filters, %d refused\n",
			s.Read, s.Seconds, s.Replayed, s.Skipped, s.RefusedTotal())
	default:
		fmt.Fprintf(w, "replayed %d of %d records read in %.1fs, %d skipped by filters, %d refused\n",
			s.Replayed, s.Read, s.Seconds, s.Skipped, s.RefusedTotal())
	}
	if !s.Complete {
		fmt.Fprintln(w, "stopped before the end: run the same command again to resume")
	}
	if s.CommitFailures > 0 {
		fmt.Fprintf(w, "%d offset commits failed: the next run reads those records again (duplicates are harmless)\n", s.CommitFailures)
	}
	vendorLabel := "replayed to"
	if s.Mode == "inspect" {
		vendorLabel = "failed at"
	}
	printCounts(w, "by reason", s.ByReason)
	printCounts(w, vendorLabel, s.ByVendor)
	printCounts(w, "by class", s.ByClass)
	if s.Mode != "inspect" {
		printCounts(w, "refused", s.Refused)
	}
}

func printCounts[K ~string](w io.Writer, label string, m map[K]int) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	cells := make([]string, len(keys))
	for i, k := range keys {
		cells[i] = fmt.Sprintf("%s %d", k, m[K(k)])
	}
	fmt.Fprintf(w, "  %-12s %s\n", label+":", strings.Join(cells, "   "))
}

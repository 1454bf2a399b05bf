package receipt

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Format is how Print writes receipts.
type Format string

const (
	FormatTable Format = "table"
	// FormatJSON is one receipt (its latest state) a line.
	FormatJSON Format = "json"
	// FormatCSV is one row per event and vendor, for auditors'
	// spreadsheets.
	FormatCSV Format = "csv"
)

// Formats lists the formats.
var Formats = []Format{FormatTable, FormatJSON, FormatCSV}

// ParseFormat reads a -output value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("-output %q: want one of table, json, csv", s)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func pstamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

var csvHeader = []string{"event_id", "user", "occurred_at", "deadline", "finished_at", "event_status", "vendor", "outcome", "attempts", "first_attempt", "last_attempt", "status", "code", "reference", "batch_size", "recorded_at", "manual_by", "manual_note"}

// Print writes rs in format f. Nothing printed is an identifier: the
// user column is the fingerprint.
func Print(w io.Writer, f Format, rs []*Receipt) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case FormatCSV:
		cw := csv.NewWriter(w)
		_ = cw.Write(csvHeader)
		for _, r := range rs {
			st := string(r.Status())
			for _, v := range r.VendorNames() {
				p := r.Vendors[v]
				var by, note string
				if p.Manual != nil {
					by, note = p.Manual.By, p.Manual.Note
				}
				_ = cw.Write([]string{r.EventID, r.User, stamp(r.OccurredAt), stamp(r.Deadline), stamp(r.FinishedAt), st, v, string(p.Outcome), strconv.Itoa(p.Attempts), pstamp(p.FirstAttempt), pstamp(p.LastAttempt), itoa(p.Status), p.Code, p.Reference, itoa(p.BatchSize), stamp(p.RecordedAt), by, note})
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT\tUSER\tOCCURRED\tDEADLINE\tSTATUS\tVENDORS")
	for _, r := range rs {
		var parts []string
		for _, v := range r.VendorNames() {
			p := r.Vendors[v]
			cell := v + "=" + string(p.Outcome)
			if p.Manual != nil {
				cell += "(manual)"
			}
			parts = append(parts, cell)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.EventID, short(r.User), stamp(r.OccurredAt), stamp(r.Deadline), r.Status(), strings.Join(parts, " "))
	}
	return tw.Flush()
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func short(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// PrintSummary writes s as text, or as one JSON object with FormatJSON.
func PrintSummary(w io.Writer, f Format, s Summary, now time.Time) error {
	if f == FormatJSON {
		return json.NewEncoder(w).Encode(s)
	}
	fmt.Fprintf(w, "events %d: done %d, owed %d (overdue %d)\n", s.Events, s.Done, s.Owed, s.Overdue)
	if !s.OldestOwed.IsZero() {
		fmt.Fprintf(w, "oldest owed: event %s, occurred %s (%s ago)\n", s.OldestOwedID, stamp(s.OldestOwed), now.Sub(s.OldestOwed).Round(time.Minute))
	}
	vendors := make([]string, 0, len(s.Outcomes))
	for v := range s.Outcomes {
		vendors = append(vendors, v)
	}
	sort.Strings(vendors)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "VENDOR\t"
	for _, o := range Outcomes {
		head += strings.ToUpper(string(o)) + "\t"
	}
	fmt.Fprintln(tw, head)
	for _, v := range vendors {
		line := v + "\t"
		for _, o := range Outcomes {
			line += strconv.Itoa(s.Outcomes[v][o]) + "\t"
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

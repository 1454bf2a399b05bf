package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/receipt"
)

const receiptsTopic = "user-deleted.receipts"

// receiptsCluster is a kfake cluster whose receipts topic holds n events:
// every event deleted at plivo; at exotel every 5th event first parked
// and later (a second receipt) deleted, every 7th dead-lettered, every
// 11th still parked. It returns the brokers and the counts the test
// itself expects.
func receiptsCluster(t *testing.T, n int, fp *event.Fingerprinter) (string, map[receipt.Outcome]int) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, receiptsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()[0]
	w := receipt.NewWriter(receipt.WriterConfig{Brokers: []string{brokers}, Topic: receiptsTopic}, zerolog.Nop(), nil)
	defer w.Close()
	t0 := time.Now().Add(-40 * 24 * time.Hour).UTC().Truncate(time.Second)
	want := map[receipt.Outcome]int{}
	var rs, laters []*receipt.Receipt
	for i := range n {
		occ := t0.Add(time.Duration(i) * time.Hour)
		at := occ.Add(time.Minute)
		r := &receipt.Receipt{EventID: fmt.Sprintf("e-%d", i), User: fp.Fingerprint(fmt.Sprintf("user-%d", i)), OccurredAt: occ, FinishedAt: at, Deadline: occ.Add(30 * 24 * time.Hour),
			Vendors: map[string]receipt.Part{"plivo": {Outcome: receipt.Deleted, Attempts: 1, Status: 200, Reference: "api-" + fmt.Sprint(i), RecordedAt: at}}}
		ex := receipt.Part{Outcome: receipt.Deleted, Attempts: 1, Status: 200, RecordedAt: at}
		switch {
		case i%5 == 0:
			ex = receipt.Part{Outcome: receipt.Parked, Attempts: 3, Status: 503, RecordedAt: at}
			later := *r
			later.FinishedAt = at.Add(time.Hour)
			later.Vendors = map[string]receipt.Part{"plivo": r.Vendors["plivo"], "exotel": {Outcome: receipt.Deleted, Attempts: 4, Status: 200, RecordedAt: at.Add(time.Hour)}}
			laters = append(laters, &later)
		case i%7 == 0:
			ex = receipt.Part{Outcome: receipt.DeadLettered, Attempts: 1, Status: 400, Code: "E1", RecordedAt: at}
		case i%11 == 0:
			ex = receipt.Part{Outcome: receipt.Parked, Attempts: 2, Status: 503, RecordedAt: at}
		}
		r.Vendors["exotel"] = ex
		rs = append(rs, r)
		if i%5 == 0 {
			want[receipt.Deleted]++
		} else {
			want[ex.Outcome]++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second*devstack.WaitScale())
	defer cancel()
	// The later receipts are written after every first one.
	for _, batch := range [][]*receipt.Receipt{rs, laters} {
		if err := w.Write(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	return brokers, want
}

func TestReceiptsCLI(t *testing.T) {
	key := strings.Repeat("k", 48)
	t.Setenv("ERASURED_LOG_FINGERPRINT_KEY", key)
	fp, err := event.NewFingerprinter([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	brokers, want := receiptsCluster(t, n, fp)

	code, out, errOut := runCLI(t, "receipts", "-brokers", brokers, "-summary", "-output", "json")
	if code != exitOK {
		t.Fatalf("summary: exit %d\n%s", code, errOut)
	}
	var sum receipt.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	t.Logf("summary: %s", out)
	if sum.Events != n {
		t.Errorf("events %d, want %d (one latest state per event)", sum.Events, n)
	}
	if sum.Outcomes["plivo"][receipt.Deleted] != n {
		t.Errorf("plivo deleted %d, want %d", sum.Outcomes["plivo"][receipt.Deleted], n)
	}
	for o, c := range want {
		if got := sum.Outcomes["exotel"][o]; got != c {
			t.Errorf("exotel %s: %d, want %d", o, got, c)
		}
	}
	owed := want[receipt.Parked] + want[receipt.DeadLettered]
	if sum.Owed != owed || sum.Done != n-owed {
		t.Errorf("owed %d done %d, want %d and %d", sum.Owed, sum.Done, owed, n-owed)
	}
	// Every event occurred 31 to 40 days ago, past the 30-day deadline.
	if sum.Overdue != owed {
		t.Errorf("overdue %d, want every owed event (%d)", sum.Overdue, owed)
	}
	if records := n + n/5; !strings.Contains(errOut, fmt.Sprintf("read %d/%d records", records, records)) {
		t.Errorf("no final progress line for %d records on stderr: %q", records, errOut)
	}

	t.Run("filters", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want int
		}{
			{[]string{"-status", "parked"}, want[receipt.Parked]},
			{[]string{"-status", "dead_lettered"}, want[receipt.DeadLettered]},
			{[]string{"-status", "owed"}, owed},
			{[]string{"-status", "done"}, n - owed},
			{[]string{"-vendor", "plivo", "-status", "owed"}, 0},
			{[]string{"-event-id", "e-3,e-5"}, 2},
			{[]string{"-user", "user-7"}, 1},
			{[]string{"-user", "nobody"}, 0},
			{[]string{"-since", time.Now().Add(-40*24*time.Hour + 100*time.Hour).UTC().Format(time.RFC3339)}, 100},
		} {
			code, out, errOut := runCLI(t, append([]string{"receipts", "-brokers", brokers, "-output", "json", "-quiet"}, c.args...)...)
			if code != exitOK {
				t.Fatalf("%v: exit %d: %s", c.args, code, errOut)
			}
			lines := 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if l == "" {
					continue
				}
				if _, err := receipt.Decode([]byte(l)); err != nil {
					t.Fatalf("%v: line is not a receipt: %v", c.args, err)
				}
				lines++
			}
			if lines < c.want-1 || lines > c.want+1 || (c.args[0] != "-since" && lines != c.want) {
				t.Errorf("%v: %d events, want %d", c.args, lines, c.want)
			}
			if strings.Contains(out, "user-7") {
				t.Errorf("%v: output names a user id", c.args)
			}
		}
	})

	t.Run("csv", func(t *testing.T) {
		code, out, errOut := runCLI(t, "receipts", "-brokers", brokers, "-output", "csv", "-quiet")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1+2*n {
			t.Fatalf("%d rows, want a header and %d", len(rows), 2*n)
		}
	})

	t.Run("mark", func(t *testing.T) {
		code, out, errOut := runCLI(t, "receipts", "mark", "-brokers", brokers, "-event-id", "e-7", "-vendor", "exotel", "-outcome", "deleted", "-note", "deleted by hand in the Exotel console, ticket OPS-1", "-by", "sre-on-call")
		if code != exitOK {
			t.Fatalf("mark: exit %d: %s", code, errOut)
		}
		t.Log(strings.TrimSpace(out))
		code, out, _ = runCLI(t, "receipts", "-brokers", brokers, "-output", "json", "-quiet", "-event-id", "e-7")
		r, err := receipt.Decode([]byte(strings.TrimSpace(out)))
		if code != exitOK || err != nil {
			t.Fatalf("exit %d, %v", code, err)
		}
		p := r.Vendors["exotel"]
		if p.Outcome != receipt.Deleted || p.Manual == nil || p.Manual.By != "sre-on-call" || !r.Done() {
			t.Fatalf("after mark: %+v", p)
		}
	})

	t.Run("usage", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"receipts", "-brokers", brokers, "-status", "lost"}, "status"},
			{[]string{"receipts", "-brokers", brokers, "-output", "xml"}, "output"},
			{[]string{"receipts", "mark", "-brokers", brokers, "-event-id", "e-1", "-vendor", "exotel", "-outcome", "parked", "-note", "x"}, "outcome"},
			{[]string{"receipts", "mark", "-brokers", brokers, "-event-id", "e-1", "-vendor", "exotel", "-outcome", "deleted"}, "note"},
			{[]string{"receipts", "mark", "-brokers", brokers, "-event-id", "nope", "-vendor", "exotel", "-outcome", "deleted", "-note", "x", "-by", "me"}, "no receipt"},
			{[]string{"receipts", "-brokers", brokers, "-topic", "missing"}, "unknown topic"},
		} {
			code, _, errOut := runCLI(t, c.args...)
			if code != exitConfig || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", c.args, code, errOut, exitConfig, c.want)
			}
		}
	})
}

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/receipt"
)

// Issue 12's proofs on a real broker: receipts through an outage and a
// recovery (proof 1), `erasured receipts` reading them (proof 2), kill -9
// (proof 3, in TestKill9AtRandomPoints with the helpers here) and an
// unwritable receipts topic (proof 4).

// audit is devstack.AuditCommitted for the suite's group: the events below
// the committed offsets held against the receipts topic and the
// sandboxes.
func (s *suite) audit(w *devstack.Workload) devstack.ReceiptAudit {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := s.stack.AuditCommitted(ctx, w, s.group, false)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// auditAfterKill checks, with the daemon dead, that no committed event
// lacks a receipt and no receipt claims a deletion the sandbox did not
// perform; it returns the audit.
func (s *suite) auditAfterKill(kill int, w *devstack.Workload) devstack.ReceiptAudit {
	s.t.Helper()
	a := s.audit(w)
	s.t.Logf("kill %d: %d of %d records committed; receipts of the committed events: %s", kill, a.Committed, len(w.Records), a)
	if !a.Clean(false) {
		s.t.Errorf("kill %d: the receipts break the invariant: %s", kill, a)
	}
	return a
}

// waitSettled waits until every record is committed, every part the
// vendors can delete is deleted, and the receipts say exactly what the
// sandboxes did: one receipt per event, none parked. It returns the last
// audit, and fails with it. timeout scales as WaitUntil's does.
func (s *suite) waitSettled(w *devstack.Workload, timeout time.Duration, p *devstack.Process) devstack.ReceiptAudit {
	s.t.Helper()
	var last devstack.ReceiptAudit
	timeout *= devstack.WaitScale()
	deadline := time.Now().Add(timeout)
	for {
		last = s.audit(w)
		parked := 0
		for _, c := range last.Counts {
			parked += c[receipt.Parked]
		}
		if last.Committed == int64(len(w.Records)) && last.Clean(true) && parked == 0 {
			return last
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not settled after %s: %s\nlast output:\n%s", timeout, last, devstack.Tail(p.Output(), 30))
		}
		time.Sleep(time.Second)
	}
}

// receiptsCLI runs `erasured receipts` with the suite's configuration and
// args, and returns its exit code, stdout and stderr apart: the progress
// goes to stderr.
func (s *suite) receiptsCLI(args ...string) (int, string, string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"receipts", "-config", s.path}, args...)...)
	cmd.Env = append(os.Environ(), s.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatalf("erasured receipts %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// TestReceiptsOutageAndRecovery is issue 12's proofs 1 and 2 on a real
// broker: 2,000 events; Plivo dead-letters every 10th (its primary
// profile); Exotel is down, so its parts are parked, and then recovers.
// While it is down, every committed event has a receipt; after, the
// receipts topic holds exactly one latest state per event, every
// vendor's outcome matches its sandbox, and `erasured receipts -summary`
// (the binary) counts what the test counted; a filter and two formats
// select what they should.
func TestReceiptsOutageAndRecovery(t *testing.T) {
	const partitions, n = 4, 2000
	knobs := healthy(0)
	knobs["exotel"] = sandbox.Knobs{Force: "503"}
	s := newSuite(t, suiteOptions{partitions: partitions, knobs: knobs, env: []string{
		// Parked within a second, and the breaker's probes find Exotel
		// back a second after it recovers.
		"ERASURED_VENDORS_EXOTEL_RETRY_INLINE_BUDGET=1s",
		"ERASURED_VENDORS_EXOTEL_BREAKER_COOLDOWN=1s",
		"ERASURED_VENDORS_EXOTEL_RETRY_SCHEDULE=200ms,500ms",
	}})
	w := devstack.NewWorkload(n, n, 0)
	primaries, err := w.NamePrimary(10)
	if err != nil {
		t.Fatal(err)
	}
	s.produce(w)
	p := s.start()

	var during devstack.ReceiptAudit
	waitUntil(t, 5*time.Minute, "every event committed while Exotel is down", func() bool {
		during = s.audit(w)
		if during.Committed < int64(len(w.Records)) {
			time.Sleep(time.Second)
			return false
		}
		return true
	})
	t.Logf("Exotel down, every record committed: %s", during)
	if !during.Clean(false) || during.Counts["exotel"][receipt.Parked] == 0 {
		t.Errorf("while Exotel is down, want every committed event with a receipt, none unfounded, some parked at exotel: %s", during)
	}

	s.stack.Sandbox("exotel").Chaos.Set(sandbox.Knobs{})
	a := s.waitSettled(w, 5*time.Minute, p)
	t.Logf("Exotel recovered, settled: %s; exotel answered %v", a, s.stack.Sandbox("exotel").Ledger.Statuses())
	if a.Folded != n || a.Malformed != 0 {
		t.Errorf("%d events folded from %d receipt records (want %d), %d malformed", a.Folded, a.Records, n, a.Malformed)
	}
	final := func(v string) int { return a.Counts[v][receipt.Deleted] + a.Counts[v][receipt.AlreadyAbsent] }
	if a.Counts["plivo"][receipt.DeadLettered] != primaries || final("plivo") != n-primaries {
		t.Errorf("plivo %v, want %d dead-lettered (the primary profiles), the rest deleted", a.Counts["plivo"], primaries)
	}
	for _, v := range []string{"webex", "exotel", "clevertap"} {
		if final(v) != n {
			t.Errorf("%s %v, want all %d deleted", v, a.Counts[v], n)
		}
	}

	// Proof 2: the CLI's summary equals the test's counts.
	code, out, errOut := s.receiptsCLI("-summary", "-output", "json")
	if code != 0 {
		t.Fatalf("receipts -summary: exit %d\n%s", code, errOut)
	}
	var sum receipt.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("receipts -summary output: %v\n%s", err, out)
	}
	t.Logf("erasured receipts -summary: %s", strings.TrimSpace(out))
	// Every event occurred on the workload's day; it is overdue only
	// when this runs past its deadline.
	wantOverdue := 0
	if time.Now().After(w.Events[n-1].OccurredAt.Add(receipt.DefaultDeadline)) {
		wantOverdue = primaries
	}
	if sum.Events != n || sum.Owed != primaries || sum.Done != n-primaries || sum.Overdue != wantOverdue {
		t.Errorf("summary events %d owed %d done %d overdue %d, want %d, %d, %d, %d", sum.Events, sum.Owed, sum.Done, sum.Overdue, n, primaries, n-primaries, wantOverdue)
	}
	for v, want := range a.Counts {
		for o, c := range want {
			if sum.Outcomes[v][o] != c {
				t.Errorf("summary %s %s = %d, the test counted %d", v, o, sum.Outcomes[v][o], c)
			}
		}
	}

	// A filter, as JSON lines: the events Plivo dead-lettered.
	code, out, errOut = s.receiptsCLI("-vendor", "plivo", "-status", "dead_lettered", "-output", "json", "-quiet")
	if code != 0 {
		t.Fatalf("receipts -vendor plivo -status dead_lettered: exit %d\n%s", code, errOut)
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), receipt.MaxBytes)
	for sc.Scan() {
		r, err := receipt.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		if r.Vendors["plivo"].Outcome != receipt.DeadLettered {
			t.Errorf("event %s selected with plivo %s", r.EventID, r.Vendors["plivo"].Outcome)
		}
		lines++
	}
	// One event as CSV: a row per vendor under the header.
	code, csvOut, errOut := s.receiptsCLI("-event-id", w.Events[0].EventID, "-output", "csv", "-quiet")
	if code != 0 {
		t.Fatalf("receipts -event-id -output csv: exit %d\n%s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(csvOut)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("-vendor plivo -status dead_lettered: %d events; -event-id as csv: %d rows", lines, len(rows))
	if lines != primaries {
		t.Errorf("%d events with plivo dead-lettered, want %d", lines, primaries)
	}
	if len(rows) != 1+4 {
		t.Errorf("csv of one event: %d rows, want a header and 4 vendors", len(rows))
	}
	for _, ev := range w.Events[:50] {
		if strings.Contains(out+csvOut, ev.UserID) {
			t.Fatal("the receipts output names a user id")
		}
	}
	s.stop(p)
}

// TestReceiptsTopicUnwritable is issue 12's proof 4 on a real broker:
// with the receipts topic deleted under a running daemon, no event can
// finish, so the committed offset stays where it was although the
// vendors deleted; once the topic is back, the commit passes every
// record, and every event deleted meanwhile has its receipt.
func TestReceiptsTopicUnwritable(t *testing.T) {
	s := newSuite(t, suiteOptions{partitions: 1, env: []string{"ERASURED_RECEIPTS_WRITE_TIMEOUT=500ms"}})
	topic := receipt.TopicFor(s.stack.Topic)
	committed := func() int64 { return groupOffsets(t, s.addrs, s.group, s.stack.Topic, 1)[0] }
	// One workload, so the later events' identifiers are new to the
	// vendors; the first 20 records first, the other 15 once the topic
	// is gone: fewer than max_in_flight (16), so all are fetched while
	// the first of them cannot finish.
	w := devstack.NewWorkload(35, 35, 0)
	w1 := &devstack.Workload{Events: w.Events[:20], Records: w.Records[:20]}
	w2 := &devstack.Workload{Events: w.Events[20:], Records: w.Records[20:]}
	s.produce(w1)
	p := s.start()
	waitUntil(t, 120*time.Second, "the first events committed", func() bool { return committed() == int64(len(w1.Records)) })
	deleteTopic(t, s.addrs, topic)
	s.produce(w2)
	waitUntil(t, 120*time.Second, "the later events deleted at plivo", func() bool { return s.plivoDeleted(w2) == len(w2.Events) })
	const failing = "receipt write failed; retrying, offset not committed"
	waitUntil(t, 120*time.Second, "a log line: "+failing, func() bool { return strings.Contains(p.Output(), failing) })
	time.Sleep(time.Second) // several commit intervals (100ms)
	c := committed()
	t.Logf("receipts topic gone: committed offset %d (first batch %d records; %d more deleted at plivo)", c, len(w1.Records), len(w2.Records))
	if c != int64(len(w1.Records)) {
		t.Fatalf("committed offset %d moved past %d while the receipts topic is unwritable", c, len(w1.Records))
	}
	waitUntil(t, 60*time.Second, "the receipts topic to be re-created", func() bool {
		resp, err := newClient(s.addrs).CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: -1}}})
		return err == nil && resp.Errors[topic] == nil
	})
	waitUntil(t, 120*time.Second, "the commit to pass every record", func() bool { return committed() == int64(len(w1.Records)+len(w2.Records)) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := s.stack.ReadReceipts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := s.stack.AuditReceipts(b, w2.Events, false)
	t.Logf("after the topic came back: committed %d; receipts of the later events: %s", committed(), a)
	if !a.Clean(true) {
		t.Errorf("the later events' receipts: %s", a)
	}
	s.stop(p)
}

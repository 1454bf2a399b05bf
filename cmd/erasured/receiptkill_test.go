package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/receipt"
)

// auditCommitted runs devstack.AuditCommitted for the test's group.
func auditCommitted(t *testing.T, s *devstack.Stack, w *devstack.Workload) devstack.ReceiptAudit {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := s.AuditCommitted(ctx, w, "erasured-test", false)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestKill9KeepsReceiptsTrue is issue 12's proof 3 on kfake: the daemon
// is killed with SIGKILL at seeded random points while Plivo dead-letters
// every 10th event (its primary profile), Exotel fails half its requests
// so parts are parked and its retry worker deletes them later, and Webex
// and CleverTap delete: receipts of every outcome are being written at
// each kill. After each kill: no committed event without a receipt, no
// receipt claiming a deletion the sandbox did not perform. After the last
// restart, once everything settled, receipts and sandboxes agree exactly.
func TestKill9KeepsReceiptsTrue(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	const partitions, n, users, kills = 4, 1500, 500, 4
	s := flakyExotelStack(t, partitions, 20*time.Millisecond, 0.5)
	w := devstack.NewWorkload(n, users, 0)
	primaries, err := w.NamePrimary(10)
	if err != nil {
		t.Fatal(err)
	}
	produce(t, s, w)
	path, env := stackEnv(t, s, "")
	env = append(env, "ERASURED_KAFKA_COMMIT_INTERVAL=50ms",
		// An Exotel part gets about two tries inline, so about a quarter
		// are parked; the retry worker's waits keep them parked for a
		// while, so kills find parked parts in the receipts.
		"ERASURED_VENDORS_EXOTEL_RETRY_INLINE_BUDGET=60ms",
		"ERASURED_VENDORS_EXOTEL_RETRY_SCHEDULE=300ms,600ms",
		// Half of all requests failing would keep a breaker open; this
		// test is about kills, so Exotel runs without one.
		"ERASURED_VENDORS_EXOTEL_BREAKER_ENABLED=false")

	seed := devstack.KillSeed(t)
	t.Logf("seed %d (KILL_SEED=%d replays these kill points)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, 17))
	plivoDeleted := func() int { return s.CountDeleted(w, "plivo") }
	seen := map[receipt.Outcome]int{}
	for k := range kills {
		p := startProcess(t, env, "run", "-config", path)
		target := min(plivoDeleted()+100+rnd.IntN(n/6), n-primaries-1)
		waitUntil(t, 90*time.Second, fmt.Sprintf("%d Plivo deletions before kill %d (at %d when it started)", target, k+1, plivoDeleted()), func() bool {
			return plivoDeleted() >= target
		})
		if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.Exited()
		// The daemon is dead: the committed offsets and the receipts
		// topic are what a successor starts from.
		a := auditCommitted(t, s, w)
		t.Logf("kill %d at %d Plivo deletions, %d of %d records committed; receipts of the committed events: %s", k+1, plivoDeleted(), a.Committed, len(w.Records), a)
		if !a.Clean(false) {
			t.Errorf("kill %d: the receipts break the invariant: %s", k+1, a)
		}
		for _, vc := range a.Counts {
			for o, c := range vc {
				seen[o] += c
			}
		}
	}
	if seen[receipt.Parked] == 0 || seen[receipt.DeadLettered] == 0 || seen[receipt.Deleted] == 0 {
		t.Errorf("outcomes seen in the receipts at the kills %v: want parked, dead_lettered and deleted among them", seen)
	}

	p := startProcess(t, env, "run", "-config", path)
	var last devstack.ReceiptAudit
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last seen: exotel deleted %d of %d; %s; last output:\n%s", s.CountDeleted(w, "exotel"), n, last, devstack.Tail(p.Output(), 30))
		}
	})
	// Settled: every record committed, every Exotel part deleted (the
	// retry worker finishes what was parked) and the receipts say so.
	waitUntil(t, 180*time.Second, "every event committed and its receipts settled", func() bool {
		if s.CountDeleted(w, "exotel") < n {
			return false // cheap: the sandbox first, the topics after
		}
		last = auditCommitted(t, s, w)
		return last.Committed == int64(len(w.Records)) && last.Clean(true) && last.Counts["exotel"][receipt.Parked] == 0
	})
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.ExitCode(t, 20*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	t.Logf("seen at the kills %v; settled: %s; exotel answered %v", seen, last, s.Sandbox("exotel").Ledger.Statuses())
	if last.Folded != n || last.Malformed != 0 {
		t.Errorf("%d events folded from the receipts (want %d), %d malformed records", last.Folded, n, last.Malformed)
	}
	if got := last.Counts["plivo"][receipt.DeadLettered]; got != primaries {
		t.Errorf("plivo dead-lettered %d, want %d (the primary profiles)", got, primaries)
	}
	if got := last.Counts["exotel"][receipt.Deleted] + last.Counts["exotel"][receipt.AlreadyAbsent]; got != n {
		t.Errorf("exotel deleted or already absent %d, want %d", got, n)
	}
}

package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/internal/devstack"
)

// TestMain lets the test binary be the measured process, as the bench
// binary is.
func TestMain(m *testing.M) {
	MaybeChild()
	os.Exit(m.Run())
}

// TestRunAccountsForEveryEvent runs the harness end to end on small
// backlogs: both implementations, a throttled vendor, the table. It checks
// what the harness reports, never how fast anything was.
func TestRunAccountsForEveryEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes against kfake")
	}
	scenarios := []Scenario{
		{Name: "0ms", Events: 300, Naive: true},
		{Name: "throttled", Events: 200, Throttled: webex.Name, ThrottleRPS: 200},
	}
	var progress bytes.Buffer
	rs, err := Run(context.Background(), Options{Scenarios: scenarios, Partitions: 4, RunTimeout: 3 * time.Minute, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results, want erasured and naive for 0ms, erasured for throttled", len(rs))
	}
	for _, r := range rs {
		name := r.Scenario.Name + "/" + r.Impl
		if !r.Complete || r.Deleted != r.Scenario.Events || r.DeadLettered != 0 {
			t.Errorf("%s: complete %v, deleted %d of %d, dead-lettered %d", name, r.Complete, r.Deleted, r.Scenario.Events, r.DeadLettered)
		}
		if r.Elapsed <= 0 || r.Requests < r.Scenario.Events || r.PeakRSS <= 0 || r.Mallocs == 0 || r.P99 < r.P50 {
			t.Errorf("%s: implausible figures %+v", name, r)
		}
	}
	// CleverTap batches: erasured makes fewer requests than four per event.
	if e, n := rs[0], rs[1]; e.Requests >= n.Requests || n.Requests < 4*n.Scenario.Events {
		t.Errorf("requests: erasured %d, naive %d for %d events", e.Requests, n.Requests, e.Scenario.Events)
	}
	var out bytes.Buffer
	Print(&out, 4, rs)
	for _, want := range []string{"vs naive", "erasured", "naive", "×", "webex throttled at 200 requests/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

func TestTrackerParsesWorkloadIDs(t *testing.T) {
	t.Parallel()
	w := devstack.NewWorkload(1200, 1200, 0)
	ids0 := devstack.VendorIDs(w.Events[0])
	for _, i := range []int{0, 1, 999, 1199} {
		for vendor, id := range devstack.VendorIDs(w.Events[i]) {
			if got := trailingNumber(id) - trailingNumber(ids0[vendor]); got != int64(i) {
				t.Errorf("%s id %q of event %d maps to %d", vendor, id, i, got)
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 20000: "20,000", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%g) = %q, want %q", v, got, want)
		}
	}
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(ds, 50); p != 5 {
		t.Errorf("p50 = %d, want 5", p)
	}
	if p := percentile(ds, 99); p != 10 {
		t.Errorf("p99 = %d, want 10", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of nothing = %d", p)
	}
	if got := InFlightBound(8, 50*time.Millisecond); got != 1280 {
		t.Errorf("bound = %g, want 64 / 50ms = 1280", got)
	}
}

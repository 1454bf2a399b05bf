package receipt

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/dlq"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func owedReceipt(id string, occurred time.Time, parts map[string]Outcome, recorded time.Time) *Receipt {
	r := &Receipt{Schema: Schema, EventID: id, OccurredAt: occurred, FinishedAt: recorded, Deadline: occurred.Add(DefaultDeadline), Vendors: map[string]Part{}}
	for v, o := range parts {
		r.Vendors[v] = Part{Outcome: o, Attempts: 1, RecordedAt: recorded}
	}
	return r
}

func TestTrackerFiguresMoveWithTheClock(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: t0}
	tr := NewTracker(DefaultDeadline, []string{"plivo", "exotel", "webex"}, clk.Now)
	tr.AddReceipt(owedReceipt("a", t0, map[string]Outcome{"plivo": Deleted, "exotel": Parked}, t0))
	tr.AddReceipt(owedReceipt("b", t0.Add(24*time.Hour), map[string]Outcome{"plivo": DeadLettered, "exotel": Parked}, t0))
	tr.AddReceipt(owedReceipt("c", t0, map[string]Outcome{"plivo": Deleted, "exotel": Deleted}, t0))

	clk.Add(10 * 24 * time.Hour)
	f := tr.Figures()
	if f["exotel"].Owed != 2 || f["plivo"].Owed != 1 || f["webex"] != (VendorFigures{}) {
		t.Fatalf("owed: %+v", f)
	}
	if f["exotel"].OldestAge != 10*24*time.Hour || f["exotel"].PastDeadline != 0 {
		t.Fatalf("exotel at day 10: %+v", f["exotel"])
	}
	clk.Add(20*24*time.Hour + time.Second) // a is past its deadline, b not yet
	if f := tr.Figures(); f["exotel"].PastDeadline != 1 || f["plivo"].PastDeadline != 0 {
		t.Fatalf("day 30: %+v", f)
	}
	// a's exotel part is settled by a retry worker's receipt: a is done
	// and dropped; b still owes.
	tr.AddReceipt(owedReceipt("a", t0, map[string]Outcome{"exotel": Deleted}, t0.Add(30*24*time.Hour)))
	f = tr.Figures()
	if f["exotel"].Owed != 1 || f["exotel"].PastDeadline != 0 || f["exotel"].OldestAge != 29*24*time.Hour+time.Second {
		t.Fatalf("after a settled: %+v", f["exotel"])
	}
	t.Logf("figures: %+v", f)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(tr)
	want := `
# HELP erasured_owed_parts Vendor parts of events not yet final (parked, paused or dead-lettered), from the receipts topic.
# TYPE erasured_owed_parts gauge
erasured_owed_parts{vendor="exotel"} 1
erasured_owed_parts{vendor="plivo"} 1
erasured_owed_parts{vendor="webex"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "erasured_owed_parts"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 3*3+2 {
		t.Fatalf("%d series, %v", n, err)
	}
}

func TestTrackerFollowsTheTopic(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "r"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	w := NewWriter(WriterConfig{Brokers: brokers, Topic: "r"}, zerolog.Nop(), nil)
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var first []*Receipt
	for i := range 50 {
		first = append(first, owedReceipt(string(rune('A'+i)), t0, map[string]Outcome{"exotel": Parked}, t0))
	}
	if err := w.Write(ctx, first...); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: t0.Add(time.Hour)}
	tr := NewTracker(DefaultDeadline, []string{"exotel"}, clk.Now)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- tr.Run(runCtx, dlq.ScanConfig{Brokers: brokers, RequestTimeout: 5 * time.Second, FetchMaxWait: 100 * time.Millisecond}, "r")
	}()
	waitFor(t, func() bool { return tr.Figures()["exotel"].Owed == 50 })
	// Records written after the start are followed: 20 settle.
	if err := w.Write(ctx, func() []*Receipt {
		var rs []*Receipt
		for i := range 20 {
			rs = append(rs, owedReceipt(string(rune('A'+i)), t0, map[string]Outcome{"exotel": Deleted}, t0.Add(time.Minute)))
		}
		return rs
	}()...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return tr.Figures()["exotel"].Owed == 30 })
	tr.mu.Lock()
	caught := tr.caughtUp
	tr.mu.Unlock()
	if !caught {
		t.Fatal("not caught up after reading every record")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("owed after follow: %d", tr.Figures()["exotel"].Owed)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

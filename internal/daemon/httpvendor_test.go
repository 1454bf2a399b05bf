package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/httpvendor"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/retrytopic"
)

// TestDeclaredVendorsEndToEnd loads deployments/examples/http-vendor.yaml
// with the daemon's own loader, points its two declared vendors at the
// sandboxes generated from the same declarations (one failing now and
// then, one throttling), and runs the whole pipeline on an in-process
// Kafka with the coded vendors off: every event is deleted at both, and
// the events whose helpdesk id does not have the declared form are
// dead-lettered without reaching the helpdesk.
func TestDeclaredVendorsEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	knobs := map[string]sandbox.Knobs{"helpdesk": {FailureRate: 0.1}, "analytics": {ThrottleRPS: 40}}
	s, cfg, sandboxes := declaredStack(t, knobs)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second*devstack.WaitScale())
	defer cancel()

	const n, every = 400, 50
	var records []kafka.Message
	bad := 0
	for i := range n {
		ev := &event.UserDeleted{
			EventID: fmt.Sprintf("evt-%06d", i), UserID: fmt.Sprintf("user-%04d", i%97),
			OccurredAt: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
			Identifiers: map[string]string{
				"helpdesk_contact_id": fmt.Sprint(100000 + i),
				"analytics_user_id":   fmt.Sprintf("u_%06d", i),
			},
		}
		if i%every == 0 {
			ev.Identifiers["helpdesk_contact_id"] = fmt.Sprintf("0%d", i) // a leading zero: not the helpdesk's form
			bad++
		}
		v, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, kafka.Message{Key: []byte(ev.UserID), Value: v})
	}
	if err := devstack.Produce(ctx, s.Brokers, s.Topic, records); err != nil {
		t.Fatal(err)
	}
	m := startMember(t, cfg)

	var dls []kafka.Message
	for {
		dls, _ = devstack.ReadAll(ctx, s.Brokers, s.DLQTopic, 0)
		if sandboxes["helpdesk"].Ledger.DeletedCount() == n-bad && sandboxes["analytics"].Ledger.DeletedCount() == n && len(dls) >= bad {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("helpdesk deleted %d of %d, analytics %d of %d, dead letters %d of %d",
				sandboxes["helpdesk"].Ledger.DeletedCount(), n-bad, sandboxes["analytics"].Ledger.DeletedCount(), n, len(dls), bad)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkLagZero(t, m)
	for _, d := range dls {
		if r := header(d, "erasured-reason"); r != string(dlq.ReasonPermanentError) {
			t.Errorf("dead letter reason %q, want %s", r, dlq.ReasonPermanentError)
		}
	}
	if len(dls) != bad {
		t.Errorf("dead letters = %d, want %d", len(dls), bad)
	}
	sc := scrapeMetrics(t, m.addr)
	for name, sb := range sandboxes {
		t.Logf("%s: deleted %d, requests %d, statuses %v", name, sb.Ledger.DeletedCount(), sb.Ledger.Requests(), sb.Ledger.Statuses())
		if sc.sum("erasured_vendor_requests_total", "vendor="+name) == 0 {
			t.Errorf("no erasured_vendor_requests_total{vendor=%q}", name)
		}
	}
	if sandboxes["helpdesk"].Ledger.Statuses()[500] == 0 || sandboxes["analytics"].Ledger.Statuses()[429] == 0 {
		t.Errorf("no helpdesk 500 or no analytics 429: the retry and throttle paths went untested")
	}
	t.Logf("dead-lettered %d (bad helpdesk ids), lag 0", len(dls))
}

// declaredStack starts a stack whose coded vendors are off, loads
// deployments/examples/http-vendor.yaml with the daemon's own loader, and
// aims its declared vendors at sandboxes generated from the same
// declarations, with knobs.
func declaredStack(t *testing.T, knobs map[string]sandbox.Knobs) (*devstack.Stack, *daemon.Config, map[string]*httpvendor.Sandbox) {
	t.Helper()
	// A declared vendor parks on its own retry topic, which the platform
	// creates as for a coded one.
	s, err := devstack.Start(devstack.Options{Partitions: 4, Knobs: fastKnobs(), KafkaOpts: []kfake.Opt{
		kfake.SeedTopics(1, retrytopic.TopicFor(devstack.Topic, "helpdesk"), retrytopic.TopicFor(devstack.Topic, "analytics")),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)

	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "analytics-token")
	if err := os.WriteFile(tokenFile, []byte("an-token-fedcba9876543210\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b []byte
	b, err = os.ReadFile("../../deployments/examples/http-vendor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(path, bytes.ReplaceAll(b, []byte("/var/run/secrets/erasured/analytics-token"), []byte(tokenFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := daemon.LoadConfig(path, func() []string { return []string{"HELPDESK_API_TOKEN=hd-token-0123456789abcdef"} })
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if got := strings.Join(adaptersEnabled(loaded), ","); got != "analytics,helpdesk" {
		t.Fatalf("the example enables %q, want analytics,helpdesk", got)
	}

	cfg := testConfig(s)
	for _, name := range adapters.Names() {
		cfg.Vendors.Section(name).Shared().Enabled = false
	}
	sandboxes := map[string]*httpvendor.Sandbox{}
	for name, hc := range loaded.Vendors.HTTP {
		sb, err := httpvendor.NewSandbox(*hc, knobs[name])
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sb)
		t.Cleanup(srv.Close)
		sandboxes[name] = sb
		hc.URL = srv.URL + hc.URL[len(hc.Endpoint()):]
		hc.Retry = daemon.Vendor[*plivo.Config](&cfg.Vendors).Retry
		// The example's limit (10 a second) would hold the test for 40s;
		// the default one learns the analytics sandbox's throttle.
		hc.Limit = adapters.DefaultLimitConfig()
	}
	cfg.Vendors.HTTP = loaded.Vendors.HTTP

	return s, cfg, sandboxes
}

// TestDeclaredVendorParks: a declared vendor gets parking as a coded one
// does. Paused, every event's part for it goes to its retry topic,
// reason paused, and the vendor hears nothing.
func TestDeclaredVendorParks(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s, cfg, sandboxes := declaredStack(t, nil)
	cfg.Vendors.HTTP["helpdesk"].Paused = true
	cfg.Vendors.HTTP["analytics"].Enabled = false
	const n = 30
	var records []kafka.Message
	for i := range n {
		ev := &event.UserDeleted{EventID: fmt.Sprintf("evt-p%04d", i), UserID: fmt.Sprintf("user-%04d", i),
			OccurredAt:  time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
			Identifiers: map[string]string{"helpdesk_contact_id": fmt.Sprint(200000 + i)}}
		v, err := event.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, kafka.Message{Key: []byte(ev.UserID), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second*devstack.WaitScale())
	defer cancel()
	if err := devstack.Produce(ctx, s.Brokers, s.Topic, records); err != nil {
		t.Fatal(err)
	}
	m := startMember(t, cfg)
	topic := retrytopic.TopicFor(devstack.Topic, "helpdesk")
	var ids map[string]bool
	var reasons map[retrytopic.Reason]int
	waitUntil(t, 60*time.Second, "every event parked", func() bool {
		ids, reasons = parkedEvents(readParked(t, s, topic, 1))
		return len(ids) == n
	})
	checkLagZero(t, m)
	t.Logf("parked %d events on %s, reasons %v; the helpdesk sandbox heard %d requests", len(ids), topic, reasons, sandboxes["helpdesk"].Ledger.Requests())
	if len(ids) != n || reasons[retrytopic.ReasonPaused] != n {
		t.Errorf("parked %d events, reasons %v; want %d, all paused", len(ids), reasons, n)
	}
	if r := sandboxes["helpdesk"].Ledger.Requests(); r != 0 {
		t.Errorf("a paused vendor heard %d requests", r)
	}
}

func adaptersEnabled(c *daemon.Config) []string {
	var out []string
	for _, name := range adapters.Names() {
		if c.Vendors.Section(name).Shared().Enabled {
			out = append(out, name)
		}
	}
	for name, hc := range c.Vendors.HTTP {
		if hc.Enabled {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

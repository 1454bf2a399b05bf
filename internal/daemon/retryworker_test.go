package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/retrytopic"
)

// TestOutageThatEnds is issue 11's proof 2. Exotel's parts of a workload
// are parked on its retry topic (written directly, as parking would), with
// Exotel answering 503 to everything. The retry worker calls Exotel and
// reschedules with the attempt in the history; then the outage ends and
// every parked part is deleted at Exotel. No other vendor is called (the
// workload never went through the main topic), nothing is dead-lettered,
// and the retry group's committed offsets reach the end of the topic
// (erasured_retry_parked is 0). Nothing is timed.
func TestOutageThatEnds(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	const n, users = 120, 30
	s := startStack(t, 3, map[string]sandbox.Knobs{"plivo": {}, "webex": {}, "exotel": {Force: "503"}, "clevertap": {}})
	cfg := testConfig(s)
	cfg.Vendors.Section("exotel").Shared().Retry.Schedule = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond}
	cfg.Vendors.Section("exotel").Shared().Retry.GiveUpAfter = time.Hour
	br := adapters.DefaultBreakerConfig()
	br.ConsecutiveFailures, br.Cooldown, br.HalfOpenProbes = 5, 300*time.Millisecond, 2
	cfg.Vendors.Section("exotel").Shared().Breaker = br
	w := devstack.NewWorkload(n, users, 0)
	if err := s.Park(context.Background(), w, "exotel", time.Now()); err != nil {
		t.Fatal(err)
	}
	m := startMember(t, cfg)

	waitUntil(t, 60*time.Second, "the parked parts to be rescheduled during the outage", func() bool {
		return scrapeMetrics(t, m.addr).sum("erasured_retry_unparked_total", "vendor=exotel", "outcome=rescheduled") >= n
	})
	during := scrapeMetrics(t, m.addr)
	outageRequests := s.Sandbox("exotel").Ledger.Requests()
	if got := countDeleted(s, w, "exotel"); got != 0 {
		t.Fatalf("%d deleted at Exotel while it answered 503 to everything", got)
	}
	if age := during.sum("erasured_retry_oldest_parked_age_seconds", "vendor=exotel"); age <= 0 {
		t.Errorf("oldest parked age = %g during the outage, want > 0", age)
	}

	s.Sandbox("exotel").Chaos.Set(sandbox.Knobs{})
	waitUntil(t, 90*time.Second, "every parked part to be deleted at Exotel", func() bool { return countDeleted(s, w, "exotel") == n })
	waitUntil(t, 30*time.Second, "the retry group to commit to the end of its topic", func() bool {
		sc := scrapeMetrics(t, m.addr)
		return sc.sum("erasured_retry_parked", "vendor=exotel") == 0 && sc.sum("erasured_retry_unparked_total", "vendor=exotel", "outcome=deleted") >= n
	})
	after := scrapeMetrics(t, m.addr)
	for _, v := range []string{"plivo", "webex", "clevertap"} {
		if r := s.Ledgers()[v].Requests(); r != 0 {
			t.Errorf("%s got %d requests: a retry worker for Exotel must call only Exotel", v, r)
		}
	}
	dls, err := devstack.ReadAll(context.Background(), s.Brokers, s.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 0 {
		t.Errorf("%d dead-letter records; an outage shorter than give_up_after loses nothing to the dead-letter topic", len(dls))
	}
	var retryRecords, committedTotal int64
	for p := range int32(3) {
		recs, err := devstack.ReadAll(context.Background(), s.Brokers, retrytopic.TopicFor(s.Topic, "exotel"), int(p))
		if err != nil {
			t.Fatal(err)
		}
		retryRecords += int64(len(recs))
		c := retryCommitted(s, "exotel", p)
		committedTotal += c
		if c != int64(len(recs)) {
			t.Errorf("retry partition %d: committed %d of %d records", p, c, len(recs))
		}
	}
	t.Logf("parked %d; during the outage: %d Exotel requests, %g rescheduled, %g retry attempts; after: %d deleted at Exotel, unparked deleted=%g rescheduled=%g dead_lettered=%g; retry topic holds %d records, %d committed; other vendors' requests 0",
		n, outageRequests, during.sum("erasured_retry_unparked_total", "vendor=exotel", "outcome=rescheduled"),
		during.sum("erasured_retry_attempts_total", "vendor=exotel"), countDeleted(s, w, "exotel"),
		after.sum("erasured_retry_unparked_total", "vendor=exotel", "outcome=deleted"),
		after.sum("erasured_retry_unparked_total", "vendor=exotel", "outcome=rescheduled"),
		after.sum("erasured_retry_unparked_total", "vendor=exotel", "outcome=dead_lettered"), retryRecords, committedTotal)
}

// retryCommitted is the retry group's committed offset of a partition of
// vendor's retry topic, -1 if none.
func retryCommitted(s *devstack.Stack, vendor string, partition int32) int64 {
	gi := s.Cluster.GroupInfo(retrytopic.GroupFor("erasured-dev", vendor))
	if gi == nil {
		return -1
	}
	c, ok := gi.Commits[retrytopic.TopicFor(s.Topic, vendor)][partition]
	if !ok {
		return -1
	}
	return c.Offset
}

// TestRetryScheduleFromYAMLAndEnv: vendors.<name>.retry.schedule,
// give_up_after and max_pending are read from YAML over the defaults and
// from ERASURED_* (a schedule as a comma-separated list), and a
// give_up_after past the compliance deadline is refused by name.
func TestRetryScheduleFromYAMLAndEnv(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "erasured.yaml")
	yaml := `kafka:
  brokers: ["127.0.0.1:9092"]
vendors:
  plivo:
    enabled: true
    auth_id: MA1
    auth_token: {env: PLIVO_TOKEN}
    retry:
      schedule: [1s, 2s]
      give_up_after: 1h
  webex:
    enabled: true
    base_url: https://example.webexcampaign.io
    token: {env: PLIVO_TOKEN}
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := func() []string {
		return []string{"PLIVO_TOKEN=t", "ERASURED_VENDORS_WEBEX_RETRY_SCHEDULE=500ms, 3s,1m", "ERASURED_VENDORS_WEBEX_RETRY_MAX_PENDING=20"}
	}
	cfg, err := daemon.LoadConfig(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	p, w := cfg.Vendors.Section("plivo").Shared().Retry, cfg.Vendors.Section("webex").Shared().Retry
	if !reflect.DeepEqual(p.Schedule, []time.Duration{time.Second, 2 * time.Second}) || p.GiveUpAfter != time.Hour {
		t.Errorf("plivo schedule %v give_up_after %s, want [1s 2s] 1h", p.Schedule, p.GiveUpAfter)
	}
	if !reflect.DeepEqual(w.Schedule, []time.Duration{500 * time.Millisecond, 3 * time.Second, time.Minute}) || w.MaxPending != 20 || w.GiveUpAfter != 72*time.Hour {
		t.Errorf("webex schedule %v max_pending %d give_up_after %s", w.Schedule, w.MaxPending, w.GiveUpAfter)
	}
	if got := cfg.Vendors.Section("exotel").Shared().Retry.Schedule; !reflect.DeepEqual(got, adapters.DefaultSchedule()) {
		t.Errorf("exotel schedule %v, want the default", got)
	}
	cfg.Vendors.Section("plivo").Shared().Retry.GiveUpAfter = 31 * 24 * time.Hour
	var fe *config.FieldError
	if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != "vendors.plivo.retry.give_up_after" {
		t.Fatalf("Validate() = %v, want vendors.plivo.retry.give_up_after named", err)
	}
	// A shorter compliance.deadline binds give_up_after too.
	cfg.Vendors.Section("plivo").Shared().Retry.GiveUpAfter = 72 * time.Hour
	cfg.Compliance.Deadline = 48 * time.Hour
	if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != "vendors.plivo.retry.give_up_after" || !strings.Contains(err.Error(), "compliance.deadline") {
		t.Fatalf("Validate() = %v, want vendors.plivo.retry.give_up_after named against compliance.deadline", err)
	}
	if _, err := daemon.LoadConfig(path, func() []string {
		return []string{"PLIVO_TOKEN=t", "ERASURED_VENDORS_WEBEX_RETRY_SCHEDULE=1s,soon"}
	}); err == nil || !strings.Contains(err.Error(), "vendors.webex.retry.schedule") {
		t.Errorf("a bad schedule from env: error %v, want the field named", err)
	}
}

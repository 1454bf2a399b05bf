package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/devstack"
)

// TestReplayAfterVendorOutage: Exotel refuses erasured's credentials
// (401, permanent), so every event is dead-lettered listing Exotel alone
// (a 503 outage parks on the retry topic instead); the failure
// ends; `erasured replay -dry-run` shows the plan, `erasured replay`
// republishes, and the daemon deletes every event at Exotel while Plivo,
// Webex and CleverTap get no further request.
func TestReplayAfterVendorOutage(t *testing.T) {
	const n = 300
	knobs := healthy(2 * time.Millisecond)
	knobs["exotel"] = sandbox.Knobs{Force: "401"}
	s := newSuite(t, suiteOptions{partitions: 4, knobs: knobs, env: []string{
		"ERASURED_VENDORS_EXOTEL_RETRY_MAX_ATTEMPTS=3",
		"ERASURED_VENDORS_EXOTEL_RETRY_INITIAL_INTERVAL=10ms",
		"ERASURED_VENDORS_EXOTEL_RETRY_MAX_INTERVAL=20ms",
		// This test is about replay's routing, and its retry budget is
		// three quick attempts: with Exotel's breaker on, the circuit the
		// outage opened is still open (cooldown 30s) when the replayed
		// records arrive, every attempt is refused, and they are
		// dead-lettered again. The breaker has its own tests.
		"ERASURED_VENDORS_EXOTEL_BREAKER_ENABLED=false",
	}})
	w := devstack.NewWorkload(n, n, 0)
	s.produce(w)
	p := s.start()
	waitUntil(t, 3*time.Minute, "every event dead-lettered for exotel", func() bool {
		dls, err := devstack.ReadAll(context.Background(), s.addrs, s.stack.DLQTopic, 0)
		if err != nil {
			return false
		}
		ids := map[string]bool{}
		for _, m := range dls {
			if v, _ := dlq.Header(m.Headers, dlq.HeaderFailedVendors); v != "exotel" {
				t.Fatalf("dead-letter record lists %q, want exotel alone", v)
			}
			id, _ := dlq.Header(m.Headers, dlq.HeaderEventID)
			ids[id] = true
		}
		return len(ids) == n
	})
	s.waitLagZero(60 * time.Second)
	dls, err := devstack.ReadAll(context.Background(), s.addrs, s.stack.DLQTopic, 0)
	if err != nil {
		t.Fatal(err)
	}
	calls := func() map[string]int {
		out := map[string]int{}
		for vendor, l := range s.stack.Ledgers() {
			for _, ev := range w.Events {
				out[vendor] += l.Calls(devstack.VendorIDs(ev)[vendor])
			}
		}
		return out
	}
	before := calls()
	s.stack.Sandbox("exotel").Chaos.Set(sandbox.Knobs{}) // the outage ends

	group := uniqueName("erasured-replay")
	dry := devstack.StartProcess(t, binary, s.env, "replay", "-config", s.path, "-group", group, "-dry-run", "-output", "json", "-quiet")
	if code := dry.ExitCode(t, 2*time.Minute); code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, devstack.Tail(dry.Output(), 20))
	}
	var sum dlq.SummaryLine
	for _, line := range strings.Split(strings.TrimSpace(dry.Output()), "\n") {
		if strings.Contains(line, `"type":"summary"`) {
			if err := json.Unmarshal([]byte(line), &sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	if sum.Replayed != len(dls) || sum.ByVendor["exotel"] != len(dls) || len(sum.ByVendor) != 1 {
		t.Fatalf("dry run would replay %d (%v), want %d to exotel alone", sum.Replayed, sum.ByVendor, len(dls))
	}

	rp := devstack.StartProcess(t, binary, s.env, "replay", "-config", s.path, "-group", group, "-rate", "0")
	if code := rp.ExitCode(t, 3*time.Minute); code != 0 {
		t.Fatalf("replay: exit %d\n%s", code, devstack.Tail(rp.Output(), 20))
	}
	t.Logf("replay: %s", devstack.Tail(rp.Output(), 4))
	waitUntil(t, 3*time.Minute, "exotel to delete every event", func() bool {
		l := s.stack.Sandbox("exotel").Ledger
		for _, ev := range w.Events {
			if !l.Deleted(devstack.VendorIDs(ev)["exotel"]) {
				return false
			}
		}
		return true
	})
	s.waitLagZero(60 * time.Second)
	after := calls()
	for _, v := range []string{"plivo", "webex", "clevertap"} {
		if after[v] != before[v] {
			t.Errorf("%s got %d more requests after the replay; only exotel may be called again", v, after[v]-before[v])
		}
	}
	if after["exotel"] <= before["exotel"] {
		t.Error("exotel was not called again")
	}
	if again, err := devstack.ReadAll(context.Background(), s.addrs, s.stack.DLQTopic, 0); err != nil || len(again) != len(dls) {
		t.Errorf("dead-letter topic has %d records after the replay, want still %d (err %v)", len(again), len(dls), err)
	}
	s.stop(p)
}

package daemon_test

import (
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/internal/devstack"
)

// TestUnverifiedRestrictionsCallEveryVendor produces events carrying
// erasured-only-vendors headers that replay did not sign, or that no
// vendor name rule allows, as any producer of the main topic could: every
// vendor deletes every event, none is dead-lettered, and each refusal is
// counted by reason.
func TestUnverifiedRestrictionsCallEveryVendor(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("integration test")
	}
	s := startStack(t, 2, fastKnobs())
	other := dlq.NewKeyring([]byte("not-the-daemons-key-0123456789ab"))
	hs := func(only string, sign func(m kafka.Message, id string) string) func(kafka.Message, string) []kafka.Header {
		return func(m kafka.Message, id string) []kafka.Header {
			h := []kafka.Header{{Key: dlq.HeaderOnlyVendors, Value: []byte(only)}, {Key: dlq.HeaderReplayCount, Value: []byte("1")}}
			if sign != nil {
				h = append(h, kafka.Header{Key: dlq.HeaderOnlyVendorsSignature, Value: []byte(sign(m, id))})
			}
			return h
		}
	}
	cases := []struct {
		headers func(kafka.Message, string) []kafka.Header
		reason  dlq.Rejection
	}{
		{hs("Plivo", nil), dlq.RejectMalformed},
		{hs("NONE", nil), dlq.RejectMalformed},
		{hs("plivo;webex", nil), dlq.RejectMalformed},
		{hs("plivo webex", nil), dlq.RejectMalformed},
		{hs(strings.Repeat("p", 33), nil), dlq.RejectMalformed},
		{hs("webex", nil), dlq.RejectUnsigned},
		{hs("webex", func(kafka.Message, string) string { return "v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }), dlq.RejectBadSignature},
		{hs("webex", func(m kafka.Message, id string) string {
			return other.Sign(&dlq.Restriction{EventID: id, ReplayCount: 1, Vendors: []string{"webex"}, Key: m.Key, Value: m.Value})
		}), dlq.RejectBadSignature},
	}
	const perCase = 5
	w := devstack.NewWorkload(len(cases)*perCase, len(cases)*perCase, 0)
	want := map[dlq.Rejection]int{}
	for i := range w.Records {
		c := cases[i%len(cases)]
		w.Records[i].Headers = c.headers(w.Records[i], w.Events[i].EventID)
		want[c.reason]++
	}
	produce(t, s, w)
	m := startMember(t, testConfig(s))
	waitComplete(t, s, w, 60*time.Second)
	for _, v := range []string{"plivo", "webex", "exotel", "clevertap"} {
		if d := countDeleted(s, w, v); d != len(w.Events) {
			t.Errorf("%s deleted %d of %d events", v, d, len(w.Events))
		}
	}
	if n := len(deadLetters(t, s)); n != 0 {
		t.Errorf("%d dead-letter records; every vendor deleted every event", n)
	}
	sc := scrapeMetrics(t, m.addr)
	for _, r := range dlq.Rejections {
		// At least once per record; a partition redelivered after a
		// rebalance (a session that timed out on a loaded machine) counts
		// its records again, as every delivery is checked.
		if got := sc.sum("erasured_replay_restriction_rejected_total", "reason="+string(r)); int(got) < want[r] || int(got) > 3*want[r] {
			t.Errorf("erasured_replay_restriction_rejected_total{reason=%q} = %g, want %d (up to 3x with redeliveries)", r, got, want[r])
		}
	}
	m.stop(t)
	if log := m.log.String(); strings.Contains(log, "plivo;webex") || strings.Contains(log, "AAAAAAAAAAAA") {
		t.Error("the log quotes a restriction's value")
	}
}

package dlq

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/event"
)

// oldRecord is a dead-letter record as erasured wrote it before vendor
// text was kept apart: each failure's message holds what the vendor echoed
// of the person.
func oldRecord(t *testing.T) kafka.Message {
	t.Helper()
	v, err := event.Encode(&event.UserDeleted{
		EventID: "ev-old-1", UserID: "usr-Old-77", OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{"webex_key": "Ada.Lovelace@Example.com", "exotel_contact_sid": "4440b6e1a85f489b87d76d8779956caf"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := func(k, v string) kafka.Header { return kafka.Header{Key: k, Value: []byte(v)} }
	return kafka.Message{
		Topic: DefaultTopic, Partition: 0, Offset: 3, Key: []byte("usr-Old-77"), Value: v, Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		Headers: []kafka.Header{
			h(HeaderOriginalTopic, "user-deleted"), h(HeaderOriginalPartition, "0"), h(HeaderOriginalOffset, "9"),
			h(HeaderEventID, "ev-old-1"), h(HeaderReason, string(ReasonPermanentError)),
			h(HeaderVendorPrefix+"exotel", `{"class":"permanent","status":400,"code":"1002","message":"Invalid parameter; Contact 4440B6E1A85F489B87D76D8779956CAF with number +919101234511 and email captain@email.com; request_id e623a09f","attempts":1}`),
			h(HeaderVendorPrefix+"webex", `{"class":"permanent","status":200,"code":"102","message":"Invalid profile id ADA.LOVELACE@EXAMPLE.COM for usr-old-77","attempts":1}`),
			h(HeaderFailedVendors, "exotel,webex"), h(HeaderReplayCount, "0"),
		},
	}
}

// TestInspectMasksOldRecords is issue 10 item 10 for `dlq inspect -output
// json`: records written before the fix carry vendor text in message; what
// inspect prints of them is masked.
func TestInspectMasksOldRecords(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	rep := NewReport(ReportOptions{Out: &out, Format: FormatJSON, Records: true})
	e := ParseEntry(oldRecord(t))
	rep.Record(&e, Decision{Action: ActionReplay})
	var line RecordLine
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || len(line.Failures) != 2 {
		t.Fatalf("record line %s: %v", out.Bytes(), err)
	}
	for _, f := range []string{"4440B6E1A85F489B87D76D8779956CAF", "4440b6e1a85f489b87d76d8779956caf", "+919101234511", "9101234511", "captain@email.com",
		"ADA.LOVELACE@EXAMPLE.COM", "Ada.Lovelace@Example.com", "usr-old-77", "usr-Old-77"} {
		if strings.Contains(out.String(), f) {
			t.Errorf("inspect prints %q: %s", f, out.String())
		}
	}
	// What is not personal stays readable.
	for _, keep := range []string{`"code":"1002"`, "Invalid parameter", "Invalid profile id", `"status":400`} {
		if !strings.Contains(out.String(), keep) {
			t.Errorf("inspect lost %q: %s", keep, out.String())
		}
	}
}

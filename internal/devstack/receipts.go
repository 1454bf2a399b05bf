package devstack

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/receipt"
)

// ReadReceipts folds every record on the stack's receipts topic, all its
// partitions, into a Book. A record that is not a receipt is counted in
// Book.Malformed.
func (s *Stack) ReadReceipts(ctx context.Context) (*receipt.Book, error) {
	topic := receipt.TopicFor(s.Topic)
	parts, err := s.partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	b := receipt.NewBook()
	for _, p := range parts {
		msgs, err := ReadAll(ctx, s.Brokers, topic, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s[%d]: %w", topic, p, err)
		}
		for _, m := range msgs {
			b.Add(m.Value)
		}
	}
	return b, nil
}

func (s *Stack) partitions(ctx context.Context, topic string) ([]int, error) {
	conn, err := kafka.DialContext(ctx, "tcp", s.Brokers[0])
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ps, err := conn.ReadPartitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	sort.Ints(out)
	return out, nil
}

// Committed returns group's committed offset on the stack's main topic
// per partition, 0 where it has none. It asks through the Kafka protocol,
// so it reads the in-process Kafka and a real broker alike.
func (s *Stack) Committed(ctx context.Context, group string) (map[int]int64, error) {
	parts, err := s.partitions(ctx, s.Topic)
	if err != nil {
		return nil, err
	}
	client := &kafka.Client{Addr: kafka.TCP(s.Brokers...), Timeout: 30 * time.Second, Transport: &kafka.Transport{IdleTimeout: time.Second}}
	resp, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{s.Topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("offset fetch: %w", err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("offset fetch: %w", resp.Error)
	}
	out := map[int]int64{}
	for _, p := range parts {
		out[p] = 0
	}
	for _, p := range resp.Topics[s.Topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("offset fetch of partition %d: %w", p.Partition, p.Error)
		}
		out[p.Partition] = max(p.CommittedOffset, 0)
	}
	return out, nil
}

// CommittedEvents returns the events of w that group has committed: on
// every partition of the main topic, those read below its committed
// offset, in partition and offset order. Records that are not events of
// w (poison) are left out: they have no receipt.
func (s *Stack) CommittedEvents(ctx context.Context, w *Workload, committed map[int]int64) ([]*event.UserDeleted, error) {
	byValue := make(map[string]*event.UserDeleted, len(w.Events))
	for i, e := range w.slots {
		if e >= 0 {
			byValue[string(w.Records[i].Value)] = w.Events[e]
		}
	}
	var out []*event.UserDeleted
	for _, p := range sortedKeys(committed) {
		if committed[p] <= 0 {
			continue
		}
		msgs, err := ReadAll(ctx, s.Brokers, s.Topic, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s[%d]: %w", s.Topic, p, err)
		}
		for _, m := range msgs {
			if m.Offset >= committed[p] {
				break
			}
			if ev, ok := byValue[string(m.Value)]; ok {
				out = append(out, ev)
			}
		}
	}
	return out, nil
}

func sortedKeys(m map[int]int64) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// ReceiptAudit is what the receipts say of a set of events, held against
// the vendors' sandboxes.
type ReceiptAudit struct {
	// Events counts the events audited; Committed, for AuditCommitted,
	// the records committed on the main topic (poison included).
	Events    int
	Committed int64
	// Folded is the number of distinct events on the receipts topic,
	// Records its records, Malformed those that are not receipts.
	Folded             int
	Records, Malformed int64
	// Counts counts parts per vendor and outcome; Referenced, per
	// vendor, the parts carrying the vendor's own reference.
	Counts     map[string]map[receipt.Outcome]int
	Referenced map[string]int
	// Missing lists the events without a receipt.
	Missing []string
	// Unsettled lists, as vendor/event, the parts whose outcome is
	// neither final, parked nor dead-lettered (paused): for an event
	// the main flow finished with every vendor enabled, none may be.
	Unsettled []string
	// Unfounded lists, as vendor/event, the parts a receipt calls
	// deleted (or already absent) that the vendor's sandbox never
	// deleted: a receipt claiming what was not done.
	Unfounded []string
	// Unrecorded lists, as vendor/event, the parts the sandbox deleted
	// whose receipt does not say so. Between a vendor's answer and the
	// receipt's write (a kill -9 there, a retry worker still running)
	// that is expected; once everything has settled it is a mismatch.
	Unrecorded []string
}

// Clean reports whether every event has a receipt and no receipt claims
// a deletion the sandbox did not perform; strict adds that every
// deletion the sandbox performed is recorded.
func (a ReceiptAudit) Clean(strict bool) bool {
	return len(a.Missing) == 0 && len(a.Unfounded) == 0 && len(a.Unsettled) == 0 && (!strict || len(a.Unrecorded) == 0)
}

func (a ReceiptAudit) String() string {
	return fmt.Sprintf("events=%d committed_records=%d receipt_records=%d folded=%d malformed=%d outcomes=%v referenced=%v missing=%d unsettled=%d unfounded=%d unrecorded=%d%s",
		a.Events, a.Committed, a.Records, a.Folded, a.Malformed, a.Counts, a.Referenced, len(a.Missing), len(a.Unsettled), len(a.Unfounded), len(a.Unrecorded), a.examples())
}

// examples names a few offenders of each kind, so a failure says which.
func (a ReceiptAudit) examples() string {
	out := ""
	for _, l := range []struct {
		name string
		ids  []string
	}{{"missing", a.Missing}, {"unsettled", a.Unsettled}, {"unfounded", a.Unfounded}, {"unrecorded", a.Unrecorded}} {
		if len(l.ids) > 0 {
			out += fmt.Sprintf(" %s e.g. %v", l.name, l.ids[:min(3, len(l.ids))])
		}
	}
	return out
}

// AuditReceipts holds each event's latest receipt in b against the
// sandboxes: the invariant is that a receipt says deleted (or already
// absent) only when the vendor's sandbox deleted, and, once settled,
// exactly then. With allowPaused, a paused part is not unsettled.
func (s *Stack) AuditReceipts(b *receipt.Book, events []*event.UserDeleted, allowPaused bool) ReceiptAudit {
	a := ReceiptAudit{Events: len(events), Folded: b.Len(), Records: b.Read, Malformed: b.Malformed, Counts: map[string]map[receipt.Outcome]int{}, Referenced: map[string]int{}}
	ledgers := s.Ledgers()
	for _, ev := range events {
		r, ok := b.Get(ev.EventID)
		if !ok {
			a.Missing = append(a.Missing, ev.EventID)
			continue
		}
		ids := VendorIDs(ev)
		for v, p := range r.Vendors {
			if a.Counts[v] == nil {
				a.Counts[v] = map[receipt.Outcome]int{}
			}
			a.Counts[v][p.Outcome]++
			if p.Reference != "" {
				a.Referenced[v]++
			}
			if !p.Outcome.Final() && p.Outcome != receipt.Parked && p.Outcome != receipt.DeadLettered && !(allowPaused && p.Outcome == receipt.Paused) {
				a.Unsettled = append(a.Unsettled, v+"/"+ev.EventID)
			}
			l, id := ledgers[v], ids[v]
			if l == nil || id == "" {
				continue
			}
			claimed := p.Outcome == receipt.Deleted || p.Outcome == receipt.AlreadyAbsent
			switch done := l.Deleted(id); {
			case claimed && !done:
				a.Unfounded = append(a.Unfounded, v+"/"+ev.EventID)
			case done && !claimed:
				a.Unrecorded = append(a.Unrecorded, v+"/"+ev.EventID)
			}
		}
	}
	return a
}

// AuditCommitted is issue 12's kill -9 check, for a stopped or killed
// daemon (or, for a running one, a snapshot): the events of w below
// group's committed offsets, on every partition, audited against the
// receipts topic as it is now. A clean audit (Clean(false)) says no
// finished event lacks a receipt, and no receipt claims a deletion the
// sandbox did not perform.
func (s *Stack) AuditCommitted(ctx context.Context, w *Workload, group string, allowPaused bool) (ReceiptAudit, error) {
	committed, err := s.Committed(ctx, group)
	if err != nil {
		return ReceiptAudit{}, err
	}
	events, err := s.CommittedEvents(ctx, w, committed)
	if err != nil {
		return ReceiptAudit{}, err
	}
	b, err := s.ReadReceipts(ctx)
	if err != nil {
		return ReceiptAudit{}, err
	}
	a := s.AuditReceipts(b, events, allowPaused)
	for _, c := range committed {
		a.Committed += c
	}
	return a, nil
}

// NamePrimary names Plivo's primary profile, which Plivo refuses to
// delete (so the part is dead-lettered), in every nth event of w, from
// the first, and returns how many events it changed.
func (w *Workload) NamePrimary(nth int) (int, error) {
	n := 0
	for i, ev := range w.Events {
		if i%nth == 0 {
			ev.Identifiers[plivo.DefaultProfileField] = PrimaryProfile
			n++
		}
	}
	return n, w.Reencode()
}

// KillSeed is the seed of a test's random kill points: $KILL_SEED when
// set, to replay a failure, else the clock. The test prints it.
func KillSeed(t testing.TB) uint64 {
	t.Helper()
	if v := os.Getenv("KILL_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("KILL_SEED=%q: %v", v, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

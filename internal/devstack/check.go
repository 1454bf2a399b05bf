package devstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/retrytopic"
)

// Workload is a set of events with unique identifiers at every vendor, so
// that each vendor's ledger says which of them it deleted.
type Workload struct {
	Events []*event.UserDeleted
	// Poison are records that must be dead-lettered as invalid, by offset
	// of appearance in Records.
	Records []kafka.Message
	poison  int
	// slots maps each record to its event index, -1 for poison.
	slots []int
}

// PoisonCount returns how many invalid records the workload holds.
func (w *Workload) PoisonCount() int { return w.poison }

// Reencode rebuilds the records after a caller edited Events.
func (w *Workload) Reencode() error {
	for i, e := range w.slots {
		if e < 0 {
			continue
		}
		b, err := event.Encode(w.Events[e])
		if err != nil {
			return err
		}
		w.Records[i].Value = b
	}
	return nil
}

// NewWorkload returns n valid events for users distinct modulo users (so
// users repeat and per-user order matters), plus poison invalid records
// spread among them. Every event's vendor identifiers embed its sequence
// number: vendor id → event.
func NewWorkload(n, users, poison int) *Workload {
	w := &Workload{}
	every := 0
	if poison > 0 {
		every = max(1, (n+poison)/poison)
	}
	for i := 0; len(w.Events) < n || w.poison < poison; i++ {
		if every > 0 && i%every == every-1 && w.poison < poison {
			w.Records = append(w.Records, PoisonRecord(w.poison))
			w.slots = append(w.slots, -1)
			w.poison++
			continue
		}
		if len(w.Events) >= n {
			continue
		}
		seq := len(w.Events)
		user := fmt.Sprintf("user-%06d", seq%max(users, 1))
		ev := &event.UserDeleted{
			EventID:     fmt.Sprintf("evt-%08d", seq),
			UserID:      user,
			OccurredAt:  time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond),
			Identifiers: Identifiers(seq),
		}
		b, err := event.Encode(ev)
		if err != nil {
			panic(err) // the workload is ours; failing to encode it is a bug
		}
		w.Events = append(w.Events, ev)
		w.Records = append(w.Records, kafka.Message{Key: []byte(user), Value: b})
		w.slots = append(w.slots, seq)
	}
	return w
}

// PoisonRecord returns the i-th kind of invalid record: not JSON, missing
// user id, oversized.
func PoisonRecord(i int) kafka.Message {
	switch i % 3 {
	case 0:
		return kafka.Message{Key: []byte("poison"), Value: []byte(`{"event_id": "broken`)}
	case 1:
		return kafka.Message{Key: []byte("poison"), Value: []byte(`{"event_id":"evt-poison-` + strconv.Itoa(i) + `","occurred_at":"2026-11-27T10:00:00Z"}`)}
	default:
		pad := make([]byte, 70<<10)
		for j := range pad {
			pad[j] = 'x'
		}
		return kafka.Message{Key: []byte("poison"), Value: append(append([]byte(`{"event_id":"big","user_id":"u","occurred_at":"2026-11-27T10:00:00Z","pad":"`), pad...), '"', '}')}
	}
}

// VendorIDs returns the id each vendor's ledger records for ev.
func VendorIDs(ev *event.UserDeleted) map[string]string {
	ids := map[string]string{}
	for _, spec := range adapters.Specs() {
		if spec.Dev.LedgerID != nil {
			ids[spec.Name] = spec.Dev.LedgerID(ev.Identifiers)
		}
	}
	return ids
}

// Produce writes records to topic, synchronously, acks from all replicas.
func Produce(ctx context.Context, brokers []string, topic string, records []kafka.Message) error {
	w := &kafka.Writer{
		Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, BatchSize: 500,
		// A transport of its own: the shared default caches metadata, so
		// a topic created a moment ago would look unknown.
		Transport: &kafka.Transport{},
	}
	defer w.Close()
	for i := 0; i < len(records); i += 500 {
		if err := w.WriteMessages(ctx, records[i:min(i+500, len(records))]...); err != nil {
			return fmt.Errorf("producing records %d..: %w", i, err)
		}
	}
	return nil
}

// ReadAll reads every record currently in partition of topic.
func ReadAll(ctx context.Context, brokers []string, topic string, partition int) ([]kafka.Message, error) {
	conn, err := kafka.DialLeader(ctx, "tcp", brokers[0], topic, partition)
	if err != nil {
		return nil, err
	}
	last, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		return nil, err
	}
	if last == 0 {
		return nil, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: partition, MaxWait: 200 * time.Millisecond, MaxBytes: 10 << 20})
	defer r.Close()
	var out []kafka.Message
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, m)
		if m.Offset >= last-1 {
			return out, nil
		}
	}
}

// Account is what a run achieved, by event.
type Account struct {
	Produced, Poison int
	// Complete counts events deleted at every vendor or, at each vendor
	// that did not delete them, dead-lettered or parked on its retry
	// topic.
	Complete int
	// DeletedEverywhere counts events deleted at every vendor.
	DeletedEverywhere int
	// DeadLettered counts distinct dead-lettered records (by original
	// partition and offset) by reason.
	DeadLettered map[dlq.Reason]int
	// DuplicateDeadLetters counts dead-letter records for a record that
	// was already dead-lettered: redelivery after a crash or rebalance,
	// harmless but worth seeing.
	DuplicateDeadLetters int
	// Parked counts, by vendor, the distinct events whose part for that
	// vendor is on its retry topic and not deleted there yet: finished
	// for the main flow, owed by the retry worker.
	Parked map[string]int
	// Missing lists event ids neither deleted, dead-lettered nor parked
	// at some vendor: lost deletions.
	Missing []string
	// Redelivered counts events whose Plivo profile was asked for more
	// than once (Plivo's sandbox in tests is healthy, so only
	// redelivery repeats a call).
	Redelivered int
}

func (a Account) String() string {
	return fmt.Sprintf("produced=%d poison=%d complete=%d deleted_everywhere=%d dead_lettered=%v parked=%v duplicate_dead_letters=%d missing=%d redelivered=%d",
		a.Produced, a.Poison, a.Complete, a.DeletedEverywhere, a.DeadLettered, a.Parked, a.DuplicateDeadLetters, len(a.Missing), a.Redelivered)
}

// Reconcile accounts for every event of w using the sandboxes' ledgers and
// the dead-letter records.
func (s *Stack) Reconcile(w *Workload, deadLetters []kafka.Message) (Account, error) {
	return s.reconcile(w, deadLetters, nil)
}

// ReadParked reads every vendor's retry topic: vendor -> event ids parked.
func (s *Stack) ReadParked(ctx context.Context) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for i, topic := range RetryTopics(s.Topic) {
		conn, err := kafka.DialContext(ctx, "tcp", s.Brokers[0])
		if err != nil {
			return nil, err
		}
		parts, err := conn.ReadPartitions(topic)
		conn.Close()
		if err != nil {
			return nil, err
		}
		ids := map[string]bool{}
		for _, p := range parts {
			msgs, err := ReadAll(ctx, s.Brokers, topic, p.ID)
			if err != nil {
				return nil, err
			}
			for _, m := range msgs {
				rec, err := retrytopic.Decode(m)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]@%d: %w", topic, p.ID, m.Offset, err)
				}
				ids[rec.EventID] = true
			}
		}
		out[Vendors[i]] = ids
	}
	return out, nil
}

func (s *Stack) reconcile(w *Workload, deadLetters []kafka.Message, parked map[string]map[string]bool) (Account, error) {
	acc := Account{Produced: len(w.Events), Poison: w.poison, DeadLettered: map[dlq.Reason]int{}, Parked: map[string]int{}}
	failedAt := map[string]map[string]bool{} // event id -> vendors
	seen := map[string]bool{}
	for _, m := range deadLetters {
		reason, _ := dlq.Header(m.Headers, dlq.HeaderReason)
		p, _ := dlq.Header(m.Headers, dlq.HeaderOriginalPartition)
		o, _ := dlq.Header(m.Headers, dlq.HeaderOriginalOffset)
		if seen[p+"/"+o] {
			acc.DuplicateDeadLetters++
		} else {
			seen[p+"/"+o] = true
			acc.DeadLettered[dlq.Reason(reason)]++
		}
		if dlq.Reason(reason) == dlq.ReasonInvalidEvent {
			continue
		}
		id, _ := dlq.Header(m.Headers, dlq.HeaderEventID)
		fs, err := dlq.ParseFailures(m.Headers)
		if err != nil {
			return acc, err
		}
		if failedAt[id] == nil {
			failedAt[id] = map[string]bool{}
		}
		for _, f := range fs {
			failedAt[id][f.Vendor] = true
		}
	}
	ledgers := s.Ledgers()
	for _, ev := range w.Events {
		all, ok := true, true
		for vendor, id := range VendorIDs(ev) {
			deleted := ledgers[vendor].Deleted(id)
			all = all && deleted
			isParked := !deleted && parked[vendor][ev.EventID]
			if isParked {
				acc.Parked[vendor]++
			}
			if !deleted && !failedAt[ev.EventID][vendor] && !isParked {
				ok = false
			}
		}
		if all {
			acc.DeletedEverywhere++
		}
		if ok {
			acc.Complete++
		} else {
			acc.Missing = append(acc.Missing, ev.EventID)
		}
		if ledgers[plivo.Name].Calls(ev.Identifiers[plivo.DefaultProfileField]) > 1 {
			acc.Redelivered++
		}
	}
	sort.Strings(acc.Missing)
	return acc, nil
}

// WaitComplete polls until every event of w is accounted for and the
// invalid records are dead-lettered, or ctx ends.
func (s *Stack) WaitComplete(ctx context.Context, w *Workload) (Account, error) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var acc Account
	for {
		dls, err := ReadAll(ctx, s.Brokers, s.DLQTopic, 0)
		var parked map[string]map[string]bool
		if err == nil {
			parked, err = s.ReadParked(ctx)
		}
		if err == nil {
			acc, err = s.reconcile(w, dls, parked)
			if err == nil && acc.Complete == acc.Produced && acc.DeadLettered[dlq.ReasonInvalidEvent] >= acc.Poison {
				return acc, nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return acc, errors.Join(fmt.Errorf("not complete: %s", acc), err)
		case <-t.C:
		}
	}
}

// CountDeleted returns how many events of w the vendor's sandbox deleted.
func (s *Stack) CountDeleted(w *Workload, vendor string) int {
	l := s.Ledgers()[vendor]
	n := 0
	for _, ev := range w.Events {
		if l.Deleted(VendorIDs(ev)[vendor]) {
			n++
		}
	}
	return n
}

// WaitScale multiplies every WaitUntil timeout: 3 under the race
// detector, 1 otherwise. A timeout is how long a test gives up after,
// never a figure it asserts: on CI (two cores, -race, the suite's
// parallel tests on kfake clusters of their own) a test that takes 6s
// alone was seen to need more than 90s.
func WaitScale() time.Duration {
	if raceEnabled {
		return 3
	}
	return 1
}

// WaitUntil polls cond every 50ms and fails t if it is not true within
// timeout (times WaitScale). Tests wait on outcomes, never on time alone.
func WaitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	timeout *= WaitScale()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

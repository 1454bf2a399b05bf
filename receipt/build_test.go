package receipt

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

func TestPartOf(t *testing.T) {
	t.Parallel()
	now := t0.Add(time.Hour)
	vendorErr := &adapters.Error{Vendor: "exotel", Class: adapters.ClassRetryable, Status: 503, Code: "E503", VendorMessage: "alice@example.com unavailable"}
	for _, c := range []struct {
		name      string
		res       adapters.Result
		otherwise Outcome
		want      Outcome
		status    int
		encodes   bool
	}{
		{"deleted", adapters.Result{Outcome: adapters.Deleted, Attempts: 2, Duration: time.Second}, Parked, Deleted, 0, true},
		{"already absent", adapters.Result{Outcome: adapters.AlreadyAbsent, Attempts: 1}, Parked, AlreadyAbsent, 0, true},
		{"not applicable", adapters.Result{Outcome: adapters.NotApplicable}, Parked, NotApplicable, 0, true},
		{"failed, parked", adapters.Result{Outcome: adapters.Failed, Attempts: 3, Err: vendorErr, LastFailure: t0}, Parked, Parked, 503, true},
		{"failed, dead-lettered", adapters.Result{Outcome: adapters.Failed, Attempts: 1, Err: vendorErr}, DeadLettered, DeadLettered, 503, true},
		{"paused, never called", adapters.Result{Outcome: adapters.Failed}, Paused, Paused, 0, true},
		// A deletion without a request is a bug somewhere: the receipt
		// must refuse it rather than claim it.
		{"deleted without an attempt", adapters.Result{Outcome: adapters.Deleted}, Parked, Deleted, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := PartOf(c.res, c.otherwise, now)
			if p.Outcome != c.want || p.Status != c.status || p.Attempts != c.res.Attempts {
				t.Fatalf("part %+v", p)
			}
			r := &Receipt{EventID: "e", Vendors: map[string]Part{"exotel": p}}
			b, err := Encode(r)
			if (err == nil) != c.encodes {
				t.Fatalf("Encode: %v, want success %v", err, c.encodes)
			}
			if strings.Contains(string(b), "alice") {
				t.Fatalf("the vendor's words reached the receipt: %s", b)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatal(err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	fp, err := event.NewFingerprinter([]byte(strings.Repeat("k", 48)))
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.UserDeleted{EventID: "e1", UserID: "alice@example.com", OccurredAt: t0}
	r := New(ev, fp, DefaultDeadline, t0.Add(time.Minute))
	r.Set("plivo", Part{Outcome: Deleted, Attempts: 1, RecordedAt: t0})
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "alice") || r.User != fp.Fingerprint("alice@example.com") {
		t.Fatalf("receipt names the user or has the wrong fingerprint: %s", b)
	}
	if !r.Deadline.Equal(t0.Add(30 * 24 * time.Hour)) {
		t.Fatalf("deadline %s", r.Deadline)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d  time.Duration
		ok bool
	}{{DefaultDeadline, true}, {45 * 24 * time.Hour, true}, {time.Hour, false}, {3 * 365 * 24 * time.Hour, false}} {
		cc := ComplianceConfig{Deadline: c.d}
		if err := cc.Validate(); (err == nil) != c.ok {
			t.Errorf("deadline %s: %v", c.d, err)
		}
	}
	rc := DefaultConfig()
	if err := rc.Validate(); err != nil {
		t.Fatal(err)
	}
	rc.WriteTimeout = 0
	if err := rc.Validate(); err == nil {
		t.Fatal("zero write_timeout accepted")
	}
}

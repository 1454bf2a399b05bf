package consumer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// TestInvalidIdentifierDeadLetteredNeverSent is issue 10 item 14 end to
// end: an identifier of the wrong shape is dead-lettered at once with its
// own class, without a request and without retries.
func TestInvalidIdentifierDeadLetteredNeverSent(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	vendors := []Vendor{
		{Adapter: plivo.New(plivo.Config{BaseURL: srv.URL, AuthID: "MA123", AuthToken: config.NewSecret("t"), ProfileField: plivo.DefaultProfileField}, nil), Retrier: adapters.NewRetrier(fastRetry())},
		{Adapter: exotel.New(exotel.Config{BaseURL: srv.URL, AccountSID: "acc", APIKey: "k", APIToken: config.NewSecret("t"), ContactField: exotel.DefaultContactField}, nil), Retrier: adapters.NewRetrier(fastRetry())},
	}
	d := &fakeDLQ{}
	p := NewProcessor(vendors, d, event.DecodeOptions{}, zerolog.Nop(), nil)
	v, err := event.Encode(&event.UserDeleted{
		EventID: "ev-shape-1", UserID: "u-1", OccurredAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{plivo.DefaultProfileField: "../../v1/Account", exotel.DefaultContactField: "4440B6E1A85F489B87D76D8779956CAF"},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := kafka.Message{Topic: "user-deleted", Key: []byte("u-1"), Value: v}
	ev, decErr := p.Decode(msg)
	if err := p.Process(context.Background(), msg, ev, decErr); err != nil {
		t.Fatalf("Process: %v", err)
	}
	recs := d.records()
	if len(recs) != 1 || recs[0].Reason != dlq.ReasonPermanentError || len(recs[0].Failures) != 2 {
		t.Fatalf("records %+v, want one permanent_error with two failures", recs)
	}
	for _, f := range recs[0].Failures {
		if f.Class != "invalid_identifier" || f.Attempts != 1 || f.Status != 0 {
			t.Errorf("failure %+v, want invalid_identifier after one attempt, no status", f)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestAdapterClassesKnownToDLQ keeps dlq's list of classes (replay and
// inspect filter by them) in step with the adapters' classes.
func TestAdapterClassesKnownToDLQ(t *testing.T) {
	t.Parallel()
	for _, c := range []adapters.Class{adapters.ClassRetryable, adapters.ClassPermanent, adapters.ClassUnexpected, adapters.ClassInvalidIdentifier} {
		if !slices.Contains(dlq.Classes, c.String()) {
			t.Errorf("dlq.Classes %v lacks %q", dlq.Classes, c)
		}
	}
}

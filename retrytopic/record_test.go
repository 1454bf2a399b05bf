package retrytopic

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/erasured/erasured/dlq"
	"github.com/segmentio/kafka-go"
)

func sample() Parked {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 123, time.UTC)
	p := Parked{
		Original:          kafka.Message{Key: []byte("k"), Value: []byte(`{"v":1}`), Headers: []kafka.Header{{Key: "ce_id", Value: []byte("e1")}, {Key: dlq.HeaderReplayCount, Value: []byte("1")}}},
		OriginalTopic:     "user-deleted",
		OriginalPartition: 3,
		OriginalOffset:    42,
		OriginalTimestamp: t0,
		EventID:           "e1",
		Vendor:            "exotel",
		Reason:            ReasonCircuitOpen,
		Step:              1,
		ParkedAt:          t0.Add(time.Second),
		Due:               t0.Add(time.Minute),
	}
	p.AddAttempt(Attempt{At: t0, Status: 503, Class: "retryable", By: "inline"})
	return p
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	p := sample()
	got, err := Decode(p.Message())
	if err != nil {
		t.Fatal(err)
	}
	want := p
	want.Original = kafka.Message{Topic: "user-deleted", Partition: 3, Offset: 42, Key: []byte("k"), Value: []byte(`{"v":1}`), Headers: []kafka.Header{{Key: "ce_id", Value: []byte("e1")}}, Time: p.OriginalTimestamp}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
}

func TestHistoryBounded(t *testing.T) {
	t.Parallel()
	p := sample()
	for i := 0; i < 3*MaxHistory; i++ {
		p.AddAttempt(Attempt{At: time.Unix(int64(i), 0), Status: 500})
	}
	if len(p.History) != MaxHistory || p.Attempts != 3*MaxHistory+1 {
		t.Fatalf("history %d attempts %d", len(p.History), p.Attempts)
	}
	if p.History[MaxHistory-1].At != time.Unix(int64(3*MaxHistory-1), 0) {
		t.Fatalf("last entry is not the newest: %v", p.History[MaxHistory-1].At)
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	set := func(k, v string) func([]kafka.Header) []kafka.Header {
		return func(hs []kafka.Header) []kafka.Header {
			for i := range hs {
				if hs[i].Key == k {
					hs[i].Value = []byte(v)
				}
			}
			return hs
		}
	}
	drop := func(k string) func([]kafka.Header) []kafka.Header {
		return func(hs []kafka.Header) []kafka.Header {
			out := hs[:0]
			for _, h := range hs {
				if h.Key != k {
					out = append(out, h)
				}
			}
			return out
		}
	}
	for name, f := range map[string]func([]kafka.Header) []kafka.Header{
		"bad vendor":   set(HeaderVendor, "Exotel"),
		"no vendor":    drop(HeaderVendor),
		"no due":       drop(HeaderDue),
		"bad due":      set(HeaderDue, "tomorrow"),
		"bad attempts": set(HeaderAttempts, "x"),
		"neg step":     set(HeaderStep, "-1"),
		"bad reason":   set(HeaderReason, "bored"),
		"bad history":  set(HeaderHistory, "{"),
		"twice": func(hs []kafka.Header) []kafka.Header {
			return append(hs, kafka.Header{Key: HeaderDue, Value: []byte("2026-12-01T00:00:00Z")})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := sample()
			m := p.Message()
			m.Headers = f(m.Headers)
			if _, err := Decode(m); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	p := sample()
	m := p.Message()
	f.Add(string(m.Headers[len(m.Headers)-1].Value), "2026-12-01T00:00:00Z", "3")
	f.Fuzz(func(t *testing.T, hist, due, attempts string) {
		m := p.Message()
		for i := range m.Headers {
			switch m.Headers[i].Key {
			case HeaderHistory:
				m.Headers[i].Value = []byte(hist)
			case HeaderDue:
				m.Headers[i].Value = []byte(due)
			case HeaderAttempts:
				m.Headers[i].Value = []byte(attempts)
			}
		}
		got, err := Decode(m)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		again, err := Decode(got.Message())
		if err != nil || !again.Due.Equal(got.Due) || again.Attempts != got.Attempts || len(again.History) != len(got.History) {
			t.Fatalf("re-encoding changed the record: %v", err)
		}
	})
}

package consumer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// restrictWorld is a processor with four fake vendors that all delete.
type restrictWorld struct {
	p  *Processor
	as []*fakeAdapter
	dl *fakeDLQ
}

func newRestrictWorld() *restrictWorld {
	w := &restrictWorld{dl: &fakeDLQ{}}
	for _, n := range []string{"plivo", "webex", "exotel", "clevertap"} {
		w.as = append(w.as, &fakeAdapter{name: n, answer: always(adapters.Deleted, nil)})
	}
	w.p = NewProcessor(vendorsOf(fastRetry(), w.as...), w.dl, event.DecodeOptions{}, zerolog.Nop(), nil)
	return w
}

// process runs msg and returns the vendors called, in configuration order.
func (w *restrictWorld) process(t *testing.T, msg kafka.Message) []string {
	t.Helper()
	ev, err := w.p.Decode(msg)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if err := w.p.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatalf("Process = %v", err)
	}
	var called []string
	for _, a := range w.as {
		if a.calls.Load() > 0 {
			called = append(called, a.name)
		}
	}
	return called
}

// TestProcessorMalformedRestrictionRunsEveryVendor: an erasured-only-vendors
// header with a name outside the shared vendor-name rule restricts
// nothing: every configured vendor is called. Dropping the bad names used
// to leave no vendor at all, and the event counted as done.
func TestProcessorMalformedRestrictionRunsEveryVendor(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"Plivo", "NONE", "plivo;webex", "plivo webex", " ", "webex, plivo", "plivo,,webex",
		strings.Repeat("p", 33), "plivo," + strings.Repeat("x", 33),
	} {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			t.Parallel()
			w := newRestrictWorld()
			called := w.process(t, validRecord(t, kafka.Header{Key: dlq.HeaderOnlyVendors, Value: []byte(v)}))
			if fmt.Sprint(called) != "[plivo webex exotel clevertap]" {
				t.Errorf("header %q: called %v, want every vendor", v, called)
			}
			if n := len(w.dl.records()); n != 0 {
				t.Errorf("%d dead-letter records; every vendor deleted", n)
			}
		})
	}
}

var (
	testReplayKey = []byte("test-replay-key-0123456789abcdef")
	testOldKey    = []byte("test-replay-old-0123456789abcdef")
)

// replayed returns validRecord as replay republishes it: restricted to
// vendors, replay count 1, signed with signKey (unsigned when nil).
func replayed(t *testing.T, signKey []byte, vendors ...string) kafka.Message {
	t.Helper()
	m := validRecord(t,
		kafka.Header{Key: dlq.HeaderOnlyVendors, Value: []byte(strings.Join(vendors, ","))},
		kafka.Header{Key: dlq.HeaderReplayCount, Value: []byte("1")})
	if signKey != nil {
		r := dlq.Restriction{EventID: "ev-123", ReplayCount: 1, Vendors: vendors, Key: m.Key, Value: m.Value}
		m.Headers = append(m.Headers, kafka.Header{Key: dlq.HeaderOnlyVendorsSignature, Value: []byte(dlq.NewKeyring(signKey).Sign(&r))})
	}
	return m
}

func setHeader(m kafka.Message, key, value string) kafka.Message {
	hs := append([]kafka.Header(nil), m.Headers...)
	for i := range hs {
		if hs[i].Key == key {
			hs[i].Value = []byte(value)
		}
	}
	m.Headers = hs
	return m
}

type rejections struct {
	mu sync.Mutex
	n  map[dlq.Rejection]int
}

func (r *rejections) RestrictionRejected(why dlq.Rejection) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[dlq.Rejection]int{}
	}
	r.n[why]++
}

// TestProcessorUnverifiedRestrictionRunsEveryVendor: the daemon honours
// erasured-only-vendors only with replay's signature over the event id,
// the vendor list, the replay count, the key and the value; anything a
// producer of the main topic could write otherwise (no signature, a made-up
// one, another key's, or a signed header edited) calls every vendor, and
// is counted by reason.
func TestProcessorUnverifiedRestrictionRunsEveryVendor(t *testing.T) {
	t.Parallel()
	all := "[plivo webex exotel clevertap]"
	tests := []struct {
		name   string
		msg    func(t *testing.T) kafka.Message
		keys   *dlq.Keyring
		called string
		rej    dlq.Rejection
	}{
		{"signed", func(t *testing.T) kafka.Message { return replayed(t, testReplayKey, "webex") }, dlq.NewKeyring(testReplayKey), "[webex]", ""},
		{"signed, two vendors", func(t *testing.T) kafka.Message { return replayed(t, testReplayKey, "clevertap", "plivo") }, dlq.NewKeyring(testReplayKey), "[plivo clevertap]", ""},
		{"signed with the previous key during a rotation", func(t *testing.T) kafka.Message { return replayed(t, testOldKey, "webex") }, dlq.NewKeyring(testReplayKey, testOldKey), "[webex]", ""},
		{"unsigned", func(t *testing.T) kafka.Message { return replayed(t, nil, "webex") }, dlq.NewKeyring(testReplayKey), all, dlq.RejectUnsigned},
		{"forged", func(t *testing.T) kafka.Message {
			m := replayed(t, nil, "webex")
			m.Headers = append(m.Headers, kafka.Header{Key: dlq.HeaderOnlyVendorsSignature, Value: []byte("v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")})
			return m
		}, dlq.NewKeyring(testReplayKey), all, dlq.RejectBadSignature},
		{"wrong key", func(t *testing.T) kafka.Message { return replayed(t, testOldKey, "webex") }, dlq.NewKeyring(testReplayKey), all, dlq.RejectBadSignature},
		{"tampered vendor list", func(t *testing.T) kafka.Message {
			return setHeader(replayed(t, testReplayKey, "webex"), dlq.HeaderOnlyVendors, "exotel")
		}, dlq.NewKeyring(testReplayKey), all, dlq.RejectBadSignature},
		{"tampered count", func(t *testing.T) kafka.Message {
			return setHeader(replayed(t, testReplayKey, "webex"), dlq.HeaderReplayCount, "0")
		}, dlq.NewKeyring(testReplayKey), all, dlq.RejectBadSignature},
		{"signed header copied onto another record", func(t *testing.T) kafka.Message {
			m := replayed(t, testReplayKey, "webex")
			m.Key = []byte("someone-else")
			return m
		}, dlq.NewKeyring(testReplayKey), all, dlq.RejectBadSignature},
		{"no key in this daemon", func(t *testing.T) kafka.Message { return replayed(t, testReplayKey, "webex") }, nil, all, dlq.RejectNoKey},
		{"malformed, even signed", func(t *testing.T) kafka.Message { return replayed(t, testReplayKey, "Webex") }, dlq.NewKeyring(testReplayKey), all, dlq.RejectMalformed},
		{"no restriction", func(t *testing.T) kafka.Message { return validRecord(t) }, dlq.NewKeyring(testReplayKey), all, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newRestrictWorld()
			var rej rejections
			w.p.VerifyRestrictions(tc.keys, &rej)
			if called := w.process(t, tc.msg(t)); fmt.Sprint(called) != tc.called {
				t.Errorf("called %v, want %s", called, tc.called)
			}
			want := map[dlq.Rejection]int{}
			if tc.rej != "" {
				want[tc.rej] = 1
			}
			if fmt.Sprint(rej.n) != fmt.Sprint(want) && !(len(rej.n) == 0 && len(want) == 0) {
				t.Errorf("rejections %v, want %v", rej.n, want)
			}
			if n := len(w.dl.records()); n != 0 {
				t.Errorf("%d dead-letter records", n)
			}
		})
	}
}

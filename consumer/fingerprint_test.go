package consumer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/rs/zerolog"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

// loggedUser runs one valid record through p, whose logger writes to buf,
// and returns the "user" field of the line logged for it.
func loggedUser(t *testing.T, newProcessor func(zerolog.Logger) *Processor) string {
	t.Helper()
	var buf bytes.Buffer
	p := newProcessor(zerolog.New(&buf))
	msg := validRecord(t)
	ev, err := p.Decode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Process(context.Background(), msg, ev, nil); err != nil {
		t.Fatal(err)
	}
	var line struct {
		User    string `json:"user"`
		Outcome string `json:"outcome"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil || line.Outcome != string(OutcomeDone) {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	if bytes.Contains(buf.Bytes(), []byte(testUser)) {
		t.Fatalf("the log line names the user: %s", buf.String())
	}
	return line.User
}

// TestLoggedFingerprintIsKeyed: the user field of the per-event log line
// must not be an unkeyed hash of the user id, which anyone holding the
// logs can recompute for guessed ids (a user id was recovered from its
// 64-bit SHA-256 in about a second) — even with no key configured.
func TestLoggedFingerprintIsKeyed(t *testing.T) {
	t.Parallel()
	got := loggedUser(t, func(log zerolog.Logger) *Processor {
		a := &fakeAdapter{name: "a", answer: always(adapters.Deleted, nil)}
		return NewProcessor(vendorsOf(fastRetry(), a), &fakeDLQ{}, event.DecodeOptions{}, log, nil)
	})
	sum := sha256.Sum256([]byte(testUser))
	if got == "" {
		t.Fatal("no user fingerprint logged: lines about one person no longer correlate")
	}
	if got == hex.EncodeToString(sum[:8]) || got == hex.EncodeToString(sum[:]) {
		t.Fatalf("user fingerprint %q is the unkeyed SHA-256 of the user id", got)
	}
}

// TestProcessorFingerprinter: Processors given Fingerprinters with one key
// (replicas sharing log.fingerprint_key) log the same user field; another
// key, or none (a random key per Processor), gives another.
func TestProcessorFingerprinter(t *testing.T) {
	t.Parallel()
	fpr := func(key string) *event.Fingerprinter {
		f, err := event.NewFingerprinter([]byte(key))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	run := func(opts ...ProcessorOption) string {
		return loggedUser(t, func(log zerolog.Logger) *Processor {
			a := &fakeAdapter{name: "a", answer: always(adapters.Deleted, nil)}
			return NewProcessor(vendorsOf(fastRetry(), a), &fakeDLQ{}, event.DecodeOptions{}, log, nil, opts...)
		})
	}
	const key = "a-shared-replica-key-of-32-bytes-or-more"
	replica1 := run(WithFingerprinter(fpr(key)))
	replica2 := run(WithFingerprinter(fpr(key)))
	if replica1 != replica2 || replica1 != fpr(key).Fingerprint(testUser) {
		t.Errorf("replicas with one key log %q and %q, want %q", replica1, replica2, fpr(key).Fingerprint(testUser))
	}
	if other := run(WithFingerprinter(fpr(key + "-rotated"))); other == replica1 {
		t.Errorf("another key logs the same fingerprint %q", other)
	}
	if r1, r2 := run(), run(); r1 == replica1 || r1 == r2 || r1 == "" {
		t.Errorf("without a key: %q and %q (keyed %q); want two different random-key fingerprints", r1, r2, replica1)
	}
}

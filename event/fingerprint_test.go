package event_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/erasured/erasured/event"
)

// unkeyed is the fingerprint erasured used to log: SHA-256 truncated to
// 64 bits, which anyone can recompute for a guessed user id or phone
// number and so reverse by enumeration.
func unkeyed(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

var (
	keyA = []byte("0123456789abcdef0123456789abcdef-replica-key-A")
	keyB = []byte("0123456789abcdef0123456789abcdef-replica-key-B")
)

func mustFingerprinter(t *testing.T, key []byte) *event.Fingerprinter {
	t.Helper()
	f, err := event.NewFingerprinter(key)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFingerprinterKeyed: two instances built from one key (two replicas
// sharing the configured secret) agree, so their logs correlate; another
// key gives other fingerprints; none is the unkeyed hash, or any prefix of
// a plain SHA-256, so a guess cannot be checked without the key.
func TestFingerprinterKeyed(t *testing.T) {
	t.Parallel()
	replica1, replica2 := mustFingerprinter(t, keyA), mustFingerprinter(t, append([]byte(nil), keyA...))
	other := mustFingerprinter(t, keyB)
	seen := map[string]string{}
	for _, id := range []string{"user-000001", "user-000002", "9198765432", "9198765433", "someone@example.com", "x"} {
		fp := replica1.Fingerprint(id)
		if fp == "" || fp != replica2.Fingerprint(id) {
			t.Errorf("%q: replicas with one key disagree: %q, %q", id, fp, replica2.Fingerprint(id))
		}
		if fp == other.Fingerprint(id) {
			t.Errorf("%q: two keys give the same fingerprint %q", id, fp)
		}
		full := sha256.Sum256([]byte(id))
		if fp == unkeyed(id) || strings.HasPrefix(hex.EncodeToString(full[:]), fp) || strings.Contains(fp, id) {
			t.Errorf("%q: fingerprint %q is recomputable without the key", id, fp)
		}
		if prev, dup := seen[fp]; dup {
			t.Errorf("%q and %q share fingerprint %q", prev, id, fp)
		}
		seen[fp] = id
	}
	if got := replica1.Fingerprint(""); got != "" {
		t.Errorf("Fingerprint(\"\") = %q, want \"\"", got)
	}
}

// TestFingerprinterKey refuses keys too short to be secret and never
// prints the key, whatever the verb.
func TestFingerprinterKey(t *testing.T) {
	t.Parallel()
	for _, key := range [][]byte{nil, []byte(""), []byte("short"), make([]byte, event.MinFingerprintKeyBytes-1)} {
		if _, err := event.NewFingerprinter(key); err == nil {
			t.Errorf("NewFingerprinter(%d bytes) accepted", len(key))
		}
	}
	f := mustFingerprinter(t, keyA)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if s := fmt.Sprintf(verb, f); strings.Contains(s, "replica-key") || strings.Contains(s, hex.EncodeToString(keyA[:8])) {
			t.Errorf("%s prints the key: %s", verb, s)
		}
		if s := fmt.Sprintf(verb, *f); strings.Contains(s, "replica-key") || strings.Contains(s, hex.EncodeToString(keyA[:8])) {
			t.Errorf("%s of the value prints the key: %s", verb, s)
		}
	}
}

// TestRandomFingerprinter: without a configured key each process draws
// its own, so fingerprints correlate within a process and nowhere else.
func TestRandomFingerprinter(t *testing.T) {
	t.Parallel()
	a, b := event.RandomFingerprinter(), event.RandomFingerprinter()
	if a.Fingerprint("user-1") != a.Fingerprint("user-1") {
		t.Error("a random fingerprinter is not stable")
	}
	if a.Fingerprint("user-1") == b.Fingerprint("user-1") {
		t.Error("two random fingerprinters agree: the key is not random")
	}
	if a.Fingerprint("user-1") == unkeyed("user-1") {
		t.Error("random fingerprinter gives the unkeyed hash")
	}
	// A nil or zero Fingerprinter logs no fingerprint rather than an
	// unkeyed one.
	var nilF *event.Fingerprinter
	var zero event.Fingerprinter
	if nilF.Fingerprint("user-1") != "" || zero.Fingerprint("user-1") != "" {
		t.Error("a nil or zero Fingerprinter fingerprints")
	}
}

// FuzzFingerprint: any input gives a fixed-length lower-hex token, equal
// for equal inputs and keys, never containing the input.
func FuzzFingerprint(f *testing.F) {
	f.Add("user-000001")
	f.Add("9198765432")
	f.Add("")
	fp, err := event.NewFingerprinter(keyA)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := fp.Fingerprint(s)
		if s == "" {
			if got != "" {
				t.Fatalf("Fingerprint(\"\") = %q", got)
			}
			return
		}
		if len(got) != event.FingerprintHexLen || strings.Trim(got, "0123456789abcdef") != "" {
			t.Fatalf("Fingerprint(%q) = %q, want %d lower-hex characters", s, got, event.FingerprintHexLen)
		}
		if got != fp.Fingerprint(s) || got == unkeyed(s) {
			t.Fatalf("Fingerprint(%q) = %q: unstable or unkeyed", s, got)
		}
		if len(s) >= 4 && strings.Contains(got, s) {
			t.Fatalf("Fingerprint(%q) = %q contains its input", s, got)
		}
	})
}

package event

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// MinFingerprintKeyBytes is the shortest fingerprint key accepted: 256
// bits, the size of HMAC-SHA256's output, so that the key and not its
// length is what an attacker has to guess.
const MinFingerprintKeyBytes = 32

// FingerprintHexLen is the length of a fingerprint: 128 bits in hex.
const FingerprintHexLen = 32

// Fingerprinter turns a personal identifier into a stable token for logs,
// so that the lines about one person correlate without naming them. It is
// HMAC-SHA256 under a secret key, truncated to 128 bits. An unkeyed hash
// would not do: identifiers come from small spaces (user ids, 10-digit
// phone numbers), and anyone reading the logs could hash every candidate
// and find the match. Without the key a fingerprint cannot be recomputed
// from a guess, so it cannot be reversed by enumeration.
//
// Replicas given the same key produce the same fingerprints, so their logs
// correlate; see the daemon's log.fingerprint_key. A Fingerprinter is safe
// for concurrent use. The zero value and nil fingerprint nothing: they
// return "" rather than fall back to an unkeyed hash.
type Fingerprinter struct {
	// A closure rather than the key in a field, so that fmt, whatever
	// the verb, prints a func address and never the key's bytes.
	sum func(s string) []byte
}

// NewFingerprinter returns a Fingerprinter keyed with key, which must be
// at least MinFingerprintKeyBytes long. The error never quotes the key.
func NewFingerprinter(key []byte) (*Fingerprinter, error) {
	if len(key) < MinFingerprintKeyBytes {
		return nil, fmt.Errorf("fingerprint key must be at least %d bytes", MinFingerprintKeyBytes)
	}
	k := append([]byte(nil), key...)
	return &Fingerprinter{sum: func(s string) []byte {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(s))
		return m.Sum(nil)
	}}, nil
}

// RandomFingerprinter returns a Fingerprinter with a key drawn from
// crypto/rand and known to nobody: its fingerprints correlate the lines
// of one process only. It is what a daemon without a configured key uses.
func RandomFingerprinter() *Fingerprinter {
	key := make([]byte, MinFingerprintKeyBytes)
	if _, err := rand.Read(key); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+
		// crashes the program itself if it ever does).
		panic(err)
	}
	f, err := NewFingerprinter(key)
	if err != nil {
		panic(err) // key has the minimum length
	}
	return f
}

// Fingerprint returns s's token, FingerprintHexLen lower-case hex
// characters; "" for an empty s, and from a nil or zero Fingerprinter.
func (f *Fingerprinter) Fingerprint(s string) string {
	if f == nil || f.sum == nil || s == "" {
		return ""
	}
	return hex.EncodeToString(f.sum(s)[:FingerprintHexLen/2])
}

// String keeps the key out of anything that prints a Fingerprinter.
func (f Fingerprinter) String() string { return "event.Fingerprinter" }

// GoString is String, for %#v.
func (f Fingerprinter) GoString() string { return f.String() }

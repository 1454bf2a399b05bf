package dlq

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"
)

// MaxVendorNameBytes bounds a vendor name: it becomes part of a header
// name (erasured-vendor-<name>) and of metric labels.
const MaxVendorNameBytes = 32

// MaxRestrictedVendors bounds how many vendors one restriction may name,
// and so how many not-configured failures a replayed record can add to
// its dead-letter record.
const MaxRestrictedVendors = 16

// ValidVendorName is the one rule for a vendor name, shared by the daemon
// (erasured-only-vendors), replay and inspect (erasured-failed-vendors,
// -vendor): 1 to 32 bytes of lower-case ASCII letters, digits, '-' and
// '_', as every adapter's Name is.
func ValidVendorName(s string) bool {
	if s == "" || len(s) > MaxVendorNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// HeaderOnlyVendorsSignature, on a record in the main topic, carries
// replay's signature of its erasured-only-vendors restriction (see
// Keyring). The daemon honours a restriction only when it verifies.
const HeaderOnlyVendorsSignature = "erasured-only-vendors-signature"

// signatureVersion prefixes a signature, so that the scheme can change
// without a new header.
const signatureVersion = "v1."

// Rejection says why the daemon did not honour a record's vendor
// restriction; it is a metric label.
type Rejection string

const (
	// RejectMalformed: the restriction, its signature or the replay count
	// is not what replay writes: a name outside ValidVendorName, an
	// empty or repeated item, more than MaxRestrictedVendors names, a
	// header given twice.
	RejectMalformed Rejection = "malformed"
	// RejectNoKey: this daemon has no replay.signing_key, so it can
	// verify nothing.
	RejectNoKey Rejection = "no_key"
	// RejectUnsigned: the restriction carries no signature.
	RejectUnsigned Rejection = "unsigned"
	// RejectBadSignature: the signature verifies with none of the keys:
	// forged, signed with another key, or the event, vendor list,
	// replay count, key or value changed since replay signed it.
	RejectBadSignature Rejection = "bad_signature"
)

// Rejections lists every Rejection, for metrics.
var Rejections = []Rejection{RejectMalformed, RejectNoKey, RejectUnsigned, RejectBadSignature}

// Restriction is what a signature covers: the event, the vendors it is
// restricted to, how often it was replayed, and the record's key and
// value, so that a signed header copied onto another record (another
// event, or the same event id with another person) does not verify.
type Restriction struct {
	EventID     string
	ReplayCount int
	Vendors     []string
	Key, Value  []byte
}

// Keyring signs restrictions with its first key and verifies them with
// any of its keys, so that a key can be rotated without rejecting the
// restrictions signed with the previous one. The zero or nil Keyring
// signs and verifies nothing.
type Keyring struct {
	keys [][]byte
}

// NewKeyring returns a keyring signing with signing and verifying with it
// and every previous key. It returns nil when signing is empty.
func NewKeyring(signing []byte, previous ...[]byte) *Keyring {
	if len(signing) == 0 {
		return nil
	}
	k := &Keyring{keys: [][]byte{append([]byte(nil), signing...)}}
	for _, p := range previous {
		if len(p) > 0 {
			k.keys = append(k.keys, append([]byte(nil), p...))
		}
	}
	return k
}

// String keeps the keys out of anything that prints a configuration.
func (k *Keyring) String() string {
	if k == nil {
		return "none"
	}
	return fmt.Sprintf("%d key(s), redacted", len(k.keys))
}

// GoString redacts, as String.
func (k *Keyring) GoString() string { return k.String() }

// Sign returns the signature of r with the signing key, or "" for a nil
// keyring.
func (k *Keyring) Sign(r *Restriction) string {
	if k == nil || len(k.keys) == 0 {
		return ""
	}
	return signatureVersion + base64.RawURLEncoding.EncodeToString(mac(k.keys[0], r))
}

// Verify reports whether sig is r's signature under one of the keys. Each
// comparison takes constant time.
func (k *Keyring) Verify(r *Restriction, sig string) bool {
	if k == nil {
		return false
	}
	enc, ok := strings.CutPrefix(sig, signatureVersion)
	if !ok {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok = false
	for _, key := range k.keys {
		// Every key is tried, matched or not: the time taken does not say
		// which key, if any, matched.
		if hmac.Equal(mac(key, r), got) {
			ok = true
		}
	}
	return ok
}

// mac is HMAC-SHA256 over r's canonical encoding: a domain tag, then each
// field as a 4-byte big-endian length and its bytes (the replay count and
// the number of vendors as 8 and 4 big-endian bytes), so that no two
// different restrictions encode alike ("a,b"+"c" against "a"+"b,c").
func mac(key []byte, r *Restriction) []byte {
	h := hmac.New(sha256.New, key)
	field(h, []byte("erasured-only-vendors/v1"))
	field(h, []byte(r.EventID))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(r.ReplayCount))
	h.Write(n[:])
	binary.BigEndian.PutUint32(n[:4], uint32(len(r.Vendors)))
	h.Write(n[:4])
	for _, v := range r.Vendors {
		field(h, []byte(v))
	}
	field(h, r.Key)
	field(h, r.Value)
	return h.Sum(nil)
}

func field(h hash.Hash, b []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// ParseOnlyVendors reads an erasured-only-vendors value strictly: names
// separated by single commas, each a ValidVendorName, none repeated, at
// most MaxRestrictedVendors. Anything else is not a restriction replay
// writes, and ok is false.
func ParseOnlyVendors(v string) (vendors []string, ok bool) {
	parts := strings.Split(v, ",")
	if len(parts) > MaxRestrictedVendors {
		return nil, false
	}
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		if !ValidVendorName(p) || seen[p] {
			return nil, false
		}
		seen[p] = true
	}
	return parts, true
}

// CheckRestriction decides what a record's vendor restriction asks for.
// With no erasured-only-vendors header it returns nil, "": every vendor
// applies. With one that k verifies for eventID (the decoded event's id)
// and the record's key, value and replay count, it returns the vendors.
// Otherwise it returns nil and why the restriction is not honoured; the
// caller then runs every vendor: deletes are idempotent, so ignoring a
// restriction costs calls, never a deletion.
func CheckRestriction(msg kafka.Message, eventID string, k *Keyring) ([]string, Rejection) {
	only, n := headerValues(msg.Headers, HeaderOnlyVendors)
	if n == 0 {
		return nil, ""
	}
	sig, nsig := headerValues(msg.Headers, HeaderOnlyVendorsSignature)
	count, ncount := headerValues(msg.Headers, HeaderReplayCount)
	vendors, ok := ParseOnlyVendors(only)
	if !ok || n > 1 || nsig > 1 || ncount > 1 {
		return nil, RejectMalformed
	}
	replays := 0
	if ncount == 1 {
		c, err := strconv.Atoi(count)
		if err != nil || c < 0 || c > 1<<20 || strconv.Itoa(c) != count {
			return nil, RejectMalformed
		}
		replays = c
	}
	switch {
	case k == nil:
		return nil, RejectNoKey
	case nsig == 0:
		return nil, RejectUnsigned
	case ncount == 0:
		// Replay always writes the count; a restriction without one was
		// not written by replay.
		return nil, RejectBadSignature
	}
	r := Restriction{EventID: eventID, ReplayCount: replays, Vendors: vendors, Key: msg.Key, Value: msg.Value}
	if !k.Verify(&r, sig) {
		return nil, RejectBadSignature
	}
	return vendors, ""
}

// headerValues returns the last value of the headers named key and how
// many there are.
func headerValues(hs []kafka.Header, key string) (string, int) {
	v, n := "", 0
	for _, h := range hs {
		if h.Key == key {
			v, n = string(h.Value), n+1
		}
	}
	return v, n
}

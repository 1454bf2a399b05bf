package consumer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ParkedIndex says which users have a part parked at a vendor, so that
// their later parts there are parked behind it (retrytopic.ReasonBehind)
// and never run ahead. Users are named by retrytopic.UserKey. The index
// counts parked records: the main flow calls Add once per record it
// parks (and once per unfinished record it reads back at startup); a
// vendor's retry worker calls Done once per parked record that became
// final (deleted, absent, not applicable, or dead-lettered on giving up),
// not when it reschedules one; a user is parked while the count is above
// zero. The worker calls Drained when its retry topic holds nothing
// unfinished, which also ends an overflow. Safe for concurrent use.
type ParkedIndex interface {
	// Parked reports whether user may have a part parked at vendor.
	Parked(vendor, user string) bool
	// Add records one more record parked for user at vendor.
	Add(vendor, user string)
	// Done records that one of user's parked records at vendor is final.
	Done(vendor, user string)
	// Drained records that vendor's retry topic holds nothing
	// unfinished: no user has a part parked there.
	Drained(vendor string)
}

// DefaultParkedIndexCap bounds the users Index keeps per vendor: 16 bytes
// and a map slot each, a few MiB per vendor at the cap.
const DefaultParkedIndexCap = 200_000

// Index is the in-memory ParkedIndex. It keeps no identifier: each user
// is a 128-bit HMAC-SHA256 of its key under a key drawn per process.
// Memory is bounded by a cap per vendor; past it, the index no longer
// knows which users are parked, so it answers Parked true for every user
// of that vendor (every part there parks behind, conservatively: order
// holds, nothing is lost, the retry worker drains them) until Drained.
type Index struct {
	key []byte
	cap int
	log zerolog.Logger

	mu      sync.Mutex
	vendors map[string]*vendorIndex
}

type vendorIndex struct {
	users      map[[16]byte]uint32
	overflowed bool
	overflows  uint64
}

// NewIndex returns an Index for vendors, holding at most capPerVendor
// users per vendor (DefaultParkedIndexCap when capPerVendor < 1).
func NewIndex(vendors []string, capPerVendor int, log zerolog.Logger) *Index {
	if capPerVendor < 1 {
		capPerVendor = DefaultParkedIndexCap
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	ix := &Index{key: key, cap: capPerVendor, log: log, vendors: map[string]*vendorIndex{}}
	for _, v := range vendors {
		ix.vendors[v] = &vendorIndex{users: map[[16]byte]uint32{}}
	}
	return ix
}

func (ix *Index) hash(user string) [16]byte {
	m := hmac.New(sha256.New, ix.key)
	m.Write([]byte(user))
	var out [16]byte
	copy(out[:], m.Sum(nil))
	return out
}

func (ix *Index) vendor(v string) *vendorIndex {
	vi := ix.vendors[v]
	if vi == nil {
		vi = &vendorIndex{users: map[[16]byte]uint32{}}
		ix.vendors[v] = vi
	}
	return vi
}

// Parked implements ParkedIndex.
func (ix *Index) Parked(vendor, user string) bool {
	h := ix.hash(user)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vi := ix.vendor(vendor)
	if vi.overflowed {
		return true
	}
	_, ok := vi.users[h]
	return ok
}

// Add implements ParkedIndex.
func (ix *Index) Add(vendor, user string) {
	h := ix.hash(user)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vi := ix.vendor(vendor)
	if vi.overflowed {
		return
	}
	if n, ok := vi.users[h]; ok {
		if n < ^uint32(0) {
			vi.users[h] = n + 1
		}
		return
	}
	if len(vi.users) >= ix.cap {
		vi.overflowed = true
		vi.overflows++
		vi.users = map[[16]byte]uint32{}
		ix.log.Warn().Str("vendor", vendor).Int("cap", ix.cap).
			Msg("parked-user index full: every later part for this vendor parks behind until its retry topic is drained")
		return
	}
	vi.users[h] = 1
}

// Done implements ParkedIndex.
func (ix *Index) Done(vendor, user string) {
	h := ix.hash(user)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vi := ix.vendor(vendor)
	if n := vi.users[h]; n > 1 {
		vi.users[h] = n - 1
	} else {
		delete(vi.users, h)
	}
}

// Drained implements ParkedIndex.
func (ix *Index) Drained(vendor string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vi := ix.vendor(vendor)
	if vi.overflowed {
		ix.log.Info().Str("vendor", vendor).Msg("parked-user index tracks users again: the retry topic is drained")
	}
	vi.overflowed = false
	vi.users = map[[16]byte]uint32{}
}

// IndexStats is one vendor's index, for metrics.
type IndexStats struct {
	Users      int
	Overflowed bool
	Overflows  uint64
}

// Stats returns vendor's counts.
func (ix *Index) Stats(vendor string) IndexStats {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vi := ix.vendor(vendor)
	return IndexStats{Users: len(vi.users), Overflowed: vi.overflowed, Overflows: vi.overflows}
}

// Register exports erasured_parked_index_users{vendor} and
// erasured_parked_index_overflowed{vendor} (1 while every part parks
// behind) for vendors.
func (ix *Index) Register(reg prometheus.Registerer, vendors []string) {
	for _, v := range vendors {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "erasured_parked_index_users",
			Help:        "Users this process knows to have a part parked at the vendor (their later parts park behind).",
			ConstLabels: prometheus.Labels{"vendor": v},
		}, func() float64 { return float64(ix.Stats(v).Users) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "erasured_parked_index_overflowed",
			Help:        "1 while the parked-user index is past its cap for the vendor: every part there parks behind until the retry topic drains.",
			ConstLabels: prometheus.Labels{"vendor": v},
		}, func() float64 {
			if ix.Stats(v).Overflowed {
				return 1
			}
			return 0
		}))
	}
}

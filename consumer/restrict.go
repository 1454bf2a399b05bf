package consumer

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// RestrictionObserver hears about vendor restrictions not honoured, for
// metrics.
type RestrictionObserver interface {
	RestrictionRejected(reason dlq.Rejection)
}

type restrictionCheck struct {
	keys     *dlq.Keyring
	observer RestrictionObserver
}

// VerifyRestrictions sets the keys replay's erasured-only-vendors
// restrictions must be signed with; o (may be nil) counts the ones not
// honoured. Without keys (the default) no restriction is honoured: every
// replayed record goes to every configured vendor. Call it before
// Process.
func (p *Processor) VerifyRestrictions(keys *dlq.Keyring, o RestrictionObserver) {
	p.restrictions = restrictionCheck{keys: keys, observer: o}
}

// selectVendors honours a replay's vendor restriction when its signature
// verifies. It returns the configured vendors the record asks for, and
// the names it asks for that no configured vendor has. A restriction that
// is malformed or does not verify restricts nothing: every configured
// vendor is called, as deletes are idempotent, and it is counted and
// logged, without its values. Dropping only the names that do not look
// right used to leave no vendor at all, and the event finished as done
// with nothing deleted.
func (p *Processor) selectVendors(msg kafka.Message, ev *event.UserDeleted) ([]Vendor, []string) {
	only, rej := dlq.CheckRestriction(msg, ev.EventID, p.restrictions.keys)
	if rej != "" {
		if o := p.restrictions.observer; o != nil {
			o.RestrictionRejected(rej)
		}
		p.log.Warn().Str("reason", string(rej)).Int("partition", msg.Partition).Int64("offset", msg.Offset).
			Msg("erasured-only-vendors restriction not honoured; calling every configured vendor")
		return p.vendors, nil
	}
	if only == nil {
		return p.vendors, nil
	}
	want := make(map[string]bool, len(only))
	for _, n := range only {
		want[n] = true
	}
	out := make([]Vendor, 0, len(only))
	for _, v := range p.vendors {
		if want[v.Adapter.Name()] {
			out = append(out, v)
			delete(want, v.Adapter.Name())
		}
	}
	var missing []string
	for n := range want {
		missing = append(missing, n)
	}
	sort.Strings(missing)
	return out, missing
}

// RestrictionMetrics counts vendor restrictions not honoured, by reason.
type RestrictionMetrics struct {
	rejected *prometheus.CounterVec
}

// NewRestrictionMetrics registers erasured_replay_restriction_rejected_total
// with reg, every reason at 0.
func NewRestrictionMetrics(reg prometheus.Registerer) *RestrictionMetrics {
	m := &RestrictionMetrics{rejected: promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "erasured_replay_restriction_rejected_total",
		Help: "Records whose erasured-only-vendors restriction was not honoured (every vendor was called instead), by reason: malformed, no_key, unsigned, bad_signature.",
	}, []string{"reason"})}
	for _, r := range dlq.Rejections {
		m.rejected.WithLabelValues(string(r))
	}
	return m
}

// RestrictionRejected implements RestrictionObserver.
func (m *RestrictionMetrics) RestrictionRejected(r dlq.Rejection) {
	m.rejected.WithLabelValues(string(r)).Inc()
}

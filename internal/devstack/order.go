package devstack

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// OrderRecorder records, per Plivo profile, the order of its first request,
// so per-user order can be checked after a run: one user's events must
// reach a vendor in offset order. Redeliveries repeat calls but never
// change first calls. Use its Wrap as Options.Wrap.
type OrderRecorder struct {
	mu    sync.Mutex
	n     int
	order map[string]int
}

// NewOrderRecorder returns an empty recorder.
func NewOrderRecorder() *OrderRecorder { return &OrderRecorder{order: map[string]int{}} }

// Wrap records Plivo requests; other vendors pass through.
func (o *OrderRecorder) Wrap(vendor string, h http.Handler) http.Handler {
	if vendor != "plivo" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /v1/Account/{auth_id}/Profile/{uuid}/
		if parts := strings.Split(r.URL.Path, "/"); len(parts) > 5 {
			o.mu.Lock()
			if _, ok := o.order[parts[5]]; !ok {
				o.order[parts[5]] = o.n
				o.n++
			}
			o.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// Check returns how many events it checked and an error naming the first
// user whose events first reached Plivo out of offset order. Checking
// nothing is an error: it would prove nothing.
func (o *OrderRecorder) Check(w *Workload) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	last := map[string]int{}
	checked := 0
	for _, ev := range w.Events {
		id := ev.Identifiers["plivo_profile_uuid"]
		pos, ok := o.order[id]
		if !ok || id == PrimaryProfile {
			continue
		}
		if prev, seen := last[ev.UserID]; seen && pos < prev {
			return checked, fmt.Errorf("user %s: event %s reached the vendor before an earlier event of the same user", ev.UserID, ev.EventID)
		}
		last[ev.UserID] = pos
		checked++
	}
	if checked == 0 {
		return 0, fmt.Errorf("no calls recorded; the order check would be vacuous")
	}
	return checked, nil
}

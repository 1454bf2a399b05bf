package sandbox

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

func decideN(c *Chaos, n int) []Fault {
	out := make([]Fault, n)
	for i := range out {
		out[i] = c.Decide(context.Background(), nil)
	}
	return out
}

func kinds(fs []Fault) []FaultKind {
	out := make([]FaultKind, len(fs))
	for i, f := range fs {
		out[i] = f.Kind
	}
	return out
}

func TestChaosZeroKnobsIsHealthy(t *testing.T) {
	t.Parallel()
	for i, f := range decideN(NewChaos(Knobs{}), 100) {
		if f.Kind != FaultNone || f.RetryAfter != 0 || f.Name != "" {
			t.Fatalf("request %d: fault %+v from a healthy vendor", i, f)
		}
	}
}

func TestChaosForce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		knobs Knobs
		want  []FaultKind
	}{
		{"count limits the fault", Knobs{Force: "503", ForceCount: 2},
			[]FaultKind{FaultForced, FaultForced, FaultNone, FaultNone}},
		{"no count forces every request", Knobs{Force: "primary"},
			[]FaultKind{FaultForced, FaultForced, FaultForced, FaultForced, FaultForced}},
		{"negative count is unlimited", Knobs{Force: "500", ForceCount: -1},
			[]FaultKind{FaultForced, FaultForced, FaultForced}},
		// Forced faults come before the throttle, the throttle before
		// random failures: the admitted request fails, the next is
		// throttled.
		{"before throttle and failures", Knobs{Force: "401", ForceCount: 3, ThrottleRPS: 0.001, FailureRate: 1},
			[]FaultKind{FaultForced, FaultForced, FaultForced, FaultFailure, FaultThrottle}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := decideN(NewChaos(tc.knobs), len(tc.want))
			for i, f := range got {
				if f.Kind != tc.want[i] {
					t.Fatalf("kinds = %v, want %v", kinds(got), tc.want)
				}
				if f.Kind == FaultForced && f.Name != tc.knobs.Force {
					t.Errorf("forced fault named %q, want %q", f.Name, tc.knobs.Force)
				}
			}
		})
	}
}

func TestChaosForceCountConcurrent(t *testing.T) {
	t.Parallel()
	c := NewChaos(Knobs{Force: "500", ForceCount: 10})
	var mu sync.Mutex
	forced := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Decide(context.Background(), nil).Kind == FaultForced {
				mu.Lock()
				forced++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if forced != 10 {
		t.Errorf("%d requests forced, want exactly ForceCount 10", forced)
	}
}

func TestChaosThrottle(t *testing.T) {
	t.Parallel()
	// Below 1 RPS the burst is 1 and the next token is far away.
	c := NewChaos(Knobs{ThrottleRPS: 0.001})
	got := decideN(c, 3)
	if got[0].Kind != FaultNone {
		t.Fatalf("first request = %+v, want admitted", got[0])
	}
	for _, f := range got[1:] {
		if f.Kind != FaultThrottle || f.RetryAfter <= 0 {
			t.Fatalf("over-limit request = %+v, want FaultThrottle with RetryAfter > 0", f)
		}
		// About 1000s; a client honouring it would be admitted.
		if f.RetryAfter < 900*time.Second || f.RetryAfter > 1000*time.Second {
			t.Errorf("RetryAfter = %s, want about 1000s", f.RetryAfter)
		}
	}
	// A throttled request does not consume a token: the wait does not grow.
	if got[2].RetryAfter > got[1].RetryAfter {
		t.Errorf("RetryAfter grew from %s to %s", got[1].RetryAfter, got[2].RetryAfter)
	}
}

func TestChaosThrottleAdmitsBurst(t *testing.T) {
	t.Parallel()
	const rps = 5
	c := NewChaos(Knobs{ThrottleRPS: rps})
	for i, f := range decideN(c, rps) {
		if f.Kind != FaultNone {
			t.Fatalf("request %d of the burst = %+v, want admitted", i, f)
		}
	}
	// Tokens come back at 5/s; a tight loop outruns them long before 1000.
	for i := range 1000 {
		if f := c.Decide(context.Background(), nil); f.Kind == FaultThrottle {
			if f.RetryAfter <= 0 {
				t.Fatalf("throttled with RetryAfter %s", f.RetryAfter)
			}
			return
		}
		_ = i
	}
	t.Fatal("never throttled")
}

func TestChaosFailureRate(t *testing.T) {
	t.Parallel()
	count := func(rate float64) (failures int) {
		for _, f := range decideN(NewChaos(Knobs{FailureRate: rate}), 200) {
			switch f.Kind {
			case FaultFailure:
				failures++
			case FaultNone:
			default:
				t.Fatalf("unexpected fault %+v", f)
			}
		}
		return failures
	}
	if n := count(1); n != 200 {
		t.Errorf("FailureRate 1: %d/200 failures", n)
	}
	if n := count(0); n != 0 {
		t.Errorf("FailureRate 0: %d/200 failures", n)
	}
	// The generator is seeded, so this is deterministic.
	if n := count(0.5); n == 0 || n == 200 {
		t.Errorf("FailureRate 0.5: %d/200 failures, want some but not all", n)
	}
}

func TestChaosLatencyRespectsContext(t *testing.T) {
	t.Parallel()
	c := NewChaos(Knobs{Latency: time.Hour, Jitter: time.Hour, Force: "500"})

	// Already cancelled: returns at once (a bug here hangs the test),
	// and the vendor's state still decides: a down vendor (forced 500)
	// answers as down, so a request its client gave up on deletes
	// nothing. It answered FaultNone before, and a forced-down sandbox
	// deleted what cancelled requests asked for.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if f := c.Decide(ctx, nil); f.Kind != FaultForced {
		t.Errorf("cancelled Decide = %+v, want the forced fault", f)
	}

	// Cancelled while waiting.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(10*time.Millisecond, cancel)
	if f := c.Decide(ctx, nil); f.Kind != FaultForced {
		t.Errorf("Decide cancelled mid-wait = %+v, want the forced fault", f)
	}

	// A short latency is waited out and the fault then applies.
	c.Set(Knobs{Latency: time.Millisecond, Jitter: time.Millisecond, Force: "500"})
	if f := c.Decide(context.Background(), nil); f.Kind != FaultForced {
		t.Errorf("Decide after latency = %+v, want the forced fault", f)
	}
}

func TestChaosSetResets(t *testing.T) {
	t.Parallel()
	k := Knobs{Force: "503", ForceCount: 1}
	c := NewChaos(k)
	if got := kinds(decideN(c, 2)); got[0] != FaultForced || got[1] != FaultNone {
		t.Fatalf("kinds = %v", got)
	}
	c.Set(k)
	if got := kinds(decideN(c, 2)); got[0] != FaultForced || got[1] != FaultNone {
		t.Fatalf("after Set, kinds = %v; the forced count must restart", got)
	}

	c.Set(Knobs{ThrottleRPS: 0.001})
	if got := kinds(decideN(c, 2)); got[0] != FaultNone || got[1] != FaultThrottle {
		t.Fatalf("throttle kinds = %v", got)
	}
	c.Set(Knobs{ThrottleRPS: 0.001})
	if f := c.Decide(context.Background(), nil); f.Kind != FaultNone {
		t.Fatalf("after Set, %+v; the limiter must start full", f)
	}
	c.Set(Knobs{})
	if got := kinds(decideN(c, 5)); got[4] != FaultNone {
		t.Fatalf("healthy again, kinds = %v", got)
	}
	if c.Knobs() != (Knobs{}) {
		t.Errorf("Knobs() = %+v after Set(Knobs{})", c.Knobs())
	}
	c.Set(Knobs{Force: "x", FailureRate: 0.25})
	if got := c.Knobs(); got.Force != "x" || got.FailureRate != 0.25 {
		t.Errorf("Knobs() = %+v", got)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "1"},
		{0, "1"},
		{time.Nanosecond, "1"},
		{999 * time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{1500 * time.Millisecond, "2"},
		{2 * time.Second, "2"},
		{90 * time.Second, "90"},
		{time.Hour, "3600"},
	}
	for _, tc := range tests {
		if got := RetryAfterSeconds(tc.d); got != tc.want {
			t.Errorf("RetryAfterSeconds(%s) = %q, want %q", tc.d, got, tc.want)
		}
		// Never less than asked: a client that honours it is admitted.
		n, _ := strconv.Atoi(RetryAfterSeconds(tc.d))
		if time.Duration(n)*time.Second < tc.d {
			t.Errorf("RetryAfterSeconds(%s) = %d s, shorter than asked", tc.d, n)
		}
	}
}

func TestLedgerProfiles(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	l.SeedAbsent("gone", "gone2")

	if !l.Delete("a") {
		t.Error("first Delete(a) = false; a profile exists until deleted")
	}
	if l.Delete("a") {
		t.Error("second Delete(a) = true; a repeat must find nothing")
	}
	if !l.Deleted("a") {
		t.Error("Deleted(a) = false")
	}
	if l.Delete("gone") || l.Deleted("gone") {
		t.Error("a profile seeded absent was deleted")
	}
	if l.Deleted("never") {
		t.Error("Deleted(never) = true")
	}
	if !l.Delete("b") {
		t.Error("Delete(b) = false")
	}
	if n := l.DeletedCount(); n != 2 {
		t.Errorf("DeletedCount = %d, want 2", n)
	}

	l.Called("a")
	l.Called("a")
	l.Called("gone")
	if l.Calls("a") != 2 || l.Calls("gone") != 1 || l.Calls("b") != 0 {
		t.Errorf("Calls = a:%d gone:%d b:%d, want 2, 1, 0", l.Calls("a"), l.Calls("gone"), l.Calls("b"))
	}
	// Calls and deletes are not answers.
	if n := l.Requests(); n != 0 {
		t.Errorf("Requests = %d before any answer", n)
	}
}

func TestLedgerConcurrentDelete(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Called("p")
			if l.Delete("p") {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 || l.Calls("p") != 32 {
		t.Errorf("%d deletes succeeded, %d calls; want 1 and 32", wins, l.Calls("p"))
	}
}

func TestLedgerStatusRecorder(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/explicit":
			w.WriteHeader(http.StatusNotFound)
			w.WriteHeader(http.StatusInternalServerError) // ignored, as by net/http
			_, _ = w.Write([]byte("x"))
		case "/implicit":
			_, _ = w.Write([]byte("ok"))
		case "/json":
			WriteJSON(w, http.StatusTooManyRequests, []byte(`{"error":"slow down"}`))
		}
	})
	serve := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(l.StatusRecorder(rec), httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	if rec := serve("/explicit"); rec.Code != http.StatusNotFound {
		t.Errorf("/explicit code %d", rec.Code)
	}
	if rec := serve("/implicit"); rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Errorf("/implicit code %d body %q", rec.Code, rec.Body)
	}
	rec := serve("/json")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != `{"error":"slow down"}` {
		t.Errorf("WriteJSON: code %d, type %q, body %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	serve("/implicit")

	want := map[int]int{404: 1, 200: 2, 429: 1}
	got := l.Statuses()
	if len(got) != len(want) {
		t.Errorf("Statuses = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Statuses = %v, want %v", got, want)
		}
	}
	if n := l.Requests(); n != 4 {
		t.Errorf("Requests = %d, want 4", n)
	}
	got[404] = 100
	if l.Statuses()[404] != 1 {
		t.Error("Statuses returned the ledger's own map")
	}
}

func TestLedgerObserve(t *testing.T) {
	t.Parallel()
	l := NewLedger()
	l.SeedAbsent("gone")
	type seen struct {
		id      string
		deleted bool
	}
	var mu sync.Mutex
	var got []seen
	l.Observe(func(id string, deleted bool) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{id, deleted})
	})
	l.Called("a")
	l.Delete("a")
	l.Delete("a")    // already deleted: not a deletion
	l.Delete("gone") // never there: not a deletion
	l.Observe(nil)
	l.Called("b")
	l.Delete("b")
	want := []seen{{"a", false}, {"a", true}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("observed %v, want %v", got, want)
	}
}

// TestForcedStatus: the one reading of a forced fault named by a status,
// which every vendor's sandbox shares.
func TestForcedStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name       string
		lo         int
		status     int
		ok         bool
		retryAfter string
	}{
		{"503", 400, 503, true, "1"},
		{"429", 400, 429, true, "1"},
		{"500", 400, 500, true, ""},
		{"404", 400, 404, true, ""},
		{"204", 400, 0, false, ""},
		{"204", 200, 204, true, ""},
		{"600", 200, 0, false, ""},
		{"0503", 400, 0, false, ""},
		{"+503", 400, 0, false, ""},
		{"primary", 200, 0, false, ""},
		{"", 200, 0, false, ""},
	} {
		h := http.Header{}
		status, ok := ForcedStatus(c.name, c.lo, h)
		if status != c.status || ok != c.ok || h.Get("Retry-After") != c.retryAfter {
			t.Errorf("ForcedStatus(%q, %d) = %d, %v, Retry-After %q; want %d, %v, %q", c.name, c.lo, status, ok, h.Get("Retry-After"), c.status, c.ok, c.retryAfter)
		}
	}
}

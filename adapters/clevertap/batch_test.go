package clevertap

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

func batchConfig(url string, size int, wait time.Duration) Config {
	cfg := validConfig(url)
	cfg.BatchSize, cfg.BatchWait = size, wait
	return cfg
}

// deleteAll runs one Delete per id concurrently and returns each result.
func deleteAll(ctx context.Context, a *Adapter, ids []string) ([]adapters.Outcome, []error) {
	outs := make([]adapters.Outcome, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = a.Delete(ctx, identityEvent(id))
		}()
	}
	wg.Wait()
	return outs, errs
}

func TestBatchingCoalescesConcurrentDeletes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n, size int
	}{
		{1, 100}, {100, 100}, {250, 100}, {7, 3},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d deletes in batches of %d", tc.n, tc.size), func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			// A long wait: only a full batch (or the last) goes early,
			// so the request count is exact.
			a := newAdapter(t, batchConfig(srv.URL, tc.size, time.Second), srv.Client())
			ids := make([]string, tc.n)
			for i := range ids {
				ids[i] = fmt.Sprintf("ct-%04d", i)
			}
			outs, errs := deleteAll(context.Background(), a, ids)
			for i := range ids {
				if outs[i] != adapters.Deleted || errs[i] != nil {
					t.Fatalf("delete %d: %v, %v", i, outs[i], errs[i])
				}
				if !sb.Ledger.Deleted(ids[i]) || sb.Ledger.Calls(ids[i]) != 1 {
					t.Errorf("%s: deleted %v, named in %d requests", ids[i], sb.Ledger.Deleted(ids[i]), sb.Ledger.Calls(ids[i]))
				}
			}
			if got, want := sb.Ledger.Requests(), (tc.n+tc.size-1)/tc.size; got != want {
				t.Errorf("%d requests, want ceil(%d/%d) = %d", got, tc.n, tc.size, want)
			}
		})
	}
}

func TestBatchFailureAppliesToEveryMember(t *testing.T) {
	t.Parallel()
	for _, force := range []string{"503", "body:401"} {
		t.Run(force, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{Force: force, ForceCount: 1})
			a := newAdapter(t, batchConfig(srv.URL, 5, time.Second), srv.Client())
			ids := []string{"f-1", "f-2", "f-3", "f-4", "f-5"}
			outs, errs := deleteAll(context.Background(), a, ids)
			for i := range ids {
				if outs[i] != adapters.Failed || errs[i] == nil {
					t.Fatalf("member %d: %v, %v; want the batch's failure", i, outs[i], errs[i])
				}
				assertNoLeak(t, errs[i], append(ids, testPasscode)...)
			}
			if sb.Ledger.Requests() != 1 {
				t.Errorf("%d requests, want 1", sb.Ledger.Requests())
			}
		})
	}
}

func TestBatchInvalidIDFailsAlone(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	a := newAdapter(t, batchConfig(srv.URL, 3, time.Second), srv.Client())
	ids := []string{"good-1", "bad\xff\xfe", "good-2", "good-3"}
	outs, errs := deleteAll(context.Background(), a, ids)
	if outs[1] != adapters.Failed || adapters.ErrorClass(errs[1]) != adapters.ClassInvalidIdentifier {
		t.Errorf("invalid id: %v, %v; want invalid_identifier", outs[1], errs[1])
	}
	for _, i := range []int{0, 2, 3} {
		if outs[i] != adapters.Deleted || errs[i] != nil || !sb.Ledger.Deleted(ids[i]) {
			t.Errorf("%s: %v, %v", ids[i], outs[i], errs[i])
		}
	}
	if sb.Ledger.Requests() != 1 {
		t.Errorf("%d requests, want the three valid ids in one", sb.Ledger.Requests())
	}
}

// gate holds every request until released, so a test can act while a
// batch is gathering or in flight.
type gate struct {
	arrived chan struct{}
	release chan struct{}
	h       http.Handler
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.arrived <- struct{}{}
	<-g.release
	g.h.ServeHTTP(w, r)
}

func TestBatchMemberLeaves(t *testing.T) {
	t.Parallel()

	t.Run("before the batch goes: its id is dropped, the others are deleted", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		a := newAdapter(t, batchConfig(srv.URL, 3, MaxBatchWait), srv.Client())
		stayed := make(chan error, 1)
		go func() {
			out, err := a.Delete(context.Background(), identityEvent("stayer"))
			if err == nil && out != adapters.Deleted {
				err = fmt.Errorf("outcome %v", out)
			}
			stayed <- err
		}()
		waitWaiting(t, a, 1)
		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan error, 1)
		go func() {
			_, err := a.Delete(ctx, identityEvent("leaver"))
			left <- err
		}()
		waitWaiting(t, a, 2)
		cancel()
		if err := <-left; !errors.Is(err, context.Canceled) {
			t.Fatalf("leaver got %v, want its context's error", err)
		}
		// Two more fill the batch: the leaver's place is free again.
		outs, errs := deleteAll(context.Background(), a, []string{"s-1", "s-2"})
		for i := range outs {
			if outs[i] != adapters.Deleted || errs[i] != nil {
				t.Errorf("joiner %d: %v, %v", i, outs[i], errs[i])
			}
		}
		if err := <-stayed; err != nil {
			t.Errorf("stayer: %v", err)
		}
		if sb.Ledger.Calls("leaver") != 0 {
			t.Error("the id of a member who left was sent")
		}
		if sb.Ledger.Requests() != 1 {
			t.Errorf("%d requests, want 1", sb.Ledger.Requests())
		}
	})

	t.Run("while the request runs: the others get the answer", func(t *testing.T) {
		t.Parallel()
		sb := NewSandbox(testAccount, testPasscode, sandbox.Knobs{})
		g := &gate{arrived: make(chan struct{}, 1), release: make(chan struct{}), h: sb}
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		a := newAdapter(t, batchConfig(srv.URL, 2, MaxBatchWait), srv.Client())
		ctx, cancel := context.WithCancel(context.Background())
		left := make(chan error, 1)
		stayed := make(chan error, 1)
		go func() { _, err := a.Delete(ctx, identityEvent("m-1")); left <- err }()
		go func() {
			out, err := a.Delete(context.Background(), identityEvent("m-2"))
			if err == nil && out != adapters.Deleted {
				err = fmt.Errorf("outcome %v", out)
			}
			stayed <- err
		}()
		<-g.arrived
		cancel()
		if err := <-left; !errors.Is(err, context.Canceled) {
			t.Errorf("leaver got %v", err)
		}
		close(g.release)
		if err := <-stayed; err != nil {
			t.Errorf("stayer: %v", err)
		}
	})

	t.Run("everyone leaves: nothing is sent", func(t *testing.T) {
		t.Parallel()
		sb, srv := startSandbox(t, sandbox.Knobs{})
		a := newAdapter(t, batchConfig(srv.URL, 10, 50*time.Millisecond), srv.Client())
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		outs, errs := deleteAll(ctx, a, []string{"g-1", "g-2"})
		for i := range outs {
			if outs[i] != adapters.Failed || !errors.Is(errs[i], context.Canceled) {
				t.Errorf("member %d: %v, %v", i, outs[i], errs[i])
			}
		}
		// The abandoned batch is not sent; a later delete still works.
		if out, err := a.Delete(context.Background(), identityEvent("later")); out != adapters.Deleted || err != nil {
			t.Fatalf("later delete: %v, %v", out, err)
		}
		if sb.Ledger.Calls("g-1") != 0 || sb.Ledger.Calls("g-2") != 0 {
			t.Error("ids of an abandoned batch were sent")
		}
	})
}

// waitWaiting waits until n members wait in the open batch.
func waitWaiting(t *testing.T, a *Adapter, n int) {
	t.Helper()
	for i := 0; ; i++ {
		a.batch.mu.Lock()
		got := 0
		if a.batch.open != nil {
			got = a.batch.open.waiting
		}
		a.batch.mu.Unlock()
		if got >= n {
			return
		}
		if i > 5000 {
			t.Fatalf("%d members waiting, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBatchTakesOnePermitPerRequest(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{Force: "429", ForceCount: 1})
	lcfg := adapters.DefaultLimitConfig()
	lcfg.Rate = 1000
	l := adapters.NewLimiter(lcfg, 1)
	cfg := batchConfig(srv.URL, 4, time.Second)
	cfg.Retry = fastRetry(5)
	a := New(validated(t, cfg), srv.Client(), WithLimiter(l))
	if !a.SelfLimited() {
		t.Fatal("a batching adapter must be self-limited")
	}
	ids := []string{"p-1", "p-2", "p-3", "p-4"}
	var wg sync.WaitGroup
	results := make([]adapters.Result, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The forced 429's Retry-After pauses the vendor for a second
			// before the retry.
			results[i] = adapters.NewRetrier(cfg.Retry, adapters.WithLimiter(l)).Do(context.Background(), a, identityEvent(id))
		}()
	}
	wg.Wait()
	for i, res := range results {
		if res.Outcome != adapters.Deleted || res.Attempts != 2 {
			t.Errorf("%s: %+v, want deleted on the second attempt", ids[i], res)
		}
	}
	// One 429 for the whole first batch, one request for the retry.
	if st := l.Stats(); st.Throttled != 1 || st.InFlight != 0 {
		t.Errorf("limiter %+v, want one throttled request and nothing held", st)
	}
	if sb.Ledger.Requests() != 2 {
		t.Errorf("%d requests, want 2", sb.Ledger.Requests())
	}
}

func TestBatchSizeOneSendsPerEvent(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	a := newAdapter(t, batchConfig(srv.URL, 1, 0), srv.Client())
	if a.SelfLimited() {
		t.Fatal("an adapter that does not batch leaves limiting to the Retrier")
	}
	outs, errs := deleteAll(context.Background(), a, []string{"o-1", "o-2", "o-3"})
	for i := range outs {
		if outs[i] != adapters.Deleted || errs[i] != nil {
			t.Errorf("%d: %v, %v", i, outs[i], errs[i])
		}
	}
	if sb.Ledger.Requests() != 3 {
		t.Errorf("%d requests, want 3", sb.Ledger.Requests())
	}
}

func validated(t *testing.T, cfg Config) Config {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestBatchRejoinedIDSentOnce: an id whose event left the open batch and
// whose next event joined it again is sent once, not twice.
func TestBatchRejoinedIDSentOnce(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	a := newAdapter(t, batchConfig(srv.URL, 3, MaxBatchWait), srv.Client())
	stayed := make(chan error, 2)
	go func() { _, err := a.Delete(context.Background(), identityEvent("stayer")); stayed <- err }()
	waitWaiting(t, a, 1)
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() { _, err := a.Delete(ctx, identityEvent("again")); left <- err }()
	waitWaiting(t, a, 2)
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("leaver got %v", err)
	}
	go func() { _, err := a.Delete(context.Background(), identityEvent("again")); stayed <- err }()
	waitWaiting(t, a, 2)
	if _, err := a.Delete(context.Background(), identityEvent("filler")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := <-stayed; err != nil {
			t.Fatal(err)
		}
	}
	if n := sb.Ledger.Calls("again"); n != 1 {
		t.Errorf("the rejoined id was sent %d times in the batch, want once", n)
	}
	if n := sb.Ledger.Requests(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

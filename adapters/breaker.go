package adapters

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/sony/gobreaker/v2"

	"github.com/erasured/erasured/config"
)

// ErrCircuitOpen is the cause of an attempt the vendor's circuit breaker
// refused: the circuit is open, or half-open with its probes all taken.
// Nothing was sent. Send returns it inside a retryable *Error, so the
// event's retry policy waits and tries again; callers that would rather
// set the work aside (park it) than wait branch on errors.Is(err,
// ErrCircuitOpen).
var ErrCircuitOpen = errors.New("circuit open: request not sent")

// BreakerConfig shapes one vendor's circuit breaker
// (github.com/sony/gobreaker/v2). The breaker watches every request sent
// to the vendor, whatever event it serves, and opens when the vendor looks
// down: ConsecutiveFailures failures in a row, or, once at least
// MinRequests requests were answered within Window, a share of failures of
// at least FailureRatio. While open, no request goes to the vendor; after
// Cooldown it half-opens and lets HalfOpenProbes requests through: as many
// successes in a row close it, one failure opens it for another Cooldown.
//
// A failure is what says the vendor is down: a 5xx, a timeout, a
// connection error. A 429 is the vendor throttling, which the limiter
// handles, and counts neither way; so does a request the caller cancelled.
// Every other answer (2xx, 404, 400, 401...) is a success: the vendor
// answered, whatever it said about the deletion.
type BreakerConfig struct {
	// Enabled turns the breaker on; off, every request is sent.
	Enabled bool `yaml:"enabled"`
	// ConsecutiveFailures opens the circuit after that many failures in
	// a row (within Window, when set); 0 turns this rule off.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// FailureRatio opens the circuit when failures reach that share of
	// the requests answered within Window, in (0, 1]; 0 turns this rule
	// off.
	FailureRatio float64 `yaml:"failure_ratio"`
	// MinRequests is how many answered requests within Window
	// FailureRatio needs before it can open the circuit.
	MinRequests int `yaml:"min_requests"`
	// Window is the rolling window (in ten buckets) the counts cover
	// while the circuit is closed; 0 counts since the circuit last closed.
	Window time.Duration `yaml:"window"`
	// Cooldown is how long the circuit stays open before it half-opens
	// (gobreaker's Timeout).
	Cooldown time.Duration `yaml:"cooldown"`
	// HalfOpenProbes is how many requests a half-open circuit lets
	// through, and how many successes in a row close it (gobreaker's
	// MaxRequests).
	HalfOpenProbes int `yaml:"half_open_probes"`
}

// DefaultBreakerConfig is the breaker used where configuration is
// silent. Twenty failures in a row, or half of at least fifty answers in a
// minute, is an outage, not the odd 5xx a healthy vendor sends; a
// 30-second cooldown and three probes cost a down vendor six requests a
// minute.
func DefaultBreakerConfig() BreakerConfig {
	return BreakerConfig{
		Enabled:             true,
		ConsecutiveFailures: 20,
		FailureRatio:        0.5,
		MinRequests:         50,
		Window:              time.Minute,
		Cooldown:            30 * time.Second,
		HalfOpenProbes:      3,
	}
}

// maxBreakerCount bounds the counts, which gobreaker keeps as uint32.
const maxBreakerCount = 1_000_000

// Validate reports the first invalid field, named as in YAML.
func (c *BreakerConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	switch {
	case c.ConsecutiveFailures < 0 || c.ConsecutiveFailures > maxBreakerCount:
		return config.Invalid("consecutive_failures", "must be 0 (rule off) or in [1, %d], got %d", maxBreakerCount, c.ConsecutiveFailures)
	case math.IsNaN(c.FailureRatio) || c.FailureRatio < 0 || c.FailureRatio > 1:
		return config.Invalid("failure_ratio", "must be 0 (rule off) or in (0, 1], got %g", c.FailureRatio)
	case c.ConsecutiveFailures == 0 && c.FailureRatio == 0:
		return config.Invalid("consecutive_failures", "and failure_ratio are both 0: the circuit could never open; set one, or enabled: false")
	case c.FailureRatio > 0 && (c.MinRequests < 1 || c.MinRequests > maxBreakerCount):
		return config.Invalid("min_requests", "must be in [1, %d] when failure_ratio is set, got %d", maxBreakerCount, c.MinRequests)
	case c.Window < 0:
		return config.Invalid("window", "must be 0 (since the circuit closed) or positive, got %s", c.Window)
	case c.FailureRatio > 0 && c.Window == 0:
		// A ratio over everything since start would need an outage as
		// long as the healthy history to open.
		return config.Invalid("window", "must be positive when failure_ratio is set")
	case c.Cooldown <= 0:
		return config.Invalid("cooldown", "must be positive, got %s", c.Cooldown)
	case c.HalfOpenProbes < 1 || c.HalfOpenProbes > maxBreakerCount:
		return config.Invalid("half_open_probes", "must be in [1, %d], got %d", maxBreakerCount, c.HalfOpenProbes)
	}
	return nil
}

// ValidateBreaker checks b, then b against the vendor's retry policy r:
// with a cooldown longer than max_elapsed_time, every event that meets a
// newly opened circuit exhausts its retries before the first probe, and
// after an outage ends the vendor stays unused for a cooldown that outlives
// any event's retries.
func ValidateBreaker(b *BreakerConfig, r *RetryConfig) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.Enabled && b.Cooldown > r.MaxElapsedTime {
		return config.Invalid("cooldown", "must not exceed retry.max_elapsed_time (%s), or no event waiting on an open circuit lives to see a probe; got %s", r.MaxElapsedTime, b.Cooldown)
	}
	return nil
}

// CircuitState is a breaker's state as erasured_vendor_circuit_state
// exports it: 0 closed, 1 half-open, 2 open.
type CircuitState int

// The states, numbered as the metric reports them.
const (
	CircuitClosed   CircuitState = CircuitState(gobreaker.StateClosed)
	CircuitHalfOpen CircuitState = CircuitState(gobreaker.StateHalfOpen)
	CircuitOpen     CircuitState = CircuitState(gobreaker.StateOpen)
)

var circuitStateNames = [...]string{"closed", "half_open", "open"}

func (s CircuitState) String() string {
	if s < 0 || int(s) >= len(circuitStateNames) {
		return "unknown"
	}
	return circuitStateNames[s]
}

// CircuitTransitions are the state changes a breaker can make, in the
// order metrics create their series.
var CircuitTransitions = [...][2]CircuitState{
	{CircuitClosed, CircuitOpen},
	{CircuitOpen, CircuitHalfOpen},
	{CircuitHalfOpen, CircuitOpen},
	{CircuitHalfOpen, CircuitClosed},
}

// Breaker is one vendor's circuit breaker. It sits in the vendor's HTTP
// transport (Transport), so it sees every request actually sent, one per
// CleverTap batch as one per Plivo delete, and never a request an adapter
// decided not to send (no identifier, an invalid one). It is safe for
// concurrent use.
type Breaker struct {
	vendor string
	cfg    BreakerConfig
	cb     *gobreaker.TwoStepCircuitBreaker[struct{}]
	log    zerolog.Logger

	transitions [3][3]atomic.Uint64
	refused     atomic.Uint64
	// tripped holds the counts that opened the circuit, for the log
	// line: gobreaker clears them before it reports the change. Both
	// callbacks run under gobreaker's lock, so no lock of its own.
	tripped gobreaker.Counts

	// openMu guards opened, the channel Opened hands out: closed, and
	// replaced, each time the circuit opens.
	openMu sync.Mutex
	opened chan struct{}
}

// BreakerOption adjusts a Breaker.
type BreakerOption func(*Breaker)

// WithBreakerLogger logs each state change at warn (opening) or info:
// vendor, from, to and the counts behind it. Nothing else is known to the
// breaker, so no personal data can reach the line.
func WithBreakerLogger(l zerolog.Logger) BreakerOption { return func(b *Breaker) { b.log = l } }

// verdicts passed to gobreaker's done callback.
var (
	errBreakerFailure  = errors.New("vendor failure")
	errBreakerExcluded = errors.New("not counted")
)

// NewBreaker returns vendor's breaker for cfg, which must be valid, or nil
// when cfg is not Enabled; a nil *Breaker lets everything through.
func NewBreaker(vendor string, cfg BreakerConfig, opts ...BreakerOption) *Breaker {
	if !cfg.Enabled {
		return nil
	}
	b := &Breaker{vendor: vendor, cfg: cfg, log: zerolog.Nop(), opened: make(chan struct{})}
	for _, o := range opts {
		o(b)
	}
	st := gobreaker.Settings{
		Name:        vendor,
		MaxRequests: uint32(cfg.HalfOpenProbes),
		Interval:    cfg.Window,
		Timeout:     cfg.Cooldown,
		ReadyToTrip: b.readyToTrip,
		IsSuccessful: func(err error) bool {
			return err == nil
		},
		IsExcluded: func(err error) bool {
			return errors.Is(err, errBreakerExcluded)
		},
		OnStateChange: b.changed,
	}
	if cfg.Window > 0 {
		// A rolling window: a fixed one forgets everything at once, so
		// an outage beginning just before it resets needs twice the
		// failures to open.
		st.BucketPeriod = max(cfg.Window/10, time.Nanosecond)
	}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](st)
	return b
}

func (b *Breaker) readyToTrip(c gobreaker.Counts) bool {
	trip := false
	if n := b.cfg.ConsecutiveFailures; n > 0 && c.ConsecutiveFailures >= uint32(n) {
		trip = true
	}
	answered := c.TotalSuccesses + c.TotalFailures
	if r := b.cfg.FailureRatio; r > 0 && answered >= uint32(b.cfg.MinRequests) && float64(c.TotalFailures) >= r*float64(answered) {
		trip = true
	}
	if trip {
		b.tripped = c
	}
	return trip
}

func (b *Breaker) changed(_ string, from, to gobreaker.State) {
	f, t := CircuitState(from), CircuitState(to)
	if f >= 0 && f < 3 && t >= 0 && t < 3 {
		b.transitions[f][t].Add(1)
	}
	if t == CircuitOpen {
		b.openMu.Lock()
		close(b.opened)
		b.opened = make(chan struct{})
		b.openMu.Unlock()
	}
	e := b.log.Info()
	if t == CircuitOpen {
		e = b.log.Warn()
	}
	e = e.Str("vendor", b.vendor).Str("from", f.String()).Str("to", t.String())
	switch {
	case f == CircuitClosed && t == CircuitOpen:
		c := b.tripped
		e = e.Uint32("consecutive_failures", c.ConsecutiveFailures).
			Uint32("failures", c.TotalFailures).Uint32("successes", c.TotalSuccesses).
			Uint32("not_counted", c.TotalExclusions).Dur("cooldown", b.cfg.Cooldown)
	case t == CircuitOpen:
		e = e.Str("cause", "a probe failed").Dur("cooldown", b.cfg.Cooldown)
	case t == CircuitHalfOpen:
		e = e.Int("probes", b.cfg.HalfOpenProbes)
	case t == CircuitClosed:
		e = e.Int("successes", b.cfg.HalfOpenProbes)
	}
	e.Msg("vendor circuit " + t.String())
}

// State returns the circuit's state now (an open circuit whose cooldown
// ended reads half-open). A nil Breaker is always closed.
func (b *Breaker) State() CircuitState {
	if b == nil {
		return CircuitClosed
	}
	return CircuitState(b.cb.State())
}

// Opened returns a channel that is closed the next time the circuit
// opens (closed to open, or a failed probe). Work waiting on a retry at
// the vendor selects on it to be set aside (parked) at once rather than
// wait for a vendor that is down. A nil Breaker never opens: its channel
// is nil.
func (b *Breaker) Opened() <-chan struct{} {
	if b == nil {
		return nil
	}
	b.openMu.Lock()
	defer b.openMu.Unlock()
	return b.opened
}

// Refuses reports whether a request now would be refused without asking:
// the circuit is open. A half-open circuit may still have a probe to
// give, which only Allow can take.
func (b *Breaker) Refuses() bool { return b.State() == CircuitOpen }

// Allow asks to send one request. It returns ErrCircuitOpen when the
// circuit refuses; otherwise done must be called once with the request's
// result (resp nil when err is set).
func (b *Breaker) Allow() (done func(ctx context.Context, resp *http.Response, err error), err error) {
	if b == nil {
		return func(context.Context, *http.Response, error) {}, nil
	}
	d, err := b.cb.Allow()
	if err != nil {
		b.refused.Add(1)
		return nil, ErrCircuitOpen
	}
	return func(ctx context.Context, resp *http.Response, err error) { d(verdict(ctx, resp, err)) }, nil
}

// verdict reads a request's result as the breaker counts it: nil for the
// vendor answering, errBreakerFailure for the vendor failing, and
// errBreakerExcluded for what says nothing about its health.
func verdict(ctx context.Context, resp *http.Response, err error) error {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled) {
			// The caller gave up (shutdown, rebalance).
			return errBreakerExcluded
		}
		// Connection refused or reset, TLS failure, the attempt's
		// request_timeout.
		return errBreakerFailure
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		// Throttling: the limiter's business, not an outage.
		return errBreakerExcluded
	case resp.StatusCode >= 500:
		return errBreakerFailure
	}
	return nil
}

// Transport returns next behind the breaker: a request the circuit
// refuses fails at once with ErrCircuitOpen, without a connection. A nil
// Breaker returns next.
func (b *Breaker) Transport(next http.RoundTripper) http.RoundTripper {
	if b == nil {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &breakerTransport{b: b, next: next}
}

type breakerTransport struct {
	b    *Breaker
	next http.RoundTripper
}

func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	done, err := t.b.Allow()
	if err != nil {
		if req.Body != nil {
			// RoundTrip must close the body, even on error.
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.next.RoundTrip(req)
	done(req.Context(), resp, err)
	return resp, err
}

// Wrap puts client's transport behind the breaker and returns client.
func (b *Breaker) Wrap(client *http.Client) *http.Client {
	if b != nil {
		client.Transport = b.Transport(client.Transport)
	}
	return client
}

// BreakerStats is a Breaker's state, for metrics.
type BreakerStats struct {
	State CircuitState
	// Transitions counts state changes by from and to.
	Transitions [3][3]uint64
	// Refused counts requests refused while open or with the probes
	// taken.
	Refused uint64
}

// Stats returns the breaker's state and counts.
func (b *Breaker) Stats() BreakerStats {
	s := BreakerStats{State: b.State(), Refused: b.refused.Load()}
	for i := range b.transitions {
		for j := range b.transitions[i] {
			s.Transitions[i][j] = b.transitions[i][j].Load()
		}
	}
	return s
}

// Vendor returns the vendor's name.
func (b *Breaker) Vendor() string { return b.vendor }

// circuitOpenError is the retryable failure of an attempt the circuit
// refused.
func circuitOpenError(vendor string) *Error {
	// No Message: ErrCircuitOpen's text says it all
	// ("exotel: retryable: circuit open: request not sent").
	return &Error{Vendor: vendor, Class: ClassRetryable, Err: ErrCircuitOpen}
}

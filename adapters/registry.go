package adapters

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sync"

	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
)

// Common is the part of every vendor's configuration that the daemon's
// machinery reads rather than the adapter: whether the vendor is called
// or parked, its retry policy, its limiter and its circuit breaker. Each vendor's
// Config embeds it with `yaml:",inline"`, so its keys sit beside the
// vendor's own (vendors.<name>.enabled, .retry, .limit, .breaker) and its
// environment variables (ERASURED_VENDORS_PLIVO_AUTH_ID) follow from the same walk.
type Common struct {
	Enabled bool `yaml:"enabled"`
	// Paused parks every part for this vendor on its retry topic, reason
	// paused, without calling it (revoked credentials, an incident at the
	// vendor): the deletions stay owed, and the retry worker drains them
	// once unpaused. vendors.pause_file pauses at runtime too.
	Paused bool        `yaml:"paused"`
	Retry  RetryConfig `yaml:"retry"`
	// Limit shapes the request rate and concurrency at the vendor.
	Limit LimitConfig `yaml:"limit"`
	// Breaker stops requests to the vendor while it is down.
	Breaker BreakerConfig `yaml:"breaker"`
}

// DefaultCommon is Common's defaults: off, with the default retry, limit
// and breaker.
func DefaultCommon() Common {
	return Common{Retry: DefaultRetryConfig(), Limit: DefaultLimitConfig(), Breaker: DefaultBreakerConfig()}
}

// Shared returns c. Through embedding it is every vendor Config's, which
// is how the daemon reaches the common part of a section it knows only as
// a VendorConfig.
func (c *Common) Shared() *Common { return c }

// ValidateCommon checks the common part, naming fields relative to the
// vendor's section (retry.max_attempts, breaker.cooldown).
func (c *Common) ValidateCommon() error {
	var errs config.Errors
	errs.Add(config.Nest("retry", c.Retry.Validate()))
	errs.Add(config.Nest("limit", c.Limit.Validate()))
	errs.Add(config.Nest("breaker", ValidateBreaker(&c.Breaker, &c.Retry)))
	return errs.Err()
}

// VendorConfig is one vendor's configuration section: a pointer to the
// vendor's Config, which embeds Common.
type VendorConfig interface {
	// Validate names wrong fields relative to the section; it checks the
	// common part too (ValidateCommon).
	Validate() error
	Shared() *Common
	// Endpoint is the base URL requests go to, for the plain-http notice.
	Endpoint() string
}

// Deps are what the daemon hands a vendor's constructor.
type Deps struct {
	// Client is the vendor's HTTP client, its transport already gated by
	// the vendor's breaker and sized to its limiter.
	Client *http.Client
	// Limiter is the limiter the vendor's Retrier takes permits from. An
	// adapter that batches (SelfLimited) takes one per request itself
	// instead. Nil when there is none (the benchmark's naive baseline).
	Limiter *Limiter
	// Unbatched asks for one request per event, for the naive baseline
	// the benchmark compares erasured with.
	Unbatched bool
}

// Spec is what a vendor package registers in its init.
type Spec struct {
	// Name is the vendor's name: its YAML section (vendors.<name>), its
	// environment variables (vendors.plivo.auth_id is ERASURED_VENDORS_PLIVO_AUTH_ID), its label in logs,
	// metrics and dead-letter headers. Lower case letters, digits and _.
	Name string
	// Config returns a new section holding the defaults YAML and the
	// environment are decoded over; always the same pointer type.
	Config func() VendorConfig
	// New builds the adapter from a valid section of Config's type.
	New func(cfg VendorConfig, d Deps) (Adapter, error)
	// Dev is the vendor's part in the dev stack, the benchmark and
	// the end-to-end tests.
	Dev Dev
}

// Dev describes a vendor's strict sandbox and how a dev-stack
// configuration reaches it.
type Dev struct {
	// About says, for `erasured dev`, how the sandbox behaves with Knobs.
	About string
	// Knobs are the `erasured dev` faults.
	Knobs sandbox.Knobs
	// Sandbox returns the vendor's sandbox accepting Settings' and
	// Secrets' credentials, with knobs.
	Sandbox func(knobs sandbox.Knobs) DevSandbox
	// Settings are the section's plain keys (YAML names below
	// vendors.<name>) that point a configuration at the sandbox, base_url
	// and enabled aside; Secrets its secret keys, with their values.
	Settings, Secrets map[string]string
	// Identifiers returns the n-th sample event's identifiers for this
	// vendor (event identifier name to value), distinct for distinct n.
	Identifiers func(n int) map[string]string
	// LedgerID is the id the sandbox's ledger records for an event with
	// these identifiers ("" when the vendor is not called for it).
	LedgerID func(ids map[string]string) string
}

// DevSandbox is a running sandbox's handler and ledger.
type DevSandbox struct {
	Handler http.Handler
	Ledger  *sandbox.Ledger
	// Chaos turns the sandbox's faults while it runs.
	Chaos *sandbox.Chaos
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Spec{}
)

// NamePattern is the form of a vendor's name.
var NamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Register adds a vendor. It panics on a malformed spec or a name taken
// twice: both are programming errors found at start, before any event.
func Register(s Spec) {
	if !NamePattern.MatchString(s.Name) {
		panic(fmt.Sprintf("adapters.Register: vendor name %q does not match %s", s.Name, NamePattern))
	}
	if s.Name == "http" {
		// vendors.http holds the vendors declared in YAML.
		panic("adapters.Register: the name http is reserved for declared vendors")
	}
	if s.Config == nil || s.New == nil {
		panic("adapters.Register: " + s.Name + ": Config and New are required")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[s.Name]; dup {
		panic("adapters.Register: vendor " + s.Name + " registered twice")
	}
	registry[s.Name] = s
}

// Specs returns the registered vendors, by name.
func Specs() []Spec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]Spec, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Spec) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Lookup returns the vendor registered as name.
func Lookup(name string) (Spec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	return s, ok
}

// Names returns the registered vendors' names, sorted.
func Names() []string {
	var out []string
	for _, s := range Specs() {
		out = append(out, s.Name)
	}
	return out
}

// RegisterVendor registers a vendor from its typed pieces: defaults
// returns its Config's defaults, build makes the adapter from a valid one.
// It is Register with the conversions between the vendor's Config and
// VendorConfig written once.
func RegisterVendor[C any, P interface {
	*C
	VendorConfig
}](name string, defaults func() C, build func(C, Deps) Adapter, dev Dev) {
	Register(Spec{
		Name:   name,
		Config: func() VendorConfig { c := defaults(); return P(&c) },
		New: func(cfg VendorConfig, d Deps) (Adapter, error) {
			c, ok := cfg.(P)
			if !ok {
				// A wiring bug: another vendor's section.
				return nil, fmt.Errorf("adapters: vendor %s handed a %T section, want %T", name, cfg, P(nil))
			}
			return build(*c, d), nil
		},
		Dev: dev,
	})
}

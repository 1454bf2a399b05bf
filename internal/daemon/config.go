package daemon

import (
	"os"
	"strings"
	"time"

	"github.com/erasured/erasured/adapters"
	_ "github.com/erasured/erasured/adapters/install"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/receipt"
	"github.com/erasured/erasured/retrytopic"
)

// LoadConfig starts from DefaultConfig, reads the YAML file at path (or
// $ERASURED_CONFIG when path is empty; no file at all is fine when env
// sets everything) over it, then ERASURED_* environment overrides, and
// validates. A key the file or the environment sets is kept as given, zero
// included; one they leave out keeps its default. Errors wrap
// config.ErrInvalid and name the field. environ may be nil (os.Environ);
// {env: NAME} secrets are read from it too.
func LoadConfig(path string, environ func() []string) (*Config, error) {
	return LoadConfigWith(path, environ, LoadOptions{})
}

// LoadOptions adjust LoadConfigWith.
type LoadOptions struct {
	// SkipSecrets checks the configuration without reading its secrets
	// (check-config -skip-secrets): each secret that names a file or a
	// variable counts as set. Such a configuration must not be run.
	SkipSecrets bool
}

// KnownEnv are the ERASURED_* variables that set no configuration key yet
// are read, so are not refused as unknown: the file's path, and the
// switches of erasured's own test harnesses (make test-kafka, the tests
// that run the binary, the benchmark's child process), which reach the
// binary's environment.
var KnownEnv = []string{
	"ERASURED_CONFIG",
	"ERASURED_KAFKA_LOCAL_SCRIPT",
	"ERASURED_TEST_RUN_MAIN",
	"ERASURED_TEST_LOG",
	"ERASURED_BENCH_CHILD",
}

// LoadConfigWith is LoadConfig with options.
func LoadConfigWith(path string, environ func() []string, o LoadOptions) (*Config, error) {
	if environ == nil {
		environ = os.Environ
	}
	if path == "" {
		for _, kv := range environ() {
			if v, ok := strings.CutPrefix(kv, "ERASURED_CONFIG="); ok {
				path = v
			}
		}
	}
	cfg := DefaultConfig()
	if err := config.Load(path, &cfg, config.Options{EnvPrefix: EnvPrefix, KnownEnv: KnownEnv, Environ: environ, SkipSecrets: o.SkipSecrets}); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// EnvPrefix prefixes every environment override: ERASURED_KAFKA_BROKERS,
// ERASURED_VENDORS_PLIVO_AUTH_TOKEN (or ..._FILE), and so on.
const EnvPrefix = "ERASURED"

// Config is the daemon's whole configuration. Each section belongs to the
// package that uses it; this struct only places them in the YAML file.
type Config struct {
	Kafka      consumer.Config `yaml:"kafka"`
	DeadLetter dlq.Config      `yaml:"dead_letter"`
	Event      EventConfig     `yaml:"event"`
	Vendors    VendorsConfig   `yaml:"vendors"`
	Log        LogConfig       `yaml:"log"`
	HTTP       HTTPConfig      `yaml:"http"`
	// Replay holds the key `erasured replay` signs vendor restrictions
	// with; without it no restriction is honoured.
	Replay dlq.SigningConfig `yaml:"replay"`
	// Receipts places the receipts topic; Compliance holds the deadline
	// receipts and the owed metrics count to.
	Receipts   receipt.Config           `yaml:"receipts"`
	Compliance receipt.ComplianceConfig `yaml:"compliance"`
	// ShutdownTimeout bounds a graceful stop; keep the pod's
	// terminationGracePeriodSeconds above it.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// EventConfig bounds what events are accepted.
type EventConfig struct {
	// MaxBytes is the largest event accepted; larger ones are
	// dead-lettered as oversized.
	MaxBytes int `yaml:"max_bytes"`
	// AcceptedTypes are the CloudEvents types accepted.
	AcceptedTypes []string `yaml:"accepted_types"`
}

// RetryTopics maps each enabled vendor to its retry topic:
// vendors.<name>.retry.topic, or <kafka.topic>.retry.<name>.
func (c *Config) RetryTopics() map[string]string {
	out := map[string]string{}
	for _, v := range c.Vendors.sectionsInOrder() {
		if v.cfg.Shared().Enabled {
			out[v.name] = c.retryTopic(v)
		}
	}
	return out
}

// ReceiptsTopic is receipts.topic, or <kafka.topic>.receipts.
func (c *Config) ReceiptsTopic() string {
	if t := strings.TrimSpace(c.Receipts.Topic); t != "" {
		return t
	}
	return receipt.TopicFor(c.Kafka.Topic)
}

func (c *Config) retryTopic(v vendorSection) string {
	if t := strings.TrimSpace(v.cfg.Shared().Retry.Topic); t != "" {
		return t
	}
	return retrytopic.TopicFor(c.Kafka.Topic, v.name)
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is trace, debug, info, warn or error.
	Level string `yaml:"level"`
	// FingerprintKey keys the HMAC that names a user in logs (the "user"
	// field): {env: NAME} or {file: PATH}, at least 32 bytes, the same on
	// every replica so their lines about one person correlate. Unset, each
	// process draws a random key and check-config says so: fingerprints then
	// correlate within one process only. See event.Fingerprinter.
	FingerprintKey config.Secret `yaml:"fingerprint_key"`
	// Format is json, console (zerolog's console writer, for a person) or
	// auto: console when the output is a terminal, JSON otherwise. Empty
	// means auto, so it needs no default.
	Format string `yaml:"format,omitempty"`
}

// HTTPConfig configures the metrics and health endpoint.
type HTTPConfig struct {
	// Listen is the address of /metrics, /healthz and /readyz.
	Listen string `yaml:"listen"`
	// StallTimeout is how long work may be pending (lag or records in
	// flight) with no event finishing and no offset committed before
	// /readyz reports the member stalled. It must exceed every enabled
	// vendor's retry budget (max_elapsed_time plus request_timeout), the
	// longest a healthy event can take.
	StallTimeout time.Duration `yaml:"stall_timeout"`
}

// DefaultConfig is every section's defaults: the value LoadConfig decodes
// the file and the environment over. Each section's defaults belong to
// the package that owns the section (consumer.DefaultConfig,
// dlq.DefaultConfig, each vendor's DefaultConfig, whose retry and limit
// come from adapters.DefaultRetryConfig and DefaultLimitConfig); a new
// field's default goes into its section's constructor, or here for the
// daemon's own fields. A zero is then never read as "unset": where zero
// is not a valid setting, Validate says so.
func DefaultConfig() Config {
	return Config{
		Kafka:           consumer.DefaultConfig(),
		DeadLetter:      dlq.DefaultConfig(),
		Event:           EventConfig{MaxBytes: event.DefaultMaxBytes},
		Vendors:         DefaultVendorsConfig(),
		Receipts:        receipt.DefaultConfig(),
		Compliance:      receipt.DefaultComplianceConfig(),
		Log:             LogConfig{Level: "info"},
		HTTP:            HTTPConfig{Listen: ":9090", StallTimeout: 10 * time.Minute},
		ShutdownTimeout: 30 * time.Second,
	}
}

// InsecureVendors returns the enabled vendors whose base URL is plain
// http to another host, which Validate let through because the vendor's
// allow_insecure_http is set. Notices names each, so startup warns and
// check-config says so.
func (c *Config) InsecureVendors() []string {
	var names []string
	for _, v := range c.Vendors.sectionsInOrder() {
		if v.cfg.Shared().Enabled && adapters.InsecureHTTP(v.cfg.Endpoint()) {
			names = append(names, v.name)
		}
	}
	return names
}

// Validate checks every section, naming fields by their YAML path.
func (c *Config) Validate() error {
	var errs config.Errors
	errs.Add(config.Nest("kafka", c.Kafka.Validate()))
	errs.Add(config.Nest("dead_letter", c.DeadLetter.Validate()))
	if c.DeadLetter.Topic == c.Kafka.Topic {
		errs.Invalid("dead_letter.topic", "must differ from kafka.topic (%q)", c.Kafka.Topic)
	}
	errs.Add(config.Nest("replay", c.Replay.Validate()))
	errs.Add(config.Nest("receipts", c.Receipts.Validate()))
	errs.Add(config.Nest("compliance", c.Compliance.Validate()))
	if t := c.ReceiptsTopic(); t == c.Kafka.Topic || t == c.DeadLetter.Topic {
		errs.Invalid("receipts.topic", "must differ from kafka.topic and dead_letter.topic (%q)", t)
	}
	if c.Event.MaxBytes < 256 || c.Event.MaxBytes > 1<<20 {
		errs.Invalid("event.max_bytes", "must be in [256, 1048576], got %d", c.Event.MaxBytes)
	}
	errs.Add(c.Vendors.validate())
	for _, v := range c.Vendors.sectionsInOrder() {
		r := v.cfg.Shared()
		if r.Enabled && c.Compliance.Deadline > 0 && r.Retry.GiveUpAfter >= c.Compliance.Deadline {
			// A part given up is dead-lettered for a person to act on:
			// that must happen while the deletion is still in time.
			errs.Invalid(v.path+".retry.give_up_after", "must be below compliance.deadline (%s), got %s", c.Compliance.Deadline, r.Retry.GiveUpAfter)
		}
	}
	seen := map[string]string{}
	for _, v := range c.Vendors.sectionsInOrder() {
		if !v.cfg.Shared().Enabled {
			continue
		}
		t, field := c.retryTopic(v), v.path+".retry.topic"
		switch {
		case t == c.Kafka.Topic:
			errs.Invalid(field, "must differ from kafka.topic (%q)", t)
		case t == c.DeadLetter.Topic:
			errs.Invalid(field, "must differ from dead_letter.topic (%q)", t)
		case t == c.ReceiptsTopic():
			errs.Invalid(field, "must differ from the receipts topic (%q)", t)
		case seen[t] != "":
			errs.Invalid(field, "%q is %s's retry topic too; each vendor needs its own", t, seen[t])
		}
		seen[t] = v.path
	}
	if c.Vendors.MaxConnsPerVendor < 1 {
		errs.Invalid("vendors.max_conns_per_vendor", "must be at least 1, got %d", c.Vendors.MaxConnsPerVendor)
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		errs.Invalid("log.level", "must be trace, debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "auto", "json", "console":
	default:
		errs.Invalid("log.format", "must be json, console or auto, got %q", c.Log.Format)
	}
	if strings.TrimSpace(c.HTTP.Listen) == "" {
		// net.Listen would pick a random port, where no probe looks.
		errs.Invalid("http.listen", "must be set, such as :9090")
	}
	if k := c.Log.FingerprintKey; k.IsSet() && !k.Unread() && len(k.Reveal()) < event.MinFingerprintKeyBytes {
		// Neither the value nor its length is printed.
		errs.Invalid("log.fingerprint_key", "must be at least %d bytes (for example `openssl rand -base64 48`)", event.MinFingerprintKeyBytes)
	}
	errs.Add(c.validateStallTimeout())
	if c.ShutdownTimeout <= c.Kafka.DrainTimeout {
		errs.Invalid("shutdown_timeout", "must exceed kafka.drain_timeout (%s) to leave time to commit, got %s", c.Kafka.DrainTimeout, c.ShutdownTimeout)
	}
	return errs.Err()
}

// validateStallTimeout keeps readiness from calling a slow but healthy
// member stalled.
func (c *Config) validateStallTimeout() error {
	var errs config.Errors
	st := c.HTTP.StallTimeout
	if st <= c.Kafka.CommitInterval {
		errs.Invalid("http.stall_timeout", "must exceed kafka.commit_interval (%s), got %s", c.Kafka.CommitInterval, st)
	}
	for _, v := range c.Vendors.sectionsInOrder() {
		common := v.cfg.Shared()
		if budget := common.Retry.MaxElapsedTime + common.Retry.RequestTimeout; common.Enabled && st <= budget {
			errs.Invalid("http.stall_timeout", "must exceed %s.retry max_elapsed_time + request_timeout (%s), the longest a healthy event can take, got %s", v.path, budget, st)
		}
	}
	return errs.Err()
}

// Notices are what check-config and startup say about a valid
// configuration that works, but not as well as it could.
func (c *Config) Notices() []string {
	var out []string
	for _, name := range c.InsecureVendors() {
		// The URL is not shown: the field's name finds it.
		out = append(out, c.Vendors.path(name)+".base_url is plain http to another host (allow_insecure_http: true): "+name+"'s credentials and the identifiers of every deletion cross the network unencrypted")
	}
	if !c.Replay.SigningKey.IsSet() {
		out = append(out, "replay.signing_key is not set: the daemon honours no erasured-only-vendors restriction (a replayed record goes to every vendor: more calls, no deletion lost) and `erasured replay` refuses to run; set the same key on the daemons and on replay")
	}
	if !c.Log.FingerprintKey.IsSet() {
		// A notice, not an error: a missing key costs correlation
		// across replicas and restarts, never privacy (a random key is
		// as unguessable as a configured one), and refusing to start
		// would stop deletions over a logging setting.
		out = append(out, "log.fingerprint_key is not set: user fingerprints in logs use a random key per process and correlate only within one process; set it ({env: NAME} or {file: PATH}, at least 32 bytes) to the same secret on every replica")
	}
	return out
}

// DecodeOptions returns the event decoder's bounds.
func (c *Config) DecodeOptions() event.DecodeOptions {
	return event.DecodeOptions{MaxBytes: c.Event.MaxBytes, AcceptedTypes: c.Event.AcceptedTypes}
}

// Fingerprinter returns the Fingerprinter that names users in logs: keyed
// with log.fingerprint_key, or with a random key of this process's own
// when it is unset (see Notices). cfg must be valid.
func (c *Config) Fingerprinter() *event.Fingerprinter {
	if !c.Log.FingerprintKey.IsSet() {
		return event.RandomFingerprinter()
	}
	f, err := event.NewFingerprinter([]byte(c.Log.FingerprintKey.Reveal()))
	if err != nil {
		// Validate refused the key already.
		return event.RandomFingerprinter()
	}
	return f
}

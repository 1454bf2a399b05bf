// Package devstack runs erasured's world in one process: an in-process
// Kafka (kfake) and one sandbox per vendor, with credentials only they
// know, plus sample events. `erasured dev`, the integration tests and the
// benchmark use it.
package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/receipt"
	"github.com/erasured/erasured/retrytopic"
)

// Stack is a Kafka (in-process unless Options.Brokers names one) plus one
// sandbox per vendor, with credentials that only they know.
type Stack struct {
	// Cluster is the in-process Kafka, nil when Options.Brokers was set.
	Cluster *kfake.Cluster
	Brokers []string
	// sandboxes are the registered vendors' sandboxes, by name.
	sandboxes map[string]adapters.DevSandbox
	// Topic and DLQTopic are the stack's topics.
	Topic, DLQTopic string
	// URLs maps vendor name to its sandbox's base URL.
	URLs map[string]string
	// ReplayKey is the replay.signing_key the stack's daemon and replays
	// share, made up at Start.
	ReplayKey string
	// FingerprintKey is the stack's log.fingerprint_key, drawn at Start:
	// every daemon of one stack shares it, so their logs correlate.
	FingerprintKey string
	servers        []*http.Server
}

const (
	Topic    = event.DefaultTopic
	DLQTopic = dlq.DefaultTopic
	// PrimaryProfile is the Plivo account's primary profile: Plivo
	// refuses to delete it, so events naming it are dead-lettered, which
	// shows the dead-letter path in the dev stack.
	PrimaryProfile = plivo.DevPrimaryProfile
)

// Options shape a Stack.
type Options struct {
	// Partitions of the user-deleted topic in the in-process Kafka.
	Partitions int32
	// KafkaPort pins the in-process Kafka's port; 0 picks a free one.
	KafkaPort int
	// Brokers, when set, uses that Kafka instead of starting one; the
	// topics must exist.
	Brokers []string
	// KafkaOpts are extra options for the in-process Kafka, such as
	// kfake.TLS or kfake.EnableSASL.
	KafkaOpts []kfake.Opt
	// Topic and DLQTopic name the topics; Topic and DLQTopic (the
	// constants) when empty. Tests on a shared broker use their own.
	Topic, DLQTopic string
	// Knobs per vendor name; a missing vendor gets the dev defaults
	// (DevKnobs).
	Knobs map[string]sandbox.Knobs
	// Wrap, when set, wraps each vendor's sandbox handler (tests record
	// or delay requests with it).
	Wrap func(vendor string, h http.Handler) http.Handler
}

// DevKnobs are the `erasured dev` defaults, each registered vendor's
// (adapters.Dev.Knobs; Dev.About says what they do).
func DevKnobs() map[string]sandbox.Knobs {
	k := map[string]sandbox.Knobs{}
	for _, spec := range adapters.Specs() {
		k[spec.Name] = spec.Dev.Knobs
	}
	return k
}

// Vendors are the stack's vendors, in the order the daemon builds them:
// the registered ones (the vendor packages register in their init, which
// runs before this package's variables are set).
var Vendors = adapters.Names()

// RetryTopics are the vendors' retry topics for the main topic (the
// daemon's defaults, retrytopic.TopicFor): the platform creates them, so
// the stack, the tests and the scripts do too.
func RetryTopics(topic string) []string {
	out := make([]string, len(Vendors))
	for i, v := range Vendors {
		out[i] = retrytopic.TopicFor(topic, v)
	}
	return out
}

// Start starts the stack.
func Start(o Options) (*Stack, error) {
	if o.Partitions <= 0 {
		o.Partitions = 8
	}
	if o.Topic == "" {
		o.Topic = Topic
	}
	if o.DLQTopic == "" {
		o.DLQTopic = DLQTopic
	}
	s := &Stack{Brokers: o.Brokers, Topic: o.Topic, DLQTopic: o.DLQTopic, URLs: map[string]string{}, ReplayKey: randomHex(32), FingerprintKey: randomHex(32)}
	if len(o.Brokers) == 0 {
		opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(o.Partitions, o.Topic), kfake.SeedTopics(1, o.DLQTopic),
			kfake.SeedTopics(o.Partitions, RetryTopics(o.Topic)...), kfake.SeedTopics(o.Partitions, receipt.TopicFor(o.Topic))}
		if o.KafkaPort > 0 {
			opts = append(opts, kfake.Ports(o.KafkaPort))
		}
		opts = append(opts, o.KafkaOpts...)
		cluster, err := kfake.NewCluster(opts...)
		if err != nil {
			return nil, fmt.Errorf("starting in-process Kafka: %w", err)
		}
		s.Cluster, s.Brokers = cluster, cluster.ListenAddrs()
	}
	knobs := DevKnobs()
	for k, v := range o.Knobs {
		knobs[k] = v
	}
	s.sandboxes = map[string]adapters.DevSandbox{}
	for _, spec := range adapters.Specs() {
		if spec.Dev.Sandbox == nil {
			continue
		}
		name := spec.Name
		sb := spec.Dev.Sandbox(knobs[name])
		s.sandboxes[name] = sb
		h := sb.Handler
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sandbox %s: %w", name, err)
		}
		if o.Wrap != nil {
			h = o.Wrap(name, h)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		s.servers = append(s.servers, srv)
		s.URLs[name] = "http://" + ln.Addr().String()
		go func() { _ = srv.Serve(ln) }()
	}
	return s, nil
}

// Close stops the sandboxes and the in-process Kafka.
func (s *Stack) Close() {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if s.Cluster != nil {
		s.Cluster.Close()
	}
}

// ReplayKeys returns the keyring replays of the stack sign with.
func (s *Stack) ReplayKeys() *dlq.Keyring { return dlq.NewKeyring([]byte(s.ReplayKey)) }

// Ledgers returns each vendor's ledger by vendor name.
func (s *Stack) Ledgers() map[string]*sandbox.Ledger {
	l := map[string]*sandbox.Ledger{}
	for name, sb := range s.sandboxes {
		l[name] = sb.Ledger
	}
	return l
}

// Sandbox returns the sandbox of the vendor called name.
func (s *Stack) Sandbox(name string) adapters.DevSandbox { return s.sandboxes[name] }

// Config returns a daemon configuration pointing at the stack, with short
// retry budgets so that dead-letters show up within a minute.
func (s *Stack) Config() *daemon.Config {
	c := daemon.DefaultConfig()
	cfg := &c
	cfg.Kafka.Brokers = s.Brokers
	cfg.Kafka.Topic = s.Topic
	cfg.Kafka.GroupID = "erasured-dev"
	cfg.Kafka.HeartbeatInterval = time.Second
	cfg.Kafka.SessionTimeout = 10 * time.Second
	cfg.Kafka.RebalanceTimeout = 10 * time.Second
	// heartbeat + drain + request (1s + 4s + 4s) stays below the session
	// and rebalance timeouts (10s), as validation requires.
	cfg.Kafka.DrainTimeout = 4 * time.Second
	cfg.Kafka.RequestTimeout = 4 * time.Second
	cfg.DeadLetter.Topic = s.DLQTopic
	cfg.Replay.SigningKey = config.NewSecret(s.ReplayKey)
	cfg.ShutdownTimeout = 15 * time.Second
	cfg.Log.FingerprintKey = config.NewSecret(s.FingerprintKey)
	retry := adapters.DefaultRetryConfig()
	retry.InitialInterval, retry.MaxInterval = 100*time.Millisecond, 2*time.Second
	retry.MaxElapsedTime, retry.RequestTimeout = 20*time.Second, 2*time.Second

	for _, spec := range adapters.Specs() {
		if spec.Dev.Sandbox == nil {
			continue
		}
		sec := cfg.Vendors.Section(spec.Name)
		common := sec.Shared()
		common.Enabled, common.Retry = true, retry
		// Parked parts come back within seconds in the dev stack.
		common.Retry.Schedule = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}
		common.Retry.GiveUpAfter = 10 * time.Minute
		// The sandboxes enforce their own limits (or none): a vendor's
		// documented ceiling, a default (Plivo's 60/s), would bound every
		// test and bench run.
		common.Limit.MaxRate = 0
		// The cooldown must fit in the shorter dev retry budget, so that
		// an event waiting on an open circuit lives to see a probe.
		common.Breaker.Cooldown = 10 * time.Second
		settings := map[string]string{"base_url": s.URLs[spec.Name]}
		maps.Copy(settings, spec.Dev.Settings)
		for k, v := range settings {
			mustSet(sec, k, v, false)
		}
		for k, v := range spec.Dev.Secrets {
			mustSet(sec, k, v, true)
		}
	}
	return cfg
}

// SampleEvent returns the n-th sample record. Every 40th is poison, every
// 25th names Plivo's primary profile; users repeat so that per-user order
// matters.
func SampleEvent(n int) (key, value []byte) {
	user := fmt.Sprintf("user-%06d", n%997)
	switch {
	case n%40 == 0:
		poison := [][]byte{
			[]byte(`{"event_id": "broken`),
			[]byte(`{"event_id":"` + randomHex(8) + `","occurred_at":"2026-11-27T10:00:00Z"}`),
			[]byte(`{"event_id":"big","user_id":"x","occurred_at":"2026-11-27T10:00:00Z","pad":"` + strings.Repeat("x", 70<<10) + `"}`),
		}
		return []byte(user), poison[(n/40)%len(poison)]
	}
	ev := &event.UserDeleted{
		EventID:     "evt-" + randomHex(8),
		UserID:      user,
		OccurredAt:  time.Now().UTC().Truncate(time.Millisecond),
		Identifiers: Identifiers(n),
	}
	if n%25 == 0 {
		ev.Identifiers[plivo.DefaultProfileField] = PrimaryProfile
	}
	b, err := event.Encode(ev)
	if err != nil {
		panic(err) // a sample event that does not encode is a bug in this file
	}
	return []byte(user), b
}

// Identifiers returns the n-th sample event's identifiers: every
// registered vendor's (adapters.Dev.Identifiers).
func Identifiers(n int) map[string]string {
	ids := map[string]string{}
	for _, spec := range adapters.Specs() {
		if spec.Dev.Identifiers != nil {
			maps.Copy(ids, spec.Dev.Identifiers(n))
		}
	}
	return ids
}

// mustSet sets the key of a vendor's section (its YAML name, as
// adapters.Dev lists it) to value, as a literal Secret when secret. A key
// the section lacks is a bug in the vendor's Dev spec.
func mustSet(section any, key, value string, secret bool) {
	v := reflect.ValueOf(section).Elem()
	f, ok := fieldByYAMLKey(v, key)
	if !ok {
		panic(fmt.Sprintf("devstack: %T has no key %s", section, key))
	}
	switch {
	case secret:
		f.Set(reflect.ValueOf(config.NewSecret(value)))
	case f.Kind() == reflect.String:
		f.SetString(value)
	default:
		panic(fmt.Sprintf("devstack: %T key %s is not text", section, key))
	}
}

// fieldByYAMLKey finds the field YAML names key in struct v, in its
// ,inline structs too.
func fieldByYAMLKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			if f, ok := fieldByYAMLKey(v.Field(i), key); ok {
				return f, true
			}
			continue
		}
		if name == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Package devstack runs erasured's world in one process: an in-process
// Kafka (kfake) and one sandbox per vendor, with credentials only they
// know, plus sample events. `erasured dev`, the integration tests and the
// benchmark use it.
package devstack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/clevertap"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/adapters/webex"
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
	Cluster   *kfake.Cluster
	Brokers   []string
	Plivo     *plivo.Sandbox
	Webex     *webex.Sandbox
	Exotel    *exotel.Sandbox
	CleverTap *clevertap.Sandbox
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
	PrimaryProfile = "00000000-0000-4000-8000-000000000001"
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

// DevKnobs are the `erasured dev` defaults: Plivo healthy and fast, Webex
// throttled, Exotel failing now and then, CleverTap slow.
func DevKnobs() map[string]sandbox.Knobs {
	return map[string]sandbox.Knobs{
		plivo.Name:     {Latency: 5 * time.Millisecond, Jitter: 10 * time.Millisecond},
		webex.Name:     {Latency: 10 * time.Millisecond, ThrottleRPS: 15},
		exotel.Name:    {Latency: 15 * time.Millisecond, FailureRate: 0.15},
		clevertap.Name: {Latency: 40 * time.Millisecond, Jitter: 40 * time.Millisecond},
	}
}

// Vendors are the stack's vendors, in the order the daemon builds them.
var Vendors = []string{plivo.Name, webex.Name, exotel.Name, clevertap.Name}

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
	s.Plivo = plivo.NewSandbox("MADEVACCOUNT0000000", "dev-plivo-token", knobs[plivo.Name])
	s.Plivo.PrimaryProfile = PrimaryProfile
	s.Webex = webex.NewSandbox("dev-webex-token", knobs[webex.Name])
	s.Exotel = exotel.NewSandbox("devaccount1", "dev-exotel-key", "dev-exotel-token", knobs[exotel.Name])
	s.CleverTap = clevertap.NewSandbox("DEV-ACCOUNT-ID", "dev-clevertap-passcode", knobs[clevertap.Name])
	for name, h := range map[string]http.Handler{plivo.Name: s.Plivo, webex.Name: s.Webex, exotel.Name: s.Exotel, clevertap.Name: s.CleverTap} {
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
	return map[string]*sandbox.Ledger{
		plivo.Name: s.Plivo.Ledger, webex.Name: s.Webex.Ledger,
		exotel.Name: s.Exotel.Ledger, clevertap.Name: s.CleverTap.Ledger,
	}
}

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

	v := &cfg.Vendors
	for _, c := range []struct {
		enabled *bool
		baseURL *string
		retry   *adapters.RetryConfig
		breaker *adapters.BreakerConfig
		name    string
	}{
		{&v.Plivo.Enabled, &v.Plivo.BaseURL, &v.Plivo.Retry, &v.Plivo.Breaker, plivo.Name},
		{&v.Webex.Enabled, &v.Webex.BaseURL, &v.Webex.Retry, &v.Webex.Breaker, webex.Name},
		{&v.Exotel.Enabled, &v.Exotel.BaseURL, &v.Exotel.Retry, &v.Exotel.Breaker, exotel.Name},
		{&v.CleverTap.Enabled, &v.CleverTap.BaseURL, &v.CleverTap.Retry, &v.CleverTap.Breaker, clevertap.Name},
	} {
		*c.enabled, *c.baseURL, *c.retry = true, s.URLs[c.name], retry
		// Parked parts come back within seconds in the dev stack.
		c.retry.Schedule = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second}
		c.retry.GiveUpAfter = 10 * time.Minute
		// The cooldown must fit in the shorter dev retry budget, so that
		// an event waiting on an open circuit lives to see a probe.
		c.breaker.Cooldown = 10 * time.Second
	}
	v.Plivo.AuthID, v.Plivo.AuthToken = s.Plivo.AuthID, config.NewSecret(s.Plivo.AuthToken)
	v.Webex.Token, v.Webex.EventIDParam = config.NewSecret("dev-webex-token"), "exparam1"
	v.Exotel.AccountSID, v.Exotel.APIKey, v.Exotel.APIToken = "devaccount1", "dev-exotel-key", config.NewSecret("dev-exotel-token")
	v.CleverTap.AccountID, v.CleverTap.Passcode = "DEV-ACCOUNT-ID", config.NewSecret("dev-clevertap-passcode")
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
		EventID:    "evt-" + randomHex(8),
		UserID:     user,
		OccurredAt: time.Now().UTC().Truncate(time.Millisecond),
		Identifiers: map[string]string{
			"plivo_profile_uuid": uuid(),
			"webex_key":          fmt.Sprintf("91%08d", n),
			"exotel_contact_sid": randomHex(16),
			"clevertap_identity": user,
		},
	}
	if n%25 == 0 {
		ev.Identifiers["plivo_profile_uuid"] = PrimaryProfile
	}
	b, err := event.Encode(ev)
	if err != nil {
		panic(err) // a sample event that does not encode is a bug in this file
	}
	return []byte(user), b
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

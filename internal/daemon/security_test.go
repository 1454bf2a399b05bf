package daemon_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.yaml.in/yaml/v3"

	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/consumer"
	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/devstack"
	"github.com/erasured/erasured/internal/testpki"
	"github.com/erasured/erasured/kafkaauth"
)

// TestSecureKafkaEndToEnd runs the daemon against a Kafka that requires
// TLS with a client certificate and SASL, for each mechanism, with the
// security settings loaded as an operator writes them (YAML plus
// ERASURED_* environment, the password from a mounted file): events are
// consumed, vendors called, poison records dead-lettered through the
// secured writer, and offsets committed.
func TestSecureKafkaEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{kafkaauth.MechanismPlain, kafkaauth.MechanismSCRAMSHA256, kafkaauth.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			s := startStackWith(t, devstack.Options{Partitions: 2, Knobs: map[string]sandbox.Knobs{},
				KafkaOpts: []kfake.Opt{kfake.TLS(pki.ServerTLS(true)), kfake.EnableSASL(), kfake.Superuser(mech, "erasured", "k4fka-pass")}})
			cfg := secureConfig(t, s, pki, mech, "k4fka-pass")

			w := devstack.NewWorkload(40, 10, 4)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second*devstack.WaitScale())
			defer cancel()
			produceSecure(ctx, t, s, &cfg.Kafka.Auth, w.Records)

			m, _ := startSecureMember(t, cfg)
			waitUntil(t, 60*time.Second, "every record to be committed", func() bool {
				return committedTotal(s, 2) == int64(len(w.Records))
			})
			if n := countDeleted(s, w, "plivo"); n != len(w.Events) {
				t.Errorf("plivo deleted %d of %d", n, len(w.Events))
			}
			dls := readAllSecure(ctx, t, s, &cfg.Kafka.Auth, devstack.DLQTopic)
			if len(dls) != w.PoisonCount() {
				t.Errorf("dead-letter topic holds %d records, want %d (one per poison record)", len(dls), w.PoisonCount())
			}
			if code := get(t, m.addr, "/readyz"); code != http.StatusOK {
				t.Errorf("/readyz = %d after a clean run", code)
			}
		})
	}
}

// TestWrongKafkaPasswordFailsClearly checks that a daemon whose SASL
// password the brokers refuse stops with an error that names the cause
// and where to look, never the password, instead of retrying forever.
func TestWrongKafkaPasswordFailsClearly(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := startStackWith(t, devstack.Options{Partitions: 1, Knobs: map[string]sandbox.Knobs{},
		KafkaOpts: []kfake.Opt{kfake.TLS(pki.ServerTLS(false)), kfake.EnableSASL(), kfake.Superuser(kafkaauth.MechanismSCRAMSHA512, "erasured", "right-pass")}})
	cfg := secureConfig(t, s, pki, kafkaauth.MechanismSCRAMSHA512, "wrong-pass")
	m, run := startSecureMember(t, cfg)

	select {
	case <-run.done:
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon kept running with a refused password")
	}
	runErr := run.err
	if !errors.Is(runErr, consumer.ErrRejected) {
		t.Fatalf("Run = %v, want an error wrapping consumer.ErrRejected", runErr)
	}
	msg := runErr.Error()
	for _, want := range []string{"SASL Authentication Failed", "kafka.sasl"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "wrong-pass") || strings.Contains(m.log.String(), "wrong-pass") {
		t.Error("the password leaked into the error or the log")
	}
	t.Logf("Run = %v", runErr)
}

func startStackWith(t *testing.T, o devstack.Options) *devstack.Stack {
	t.Helper()
	s, err := devstack.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// secureConfig loads the stack's configuration through daemon.LoadConfig
// with the Kafka security settings as an operator would give them: TLS
// in YAML, the username in the environment and the password in a file.
func secureConfig(t *testing.T, s *devstack.Stack, pki *testpki.PKI, mech, password string) *daemon.Config {
	t.Helper()
	dir := t.TempDir()
	passFile := filepath.Join(dir, "kafka-password")
	if err := os.WriteFile(passFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := `kafka:
  tls:
    enabled: true
    ca_file: ` + pki.CAFile + `
    cert_file: ` + pki.ClientCertFile + `
    key_file: ` + pki.ClientKeyFile + `
  sasl:
    mechanism: ` + mech + `
`
	path := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"ERASURED_KAFKA_BROKERS=" + strings.Join(s.Brokers, ","),
		"ERASURED_KAFKA_SASL_USERNAME=erasured",
		"ERASURED_KAFKA_SASL_PASSWORD_FILE=" + passFile,
		// Vendors come from the stack below; one is needed to load.
		"ERASURED_VENDORS_PLIVO_ENABLED=true",
		"ERASURED_VENDORS_PLIVO_BASE_URL=" + s.URLs["plivo"],
		"ERASURED_VENDORS_PLIVO_AUTH_ID=" + daemon.Vendor[*plivo.Config](&s.Config().Vendors).AuthID,
		"ERASURED_VENDORS_PLIVO_AUTH_TOKEN=" + daemon.Vendor[*plivo.Config](&s.Config().Vendors).AuthToken.Reveal(),
	}
	loaded, err := daemon.LoadConfig(path, func() []string { return env })
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	cfg := testConfig(s)
	cfg.Kafka.Auth = loaded.Kafka.Auth
	// Every new connection pays a TLS and SASL handshake (SCRAM: 4096
	// PBKDF2 rounds on each side), which under -race on a loaded machine
	// outlasted the 2s the other tests give a request; these tests need
	// no fast session timeout.
	cfg.Kafka.RequestTimeout = 6 * time.Second
	cfg.Kafka.SessionTimeout, cfg.Kafka.RebalanceTimeout = 15*time.Second, 15*time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runResult is Run's result once done is closed.
type runResult struct {
	done chan struct{}
	err  error
}

// startSecureMember starts a daemon with the Dialer and Transport built
// from cfg, as cmd/erasured does.
func startSecureMember(t *testing.T, cfg *daemon.Config) (*member, *runResult) {
	t.Helper()
	dialer, err := cfg.Kafka.Auth.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	transport, err := cfg.Kafka.Auth.Transport()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	buf := &syncBuffer{}
	d := daemon.New(cfg, zerolog.New(buf).Level(zerolog.InfoLevel), dialer, transport)
	ctx, cancel := context.WithCancel(context.Background())
	run := &runResult{done: make(chan struct{})}
	m := &member{addr: ln.Addr().String(), log: buf}
	go func() { run.err = d.Run(ctx, ln); close(run.done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-run.done:
		case <-time.After(20 * time.Second * devstack.WaitScale()):
			t.Errorf("daemon did not stop within %s", 20*time.Second*devstack.WaitScale())
			logStuckGoroutines(t)
		}
		if t.Failed() || os.Getenv("ERASURED_TEST_LOG") != "" {
			dumpLog(t, buf.String())
		}
	})
	return m, run
}

func produceSecure(ctx context.Context, t *testing.T, s *devstack.Stack, auth *kafkaauth.Config, records []kafka.Message) {
	t.Helper()
	tr, err := auth.Transport()
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(s.Brokers...), Topic: devstack.Topic, Transport: tr, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(ctx, records...); err != nil {
		t.Fatalf("producing over TLS+SASL: %v", err)
	}
}

// readAllSecure reads partition 0 of topic up to its end.
func readAllSecure(ctx context.Context, t *testing.T, s *devstack.Stack, auth *kafkaauth.Config, topic string) []kafka.Message {
	t.Helper()
	d, err := auth.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.DialLeader(ctx, "tcp", s.Brokers[0], topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	last, err := conn.ReadLastOffset()
	_ = conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.Brokers, Topic: topic, Partition: 0, Dialer: d, MaxWait: time.Second})
	defer r.Close()
	var out []kafka.Message
	for int64(len(out)) < last {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		out = append(out, m)
	}
	return out
}

// committedTotal sums the group's committed offsets over the topic's
// partitions; an uncommitted partition counts 0.
func committedTotal(s *devstack.Stack, partitions int32) int64 {
	var n int64
	for p := range partitions {
		n += max(committed(s, p), 0)
	}
	return n
}

func get(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestKafkaAuthAndStallConfig checks the kafka.tls, kafka.sasl and
// http.stall_timeout settings load from YAML and the environment, name the
// wrong field, and never print the password.
func TestKafkaAuthAndStallConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki, err := testpki.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(passFile, []byte("kafka-pw-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{
		"ERASURED_KAFKA_BROKERS=k:9093",
		"ERASURED_VENDORS_PLIVO_ENABLED=true", "ERASURED_VENDORS_PLIVO_AUTH_ID=MA1", "ERASURED_VENDORS_PLIVO_AUTH_TOKEN=t",
	}
	tests := []struct {
		name  string
		env   []string
		field string // "" means it loads
	}{
		{"plain TCP by default", nil, ""},
		{"TLS and SCRAM from the environment", []string{
			"ERASURED_KAFKA_TLS_ENABLED=true", "ERASURED_KAFKA_TLS_CA_FILE=" + pki.CAFile,
			"ERASURED_KAFKA_TLS_CERT_FILE=" + pki.ClientCertFile, "ERASURED_KAFKA_TLS_KEY_FILE=" + pki.ClientKeyFile,
			"ERASURED_KAFKA_SASL_MECHANISM=SCRAM-SHA-256", "ERASURED_KAFKA_SASL_USERNAME=u", "ERASURED_KAFKA_SASL_PASSWORD_FILE=" + passFile,
		}, ""},
		{"missing CA file", []string{"ERASURED_KAFKA_TLS_ENABLED=true", "ERASURED_KAFKA_TLS_CA_FILE=/nonexistent/ca.crt"}, "kafka.tls.ca_file"},
		{"PLAIN without TLS", []string{"ERASURED_KAFKA_SASL_MECHANISM=PLAIN", "ERASURED_KAFKA_SASL_USERNAME=u", "ERASURED_KAFKA_SASL_PASSWORD=p"}, "kafka.sasl.mechanism"},
		{"missing password file", []string{"ERASURED_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "ERASURED_KAFKA_SASL_USERNAME=u", "ERASURED_KAFKA_SASL_PASSWORD_FILE=/nonexistent/pw"}, "kafka.sasl.password"},
		{"no password", []string{"ERASURED_KAFKA_SASL_MECHANISM=SCRAM-SHA-512", "ERASURED_KAFKA_SASL_USERNAME=u"}, "kafka.sasl.password"},
		{"stall timeout below a vendor's retry budget", []string{"ERASURED_HTTP_STALL_TIMEOUT=1m"}, "http.stall_timeout"},
		{"stall timeout above it", []string{"ERASURED_HTTP_STALL_TIMEOUT=1m", "ERASURED_VENDORS_PLIVO_RETRY_MAX_ELAPSED_TIME=30s"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append(append([]string{}, base...), tt.env...)
			cfg, err := daemon.LoadConfig("", func() []string { return env })
			if tt.field == "" {
				if err != nil {
					t.Fatalf("LoadConfig = %v", err)
				}
				out, err := yaml.Marshal(cfg)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(out), "kafka-pw-123") {
					t.Errorf("the printed configuration holds the password:\n%s", out)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("LoadConfig = %v, want an error on %s", err, tt.field)
			}
		})
	}
}

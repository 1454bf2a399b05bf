package kafkaauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/testpki"
	"github.com/erasured/erasured/kafkaauth"
)

// TestKfakeRoundTrip writes through the Transport and reads back through
// the Dialer, as a consumer-group member, against a broker that requires
// TLS with a client certificate and SASL, for every mechanism; and checks
// that a wrong password fails with an error that says so.
func TestKfakeRoundTrip(t *testing.T) {
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{kafkaauth.MechanismPlain, kafkaauth.MechanismSCRAMSHA256, kafkaauth.MechanismSCRAMSHA512} {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"),
				kfake.TLS(pki.ServerTLS(true)), kfake.EnableSASL(), kfake.Superuser(mech, "erasured", "s3cret-pass"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			cfg := kafkaauth.Config{
				TLS:  kafkaauth.TLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile},
				SASL: kafkaauth.SASLConfig{Mechanism: mech, Username: "erasured", Password: config.NewSecret("s3cret-pass")},
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			tr, err := cfg.Transport()
			if err != nil {
				t.Fatal(err)
			}
			w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "t", Transport: tr, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")}); err != nil {
				t.Fatalf("write through Transport: %v", err)
			}
			_ = w.Close()

			d, err := cfg.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{ID: "g", Brokers: brokers, Dialer: d, Topics: []string{"t"}})
			if err != nil {
				t.Fatal(err)
			}
			defer cg.Close()
			gen, err := cg.Next(ctx)
			if err != nil {
				t.Fatalf("joining the group through Dialer: %v", err)
			}
			if n := len(gen.Assignments["t"]); n != 2 {
				t.Fatalf("assigned %d partitions, want 2", n)
			}
			got := 0
			for _, a := range gen.Assignments["t"] {
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: "t", Partition: a.ID, Dialer: d, MaxWait: time.Second})
				hw, err := readOne(ctx, r)
				_ = r.Close()
				if err != nil {
					t.Fatalf("partition %d: %v", a.ID, err)
				}
				got += hw
			}
			if got != 1 {
				t.Fatalf("read %d records, want 1", got)
			}

			// The same broker, a wrong password.
			bad := cfg
			bad.SASL.Password = config.NewSecret("wrong-pass")
			bd, err := bad.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			_, err = bd.DialContext(ctx, "tcp", brokers[0])
			if err == nil {
				t.Fatal("dial with a wrong password succeeded")
			}
			if !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Errorf("wrong password: error %v is not kafka.SASLAuthenticationFailed", err)
			}
			if strings.Contains(err.Error(), "wrong-pass") || strings.Contains(err.Error(), "s3cret-pass") {
				t.Errorf("error leaks the password: %v", err)
			}
			t.Logf("wrong password: %v", err)
		})
	}
}

// readOne returns 1 if the partition holds a record, 0 if it is empty.
func readOne(ctx context.Context, r *kafka.Reader) (int, error) {
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return 0, err
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := r.FetchMessage(lctx)
	switch {
	case err == nil:
		return 1, nil
	case lctx.Err() != nil && ctx.Err() == nil:
		return 0, nil
	default:
		return 0, err
	}
}

// TestKfakeRejections dials a broker that requires a client certificate
// and SCRAM-SHA-256 with configurations each wrong in one way: every dial
// must fail, IsRejection must say so, and no error may carry a password.
func TestKfakeRejections(t *testing.T) {
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"),
		kfake.TLS(pki.ServerTLS(true)), kfake.EnableSASL(), kfake.Superuser(kafkaauth.MechanismSCRAMSHA256, "erasured", "s3cret-pass"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	good := kafkaauth.Config{
		TLS:  kafkaauth.TLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile},
		SASL: kafkaauth.SASLConfig{Mechanism: kafkaauth.MechanismSCRAMSHA256, Username: "erasured", Password: config.NewSecret("s3cret-pass")},
	}
	tests := []struct {
		name string
		edit func(*kafkaauth.Config)
	}{
		{"wrong password", func(c *kafkaauth.Config) { c.SASL.Password = config.NewSecret("wrong-pass") }},
		{"unknown user", func(c *kafkaauth.Config) { c.SASL.Username = "mallory" }},
		{"mechanism the user has no credentials for", func(c *kafkaauth.Config) { c.SASL.Mechanism = kafkaauth.MechanismSCRAMSHA512 }},
		{"broker certificate from another CA", func(c *kafkaauth.Config) { c.TLS.CAFile = other.CAFile }},
		{"broker certificate for another name", func(c *kafkaauth.Config) { c.TLS.ServerName = "kafka.example" }},
		{"no client certificate", func(c *kafkaauth.Config) { c.TLS.CertFile, c.TLS.KeyFile = "", "" }},
		{"client certificate from another CA", func(c *kafkaauth.Config) {
			c.TLS.CertFile, c.TLS.KeyFile = other.ClientCertFile, other.ClientKeyFile
		}},
	}
	d, err := good.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", c.ListenAddrs()[0])
	if err != nil {
		t.Fatalf("the good configuration does not connect: %v", err)
	}
	if _, err := conn.ReadPartitions("t"); err != nil {
		t.Fatalf("the good configuration cannot read metadata: %v", err)
	}
	_ = conn.Close()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			tt.edit(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("config invalid: %v", err)
			}
			d, err := cfg.Dialer()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := d.DialContext(ctx, "tcp", c.ListenAddrs()[0])
			if err == nil {
				// TLS 1.3 reports a refused client certificate on the
				// first read, not in the handshake.
				_, err = conn.ReadPartitions("t")
				_ = conn.Close()
			}
			if err == nil {
				t.Fatal("connected and read metadata")
			}
			if !kafkaauth.IsRejection(err) {
				t.Errorf("IsRejection(%v) = false", err)
			}
			if strings.Contains(err.Error(), "pass") {
				t.Errorf("error may leak the password: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

package kafkaauth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/erasured/erasured/internal/testpki"
	"github.com/erasured/erasured/kafkaauth"
)

// TestCAFileRotation replaces the CA bundle on disk, as a cert-manager or
// Secret rotation does when the brokers move to a new CA: the Dialer and
// the Transport built before the rotation must verify a broker of the new
// CA from the next connection on, stop trusting the old one, and keep the
// last good bundle when the file is caught half-written.
func TestCAFileRotation(t *testing.T) {
	t.Parallel()
	oldPKI, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newPKI, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cluster := func(p *testpki.PKI) string {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.TLS(p.ServerTLS(false)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c.ListenAddrs()[0]
	}
	oldBroker, newBroker := cluster(oldPKI), cluster(newPKI)

	caFile := filepath.Join(t.TempDir(), "ca.crt")
	base := time.Now().Add(-time.Hour)
	install := func(b []byte, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(caFile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// Explicit times: two writes within the file system's timestamp
		// resolution would otherwise look alike.
		if err := os.Chtimes(caFile, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	caOf := func(p *testpki.PKI) []byte {
		b, err := os.ReadFile(p.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	install(caOf(oldPKI), base)

	cfg := kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, CAFile: caFile}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := cfg.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cfg.Transport()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// connects reports whether the Dialer reaches addr with verified TLS
	// and reads its metadata; a refusal must be a rejection.
	connects := func(addr string) bool {
		t.Helper()
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			_, err = conn.ReadPartitions("t")
			_ = conn.Close()
		}
		if err != nil && !kafkaauth.IsRejection(err) {
			t.Fatalf("%s: %v is not a rejection", addr, err)
		}
		return err == nil
	}
	// transportConnects does the same through the Transport. Only its
	// first contact with an address says anything: kafka-go's Transport
	// keeps a failed dial's error for the address until its next metadata
	// refresh, so it is asked only where the answer must be yes.
	transportConnects := func(addr string) {
		t.Helper()
		client := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr, Timeout: 10 * time.Second}
		if _, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"t"}}); err != nil {
			t.Fatalf("Transport to %s: %v", addr, err)
		}
	}

	if !connects(oldBroker) || connects(newBroker) {
		t.Fatal("before the rotation: want the old CA's broker trusted and only it")
	}
	transportConnects(oldBroker)
	install(caOf(newPKI), base.Add(time.Minute))
	if !connects(newBroker) {
		t.Fatal("the rotated CA file is not used: the new CA's broker is refused")
	}
	transportConnects(newBroker)
	if connects(oldBroker) {
		t.Fatal("the old CA is still trusted after the rotation")
	}
	// A half-written rotation keeps the last good bundle.
	install([]byte("-----BEGIN CERTIFICATE-----\ntrunc"), base.Add(2*time.Minute))
	if !connects(newBroker) {
		t.Fatal("a broken CA file replaced the last good bundle")
	}
	// And the file coming back whole is picked up again.
	install(append(caOf(newPKI), caOf(oldPKI)...), base.Add(3*time.Minute))
	if !connects(oldBroker) || !connects(newBroker) {
		t.Fatal("a bundle of both CAs does not trust both brokers")
	}
}

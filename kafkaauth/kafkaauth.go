// Package kafkaauth is how erasured and its Kafka brokers authenticate each
// other: TLS (a custom CA to verify the brokers, a client certificate to
// prove who erasured is) and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512).
// It builds the kafka-go Dialer the consumer group and its partition
// readers use, and the Transport the dead-letter writer uses, from one
// configuration section, so the two paths can never disagree about how to
// reach the cluster.
package kafkaauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
	"github.com/xdg-go/stringprep"

	"github.com/erasured/erasured/config"
)

// SASL mechanisms, spelled as Kafka spells them.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// ClientID is sent to the brokers, so their logs and quotas can tell
// erasured's connections apart.
const ClientID = "erasured"

// dialTimeout bounds establishing one connection, TLS handshake and SASL
// exchange included.
const dialTimeout = 10 * time.Second

// Config is the kafka.tls and kafka.sasl sections. Both off (the zero
// value) means plain TCP without authentication.
type Config struct {
	TLS  TLSConfig  `yaml:"tls"`
	SASL SASLConfig `yaml:"sasl"`
}

// TLSConfig configures TLS to the brokers. Files are PEM and are typically
// mounted from a Kubernetes Secret.
type TLSConfig struct {
	// Enabled turns TLS on. With no ca_file the system roots verify the
	// brokers.
	Enabled bool `yaml:"enabled"`
	// CAFile holds the certificates that verify the brokers, replacing
	// the system roots. It is re-read when it changes on disk, like the
	// client certificate, so a broker CA rotated by cert-manager or a
	// Secret update is trusted from the next connection on.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and its key, for
	// brokers that authenticate clients by certificate (mTLS). Both or
	// neither. They are re-read when they change on disk, so a rotated
	// certificate is used from the next connection on without a restart.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked against the broker's
	// certificate; by default it is the broker's host.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate. For tests only:
	// it gives up knowing who receives the events. Refused with SASL
	// PLAIN, which would hand the password to whoever answers.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty turns
	// SASL off.
	Mechanism string `yaml:"mechanism"`
	// Username is not a secret; it may still come from the environment
	// (ERASURED_KAFKA_SASL_USERNAME) like any field.
	Username string `yaml:"username"`
	// Password is {env: NAME} or {file: PATH}, or set through
	// ERASURED_KAFKA_SASL_PASSWORD(_FILE).
	Password config.Secret `yaml:"password"`
}

// Enabled reports whether SASL is on.
func (c *SASLConfig) Enabled() bool { return c.Mechanism != "" }

// Validate checks the sections and reads the TLS files, so that a wrong
// path or a corrupt certificate is a configuration error naming the field,
// not a connection failure later.
func (c *Config) Validate() error {
	var errs config.Errors
	errs.Add(config.Nest("tls", c.TLS.Validate()))
	errs.Add(config.Nest("sasl", c.SASL.Validate()))
	if c.SASL.Mechanism == MechanismPlain && !c.TLS.Enabled {
		// PLAIN sends the password as it is; SCRAM never does.
		errs.Invalid("sasl.mechanism", "PLAIN sends the password in the clear: enable tls or use SCRAM-SHA-256/512")
	}
	if c.SASL.Mechanism == MechanismPlain && c.TLS.InsecureSkipVerify {
		// Encryption to an unverified peer is encryption to whoever is
		// on the path: PLAIN would hand them the password.
		errs.Invalid("tls.insecure_skip_verify", "must not be true with sasl.mechanism PLAIN, which sends the password to whichever server answers: verify the brokers (ca_file, server_name) or use SCRAM-SHA-256/512")
	}
	return errs.Err()
}

// Validate checks the TLS section and loads its files.
func (c *TLSConfig) Validate() error {
	var errs config.Errors
	if !c.Enabled {
		if c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.InsecureSkipVerify {
			errs.Invalid("enabled", "tls settings are given but tls is not enabled")
		}
		return errs.Err()
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		errs.Invalid("cert_file", "cert_file and key_file go together")
	}
	if c.CAFile != "" {
		if _, err := loadCA(c.CAFile); err != nil {
			errs.Invalid("ca_file", "%v", err)
		}
	}
	if c.CertFile != "" {
		if _, err := loadKeyPair(c.CertFile, c.KeyFile); err != nil {
			errs.Add(err)
		}
	}
	return errs.Err()
}

// Validate checks the SASL section.
func (c *SASLConfig) Validate() error {
	var errs config.Errors
	switch c.Mechanism {
	case "":
		if c.Username != "" || c.Password.IsSet() {
			errs.Invalid("mechanism", "must be set when username or password is")
		}
		return errs.Err()
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
	default:
		// The checks below depend on the mechanism.
		return config.Invalid("mechanism", "must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.Mechanism)
	}
	if strings.TrimSpace(c.Username) == "" {
		errs.Invalid("username", "must be set for SASL %s", c.Mechanism)
	}
	if !c.Password.IsSet() {
		errs.Invalid("password", "must be set for SASL %s ({env: NAME} or {file: PATH})", c.Mechanism)
	}
	errs.Add(c.checkCredentials())
	return errs.Err()
}

// checkCredentials refuses a username or password the mechanism cannot
// send as it is, so that check-config catches what the SCRAM library would
// otherwise refuse at dial time. The messages name the field and quote
// nothing: the library's own error quotes the value, and the usual cause
// is a password read from the environment with a trailing newline.
func (c *SASLConfig) checkCredentials() error {
	var errs config.Errors
	for _, f := range []struct {
		field, value string
	}{{"username", c.Username}, {"password", c.Password.Reveal()}} {
		if c.Mechanism == MechanismPlain {
			// RFC 4616 forbids only NUL, but a control character in a
			// PLAIN credential is a stray newline or a paste accident,
			// and the broker compares bytes: refuse it here rather
			// than as a failed login.
			if !utf8.ValidString(f.value) || strings.IndexFunc(f.value, unicode.IsControl) >= 0 {
				errs.Invalid(f.field, "holds a control character (a trailing newline?) or is not UTF-8; the value is not shown")
			}
			continue
		}
		// SCRAM prepares both with SASLprep (RFC 4013), which refuses
		// control characters and other prohibited code points.
		if _, err := stringprep.SASLprep.Prepare(f.value); err != nil {
			errs.Invalid(f.field, "is refused by SASLprep: it holds a control character (a trailing newline?) or a prohibited code point; the value is not shown")
		}
	}
	return errs.Err()
}

// errSCRAMCredentials replaces the SCRAM library's error, which quotes the
// username or password it refused.
var errSCRAMCredentials = errors.New("the username or password is refused by SASLprep (a control character such as a trailing newline, or a prohibited code point); the value is not shown")

// ClientConfig returns the TLS client configuration as it stands now,
// nil when TLS is off: the CA bundle as currently on disk, the client
// certificate served by a reloading loader. The Dialer and Transport do
// not use one such value for every connection; they build one per
// connection (see tlsDialer), so a rotated CA file takes effect.
func (c *TLSConfig) ClientConfig() (*tls.Config, error) {
	d, err := c.dialer()
	if err != nil || d == nil {
		return nil, err
	}
	return d.config(""), nil
}

// dialer returns the TLS dialer, nil when TLS is off.
func (c *TLSConfig) dialer() (*tlsDialer, error) {
	if !c.Enabled {
		return nil, nil
	}
	d := &tlsDialer{base: &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}}
	if c.CAFile != "" {
		ca, err := newCALoader(c.CAFile)
		if err != nil {
			return nil, err
		}
		d.ca = ca
	}
	if c.CertFile != "" {
		kp, err := newKeyPairLoader(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, err
		}
		d.base.GetClientCertificate = kp.get
	}
	return d, nil
}

// tlsDialer opens TCP connections and does the TLS handshake itself, with
// a configuration built for each connection: kafka-go's own TLS would use
// one tls.Config's RootCAs for the life of the Dialer or Transport, so a
// rotated CA bundle would be ignored until a restart. Verification is the
// standard library's, against the bundle as it is on disk at dial time.
type tlsDialer struct {
	base *tls.Config // everything but RootCAs; never modified once built
	ca   *caLoader   // nil: the system roots
}

// config returns the configuration for one connection to addr: the
// current CA bundle and, unless server_name is set, addr's host as the
// name to verify, as kafka-go and crypto/tls.Dial do.
func (d *tlsDialer) config(addr string) *tls.Config {
	cfg := d.base.Clone()
	if d.ca != nil {
		cfg.RootCAs = d.ca.get()
	}
	if cfg.ServerName == "" && addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	return cfg
}

// DialContext is kafka.Dialer.DialFunc and kafka.Transport.Dial. ctx
// carries kafka-go's dial timeout, which so bounds the handshake too.
func (d *tlsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, d.config(addr))
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return conn, nil
}

// SASLMechanism returns the SASL mechanism, nil when SASL is off.
func (c *SASLConfig) SASLMechanism() (sasl.Mechanism, error) {
	user, pass := c.Username, c.Password.Reveal()
	var m sasl.Mechanism
	switch c.Mechanism {
	case "":
		return nil, nil
	case MechanismPlain:
		m = plain.Mechanism{Username: user, Password: pass}
	case MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		algo := scram.SHA256
		if c.Mechanism == MechanismSCRAMSHA512 {
			algo = scram.SHA512
		}
		var err error
		if m, err = scram.Mechanism(algo, user, pass); err != nil {
			// Not wrapped: the library's error quotes the username or
			// password it refused ("Error SASLprepping password '…'").
			// Validate reports the same case on its field first.
			return nil, fmt.Errorf("SASL %s: %w", c.Mechanism, errSCRAMCredentials)
		}
	default:
		return nil, fmt.Errorf("unknown SASL mechanism %q", c.Mechanism)
	}
	return hiddenMechanism{name: m.Name(), get: func() sasl.Mechanism { return m }}, nil
}

// hiddenMechanism keeps a mechanism's password out of fmt's reach: kafka-go's
// plain.Mechanism holds it in an exported field, so a Dialer or Transport
// printed with %+v in some log line would show it. Behind a closure it
// prints as the mechanism's name.
type hiddenMechanism struct {
	name string
	get  func() sasl.Mechanism
}

func (m hiddenMechanism) Name() string { return m.name }

func (m hiddenMechanism) Start(ctx context.Context) (sasl.StateMachine, []byte, error) {
	return m.get().Start(ctx)
}

func (m hiddenMechanism) String() string   { return m.name + " " + config.Redacted }
func (m hiddenMechanism) GoString() string { return m.String() }

// Dialer returns the dialer for the consumer group and its readers, nil
// when neither TLS nor SASL is on (kafka-go then uses its default dialer).
func (c *Config) Dialer() (*kafka.Dialer, error) {
	td, mech, err := c.parts()
	if err != nil || (td == nil && mech == nil) {
		return nil, err
	}
	d := &kafka.Dialer{
		ClientID:      ClientID,
		Timeout:       dialTimeout,
		DualStack:     true,
		SASLMechanism: mech,
	}
	if td != nil {
		// TLS in our dial function, not kafka-go's TLS field: see
		// tlsDialer.
		d.DialFunc = td.DialContext
	}
	return d, nil
}

// Transport returns the transport for the dead-letter writer, nil when
// neither TLS nor SASL is on (kafka-go then uses its default transport).
// The result is an interface, and a nil one when off, so it can be handed
// to kafka.Writer.Transport without the typed-nil trap.
func (c *Config) Transport() (kafka.RoundTripper, error) {
	td, mech, err := c.parts()
	if err != nil || (td == nil && mech == nil) {
		return nil, err
	}
	t := &kafka.Transport{
		ClientID:    ClientID,
		DialTimeout: dialTimeout,
		SASL:        mech,
	}
	if td != nil {
		t.Dial = td.DialContext
	}
	return t, nil
}

func (c *Config) parts() (*tlsDialer, sasl.Mechanism, error) {
	td, err := c.TLS.dialer()
	if err != nil {
		return nil, nil, fmt.Errorf("kafka tls: %w", err)
	}
	mech, err := c.SASL.SASLMechanism()
	if err != nil {
		return nil, nil, fmt.Errorf("kafka sasl: %w", err)
	}
	return td, mech, nil
}

// maxPEMBytes bounds a CA bundle.
const maxPEMBytes = 1 << 20

func loadCA(path string) (*x509.CertPool, error) {
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxPEMBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxPEMBytes)
	}
	return b, nil
}

// caLoader serves the CA bundle, reloading it when the file changes, as
// keyPairLoader does for the client certificate. A reload that fails (a
// rotation caught half-written) keeps the last good bundle; the next dial
// tries again.
type caLoader struct {
	path string

	mu   sync.Mutex
	pool *x509.CertPool
	mod  time.Time
	size int64
}

func newCALoader(path string) (*caLoader, error) {
	l := &caLoader{path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if l.pool, err = loadCA(path); err != nil {
		return nil, err
	}
	l.mod, l.size = fi.ModTime(), fi.Size()
	return l, nil
}

func (l *caLoader) get() *x509.CertPool {
	l.mu.Lock()
	defer l.mu.Unlock()
	fi, err := os.Stat(l.path)
	if err != nil || (fi.ModTime().Equal(l.mod) && fi.Size() == l.size) {
		return l.pool
	}
	if pool, err := loadCA(l.path); err == nil {
		l.pool, l.mod, l.size = pool, fi.ModTime(), fi.Size()
	}
	return l.pool
}

// loadKeyPair reads the client certificate and key. Its errors are
// written here, naming the field and the path, and never wrap
// crypto/tls's: those describe the PEM input, and the input is a private
// key.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readBounded(certFile)
	if err != nil {
		return tls.Certificate{}, config.Invalid("cert_file", "%v", err)
	}
	keyPEM, err := readBounded(keyFile)
	if err != nil {
		return tls.Certificate{}, config.Invalid("key_file", "%v", err)
	}
	if !holdsCertificate(certPEM) {
		return tls.Certificate{}, config.Invalid("cert_file", "%s holds no PEM certificate", certFile)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, config.Invalid("key_file", "%s is not a PEM private key matching cert_file (the contents are not shown)", keyFile)
	}
	return kp, nil
}

// holdsCertificate reports whether b's first CERTIFICATE block parses.
func holdsCertificate(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(blk.Bytes)
			return err == nil
		}
	}
}

// keyPairLoader serves the client certificate, reloading it when either
// file changes: cert-manager and Kubernetes rotate mounted Secrets in
// place, and a long-running daemon must pick the new pair up.
type keyPairLoader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modCert time.Time
	modKey  time.Time
}

func newKeyPairLoader(certFile, keyFile string) (*keyPairLoader, error) {
	l := &keyPairLoader{certFile: certFile, keyFile: keyFile}
	if err := l.reload(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *keyPairLoader) reload() error {
	mc, err1 := modTime(l.certFile)
	mk, err2 := modTime(l.keyFile)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if l.cert != nil && mc.Equal(l.modCert) && mk.Equal(l.modKey) {
		return nil
	}
	kp, err := loadKeyPair(l.certFile, l.keyFile)
	if err != nil {
		return err
	}
	l.cert, l.modCert, l.modKey = &kp, mc, mk
	return nil
}

// get is tls.Config.GetClientCertificate. A reload that fails (a rotation
// caught half-written) keeps the last good pair: the next handshake tries
// again.
func (l *keyPairLoader) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.reload()
	return l.cert, nil
}

func modTime(path string) (time.Time, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	return fi.ModTime(), nil
}

// IsRejection reports whether err means the brokers and erasured refused
// each other: bad credentials, an unsupported mechanism, a certificate
// that does not verify either way, or access denied to the group or
// topic. Retrying with the same configuration cannot help, unlike a
// broker that is down.
func IsRejection(err error) bool {
	if err == nil {
		return false
	}
	for _, ke := range []kafka.Error{
		kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState,
		kafka.GroupAuthorizationFailed, kafka.TopicAuthorizationFailed, kafka.ClusterAuthorizationFailed,
	} {
		if errors.Is(err, ke) {
			return true
		}
	}
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		op      *net.OpError
	)
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && strings.Contains(op.Err.Error(), "certificate") {
		// The broker sent a TLS alert refusing our certificate or the
		// lack of one (bad_certificate, unknown_ca, certificate_required
		// and kin). crypto/tls keeps the alert type unexported outside
		// QUIC, so its text is all there is to go on.
		return true
	}
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid)
}

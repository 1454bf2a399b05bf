package dlq

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/erasured/erasured/config"
)

// MinSigningKeyBytes is the shortest signing key accepted: 32 bytes, as
// `openssl rand -base64 32` (44 characters) comfortably gives.
const MinSigningKeyBytes = 32

// SigningConfig is the `replay` section of the daemon's configuration:
// the key `erasured replay` signs its vendor restrictions with, and the
// daemon verifies them with. Both read it from the same place (replay
// from -config, or ERASURED_REPLAY_SIGNING_KEY[_FILE]).
//
// Without a signing key the daemon honours no restriction (a replayed
// record goes to every vendor) and replay refuses to run, except a dry
// run: it could only write restrictions no daemon would honour.
type SigningConfig struct {
	// SigningKey signs restrictions and verifies them.
	SigningKey config.Secret `yaml:"signing_key"`
	// PreviousSigningKeys verify, never sign: during a key rotation, the
	// keys restrictions still in flight were signed with. One secret
	// holding the keys separated by newlines or commas.
	PreviousSigningKeys config.Secret `yaml:"previous_signing_keys" secret:"lines"`
}

// Validate names the first wrong field; it never quotes a key.
func (c *SigningConfig) Validate() error {
	var errs config.Errors
	// An unread key (check-config -skip-secrets) has no value to check.
	if c.SigningKey.IsSet() && !c.SigningKey.Unread() {
		if err := checkKey(c.SigningKey.Reveal()); err != "" {
			errs.Invalid("signing_key", "%s (from %s)", err, c.SigningKey.Source())
		}
	}
	prev := c.previous()
	if len(prev) > 0 && !c.SigningKey.IsSet() {
		errs.Invalid("previous_signing_keys", "set without signing_key; a rotation keeps the new key in signing_key")
	}
	for i, k := range prev {
		if err := checkKey(k); err != "" {
			errs.Invalid("previous_signing_keys", "key %d: %s (from %s)", i+1, err, c.PreviousSigningKeys.Source())
		}
	}
	return errs.Err()
}

func checkKey(k string) string {
	if len(k) < MinSigningKeyBytes {
		return "shorter than " + strconv.Itoa(MinSigningKeyBytes) + " bytes; generate one with `openssl rand -base64 32`"
	}
	for _, r := range k {
		if r == ',' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return "holds a comma, a space or a control character"
		}
	}
	return ""
}

func (c *SigningConfig) previous() []string {
	return strings.FieldsFunc(c.PreviousSigningKeys.Reveal(), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
}

// Keyring returns the keyring of a valid configuration, nil without a
// signing key.
func (c *SigningConfig) Keyring() *Keyring {
	if !c.SigningKey.IsSet() {
		return nil
	}
	var prev [][]byte
	for _, k := range c.previous() {
		prev = append(prev, []byte(k))
	}
	return NewKeyring([]byte(c.SigningKey.Reveal()), prev...)
}

package plivo

import (
	"fmt"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

// DevPrimaryProfile is the dev sandbox account's primary profile, which
// Plivo refuses to delete: events naming it are dead-lettered, which
// shows the dead-letter path in the dev stack.
const DevPrimaryProfile = "00000000-0000-4000-8000-000000000001"

const (
	devAuthID = "MADEVACCOUNT0000000"
	devToken  = "dev-plivo-token"
)

func init() {
	adapters.RegisterVendor(Name, DefaultConfig, func(c Config, d adapters.Deps) adapters.Adapter { return New(c, d.Client) },
		adapters.Dev{
			About: "healthy and fast (5-15 ms)",
			Knobs: sandbox.Knobs{Latency: 5 * time.Millisecond, Jitter: 10 * time.Millisecond},
			Sandbox: func(k sandbox.Knobs) adapters.DevSandbox {
				s := NewSandbox(devAuthID, devToken, k)
				s.PrimaryProfile = DevPrimaryProfile
				return adapters.DevSandbox{Handler: s, Ledger: s.Ledger, Chaos: s.Chaos}
			},
			Settings: map[string]string{"auth_id": devAuthID},
			Secrets:  map[string]string{"auth_token": devToken},
			Identifiers: func(n int) map[string]string {
				return map[string]string{DefaultProfileField: fmt.Sprintf("00000000-0000-4000-8000-%012d", n+1000)}
			},
			LedgerID: func(ids map[string]string) string { return ids[DefaultProfileField] },
		})
}

// Endpoint implements adapters.VendorConfig.
func (c *Config) Endpoint() string { return c.BaseURL }

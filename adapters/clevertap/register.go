package clevertap

import (
	"fmt"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

const (
	devAccount  = "DEV-ACCOUNT-ID"
	devPasscode = "dev-clevertap-passcode"
)

func init() {
	adapters.RegisterVendor(Name, DefaultConfig, func(c Config, d adapters.Deps) adapters.Adapter {
		if d.Unbatched {
			c.BatchSize = 1
		}
		// CleverTap batches: it takes one permit per request itself.
		return New(c, d.Client, WithLimiter(d.Limiter))
	},
		adapters.Dev{
			About: "slow (40-80 ms)",
			Knobs: sandbox.Knobs{Latency: 40 * time.Millisecond, Jitter: 40 * time.Millisecond},
			Sandbox: func(k sandbox.Knobs) adapters.DevSandbox {
				s := NewSandbox(devAccount, devPasscode, k)
				return adapters.DevSandbox{Handler: s, Ledger: s.Ledger, Chaos: s.Chaos}
			},
			Settings: map[string]string{"account_id": devAccount},
			Secrets:  map[string]string{"passcode": devPasscode},
			Identifiers: func(n int) map[string]string {
				return map[string]string{DefaultIdentityField: fmt.Sprintf("ct-%08d", n)}
			},
			LedgerID: func(ids map[string]string) string { return ids[DefaultIdentityField] },
		})
}

package webex

import (
	"fmt"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

const devToken = "dev-webex-token"

func init() {
	adapters.RegisterVendor(Name, DefaultConfig, func(c Config, d adapters.Deps) adapters.Adapter { return New(c, d.Client) },
		adapters.Dev{
			About: "throttled at -webex-rps requests per second: 429 with Retry-After past it, which erasured's limiter learns",
			Knobs: sandbox.Knobs{Latency: 10 * time.Millisecond, ThrottleRPS: 15},
			Sandbox: func(k sandbox.Knobs) adapters.DevSandbox {
				s := NewSandbox(devToken, k)
				return adapters.DevSandbox{Handler: s, Ledger: s.Ledger, Chaos: s.Chaos}
			},
			Settings: map[string]string{"event_id_param": "exparam1"},
			Secrets:  map[string]string{"token": devToken},
			Identifiers: func(n int) map[string]string {
				return map[string]string{DefaultKeyField: fmt.Sprintf("91%010d", n)}
			},
			LedgerID: func(ids map[string]string) string { return LedgerID("", ids[DefaultKeyField]) },
		})
}

// Endpoint implements adapters.VendorConfig.
func (c *Config) Endpoint() string { return c.BaseURL }

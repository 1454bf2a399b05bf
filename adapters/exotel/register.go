package exotel

import (
	"fmt"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

const (
	devAccount = "devaccount1"
	devKey     = "dev-exotel-key"
	devToken   = "dev-exotel-token"
)

func init() {
	adapters.RegisterVendor(Name, DefaultConfig, func(c Config, d adapters.Deps) adapters.Adapter { return New(c, d.Client) },
		adapters.Dev{
			About: "fails 15% of requests with a 5xx, which erasured retries",
			Knobs: sandbox.Knobs{Latency: 15 * time.Millisecond, FailureRate: 0.15},
			Sandbox: func(k sandbox.Knobs) adapters.DevSandbox {
				s := NewSandbox(devAccount, devKey, devToken, k)
				return adapters.DevSandbox{Handler: s, Ledger: s.Ledger, Chaos: s.Chaos}
			},
			Settings: map[string]string{"account_sid": devAccount, "api_key": devKey},
			Secrets:  map[string]string{"api_token": devToken},
			Identifiers: func(n int) map[string]string {
				return map[string]string{DefaultContactField: fmt.Sprintf("c%031d", n)}
			},
			LedgerID: func(ids map[string]string) string { return ids[DefaultContactField] },
		})
}

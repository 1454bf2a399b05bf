// Package httpvendor is a vendor declared in configuration rather than
// coded: vendors.http.<name> gives the delete request's method, URL
// template, auth, optional JSON body template and identifier field, and a
// table mapping the vendor's answers to outcomes. It goes through the same
// adapters machinery as a coded vendor (adapters.Send, classification,
// retries, limiter, breaker, metrics), and NewSandbox generates a strict
// sandbox from the same declaration.
package httpvendor

import (
	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/config"
)

// Config declares one vendor.
type Config struct {
	// Common holds enabled, retry, limit and breaker.
	adapters.Common `yaml:",inline"`
}

// Validate names wrong fields relative to the section.
func (c *Config) Validate() error {
	var errs config.Errors
	errs.Add(c.ValidateCommon())
	return errs.Err()
}

// Endpoint implements adapters.VendorConfig.
func (c *Config) Endpoint() string { return "" }

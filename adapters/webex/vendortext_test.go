package webex

import "github.com/erasured/erasured/adapters"

// vendorText is all the error carries of words, its own and the vendor's.
func vendorText(ae *adapters.Error) string {
	return ae.Description + " " + ae.Message + " " + ae.VendorMessage
}

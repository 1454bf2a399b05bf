// Package install registers every coded vendor with adapters.Register:
// importing it (blank) is what makes vendors.<name> a known section. A
// new vendor adds its import line here.
package install

import (
	_ "github.com/erasured/erasured/adapters/clevertap"
	_ "github.com/erasured/erasured/adapters/exotel"
	_ "github.com/erasured/erasured/adapters/plivo"
	_ "github.com/erasured/erasured/adapters/webex"
)

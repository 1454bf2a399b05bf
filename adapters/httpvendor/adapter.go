package httpvendor

import (
	"net/http"

	"github.com/erasured/erasured/adapters"
)

// New builds the adapter for the vendor declared as name; cfg must be
// valid.
func New(name string, cfg Config, client *http.Client) (adapters.Adapter, error) {
	return nil, nil
}

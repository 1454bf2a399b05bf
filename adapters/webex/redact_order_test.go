package webex

import (
	"net/http"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
)

// TestClassifyRedactsLongestFirst is issue 10 item 12 at an adapter: the
// key, listed first, is part of the token the body echoes; no piece of
// the token may be left around a redacted key.
func TestClassifyRedactsLongestFirst(t *testing.T) {
	t.Parallel()
	const token = "wbx_Sup3rS3cret_ab12cd34ef56"
	const key = "cd34"
	body := `{"code":"7777","description":"token ` + token + ` refused for key ` + key + `"}`
	_, err := Classify(&adapters.Response{Status: http.StatusBadRequest, Body: []byte(body)}, key, token)
	if err == nil {
		t.Fatal("Classify: no error")
	}
	text := err.Error()
	if ae, ok := err.(*adapters.Error); ok {
		text += " " + vendorText(ae)
	}
	for _, piece := range []string{"wbx_", "Sup3rS3cret", "ab12", "ef56"} {
		if strings.Contains(text, piece) {
			t.Errorf("error text %q leaves %q of the token", text, piece)
		}
	}
}

package redact

import (
	"strings"
	"testing"
)

// BenchmarkPersonal masks the largest body an adapter reads: an HTML error
// page of 64 KiB with escapes throughout.
func BenchmarkPersonal(b *testing.B) {
	body := strings.Repeat(`<p>error &amp; retry %20 later \u0041 at 2026-12-01 id f8ca5a50</p>`, 64<<10/70)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		Personal(body, testUUID, testToken, "usr-1", "ada@example.com")
	}
}

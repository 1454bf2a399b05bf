package adapters

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var retryNow = time.Date(2025, time.January, 1, 12, 0, 0, 0, time.UTC)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"5", 5 * time.Second, true},
		{" 5\t", 5 * time.Second, true},
		{"0", 0, true},
		{"120", 2 * time.Minute, true},
		{"-1", 0, false},
		{"86400", MaxRetryAfter, true},
		{"86401", MaxRetryAfter, true},
		{"9223372036854775807", MaxRetryAfter, true},
		{"99999999999999999999999", MaxRetryAfter, true}, // beyond int64: still a number
		{"-99999999999999999999999", 0, false},
		{"1.5", 0, false},
		{"5s", 0, false},
		{"soon", 0, false},
		{"0x10", 0, false},
		// IMF-fixdate, RFC 850 and ANSI C asctime: the three forms
		// http.ParseTime accepts.
		{"Wed, 01 Jan 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Wednesday, 01-Jan-25 12:01:00 GMT", time.Minute, true},
		{"Wed Jan  1 12:02:00 2025", 2 * time.Minute, true},
		{"  Wed, 01 Jan 2025 12:00:30 GMT  ", 30 * time.Second, true},
		{"Wed, 01 Jan 2025 11:59:00 GMT", 0, true}, // past
		{"Thu, 01 Jan 1970 00:00:00 GMT", 0, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", MaxRetryAfter, true}, // far future is capped too
		{"Thu, 02 Jan 2025 12:00:00 GMT", MaxRetryAfter, true},
		{"Wed, 32 Jan 2025 12:00:30 GMT", 0, false},
		{"Wed, 01 Jan 2025 12:00:30", 0, false},
	}
	for _, tc := range tests {
		got, ok := ParseRetryAfter(tc.in, retryNow)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "5", "-1", "86401", "99999999999999999999",
		"Wed, 01 Jan 2025 12:00:30 GMT", "Wednesday, 01-Jan-25 12:01:00 GMT", "Wed Jan  1 12:02:00 2025",
		"Fri, 31 Dec 9999 23:59:59 GMT", "+3", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, retryNow)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s, out of [0, %s]", v, d, MaxRetryAfter)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s, false; want 0 when unreadable", v, d)
		}
	})
}

func TestResponseRetryAfter(t *testing.T) {
	t.Parallel()
	r := &Response{Status: 429, Header: http.Header{"Retry-After": {"3"}}}
	if got := r.RetryAfter(time.Now()); got != 3*time.Second {
		t.Errorf("RetryAfter = %s, want 3s", got)
	}
	r = &Response{Status: 429, Header: http.Header{}}
	if got := r.RetryAfter(time.Now()); got != 0 {
		t.Errorf("RetryAfter without header = %s, want 0", got)
	}
}

const (
	testID     = "f8ca5a50-50b8-438d-8068-28427b1c0e90"
	testSecret = "tok-9c1e77a3b5"
)

func TestExcerpt(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 195) + testID + strings.Repeat("y", 100)
	tests := []struct {
		name   string
		body   string
		redact []string
		want   string
	}{
		{"plain", `{"error":"not found"}`, nil, `{"error":"not found"}`},
		{"empty", "", nil, ""},
		{"trimmed", "  \n hello \r\n", nil, "hello"},
		{"exactly the bound", strings.Repeat("a", MaxExcerpt), nil, strings.Repeat("a", MaxExcerpt)},
		{"one over the bound", strings.Repeat("a", MaxExcerpt+1), nil, strings.Repeat("a", MaxExcerpt) + "…"},
		// A 2-byte rune that would cross the bound is left out whole.
		{"rune at the bound", strings.Repeat("a", MaxExcerpt-1) + "é" + "z", nil, strings.Repeat("a", MaxExcerpt-1) + "…"},
		{"invalid utf-8", "a\xffb\xfe\xfdc", nil, "a?b??c"},
		{"truncated rune", "ab\xe2\x82", nil, "ab??"},
		{"real replacement char kept", "a\uFFFDb", nil, "a\uFFFDb"},
		{"c0 controls", "a\nb\tc\x00d\x1be", nil, "a b c d e"},
		{"del and c1", "a\x7fb\u0085c\u009bd", nil, "a b c d"},
		{"line separators and bidi", "a\u2028b\u2029c\u202ed\ufeffe", nil, "a b c d e"},
		{"unicode text kept", "ошибка 错误 ✓", nil, "ошибка 错误 ✓"},
		{"redacted", "profile " + testID + " token " + testSecret, []string{testID, testSecret}, "profile [redacted] token [redacted]"},
		{"empty redact value ignored", "abc", []string{""}, "abc"},
		{"redacted before the cut", long, []string{testID}, strings.Repeat("x", 195) + "[reda…"},
	}
	for _, tc := range tests {
		got := Excerpt([]byte(tc.body), tc.redact...)
		if got != tc.want {
			t.Errorf("%s: Excerpt = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	if got := Redact("a-b-a", "a", "", "b"); got != "[redacted]-[redacted]-[redacted]" {
		t.Errorf("Redact = %q", got)
	}
	if got := Redact("nothing here"); got != "nothing here" {
		t.Errorf("Redact without values = %q", got)
	}
}

// safeRedactValue reports whether v is an identifier-like value Excerpt
// can promise to hide: it cannot be rebuilt from "[redacted]", "…" or the
// characters that replace unprintable ones.
func safeRedactValue(v string) bool {
	if v == "" || strings.Contains(Redacted(), v) {
		return false
	}
	for _, r := range v {
		if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_@.+", r))) {
			return false
		}
	}
	return true
}

// Redacted mirrors the replacement Redact writes.
func Redacted() string { return Redact("x", "x") }

func FuzzExcerpt(f *testing.F) {
	f.Add([]byte(`{"api_id":"aaf7717a-c149-11ec-a932-0242ac110003","error":"not found"}`), testID)
	f.Add([]byte("<html>\r\n<body>502 Bad Gateway</body>\x00</html>"), testSecret)
	f.Add([]byte(strings.Repeat("é", 150)+testID), testID)
	f.Add([]byte("\xff\xfe\u2028\u202e"+testSecret+testSecret), testSecret)
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		out := Excerpt(body, secret)
		if !utf8.ValidString(out) {
			t.Fatalf("Excerpt is not valid UTF-8: %q", out)
		}
		if len(out) > MaxExcerpt+len("…") {
			t.Fatalf("Excerpt is %d bytes: %q", len(out), out)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf) {
				t.Fatalf("Excerpt holds %U: %q", r, out)
			}
		}
		if out != strings.TrimSpace(out) {
			t.Fatalf("Excerpt not trimmed: %q", out)
		}
		if safeRedactValue(secret) && strings.Contains(out, secret) {
			t.Fatalf("Excerpt %q leaks %q", out, secret)
		}
	})
}

func TestSendBoundsBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write(bytes.Repeat([]byte("z"), MaxResponseBytes+10_000))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
	resp, err := Send(context.Background(), srv.Client(), req, "v")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTeapot || resp.Header.Get("X-Test") != "yes" {
		t.Errorf("got status %d header %v", resp.Status, resp.Header)
	}
	if len(resp.Body) != MaxResponseBytes {
		t.Errorf("body is %d bytes, want the bound %d", len(resp.Body), MaxResponseBytes)
	}
}

func TestSendSmallBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL, nil)
	resp, err := Send(context.Background(), srv.Client(), req, "v")
	if err != nil || resp.Status != 200 || string(resp.Body) != `{"ok":true}` {
		t.Fatalf("Send = %+v, %v", resp, err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	path := "/v1/Account/MAACCOUNT/Profile/" + testID + "/"
	req, _ := http.NewRequest(http.MethodDelete, "http://"+addr+path+"?token="+testSecret, nil)
	resp, err := Send(context.Background(), http.DefaultClient, req, "v", testID, testSecret)
	if resp != nil {
		t.Fatalf("got a response %+v", resp)
	}
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %#v, want *Error", err)
	}
	if ae.Class != ClassRetryable || ae.Status != 0 || ae.Vendor != "v" {
		t.Errorf("got %+v, want a retryable *Error without status", ae)
	}
	for _, leak := range []string{testID, testSecret, "/v1/Account", "MAACCOUNT", "Profile"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q contains %q", err, leak)
		}
	}
	if !strings.Contains(err.Error(), "refused") {
		t.Errorf("error %q does not say what happened", err)
	}
}

func TestSendCallerCancellation(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/p/"+testID, nil)
	_, err := Send(ctx, srv.Client(), req, "v", testID)
	if err != context.Canceled {
		t.Fatalf("err = %#v, want context.Canceled itself", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err = Send(ctx, srv.Client(), req, "v")
	if err != context.DeadlineExceeded {
		t.Fatalf("err = %#v, want context.DeadlineExceeded itself", err)
	}
}

func TestSendTruncatedBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"partial":`))
		// Cut the connection short of the promised length.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/p/"+testID, nil)
	_, err := Send(context.Background(), srv.Client(), req, "v", testID)
	var ae *Error
	if !errors.As(err, &ae) || ae.Class != ClassRetryable || ae.Status != http.StatusOK {
		t.Fatalf("err = %#v, want a retryable *Error carrying the status", err)
	}
	if strings.Contains(err.Error(), testID) {
		t.Errorf("error %q names the identifier", err)
	}
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	tests := []struct {
		status     int
		retryAfter string
		want       Class
		wantRA     func(time.Duration) bool
	}{
		{429, "3", ClassRetryable, func(d time.Duration) bool { return d == 3*time.Second }},
		{429, "", ClassRetryable, func(d time.Duration) bool { return d == 0 }},
		{429, future, ClassRetryable, func(d time.Duration) bool { return d > 58*time.Minute && d <= time.Hour }},
		{408, "", ClassRetryable, nil},
		{500, "", ClassRetryable, nil},
		{502, "", ClassRetryable, nil},
		{503, "120", ClassRetryable, func(d time.Duration) bool { return d == 2*time.Minute }},
		{504, "garbage", ClassRetryable, func(d time.Duration) bool { return d == 0 }},
		{599, "", ClassRetryable, nil},
		{400, "5", ClassPermanent, func(d time.Duration) bool { return d == 0 }},
		{401, "", ClassPermanent, nil},
		{403, "", ClassPermanent, nil},
		{404, "", ClassPermanent, nil},
		{405, "", ClassPermanent, nil},
		{409, "", ClassPermanent, nil},
		{422, "", ClassPermanent, nil},
		{499, "", ClassPermanent, nil},
		{600, "1", ClassUnexpected, func(d time.Duration) bool { return d == 0 }},
		{999, "", ClassUnexpected, nil},
		{302, "", ClassUnexpected, nil},
		{200, "", ClassUnexpected, nil},
		{204, "", ClassUnexpected, nil},
		{100, "", ClassUnexpected, nil},
		{0, "", ClassUnexpected, nil},
	}
	for _, tc := range tests {
		r := &Response{Status: tc.status, Header: http.Header{}}
		if tc.retryAfter != "" {
			r.Header.Set("Retry-After", tc.retryAfter)
		}
		e := StatusError("v", r, "C"+strconv.Itoa(tc.status), "msg")
		if e.Class != tc.want || e.Status != tc.status || e.Vendor != "v" || e.Code != "C"+strconv.Itoa(tc.status) || e.VendorMessage != "msg" || e.Message != "" {
			t.Errorf("StatusError(%d) = %+v, want class %v", tc.status, e, tc.want)
		}
		if tc.wantRA != nil && !tc.wantRA(e.RetryAfter) {
			t.Errorf("StatusError(%d, Retry-After %q).RetryAfter = %s", tc.status, tc.retryAfter, e.RetryAfter)
		}
	}
}

func TestUnexpected(t *testing.T) {
	t.Parallel()
	body := []byte("<html>" + strings.Repeat("ab", 1000) + testID + "</html>")
	e := Unexpected("v", &Response{Status: 200, Body: body}, "unknown body", testID)
	if e.Class != ClassUnexpected || e.Status != 200 {
		t.Errorf("got %+v", e)
	}
	if e.Message != "unknown body" || !strings.HasPrefix(e.VendorMessage, "<html>abab") || len(e.VendorMessage) > MaxExcerpt+len("…") {
		t.Errorf("message %q, vendor message %q: want the adapter's words and a bounded excerpt", e.Message, e.VendorMessage)
	}
	e = Unexpected("v", &Response{Status: 500, Body: []byte("id=" + testID)}, "odd", testID)
	if strings.Contains(e.VendorMessage, testID) || !strings.Contains(e.VendorMessage, "[redacted]") {
		t.Errorf("vendor message %q not redacted", e.VendorMessage)
	}
	if strings.Contains(e.Error(), "id=") {
		t.Errorf("Error() %q carries the vendor's words", e.Error())
	}
	if e = Unexpected("v", &Response{Status: 200}, "no answer"); e.Message != "no answer (empty body)" || e.VendorMessage != "" {
		t.Errorf("empty body: message %q, vendor message %q", e.Message, e.VendorMessage)
	}
}

func TestValidateBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		allowHTTP bool
		wantErr   string // substring; "" means valid
	}{
		{in: "https://api.plivo.com"},
		{in: "https://api.plivo.com/"},
		{in: "HTTPS://api.plivo.com"},
		{in: "http://127.0.0.1:8080"},
		{in: "http://127.9.9.9"},
		{in: "http://[::1]:8080"},
		{in: "http://[::ffff:127.0.0.1]:8080"},
		{in: "http://localhost:8080"},
		{in: "http://LocalHost.:8080"},
		{in: "https://example.com/api"}, // a path is the vendor's business
		{in: "http://api.plivo.com", allowHTTP: true},
		{in: "http://api.plivo.com", wantErr: "allow_insecure_http"},
		{in: "HTTP://api.plivo.com", wantErr: "allow_insecure_http"},
		{in: "http://10.1.2.3:8080", wantErr: "allow_insecure_http"},
		{in: "http://[::2]:8080", wantErr: "allow_insecure_http"},
		{in: "http://localhost.example.com", wantErr: "allow_insecure_http"},
		{in: "http://127.0.0.1.nip.io", wantErr: "allow_insecure_http"},
		{in: "", wantErr: "https URL"},
		{in: "api.plivo.com", wantErr: "https URL"},
		{in: "api.plivo.com:443", wantErr: "https URL"},
		{in: "ftp://api.plivo.com", wantErr: "https URL"},
		{in: "ftp://api.plivo.com", allowHTTP: true, wantErr: "https URL"},
		{in: "file:///etc/passwd", wantErr: "https URL"},
		{in: "https://", wantErr: "host"},
		{in: "http://:8080", wantErr: "host"},
		{in: "https:opaque", wantErr: "host"},
		{in: "https://api.plivo.com?x=hunter2", wantErr: "query"},
		{in: "https://api.plivo.com/?", wantErr: "query"},
		{in: "https://api.plivo.com#hunter2", wantErr: "fragment"},
		{in: "https://api.plivo.com/#", wantErr: "fragment"},
		{in: "https://api.plivo.com/%zz", wantErr: "not a valid URL"},
		{in: "https://user:hunter2@api.plivo.com", wantErr: "credentials"},
		{in: "https://hunter2@api.plivo.com", wantErr: "credentials"},
		{in: "ftp://user:hunter2@api.plivo.com", wantErr: "credentials"},
		{in: "http://user:hunter2@bad host/", wantErr: "not a valid URL"},
		{in: "https://user:hunter2/x@api.plivo.com", wantErr: "not a valid URL"},
		{in: "https://api.plivo.com:hunter2", wantErr: "not a valid URL"},
		{in: "http://api.plivo.com/\x7f", wantErr: "not a valid URL"},
	}
	for _, tc := range tests {
		err := ValidateBaseURL(tc.in, tc.allowHTTP)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ValidateBaseURL(%q, %v) = %v, want nil", tc.in, tc.allowHTTP, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ValidateBaseURL(%q, %v) = %v, want an error saying %q", tc.in, tc.allowHTTP, err, tc.wantErr)
		case err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "plivo")):
			t.Errorf("ValidateBaseURL(%q) error %q echoes the URL", tc.in, err)
		}
	}
}

func TestInsecureHTTP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"https://api.plivo.com": false,
		"http://api.plivo.com":  true,
		"HTTP://api.plivo.com":  true,
		"http://127.0.0.1:8080": false,
		"http://[::1]:1":        false,
		"http://localhost":      false,
		"http://10.0.0.1":       true,
	} {
		if got := InsecureHTTP(in); got != want {
			t.Errorf("InsecureHTTP(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzValidateBaseURL: whatever the input, an error quotes none of it,
// and what is accepted is https, or http to this machine unless allowed,
// with a host and no credentials, query or fragment.
func FuzzValidateBaseURL(f *testing.F) {
	for _, s := range []string{"https://api.plivo.com", "http://127.0.0.1:1", "http://u:p@h", "https://h/?q=tok", "https://h#f", "https://h:tok", "https://u:tok/x@h", "ftp://h", "", "http://[::1]/x", "https://h/%zz"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	messages := map[string]bool{}
	for _, s := range []string{"%", "http://u@h", "https://h?q", "http://h", "ftp://h", "https://", "https:o"} {
		if err := ValidateBaseURL(s, false); err != nil {
			messages[err.Error()] = true
		}
	}
	f.Fuzz(func(t *testing.T, s string, allowHTTP bool) {
		err := ValidateBaseURL(s, allowHTTP)
		if err != nil {
			// Every message is a constant: none is built from the input.
			if !messages[err.Error()] {
				t.Fatalf("ValidateBaseURL(%q) = %q, a message built from the input?", s, err)
			}
			return
		}
		u, perr := url.Parse(s)
		if perr != nil || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Hostname() == "" {
			t.Fatalf("ValidateBaseURL accepted %q", s)
		}
		if u.Scheme != "https" && (u.Scheme != "http" || (!allowHTTP && !IsLoopbackHost(u.Hostname()))) {
			t.Fatalf("ValidateBaseURL(%q, %v) accepted an insecure scheme", s, allowHTTP)
		}
	})
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		var mu sync.Mutex
		followed := 0
		target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			followed++
			mu.Unlock()
			_, _ = w.Write([]byte(`{"message":"ok"}`))
		}))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/elsewhere", status)
		}))
		req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/p/x", nil)
		req.Header.Set("X-Passcode", testSecret)
		client := srv.Client()
		resp, err := Send(context.Background(), client, req, "v")
		if err != nil || resp.Status != status {
			t.Errorf("%d: Send = %+v, %v; want the redirect itself", status, resp, err)
		}
		mu.Lock()
		if followed != 0 {
			t.Errorf("%d: redirect followed %d times; a DELETE may become a GET and headers leak", status, followed)
		}
		mu.Unlock()
		if client.CheckRedirect != nil {
			t.Errorf("Send changed the caller's client")
		}
		if e := StatusError("v", resp, "", ""); e.Class != ClassUnexpected {
			t.Errorf("%d classified %v", status, e.Class)
		}
		srv.Close()
		target.Close()
	}
}

func TestValidateHostURLAndPathSegment(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://api.example.com", true},
		{"https://api.example.com/", true},
		{"http://127.0.0.1:8080", true},
		{"https://api.example.com/v1", false},
		{"http://api.example.com", false},
		{"ftp://api.example.com", false},
		{"https://user:pw@api.example.com", false},
	} {
		if err := ValidateHostURL(tt.url, false); (err == nil) != tt.ok {
			t.Errorf("ValidateHostURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
	for _, tt := range []struct {
		id, want string
		ok       bool
	}{
		{"abc", "abc", true},
		{"a?c#d", "a%3Fc%23d", true},
		{"a/b", "", false},
		{`a\b`, "", false},
		{"...", "...", true},
		{".", "", false},
		{"..", "", false},
	} {
		got, err := PathSegment("v", "id", tt.id)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("PathSegment(%q) = %q, %v; want %q, ok %v", tt.id, got, err, tt.want, tt.ok)
		}
		if err != nil && ErrorClass(err) != ClassInvalidIdentifier {
			t.Errorf("PathSegment(%q) error class %v, want invalid_identifier", tt.id, ErrorClass(err))
		}
	}
}

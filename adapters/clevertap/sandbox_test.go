package clevertap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

func idList(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("id-%d", i)
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// TestSandboxRequests sends raw requests, right and wrong, and checks the
// sandbox answers as CleverTap would and that the adapter's Classify reads
// each refusal as permanent.
func TestSandboxRequests(t *testing.T) {
	t.Parallel()
	const okCT = "application/json; charset=utf-8"
	auth := map[string]string{"X-CleverTap-Account-Id": testAccount, "X-CleverTap-Passcode": testPasscode}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{"Content-Type": okCT}
		for k, v := range auth {
			h[k] = v
		}
		for k, v := range extra {
			if v == "-" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		return h
	}
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		body    string
		status  int
		msg     string   // substring of the fail body's error
		deleted []string // ids the ledger must show deleted
	}{
		{name: "identity string", body: `{"identity":"client-19827239"}`, status: 200, deleted: []string{"client-19827239"}},
		{name: "identity list", body: `{"identity":["client-19827239","abc"]}`, status: 200, deleted: []string{"client-19827239", "abc"}},
		{name: "guid string", body: `{"guid":"clientid123"}`, status: 200, deleted: []string{"clientid123"}},
		{name: "guid list", body: `{"guid":["ctid123","ctid456"]}`, status: 200, deleted: []string{"ctid123", "ctid456"}},
		{name: "content type without charset", headers: with(map[string]string{"Content-Type": "application/json"}), body: `{"identity":"a1"}`, status: 200, deleted: []string{"a1"}},
		{name: "lower-case header names", headers: map[string]string{"x-clevertap-account-id": testAccount, "x-clevertap-passcode": testPasscode, "content-type": okCT}, body: `{"identity":"a2"}`, status: 200, deleted: []string{"a2"}},
		{name: "at the batch limit", body: `{"identity":` + idList(MaxBatch) + `}`, status: 200, deleted: []string{"id-0", fmt.Sprintf("id-%d", MaxBatch-1)}},

		{name: "wrong path", path: "/1/delete/profile.json", body: `{"identity":"a"}`, status: 404, msg: "Not Found"},
		{name: "trailing slash", path: "/1/delete/profiles.json/", body: `{"identity":"a"}`, status: 404, msg: "Not Found"},
		{name: "extra segment", path: "/1/delete/profiles.json/a", body: `{"identity":"a"}`, status: 404, msg: "Not Found"},
		{name: "wrong version", path: "/2/delete/profiles.json", body: `{"identity":"a"}`, status: 404, msg: "Not Found"},
		{name: "GET", method: http.MethodGet, status: 405, msg: "Method Not Allowed"},
		{name: "DELETE", method: http.MethodDelete, body: `{"identity":"a"}`, status: 405, msg: "Method Not Allowed"},
		{name: "PUT", method: http.MethodPut, body: `{"identity":"a"}`, status: 405, msg: "Method Not Allowed"},
		{name: "no auth headers", headers: map[string]string{"Content-Type": okCT}, body: `{"identity":"a"}`, status: 401, msg: "required"},
		{name: "no passcode", headers: with(map[string]string{"X-CleverTap-Passcode": "-"}), body: `{"identity":"a"}`, status: 401, msg: "required"},
		{name: "no account id", headers: with(map[string]string{"X-CleverTap-Account-Id": "-"}), body: `{"identity":"a"}`, status: 401, msg: "required"},
		{name: "wrong passcode", headers: with(map[string]string{"X-CleverTap-Passcode": "nope"}), body: `{"identity":"a"}`, status: 401, msg: "Invalid Account ID or Passcode"},
		{name: "wrong account id", headers: with(map[string]string{"X-CleverTap-Account-Id": "OTHER"}), body: `{"identity":"a"}`, status: 401, msg: "Invalid Account ID or Passcode"},
		{name: "no content type", headers: with(map[string]string{"Content-Type": "-"}), body: `{"identity":"a"}`, status: 400, msg: "Content-Type"},
		{name: "form content type", headers: with(map[string]string{"Content-Type": "application/x-www-form-urlencoded"}), body: `{"identity":"a"}`, status: 400, msg: "Content-Type"},
		{name: "text content type", headers: with(map[string]string{"Content-Type": "text/plain"}), body: `{"identity":"a"}`, status: 400, msg: "Content-Type"},
		{name: "latin1 charset", headers: with(map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}), body: `{"identity":"a"}`, status: 400, msg: "Content-Type"},
		{name: "other parameter", headers: with(map[string]string{"Content-Type": "application/json; v=2"}), body: `{"identity":"a"}`, status: 400, msg: "Content-Type"},
		{name: "empty body", body: ``, status: 400, msg: "Invalid JSON"},
		{name: "not JSON", body: `identity=a`, status: 400, msg: "Invalid JSON"},
		{name: "truncated JSON", body: `{"identity":"a"`, status: 400, msg: "Invalid JSON"},
		{name: "trailing data", body: `{"identity":"a"} {}`, status: 400, msg: "Invalid JSON"},
		{name: "array body", body: `["a"]`, status: 400, msg: "Invalid JSON"},
		{name: "null body", body: `null`, status: 400, msg: "Invalid JSON"},
		{name: "neither field", body: `{}`, status: 400, msg: "Either identity or guid"},
		{name: "both fields", body: `{"identity":"a","guid":"b"}`, status: 400, msg: "Only one"},
		{name: "unknown field", body: `{"identity":"a","email":"a@example.com"}`, status: 400, msg: "Unknown field"},
		{name: "field name case", body: `{"Identity":"a"}`, status: 400, msg: "Unknown field"},
		{name: "empty string", body: `{"identity":""}`, status: 400, msg: "non-empty"},
		{name: "empty list", body: `{"identity":[]}`, status: 400, msg: "non-empty"},
		{name: "empty element", body: `{"guid":["a",""]}`, status: 400, msg: "non-empty"},
		{name: "number", body: `{"identity":42}`, status: 400, msg: "non-empty"},
		{name: "number element", body: `{"identity":["a",42]}`, status: 400, msg: "non-empty"},
		{name: "null value", body: `{"identity":null}`, status: 400, msg: "non-empty"},
		{name: "null element", body: `{"identity":[null]}`, status: 400, msg: "non-empty"},
		{name: "object value", body: `{"identity":{"id":"a"}}`, status: 400, msg: "non-empty"},
		{name: "over the batch limit", body: `{"identity":` + idList(MaxBatch+1) + `}`, status: 400, msg: "non-empty"},
		{name: "body over 1 MiB", body: `{"identity":"` + strings.Repeat("z", maxRequestBytes) + `"}`, status: 400, msg: "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			method, path, headers := tc.method, tc.path, tc.headers
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = DeletePath
			}
			if headers == nil {
				headers = with(nil)
			}
			req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range headers {
				req.Header[k] = []string{v} // as given, not canonicalised
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var got struct {
				Status string `json:"status"`
				Error  string `json:"error"`
				Code   *int   `json:"code"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			out, cerr := Classify(&adapters.Response{Status: resp.StatusCode, Header: resp.Header, Body: body})
			if tc.status == 200 {
				if !bytes.Equal(body, []byte(`{"status":"success"}`)) {
					t.Errorf("success body %s", body)
				}
				if out != adapters.Deleted || cerr != nil {
					t.Errorf("Classify = %v, %v", out, cerr)
				}
				for _, id := range tc.deleted {
					if !sb.Ledger.Deleted(id) || sb.Ledger.Calls(id) != 1 {
						t.Errorf("%q: deleted %v calls %d", id, sb.Ledger.Deleted(id), sb.Ledger.Calls(id))
					}
				}
				return
			}
			if got.Status != "fail" || got.Code == nil || *got.Code != tc.status || !strings.Contains(got.Error, tc.msg) {
				t.Errorf("fail body %s, want code %d and error containing %q", body, tc.status, tc.msg)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
			if ae := asError(t, cerr); out != adapters.Failed || ae.Class != adapters.ClassPermanent {
				t.Errorf("Classify = %v, %+v, want permanent", out, ae)
			}
			if sb.Ledger.DeletedCount() != 0 || sb.Ledger.Calls("a") != 0 {
				t.Errorf("refused request reached the ledger")
			}
			if st := sb.Ledger.Statuses(); st[tc.status] != 1 {
				t.Errorf("statuses %v", st)
			}
		})
	}
}

// TestSandboxForcedBody checks the forced faults' wire shape.
func TestSandboxForcedBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		force      string
		status     int
		code       int
		retryAfter string
	}{
		{"400", 400, 400, ""},
		{"401", 401, 401, ""},
		{"429", 429, 429, "1"},
		{"500", 500, 500, ""},
		{"503", 503, 503, "1"},
		{"body:401", 200, 401, ""},
		{"body:429", 200, 429, "1"},
		{"299", 500, 500, ""},
		{"body:x", 500, 500, ""},
	}
	for _, tc := range tests {
		t.Run(tc.force, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{Force: tc.force, ForceCount: 1})
			post := func() (*http.Response, []byte) {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+DeletePath, strings.NewReader(`{"identity":["f1"]}`))
				req.Header.Set("X-CleverTap-Account-Id", testAccount)
				req.Header.Set("X-CleverTap-Passcode", testPasscode)
				req.Header.Set("Content-Type", "application/json")
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, b
			}
			resp, body := post()
			var got struct {
				Status string `json:"status"`
				Code   int    `json:"code"`
				Error  string `json:"error"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if resp.StatusCode != tc.status || got.Status != "fail" || got.Code != tc.code || got.Error == "" || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("got %d %s Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
			if sb.Ledger.Deleted("f1") {
				t.Error("forced fault deleted")
			}
			// ForceCount 1: the next request is served normally.
			if resp, body := post(); resp.StatusCode != 200 || !sb.Ledger.Deleted("f1") || sb.Ledger.Calls("f1") != 2 {
				t.Errorf("after the fault: %d %s", resp.StatusCode, body)
			}
		})
	}
}

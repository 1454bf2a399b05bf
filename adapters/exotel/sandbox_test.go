package exotel

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/sandbox"
)

// rawEnvelope is what tests read back from the sandbox.
type rawEnvelope struct {
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	HTTPCode  int    `json:"http_code"`
	Response  struct {
		Code      int `json:"code"`
		ErrorData *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error_data"`
		Status string         `json:"status"`
		Data   map[string]any `json:"data"`
	} `json:"response"`
}

// TestSandboxRejects sends requests the adapter never would and checks the
// sandbox refuses them as Exotel does, in Exotel's envelope, without
// touching the ledger, and that the adapter's parser reads each refusal. An
// envelope answering another method than DELETE is unexpected to the
// parser: it is not the answer to a delete.
func TestSandboxRejects(t *testing.T) {
	t.Parallel()
	const good = "/v2/accounts/" + testSID + "/contacts/" + testContact
	for _, tc := range []struct {
		name       string
		method     string
		path       string
		noAuth     bool
		user, pass string
		wantStatus int
		wantMsg    string
		wantAllow  bool
		wantClass  adapters.Class
	}{
		{name: "no auth", method: "DELETE", path: good, noAuth: true, wantStatus: 401, wantMsg: "Authentication Failed", wantClass: adapters.ClassPermanent},
		{name: "wrong token", method: "DELETE", path: good, user: testKey, pass: "x", wantStatus: 401, wantMsg: "Authentication Failed", wantClass: adapters.ClassPermanent},
		{name: "wrong key", method: "DELETE", path: good, user: "x", pass: testToken, wantStatus: 401, wantMsg: "Authentication Failed", wantClass: adapters.ClassPermanent},
		{name: "other account", method: "DELETE", path: "/v2/accounts/other/contacts/" + testContact, wantStatus: 403, wantMsg: "Forbidden", wantClass: adapters.ClassPermanent},
		{name: "GET", method: "GET", path: good, wantStatus: 405, wantAllow: true, wantClass: adapters.ClassUnexpected},
		{name: "POST", method: "POST", path: good, wantStatus: 405, wantAllow: true, wantClass: adapters.ClassUnexpected},
		{name: "PUT", method: "PUT", path: good, wantStatus: 405, wantAllow: true, wantClass: adapters.ClassUnexpected},
		{name: "PATCH", method: "PATCH", path: good, wantStatus: 405, wantAllow: true, wantClass: adapters.ClassUnexpected},
		{name: "GET without auth is refused for auth first", method: "GET", path: good, noAuth: true, wantStatus: 401, wantMsg: "Authentication Failed"},
		{name: "trailing slash", method: "DELETE", path: good + "/", wantStatus: 404, wantMsg: "Not Found"},
		{name: "extra segment", method: "DELETE", path: good + "/x", wantStatus: 404, wantMsg: "Not Found"},
		{name: "v1", method: "DELETE", path: "/v1/accounts/" + testSID + "/contacts/" + testContact, wantStatus: 404},
		{name: "singular contact", method: "DELETE", path: "/v2/accounts/" + testSID + "/contact/" + testContact, wantStatus: 404},
		{name: "no contact sid", method: "DELETE", path: "/v2/accounts/" + testSID + "/contacts/", wantStatus: 404},
		{name: "collection", method: "DELETE", path: "/v2/accounts/" + testSID + "/contacts", wantStatus: 404},
		{name: "account", method: "DELETE", path: "/v2/accounts/" + testSID, wantStatus: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{})
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.noAuth {
				user, pass := testKey, testToken
				if tc.user != "" || tc.pass != "" {
					user, pass = tc.user, tc.pass
				}
				req.SetBasicAuth(user, pass)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d: %s", res.StatusCode, tc.wantStatus, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type = %q", ct)
			}
			var env rawEnvelope
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("body is not the envelope: %v: %s", err, body)
			}
			if env.HTTPCode != tc.wantStatus || env.Response.Code != tc.wantStatus || env.Response.Status != "failure" ||
				env.Response.ErrorData == nil || env.Response.Data != nil || env.Method != tc.method || len(env.RequestID) != 32 {
				t.Errorf("envelope = %s", body)
			}
			if tc.wantMsg != "" && env.Response.ErrorData != nil && env.Response.ErrorData.Message != tc.wantMsg {
				t.Errorf("error message = %q, want %q", env.Response.ErrorData.Message, tc.wantMsg)
			}
			if got := res.Header.Get("Allow"); tc.wantAllow != (got == "DELETE") {
				t.Errorf("Allow = %q", got)
			}
			if sb.Ledger.Calls(testContact) != 0 || sb.Ledger.DeletedCount() != 0 {
				t.Error("a refused request reached the ledger")
			}
			if tc.wantStatus == http.StatusNotFound {
				// Exotel words an unknown route as it words an unknown
				// contact, which is why base_url may carry no path.
				if out, err := Classify(&adapters.Response{Status: res.StatusCode, Header: res.Header, Body: body}, testContact, testToken); err != nil || out != adapters.AlreadyAbsent {
					t.Errorf("Classify = %s, %v", out, err)
				}
			}
			if tc.wantClass != 0 {
				_, err := Classify(&adapters.Response{Status: res.StatusCode, Header: res.Header, Body: body}, testContact, testToken)
				checkError(t, err, tc.wantClass, testContact)
			}
		})
	}
}

// TestSandboxSuccessBody: the success answer echoes the contact as the page
// shows, and a body sent with DELETE changes nothing.
func TestSandboxSuccessBody(t *testing.T) {
	t.Parallel()
	sb, srv := startSandbox(t, sandbox.Knobs{})
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v2/accounts/"+testSID+"/contacts/"+testContact, strings.NewReader(`{"sid":"someone-else"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testKey, testToken)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var env rawEnvelope
	if err := json.Unmarshal(body, &env); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d, %v: %s", res.StatusCode, err, body)
	}
	d := env.Response.Data
	if env.HTTPCode != 200 || env.Response.Code != 200 || env.Response.Status != "success" || env.Response.ErrorData != nil ||
		env.Method != "DELETE" || d["sid"] != testContact || d["account_sid"] != testSID || d["number"] != SandboxContactNumber ||
		d["uri"] != "/v2/accounts/"+testSID+"/contacts/"+testContact {
		t.Errorf("envelope = %s", body)
	}
	if !sb.Ledger.Deleted(testContact) || sb.Ledger.Deleted("someone-else") {
		t.Error("the body decided what was deleted")
	}
	if out, err := Classify(&adapters.Response{Status: res.StatusCode, Header: res.Header, Body: body}, testContact, testToken); err != nil || out != adapters.Deleted {
		t.Errorf("Classify = %s, %v", out, err)
	}
}

func TestSandboxFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		force      string
		wantStatus int
		wantRA     string
		json       bool
	}{
		{"400", 400, "", true}, {"401", 401, "", true}, {"403", 403, "", true}, {"404", 404, "", true},
		{"429", 429, "1", true}, {"500", 500, "", true}, {"502", 502, "", true}, {"503", 503, "1", true},
		{FaultHTML502, 502, "", false},
		{"nonsense", 500, "", true}, {"200", 500, "", true},
	} {
		t.Run(tc.force, func(t *testing.T) {
			t.Parallel()
			sb, srv := startSandbox(t, sandbox.Knobs{Force: tc.force, ForceCount: 1})
			do := func() (*http.Response, []byte) {
				req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v2/accounts/"+testSID+"/contacts/"+testContact, nil)
				req.SetBasicAuth(testKey, testToken)
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, b
			}
			res, body := do()
			if res.StatusCode != tc.wantStatus || res.Header.Get("Retry-After") != tc.wantRA {
				t.Fatalf("status %d Retry-After %q, want %d %q", res.StatusCode, res.Header.Get("Retry-After"), tc.wantStatus, tc.wantRA)
			}
			var env rawEnvelope
			isJSON := json.Unmarshal(body, &env) == nil && env.HTTPCode == tc.wantStatus && env.Response.Status == "failure"
			if isJSON != tc.json {
				t.Errorf("envelope = %v, want %v: %s", isJSON, tc.json, body)
			}
			if sb.Ledger.Deleted(testContact) {
				t.Error("a faulted request deleted the contact")
			}
			// ForceCount 1: the next request is served normally.
			if res, _ := do(); res.StatusCode != 200 || !sb.Ledger.Deleted(testContact) {
				t.Errorf("after the fault: status %d", res.StatusCode)
			}
		})
	}
}

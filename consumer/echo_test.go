package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/clevertap"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/dlq"
	"github.com/erasured/erasured/event"
)

// The person of the echo tests, and what the vendors echo of them.
const (
	echoUser        = "usr-Echo-4242"
	echoPlivoUUID   = "f8ca5a50-50b8-438d-8068-28427b1c0e90"
	echoWebexKey    = "Ada.Lovelace@Example.com"
	echoExotelSID   = "4440b6e1a85f489b87d76d8779956caf"
	echoCleverTapID = "Client-19827239-Ada"
	// The contact's number and email as Exotel holds them: not in the
	// event, so only the shape masking can hide them.
	echoPhone = "+919101234511"
	echoEmail = "captain@email.com"
)

// capturingWriter is a dlq.Writer that keeps what it is asked to write.
type capturingWriter struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (w *capturingWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msgs...)
	return nil
}

func (w *capturingWriter) Close() error { return nil }

// echoForms lists what must not appear in a dead-letter header for v: v
// itself and the ways a vendor writes it back.
func echoForms(v string) []string {
	j, _ := json.Marshal(v)
	var uAll, pctAll strings.Builder
	for _, r := range v {
		fmt.Fprintf(&uAll, `\u%04x`, r)
	}
	for i := 0; i < len(v); i++ {
		fmt.Fprintf(&pctAll, "%%%02X", v[i])
	}
	return []string{
		v, strings.ToUpper(v), strings.ToLower(v),
		url.PathEscape(v), url.QueryEscape(v), pctAll.String(), strings.ToLower(pctAll.String()),
		string(j[1 : len(j)-1]), uAll.String(),
		// In a header the Failure is JSON, which escapes a "\" again.
		strings.ReplaceAll(uAll.String(), `\`, `\\`),
	}
}

// echoCase is one vendor echoing the person back in its error answer.
type echoCase struct {
	name    string
	handler http.HandlerFunc
	vendor  func(baseURL string) adapters.Adapter
}

func echoCases() []echoCase {
	return []echoCase{{
		name: "plivo HTML 404 echoing the percent-encoded id",
		handler: func(w http.ResponseWriter, r *http.Request) {
			var pct strings.Builder
			for i := 0; i < len(echoPlivoUUID); i++ {
				fmt.Fprintf(&pct, "%%%02X", echoPlivoUUID[i])
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "<html><h1>Not Found</h1><p>Profile/%s/ (%s)</p></html>", pct.String(), strings.ToUpper(echoPlivoUUID))
		},
		vendor: func(u string) adapters.Adapter {
			return plivo.New(plivo.Config{BaseURL: u, AuthID: "MA123", AuthToken: config.NewSecret("plivo-token-1"), ProfileField: plivo.DefaultProfileField}, nil)
		},
	}, {
		name: "webex body echoing the key in another case and JSON-escaped",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			esc := strings.ReplaceAll(echoWebexKey, "@", `\u0040`)
			fmt.Fprintf(w, `{"code":"102","description":"Invalid profile id %s (%s)"}`, strings.ToUpper(echoWebexKey), esc)
		},
		vendor: func(u string) adapters.Adapter {
			return webex.New(webex.Config{BaseURL: u, Token: config.NewSecret("webex-token-1"), KeyField: webex.DefaultKeyField}, nil)
		},
	}, {
		name: "exotel error_data.description carrying the contact's number and email",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"request_id":"e623a09f108d4fe0b5c442024f3d30bb","method":"DELETE","http_code":400,"response":{"code":400,"status":"failure","error_data":{"code":1002,"message":"Invalid parameter","description":"Contact %s with number %s and email %s cannot be deleted"}}}`,
				strings.ToUpper(echoExotelSID), echoPhone, echoEmail)
		},
		vendor: func(u string) adapters.Adapter {
			return exotel.New(exotel.Config{BaseURL: u, AccountSID: "exotel8u3", APIKey: "key-1", APIToken: config.NewSecret("exotel-token-1"), ContactField: exotel.DefaultContactField}, nil)
		},
	}, {
		name: "clevertap error echoing the identity in another case",
		handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"status":"fail","code":400,"error":"Identity %s not valid for %s"}`, strings.ToLower(echoCleverTapID), strings.ToUpper(echoUser))
		},
		vendor: func(u string) adapters.Adapter {
			return clevertap.New(clevertap.Config{BaseURL: u, AccountID: "ACC-1", Passcode: config.NewSecret("ct-pass-1"), IDType: clevertap.IDTypeIdentity, IDField: clevertap.DefaultIdentityField, BatchSize: 1}, nil)
		},
	}}
}

// deadLetterOfEcho runs one event through a Processor whose only vendor is
// built by mk against handler, with a real dlq.Publisher, and returns the
// dead-letter message it wrote.
func deadLetterOfEcho(t *testing.T, dlqCfg dlq.Config, handler http.Handler, mk func(string) adapters.Adapter) kafka.Message {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	w := &capturingWriter{}
	dlqCfg.Topic = "user-deleted.dlq"
	dlqCfg.WriteTimeout, dlqCfg.RetryInitial, dlqCfg.RetryMax = time.Second, time.Millisecond, time.Millisecond
	pub := dlq.NewPublisher(dlqCfg, w, zerolog.Nop(), nil)
	retry := fastRetry()
	retry.MaxAttempts = 1
	p := NewProcessor([]Vendor{{Adapter: mk(srv.URL), Retrier: adapters.NewRetrier(retry)}}, pub, event.DecodeOptions{}, zerolog.Nop(), nil)

	v, err := event.Encode(&event.UserDeleted{
		EventID: "ev-echo-1", UserID: echoUser, OccurredAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		Identifiers: map[string]string{
			plivo.DefaultProfileField:      echoPlivoUUID,
			webex.DefaultKeyField:          echoWebexKey,
			exotel.DefaultContactField:     echoExotelSID,
			clevertap.DefaultIdentityField: echoCleverTapID,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := kafka.Message{Topic: "user-deleted", Partition: 0, Offset: 7, Key: []byte(echoUser), Value: v}
	ev, decErr := p.Decode(msg)
	if err := p.Process(context.Background(), msg, ev, decErr); err != nil {
		t.Fatalf("Process: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.msgs) != 1 {
		t.Fatalf("%d dead-letter records written, want 1", len(w.msgs))
	}
	return w.msgs[0]
}

// assertNoPersonalData fails when an erasured-* header of m holds any
// form of the person's identifiers, or the phone number or email a vendor
// echoed.
func assertNoPersonalData(t *testing.T, m kafka.Message) {
	t.Helper()
	var forbidden []string
	for _, v := range []string{echoUser, echoPlivoUUID, echoWebexKey, echoExotelSID, echoCleverTapID, echoPhone, echoEmail} {
		forbidden = append(forbidden, echoForms(v)...)
	}
	forbidden = append(forbidden, "9101234511", "email.com")
	for _, h := range m.Headers {
		if !strings.HasPrefix(h.Key, dlq.HeaderPrefix) {
			continue
		}
		var held []string
		for _, f := range forbidden {
			if strings.Contains(string(h.Value), f) && !slices.Contains(held, f) {
				held = append(held, f)
			}
		}
		if len(held) > 0 {
			t.Errorf("header %s = %s holds %q", h.Key, h.Value, held)
		}
	}
}

// TestDeadLetterHeadersHideVendorEchoes is issue 10 item 10: what a vendor
// echoes of the person (its identifier in another case or escaping, the
// contact's number and email) never reaches the dead-letter headers.
func TestDeadLetterHeadersHideVendorEchoes(t *testing.T) {
	t.Parallel()
	for _, tc := range echoCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := deadLetterOfEcho(t, dlq.Config{}, tc.handler, tc.vendor)
			failures, err := dlq.ParseFailures(m.Headers)
			if err != nil || len(failures) != 1 {
				t.Fatalf("failures %+v, %v: want one", failures, err)
			}
			assertNoPersonalData(t, m)
		})
	}
}

// TestDeadLetterVendorMessageOnlyWhenEnabled: by default a dead-letter
// header carries the status, the vendor's code and the page's description
// of it, and none of the vendor's words; with
// dead_letter.include_vendor_message it also carries them, masked.
func TestDeadLetterVendorMessageOnlyWhenEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range echoCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			off := deadLetterOfEcho(t, dlq.Config{}, tc.handler, tc.vendor)
			on := deadLetterOfEcho(t, dlq.Config{IncludeVendorMessage: true}, tc.handler, tc.vendor)
			assertNoPersonalData(t, on)
			offF, err1 := dlq.ParseFailures(off.Headers)
			onF, err2 := dlq.ParseFailures(on.Headers)
			if err1 != nil || err2 != nil || len(offF) != 1 || len(onF) != 1 {
				t.Fatalf("failures %+v, %+v: %v, %v", offF, onF, err1, err2)
			}
			if offF[0].VendorMessage != "" {
				t.Errorf("vendor message %q kept though not enabled", offF[0].VendorMessage)
			}
			if onF[0].VendorMessage == "" || !strings.Contains(onF[0].VendorMessage, "[redacted]") {
				t.Errorf("vendor message %q: want the vendor's words, masked", onF[0].VendorMessage)
			}
			if offF[0].Status == 0 || offF[0].Class == "" {
				t.Errorf("failure %+v lacks its status or class", offF[0])
			}
		})
	}
	// Webex's page documents code 102: its words travel, the body's do not.
	off := deadLetterOfEcho(t, dlq.Config{}, echoCases()[1].handler, echoCases()[1].vendor)
	fs, _ := dlq.ParseFailures(off.Headers)
	if len(fs) != 1 || fs[0].Code != "102" || fs[0].Description != "Invalid profile id" || fs[0].Message != "" {
		t.Errorf("webex failure %+v, want code 102 with the page's description and no message", fs)
	}
}

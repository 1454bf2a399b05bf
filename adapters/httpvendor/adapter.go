package httpvendor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

// Adapter deletes at a declared vendor.
type Adapter struct {
	name   string
	cfg    Config
	c      *compiled
	client *http.Client
	// base is the URL's scheme and host, the prefix of every request.
	base string
}

// New builds the adapter for the vendor declared as name; the error is
// cfg's validation's.
func New(name string, cfg Config, client *http.Client) (*Adapter, error) {
	c, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	return &Adapter{name: name, cfg: cfg, c: c, client: client, base: cfg.Endpoint()}, nil
}

// Name implements adapters.Adapter.
func (a *Adapter) Name() string { return a.name }

// secrets are the values no error may show.
func (a *Adapter) secrets() []string {
	var s []string
	for _, v := range []string{a.cfg.Auth.Password.Reveal(), a.cfg.Auth.Token.Reveal()} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// Delete implements adapters.Adapter.
func (a *Adapter) Delete(ctx context.Context, ev *event.UserDeleted) (adapters.Outcome, error) {
	id := ev.Identifier(a.cfg.IdentifierField)
	if id == "" {
		return adapters.NotApplicable, nil
	}
	if err := ctx.Err(); err != nil {
		return adapters.Failed, err
	}
	if err := adapters.CheckIdentifier(a.name, "identifier "+a.cfg.IdentifierField, id, a.c.shape, "the form identifier_pattern gives"); err != nil {
		return adapters.Failed, err
	}
	redact := append(a.secrets(), ev.EventID, ev.UserID)
	for _, v := range ev.Identifiers {
		redact = append(redact, v)
	}
	// value fills a placeholder, checked as CheckIdentifier checks every
	// identifier; other identifiers than IdentifierField must be there.
	value := func(p part) (string, error) {
		if !p.ident {
			return ev.EventID, nil
		}
		v := ev.Identifier(p.field)
		if p.field != a.cfg.IdentifierField {
			if err := adapters.CheckIdentifier(a.name, "identifier "+p.field, v, nil, ""); err != nil {
				return "", err
			}
		}
		return v, nil
	}
	path, err := a.c.url.render(func(p part) (string, error) {
		v, err := value(p)
		if err != nil {
			return "", err
		}
		return adapters.PathSegment(a.name, "identifier "+p.field, v)
	})
	if err != nil {
		return adapters.Failed, err
	}
	u := a.base + path
	if a.c.query != "" {
		u += "?" + a.c.query
	}
	var body []byte
	if a.c.body != nil {
		filled, err := fill(a.c.body, value)
		if err != nil {
			return adapters.Failed, err
		}
		if body, err = json.Marshal(filled); err != nil {
			return adapters.Failed, fmt.Errorf("%s: encoding the body: %w", a.name, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, a.cfg.Method, u, bytes.NewReader(body))
	if err != nil {
		return adapters.Failed, &adapters.Error{Vendor: a.name, Class: adapters.ClassPermanent, Message: "building the request failed"}
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	a.c.headers(req.Header)
	resp, err := adapters.Send(ctx, a.client, req, a.name, redact...)
	if err != nil {
		return adapters.Failed, err
	}
	return a.classify(resp, redact)
}

// classify reads resp through the response table.
func (a *Adapter) classify(resp *adapters.Response, redact []string) (adapters.Outcome, error) {
	doc, isJSON := jsonOrEmpty(resp.Body)
	for _, r := range a.c.rows {
		if !r.matchesStatus(resp.Status) {
			continue
		}
		code := ""
		if r.hasCode {
			v, ok := r.pointer.lookup(doc)
			if !isJSON || !ok {
				continue
			}
			text, ok := scalarText(v)
			if !ok || text != r.code {
				continue
			}
			code = r.code
		}
		switch r.outcome {
		case OutcomeDeleted, OutcomeAlreadyAbsent:
			if !isJSON {
				return adapters.Failed, adapters.Unexpected(a.name, resp, fmt.Sprintf("HTTP %d the response table calls %s, but its body is not JSON", resp.Status, r.outcome), redact...)
			}
			if r.outcome == OutcomeDeleted {
				return adapters.Deleted, nil
			}
			return adapters.AlreadyAbsent, nil
		case OutcomeRetryable:
			return adapters.Failed, &adapters.Error{Vendor: a.name, Class: adapters.ClassRetryable, Status: resp.Status, Code: code,
				Message: "the response table calls this answer retryable", VendorMessage: adapters.Excerpt(resp.Body, redact...),
				RetryAfter: resp.RetryAfter(time.Now())}
		default:
			return adapters.Failed, &adapters.Error{Vendor: a.name, Class: adapters.ClassPermanent, Status: resp.Status, Code: code,
				Message: "the response table calls this answer permanent", VendorMessage: adapters.Excerpt(resp.Body, redact...)}
		}
	}
	if resp.Status >= 200 && resp.Status <= 299 {
		return adapters.Failed, adapters.Unexpected(a.name, resp, fmt.Sprintf("HTTP %d that the response table does not list", resp.Status), redact...)
	}
	return adapters.Failed, adapters.StatusError(a.name, resp, "", adapters.Excerpt(resp.Body, redact...))
}

// fill returns the body template v with its strings' placeholders filled.
func fill(v any, value func(part) (string, error)) (any, error) {
	switch x := v.(type) {
	case string:
		t, err := parseTemplate(x)
		if err != nil {
			return nil, err
		}
		return t.render(value)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			f, err := fill(e, value)
			if err != nil {
				return nil, err
			}
			out[i] = f
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			f, err := fill(e, value)
			if err != nil {
				return nil, err
			}
			out[k] = f
		}
		return out, nil
	}
	return v, nil
}

package receipt

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

func sample() *Receipt {
	return &Receipt{
		EventID: "e1", User: "fp1", OccurredAt: t0, FinishedAt: t0.Add(time.Minute), Deadline: t0.Add(30 * 24 * time.Hour),
		Vendors: map[string]Part{
			"plivo":  {Outcome: Deleted, Attempts: 1, FirstAttempt: at(time.Second), LastAttempt: at(time.Second), Status: 204, Reference: "api-1", RecordedAt: t0.Add(time.Minute)},
			"exotel": {Outcome: Parked, Attempts: 3, Status: 503, RecordedAt: t0.Add(time.Minute)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	r := sample()
	b, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, r)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		outcomes []Outcome
		want     Status
	}{
		{[]Outcome{Deleted, AlreadyAbsent, NotApplicable}, StatusDone},
		{[]Outcome{Deleted, Parked}, StatusOwed},
		{[]Outcome{Paused}, StatusOwed},
		{[]Outcome{Parked, DeadLettered}, StatusDeadLettered},
		{nil, StatusDone},
	} {
		r := &Receipt{Vendors: map[string]Part{}}
		for i, o := range c.outcomes {
			r.Vendors[string(rune('a'+i))] = Part{Outcome: o}
		}
		if got := r.Status(); got != c.want {
			t.Errorf("%v: status %s, want %s", c.outcomes, got, c.want)
		}
		if r.Overdue(t0.Add(time.Hour)) {
			t.Errorf("%v: overdue without a deadline", c.outcomes)
		}
	}
}

func TestFoldKeepsEachVendorsNewest(t *testing.T) {
	t.Parallel()
	// Two retry workers settle two parked parts of one event; each wrote a
	// receipt from the snapshot it had. Read in either order, the fold
	// must say both are deleted.
	base := &Receipt{Schema: Schema, EventID: "e", Vendors: map[string]Part{
		"a": {Outcome: Parked, Attempts: 1, RecordedAt: t0},
		"b": {Outcome: Parked, Attempts: 1, RecordedAt: t0},
	}}
	fromA := &Receipt{Schema: Schema, EventID: "e", FinishedAt: t0.Add(2 * time.Hour), Vendors: map[string]Part{
		"a": {Outcome: Deleted, Attempts: 2, RecordedAt: t0.Add(2 * time.Hour)},
		"b": {Outcome: Parked, Attempts: 1, RecordedAt: t0},
	}}
	fromB := &Receipt{Schema: Schema, EventID: "e", FinishedAt: t0.Add(time.Hour), Vendors: map[string]Part{
		"a": {Outcome: Parked, Attempts: 1, RecordedAt: t0},
		"b": {Outcome: Deleted, Attempts: 2, RecordedAt: t0.Add(time.Hour)},
	}}
	for _, order := range [][]*Receipt{{base, fromA, fromB}, {base, fromB, fromA}} {
		var r Receipt
		for _, o := range order {
			r.Fold(o)
		}
		if !r.Done() || !r.FinishedAt.Equal(t0.Add(2*time.Hour)) {
			t.Fatalf("fold: %+v", r)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	good, _ := Encode(sample())
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	part := func(m map[string]any) map[string]any {
		return m["vendors"].(map[string]any)["plivo"].(map[string]any)
	}
	for name, b := range map[string][]byte{
		"not json":          []byte("{"),
		"trailing":          append(append([]byte{}, good...), []byte(" {}")...),
		"other schema":      edit(func(m map[string]any) { m["schema"] = "v0" }),
		"no event id":       edit(func(m map[string]any) { delete(m, "event_id") }),
		"unknown member":    edit(func(m map[string]any) { m["user_id"] = "alice@example.com" }),
		"unknown in part":   edit(func(m map[string]any) { part(m)["body"] = "x" }),
		"bad outcome":       edit(func(m map[string]any) { part(m)["outcome"] = "gone" }),
		"bad vendor name":   edit(func(m map[string]any) { m["vendors"].(map[string]any)["Plivo"] = part(m) }),
		"deleted unasked":   edit(func(m map[string]any) { part(m)["attempts"] = 0 }),
		"negative attempts": edit(func(m map[string]any) { part(m)["attempts"] = -1 }),
		"too large":         []byte(`{"x":"` + strings.Repeat("a", MaxBytes) + `"}`),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode = %v, want ErrMalformed", err)
			}
			if strings.Contains(err.Error(), "alice") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

// The schema file and the Go types must name the same members: there is
// no JSON Schema validator among the dependencies, so compare them.
func TestSchemaMatchesTypes(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../event/receipt.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var outcomes struct {
		Enum []string `json:"enum"`
	}
	_ = json.Unmarshal(doc.Defs["part"].Properties["outcome"], &outcomes)
	var want []string
	for _, o := range Outcomes {
		want = append(want, string(o))
	}
	sort.Strings(want)
	sort.Strings(outcomes.Enum)
	if !slices.Equal(outcomes.Enum, want) {
		t.Errorf("schema outcomes %v, code %v", outcomes.Enum, want)
	}
	for _, c := range []struct {
		typ      reflect.Type
		props    map[string]json.RawMessage
		required []string
	}{
		{reflect.TypeOf(Receipt{}), doc.Properties, doc.Required},
		{reflect.TypeOf(Part{}), doc.Defs["part"].Properties, doc.Defs["part"].Required},
	} {
		var names, req []string
		for i := 0; i < c.typ.NumField(); i++ {
			tag := c.typ.Field(i).Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			names = append(names, name)
			if opts != "omitempty" {
				req = append(req, name)
			}
		}
		var props []string
		for k := range c.props {
			props = append(props, k)
		}
		sort.Strings(names)
		sort.Strings(props)
		sort.Strings(req)
		r := append([]string{}, c.required...)
		sort.Strings(r)
		if !slices.Equal(names, props) {
			t.Errorf("%s: code members %v, schema %v", c.typ.Name(), names, props)
		}
		if !slices.Equal(req, r) {
			t.Errorf("%s: code requires %v, schema %v", c.typ.Name(), req, r)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add([]byte(`{"schema":"erasured.receipt/v1","event_id":"x","vendors":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			return
		}
		again, err := Encode(r)
		if err != nil {
			t.Fatalf("a decoded receipt does not encode: %v", err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded receipt does not decode: %v", err)
		}
	})
}

package dlq

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseStart(t *testing.T) {
	t.Parallel()
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    Start
		wantErr bool
	}{
		{in: "", want: Start{}},
		{in: "resume", want: Start{}},
		{in: " Committed ", want: Start{}},
		{in: "earliest", want: Start{Kind: StartEarliest}},
		{in: "EARLIEST", want: Start{Kind: StartEarliest}},
		{in: "latest", want: Start{Kind: StartLatest}},
		{in: "0:15", want: Start{Kind: StartOffsets, Offsets: map[int]int64{0: 15}}},
		{in: "0:15,3:200", want: Start{Kind: StartOffsets, Offsets: map[int]int64{0: 15, 3: 200}}},
		{in: " 0:15 , 3:0 ", want: Start{Kind: StartOffsets, Offsets: map[int]int64{0: 15, 3: 0}}},
		{in: "0:15,0:16", wantErr: true},
		{in: "0:99999999999999999999", wantErr: true},
		{in: "99999999:1", wantErr: true},
		{in: "0:-1", wantErr: true},
		{in: "-1:5", wantErr: true},
		{in: "0:15,", wantErr: true},
		{in: "0:", wantErr: true},
		{in: "2026-11-27T10:00:00Z", want: Start{Kind: StartTime, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}},
		{in: "2026-11-27T11:00:00+01:00", want: Start{Kind: StartTime, Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}},
		{in: "2026-11-27", want: Start{Kind: StartTime, Time: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}},
		{in: "2026-11-27 10:30", want: Start{Kind: StartTime, Time: time.Date(2026, 11, 27, 10, 30, 0, 0, time.UTC)}},
		{in: "90m", want: Start{Kind: StartTime, Time: clock.Add(-90 * time.Minute)}},
		{in: "7d", want: Start{Kind: StartTime, Time: clock.Add(-7 * 24 * time.Hour)}},
		{in: "10:00", wantErr: false, want: Start{Kind: StartOffsets, Offsets: map[int]int64{10: 0}}},
		{in: "-5m", wantErr: true},
		{in: "0s", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "1969-12-31", wantErr: true},
		{in: "999999d", wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseStart(tc.in, clock)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseStart(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseStart(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseStart(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if _, err := ParseStart("nonsense", clock); !errors.Is(err, ErrBadStart) {
		t.Errorf("error %v does not wrap ErrBadStart", err)
	}
}

// FuzzParseStart checks that ParseStart never panics, and that what it
// accepts prints to a form it reads back as the same start point.
func FuzzParseStart(f *testing.F) {
	for _, s := range []string{"", "earliest", "latest", "0:15,3:200", "2026-11-27T10:00:00Z", "2026-11-27", "90m", "7d", "10:00", "0:1,0:2", "2026-11-27 10:30:00", "1e9h"} {
		f.Add(s)
	}
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStart(s, clock)
		if err != nil {
			if !errors.Is(err, ErrBadStart) {
				t.Fatalf("error %v does not wrap ErrBadStart", err)
			}
			return
		}
		back, err := ParseStart(st.String(), clock)
		if err != nil {
			t.Fatalf("ParseStart(%q) = %v, whose String %q does not parse: %v", s, st, st.String(), err)
		}
		if back.Kind != st.Kind || !back.Time.Equal(st.Time) || !reflect.DeepEqual(back.Offsets, st.Offsets) {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v", s, st, st.String(), back)
		}
		for p, o := range st.Offsets {
			if p < 0 || o < 0 {
				t.Fatalf("negative partition or offset %d:%d from %q", p, o, s)
			}
		}
		if st.Kind == StartTime && st.Time.Year() < 1970 {
			t.Fatalf("time %s from %q is before 1970", st.Time, s)
		}
	})
}

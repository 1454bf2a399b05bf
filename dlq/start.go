package dlq

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StartKind says where a replay or an inspection starts reading.
type StartKind int

const (
	// StartResume, the zero value, resumes from the consumer group's
	// committed offsets; partitions without one start at the earliest
	// record still kept.
	StartResume StartKind = iota
	// StartEarliest reads from the earliest record still kept.
	StartEarliest
	// StartLatest reads only what arrives from now on (with follow).
	StartLatest
	// StartOffsets reads the listed partitions from the given offsets and
	// leaves the others alone.
	StartOffsets
	// StartTime reads from the first record written at or after Time.
	StartTime
)

// Start is a parsed start point. The zero value resumes.
type Start struct {
	Kind StartKind
	// Offsets maps partition to offset, with StartOffsets.
	Offsets map[int]int64
	// Time is the start time, with StartTime.
	Time time.Time
}

// Explicit reports whether the start point overrides the group's
// committed offsets.
func (s Start) Explicit() bool { return s.Kind != StartResume }

// String renders s so that ParseStart reads it back.
func (s Start) String() string {
	switch s.Kind {
	case StartEarliest:
		return "earliest"
	case StartLatest:
		return "latest"
	case StartOffsets:
		parts := make([]int, 0, len(s.Offsets))
		for p := range s.Offsets {
			parts = append(parts, p)
		}
		sort.Ints(parts)
		out := make([]string, len(parts))
		for i, p := range parts {
			out[i] = strconv.Itoa(p) + ":" + strconv.FormatInt(s.Offsets[p], 10)
		}
		return strings.Join(out, ",")
	case StartTime:
		return s.Time.UTC().Format(time.RFC3339Nano)
	default:
		return "resume"
	}
}

// ErrBadStart is wrapped by ParseStart's errors.
var ErrBadStart = errors.New("bad start point")

// maxPartition bounds a partition number in an offsets spec; Kafka's own
// limit is far lower in practice, and a bound keeps a typo from becoming
// a map with a huge key set.
const maxPartition = 1 << 20

// ParseStart reads a start point:
//
//	""  or "resume"          the group's committed offsets (default)
//	"earliest", "latest"
//	"0:15,3:200"             partition:offset pairs; other partitions are left alone
//	a time                   see ParseTime: "2026-11-27T10:00:00Z", "2026-11-27", "90m" (ago)
//
// now anchors relative times.
func ParseStart(s string, now time.Time) (Start, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "resume", "committed":
		return Start{}, nil
	case "earliest", "beginning":
		return Start{Kind: StartEarliest}, nil
	case "latest", "end":
		return Start{Kind: StartLatest}, nil
	}
	if looksLikeOffsets(s) {
		offs, err := parseOffsets(s)
		if err != nil {
			return Start{}, err
		}
		return Start{Kind: StartOffsets, Offsets: offs}, nil
	}
	t, err := ParseTime(s, now)
	if err != nil {
		return Start{}, fmt.Errorf("%w %q: want resume, earliest, latest, partition:offset[,...] or a time (%v)", ErrBadStart, s, err)
	}
	return Start{Kind: StartTime, Time: t}, nil
}

// looksLikeOffsets tells "0:15,3:200" from a time such as "10:00" never
// being valid on its own: every comma-separated part is digits:digits.
func looksLikeOffsets(s string) bool {
	for _, part := range strings.Split(s, ",") {
		p, o, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !allDigits(p) || !allDigits(o) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseOffsets(s string) (map[int]int64, error) {
	out := map[int]int64{}
	for _, part := range strings.Split(s, ",") {
		ps, offStr, _ := strings.Cut(strings.TrimSpace(part), ":")
		p, err := strconv.Atoi(ps)
		if err != nil || p > maxPartition {
			return nil, fmt.Errorf("%w: partition %q out of range", ErrBadStart, ps)
		}
		o, err := strconv.ParseInt(offStr, 10, 64)
		if err != nil || o == math.MaxInt64 {
			return nil, fmt.Errorf("%w: offset %q out of range", ErrBadStart, offStr)
		}
		if _, dup := out[p]; dup {
			return nil, fmt.Errorf("%w: partition %d given twice", ErrBadStart, p)
		}
		out[p] = o
	}
	return out, nil
}

// ParseTime reads a point in time:
//
//	RFC 3339                 2026-11-27T10:00:00Z, 2026-11-27T11:00:00+01:00
//	date and time, UTC       2026-11-27T10:00:00, 2026-11-27 10:00
//	date, UTC midnight       2026-11-27
//	a duration ago           90m, 2h, 7d (Go durations, plus d for days)
//
// now anchors durations.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() < 1970 {
				return time.Time{}, fmt.Errorf("time %q is before 1970", s)
			}
			return t.UTC(), nil
		}
	}
	d, err := parseAgo(s)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d).UTC(), nil
}

// maxAgo bounds a relative time: far enough back for any retention, near
// enough that now minus it cannot overflow.
const maxAgo = 100 * 365 * 24 * time.Hour

func parseAgo(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok && allDigits(days) {
		n, err := strconv.Atoi(days)
		if err != nil || n > int(maxAgo/(24*time.Hour)) {
			return 0, fmt.Errorf("%q: too many days", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%q is neither a time (RFC 3339, or 2006-01-02[ 15:04[:05]] in UTC) nor a duration ago (90m, 2h, 7d)", s)
		}
	}
	if d <= 0 || d > maxAgo {
		return 0, fmt.Errorf("duration %q must be positive and at most 100 years", s)
	}
	return d, nil
}

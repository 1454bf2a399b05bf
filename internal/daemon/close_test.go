package daemon

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// TestCloseAllIsBounded: a writer whose Close never returns (kafka-go's
// Writer.Close waiting on a batch a slow broker never acknowledges) held
// Run, so a member did not stop; closeAll gives up after its timeout and
// says so, and otherwise returns every writer's error.
func TestCloseAllIsBounded(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	ok := closerFunc(func() error { return nil })
	failing := closerFunc(func() error { return errors.New("boom") })
	stuck := closerFunc(func() error { <-block; return nil })
	cases := []struct {
		name    string
		closers []namedCloser
		want    string // "" for no error
	}{
		{"all close", []namedCloser{{"a", ok}, {"b", ok}}, ""},
		{"one fails, the rest are closed", []namedCloser{{"a", failing}, {"b", ok}, {"c", failing}}, "closing a: boom\nclosing c: boom"},
		{"one never returns", []namedCloser{{"a", ok}, {"b", stuck}}, "overran 50ms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := closeAll(50*time.Millisecond, c.closers...)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("closeAll = %v, want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("closeAll = %v, want an error containing %q", err, c.want)
			}
		})
	}
}

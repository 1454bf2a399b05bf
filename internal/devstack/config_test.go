package devstack

import "testing"

// TestStackConfigValidates: the configuration `erasured dev` runs with is
// valid as it comes. It once was not (a retry budget shorter than the
// breaker's default cooldown), and `make run` stopped at once with
// "dev configuration is invalid".
func TestStackConfigValidates(t *testing.T) {
	t.Parallel()
	s, err := Start(Options{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cfg := s.Config()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the dev stack's configuration is invalid:\n%v", err)
	}
}

package consumer

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/erasured/erasured/config"
)

func validConfig() Config {
	c := DefaultConfig()
	c.Brokers = []string{"kafka-1:9092", "kafka-2:9092"}
	return c
}

func TestDefaultConfig(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	if c.Brokers != nil {
		t.Fatalf("Brokers defaulted to %v; there is no sensible default", c.Brokers)
	}
	// Every other field has a default (exact values are tuning, not
	// contract), except Auth, whose zero value (no TLS, no SASL) is the
	// default.
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "Brokers" && name != "Auth" && v.Field(i).IsZero() {
			t.Errorf("%s has no default", name)
		}
	}
	if c.Topic != "user-deleted" || c.GroupID != "erasured" {
		t.Errorf("topic %q group %q", c.Topic, c.GroupID)
	}
	if c.StartOffset != "earliest" {
		t.Errorf("StartOffset defaults to %q; a new group must not skip the backlog", c.StartOffset)
	}
	// The defaults are valid once brokers are given.
	c.Brokers = []string{"localhost:9092"}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		field  string // "" when valid
	}{
		{"valid", func(*Config) {}, ""},
		{"latest start", func(c *Config) { c.StartOffset = "latest" }, ""},
		{"IPv6 broker", func(c *Config) { c.Brokers = []string{"[::1]:9092"} }, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "brokers"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"kafka-1:9092", "kafka-2"} }, "brokers[1]"},
		{"blank broker", func(c *Config) { c.Brokers = []string{""} }, "brokers[0]"},
		{"blank topic", func(c *Config) { c.Topic = " " }, "topic"},
		{"blank group", func(c *Config) { c.GroupID = "" }, "group_id"},
		{"unknown start offset", func(c *Config) { c.StartOffset = "middle" }, "start_offset"},
		{"start offset case", func(c *Config) { c.StartOffset = "Earliest" }, "start_offset"},
		{"zero in-flight", func(c *Config) { c.MaxInFlight = 0 }, "max_in_flight"},
		{"negative in-flight", func(c *Config) { c.MaxInFlight = -1 }, "max_in_flight"},
		{"huge in-flight", func(c *Config) { c.MaxInFlight = 100001 }, "max_in_flight"},
		{"largest in-flight", func(c *Config) { c.MaxInFlight = 100000 }, ""},
		{"zero commit interval", func(c *Config) { c.CommitInterval = 0 }, "commit_interval"},
		{"negative drain timeout", func(c *Config) { c.DrainTimeout = -time.Second }, "drain_timeout"},
		{"negative session timeout", func(c *Config) { c.SessionTimeout = -time.Second }, "session_timeout"},
		{"zero rebalance timeout", func(c *Config) { c.RebalanceTimeout = 0 }, "rebalance_timeout"},
		{"zero heartbeat", func(c *Config) { c.HeartbeatInterval = 0 }, "heartbeat_interval"},
		{"heartbeat equal to session timeout", func(c *Config) { c.HeartbeatInterval = c.SessionTimeout }, "heartbeat_interval"},
		{"drain as long as rebalance", func(c *Config) { c.DrainTimeout = c.RebalanceTimeout }, "drain_timeout"},
		// heartbeat_interval + drain_timeout + request_timeout must fit in
		// min(rebalance_timeout, session_timeout): the defaults are 3s +
		// 10s + 10s = 23s against 30s.
		{"sum below both", func(c *Config) { c.SessionTimeout, c.RebalanceTimeout = 24*time.Second, 24*time.Second }, ""},
		{"sum equal to session", func(c *Config) { c.SessionTimeout = 23 * time.Second }, "drain_timeout"},
		{"sum above session", func(c *Config) { c.SessionTimeout = 22 * time.Second }, "drain_timeout"},
		{"sum equal to rebalance", func(c *Config) { c.RebalanceTimeout = 23 * time.Second }, "drain_timeout"},
		{"sum above rebalance", func(c *Config) { c.RebalanceTimeout = 15 * time.Second }, "drain_timeout"},
		{"heartbeat tips the sum", func(c *Config) {
			c.SessionTimeout, c.RebalanceTimeout, c.HeartbeatInterval = 22*time.Second, 22*time.Second, 1*time.Second
		}, ""},
		{"heartbeat tips the sum over", func(c *Config) {
			c.SessionTimeout, c.RebalanceTimeout, c.HeartbeatInterval = 22*time.Second, 22*time.Second, 2*time.Second
		}, "drain_timeout"},
		{"request timeout tips the sum over", func(c *Config) { c.RebalanceTimeout, c.RequestTimeout = 20*time.Second, 7*time.Second }, "drain_timeout"},
		{"short drain with long request", func(c *Config) { c.DrainTimeout, c.RequestTimeout = time.Second, 26*time.Second }, "drain_timeout"},
		{"tiny fetch", func(c *Config) { c.FetchMaxBytes = 1023 }, "fetch_max_bytes"},
		{"smallest fetch", func(c *Config) { c.FetchMaxBytes = 1024 }, ""},
		{"zero fetch wait", func(c *Config) { c.FetchMaxWait = 0 }, "fetch_max_wait"},
		{"zero request timeout", func(c *Config) { c.RequestTimeout = 0 }, "request_timeout"},
		{"zero partition watch", func(c *Config) { c.PartitionWatchInterval = 0 }, "partition_watch_interval"},
		{"partition watch below a second", func(c *Config) { c.PartitionWatchInterval = 999 * time.Millisecond }, "partition_watch_interval"},
		{"partition watch of a second", func(c *Config) { c.PartitionWatchInterval = time.Second }, ""},
		{"partition watch of an hour", func(c *Config) { c.PartitionWatchInterval = time.Hour }, ""},
		{"partition watch above an hour", func(c *Config) { c.PartitionWatchInterval = time.Hour + time.Second }, "partition_watch_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v (%T), want a *config.FieldError", err, err)
			}
			if fe.Field != tc.field {
				t.Fatalf("Validate names %q (%v), want %q", fe.Field, err, tc.field)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Validate error does not match config.ErrInvalid")
			}
		})
	}
}

package deployments

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/rs/zerolog"

	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// registeredMetrics returns every metric name the daemon registers, read
// from the descriptors of a live daemon's registry (a vector with no
// series yet still describes itself), with the series names histograms
// add.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	c := daemon.DefaultConfig()
	cfg := &c
	cfg.Kafka.Brokers = []string{"127.0.0.1:1"}
	daemon.Vendor[*plivo.Config](&cfg.Vendors).Enabled = true
	daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthID = "MA1"
	daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthToken = config.NewSecret("t")
	d := daemon.New(cfg, zerolog.Nop(), nil, nil)

	ch := make(chan *prometheus.Desc, 512)
	go func() { d.Registry().Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for desc := range ch {
		m := fq.FindStringSubmatch(desc.String())
		if m == nil {
			t.Fatalf("cannot read a name from %s", desc)
		}
		names[m[1]] = true
		// Any of these may be a histogram or summary; the extra names
		// only widen what a query may use by the suffixes Prometheus
		// itself adds.
		for _, s := range []string{"_bucket", "_count", "_sum"} {
			names[m[1]+s] = true
		}
	}
	if !names["erasured_events_finished_total"] || !names["erasured_consumer_lag"] {
		t.Fatalf("the registry lacks core metrics: %v", names)
	}
	return names
}

// metricNames parses a PromQL expression and returns the metric names it
// selects; a selector without a name is an error.
func metricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var nameless error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if vs.Name == "" {
				nameless = errNameless(vs.String())
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, nameless
}

type errNameless string

func (e errNameless) Error() string { return "selector " + string(e) + " names no metric" }

// alertTemplate parses an annotation as Prometheus would, with $labels and
// $value defined and its template functions stubbed.
func alertTemplate(text string) error {
	stub := func(v any) string { return "" }
	funcs := template.FuncMap{
		"humanize": stub, "humanize1024": stub, "humanizeDuration": stub, "humanizePercentage": stub,
		"humanizeTimestamp": stub, "title": strings.ToTitle, "toUpper": strings.ToUpper, "toLower": strings.ToLower,
		"first": stub, "label": stub, "value": stub, "query": stub, "reReplaceAll": stub, "match": stub, "args": stub,
	}
	_, err := template.New("a").Funcs(funcs).Parse(`{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}` + text)
	return err
}

// TestAlertRules checks every alert is valid PromQL over metrics the
// daemon registers, with a severity, a summary that parses as a template
// and a sane hold time; and that the rules cover what the runbook needs.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	known := registeredMetrics(t)
	for _, dir := range kustomizations {
		r := render(t, dir)
		_, rule := only(t, "PrometheusRule", r.rules)
		var alerts []string
		for _, g := range rule.Spec.Groups {
			for _, rl := range g.Rules {
				name := rl.Alert
				if name == "" {
					t.Errorf("%s: group %s has a rule that is not an alert (record %q)", dir, g.Name, rl.Record)
					continue
				}
				alerts = append(alerts, name)
				names, err := metricNames(rl.Expr.String())
				if err != nil {
					t.Errorf("%s: %s: %v", dir, name, err)
					continue
				}
				if len(names) == 0 {
					t.Errorf("%s: %s reads no metric", dir, name)
				}
				for _, n := range names {
					if !known[n] {
						t.Errorf("%s: %s reads %s, which the daemon does not register", dir, name, n)
					}
				}
				if sev := rl.Labels["severity"]; sev != "warning" && sev != "critical" {
					t.Errorf("%s: %s severity %q", dir, name, sev)
				}
				if rl.Annotations["summary"] == "" {
					t.Errorf("%s: %s has no summary", dir, name)
				}
				for k, v := range rl.Annotations {
					if err := alertTemplate(v); err != nil {
						t.Errorf("%s: %s annotation %s: %v", dir, name, k, err)
					}
				}
				if rl.For != nil {
					if d, err := time.ParseDuration(string(*rl.For)); err != nil || d > time.Hour {
						t.Errorf("%s: %s for %q", dir, name, *rl.For)
					}
				}
			}
		}
		sort.Strings(alerts)
		for _, want := range []string{"ErasuredDeadLetters", "ErasuredConsumerLagGrowing", "ErasuredVendorThrottled", "ErasuredNotReady",
			"ErasuredVendorCircuitOpen", "ErasuredParkedPartsAging", "ErasuredParkedPartsNearGiveUp"} {
			if !slices.Contains(alerts, want) {
				t.Errorf("%s: no %s alert (have %v)", dir, want, alerts)
			}
		}
	}
}

// TestMetricNamesFromAQuery shows metricNames would catch a typo or a
// nameless selector, so TestAlertRules is not vacuous.
func TestMetricNamesFromAQuery(t *testing.T) {
	t.Parallel()
	known := registeredMetrics(t)
	names, err := metricNames(`sum by (vendor) (rate(erasured_vendor_throtled_total[5m]))`)
	if err != nil || len(names) != 1 || known[names[0]] {
		t.Errorf("a misspelt metric was not caught: %v %v", names, err)
	}
	if _, err := metricNames(`{job="erasured"}`); err == nil {
		t.Error("a nameless selector was accepted")
	}
	if _, err := metricNames(`sum(rate(erasured_events_finished_total[5m])`); err == nil {
		t.Error("unbalanced parentheses parsed")
	}
}

// dashboard is the part of a Grafana dashboard model the test reads.
type dashboard struct {
	Title  string  `json:"title"`
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Targets []target `json:"targets"`
	Panels  []panel  `json:"panels"` // rows may nest panels
}

type target struct {
	Expr string `json:"expr"`
}

// TestGrafanaDashboard checks every panel query parses as PromQL, once
// Grafana's variables are given values, and reads only registered metrics;
// and that together they show each family the dashboard promises.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	known := registeredMetrics(t)
	var d dashboard
	readJSON(t, "grafana/erasured.json", &d)
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard title %q uid %q", d.Title, d.UID)
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$namespace", "erasured", "$pod", "erasured-0", "$vendor", "plivo")
	used := map[string]bool{}
	var walk func([]panel)
	n := 0
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, tg := range p.Targets {
				n++
				names, err := metricNames(vars.Replace(tg.Expr))
				if err != nil {
					t.Errorf("panel %q: %q: %v", p.Title, tg.Expr, err)
					continue
				}
				for _, m := range names {
					used[m] = true
					if !known[m] {
						t.Errorf("panel %q reads %s, which the daemon does not register", p.Title, m)
					}
				}
			}
		}
	}
	walk(d.Panels)
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for _, want := range []string{
		"erasured_events_consumed_total", "erasured_events_finished_total", "erasured_events_in_flight",
		"erasured_vendor_requests_total", "erasured_vendor_request_duration_seconds_bucket", "erasured_vendor_throttled_total",
		"erasured_retry_waits_total", "erasured_dead_lettered_total", "erasured_consumer_lag",
		"erasured_offset_commit_duration_seconds_bucket", "erasured_rebalances_total", "erasured_ready",
		"erasured_retry_parked", "erasured_retry_oldest_parked_age_seconds", "erasured_retry_give_up_after_seconds",
		"erasured_retry_unparked_total", "erasured_retry_attempts_total",
	} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
	t.Logf("%d queries over %d metric names", n, len(used))
}

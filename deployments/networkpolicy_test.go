package deployments

import (
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/internal/daemon"
)

// deployable are the kustomizations meant to be applied as they are: their
// NetworkPolicy must let the pod reach its own brokers and vendors. The
// base leaves both to overlays (it cannot know where they are) and allows
// only DNS out.
var deployable = map[string]bool{"kubernetes/overlays/example": true}

// TestNetworkPolicy checks the pod is isolated both ways: ingress only to
// the metrics port, and only from a namespace picked by label; egress only
// to DNS and, in a deployable overlay, to the configured brokers' ports
// and the vendors' HTTPS port, never to everything.
func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			_, np := only(t, "NetworkPolicy", r.networkPolicies)
			_, dep := only(t, "Deployment", r.deployments)
			p := simulatePod(t, r)
			cfg, err := daemon.LoadConfig(p.configPath, func() []string { return p.environ })
			if err != nil {
				t.Fatalf("the pod's configuration does not load: %v", err)
			}

			sel, err := metaSelector(np.Spec.PodSelector.MatchLabels)
			if err != nil || !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
				t.Fatalf("podSelector %v does not select the pods %v", np.Spec.PodSelector, dep.Spec.Template.Labels)
			}
			if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				t.Fatalf("policyTypes %v, want Ingress and Egress", np.Spec.PolicyTypes)
			}

			// Ingress: the metrics port, which the Service targets, from
			// labelled namespaces only.
			var metrics corev1.ContainerPort
			for _, cp := range p.container.Ports {
				if cp.Name == "metrics" {
					metrics = cp
				}
			}
			_, svc := only(t, "Service", r.services)
			for _, sp := range svc.Spec.Ports {
				if sp.TargetPort.String() != metrics.Name && sp.TargetPort.IntValue() != int(metrics.ContainerPort) {
					t.Errorf("Service port %s targets %s, not the metrics port", sp.Name, sp.TargetPort.String())
				}
			}
			if len(np.Spec.Ingress) == 0 {
				t.Error("no ingress rule: Prometheus cannot scrape")
			}
			for i, rule := range np.Spec.Ingress {
				if len(rule.Ports) == 0 || len(rule.From) == 0 {
					t.Errorf("ingress rule %d allows every port or every source: %+v", i, rule)
				}
				for _, pt := range rule.Ports {
					if pt.Port == nil || (pt.Port.String() != metrics.Name && pt.Port.IntValue() != int(metrics.ContainerPort)) || pt.EndPort != nil || protocol(pt.Protocol) != corev1.ProtocolTCP {
						t.Errorf("ingress rule %d port %+v is not the metrics port %s/%d TCP", i, pt, metrics.Name, metrics.ContainerPort)
					}
				}
				for _, peer := range rule.From {
					if peer.IPBlock != nil || peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels)+len(peer.NamespaceSelector.MatchExpressions) == 0 {
						t.Errorf("ingress rule %d peer %+v is not a namespace picked by label", i, peer)
					}
				}
			}

			// Egress: no rule open to everything.
			allows := func(port int, proto corev1.Protocol) bool {
				for _, rule := range np.Spec.Egress {
					for _, pt := range rule.Ports {
						if pt.Port != nil && pt.Port.IntValue() == port && protocol(pt.Protocol) == proto {
							return true
						}
					}
				}
				return false
			}
			for i, rule := range np.Spec.Egress {
				if len(rule.Ports) == 0 || len(rule.To) == 0 {
					t.Errorf("egress rule %d allows every port or every destination: %+v", i, rule)
				}
				for _, peer := range rule.To {
					if b := peer.IPBlock; b != nil {
						if _, n, err := net.ParseCIDR(b.CIDR); err != nil {
							t.Errorf("egress rule %d: CIDR %q: %v", i, b.CIDR, err)
						} else if ones, _ := n.Mask.Size(); ones == 0 {
							t.Errorf("egress rule %d: %s is everywhere", i, b.CIDR)
						}
					} else if peer.NamespaceSelector == nil && peer.PodSelector == nil {
						t.Errorf("egress rule %d peer %+v names nothing", i, peer)
					}
				}
			}
			if !allows(53, corev1.ProtocolUDP) || !allows(53, corev1.ProtocolTCP) {
				t.Error("egress does not allow DNS (53/UDP and 53/TCP)")
			}
			if !deployable[dir] {
				return
			}
			for _, b := range cfg.Kafka.Brokers {
				_, port, err := net.SplitHostPort(b)
				n, _ := strconv.Atoi(port)
				if err != nil || !allows(n, corev1.ProtocolTCP) {
					t.Errorf("egress does not allow broker %s", b)
				}
			}
			for _, name := range adapters.Names() {
				sec := cfg.Vendors.Section(name)
				base := struct{ url string }{sec.Endpoint()}
				if !sec.Shared().Enabled {
					continue
				}
				u, err := url.Parse(base.url)
				if err != nil {
					t.Fatalf("%s base_url: %v", name, err)
				}
				port := map[string]int{"https": 443, "http": 80}[u.Scheme]
				if u.Port() != "" {
					port, _ = strconv.Atoi(u.Port())
				}
				if !allows(port, corev1.ProtocolTCP) {
					t.Errorf("egress does not allow vendor %s at %s (port %d)", name, base.url, port)
				}
			}
		})
	}
}

func metaSelector(m map[string]string) (labels.Selector, error) {
	if len(m) == 0 {
		return labels.Nothing(), nil
	}
	return labels.SelectorFromSet(m), nil
}

func protocol(p *corev1.Protocol) corev1.Protocol {
	if p == nil {
		return corev1.ProtocolTCP // the API default
	}
	return *p
}

// digestRef is an image reference pinned by digest: a name, no tag, and a
// sha256 digest of 64 lower-case hex digits.
var digestRef = regexp.MustCompile(`^[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$`)

// TestOverlayImagePinnedByDigest: a deployable overlay names its image by
// digest, so what runs is what was built and scanned, not whatever a tag
// points at today.
func TestOverlayImagePinnedByDigest(t *testing.T) {
	t.Parallel()
	for dir := range deployable {
		r := render(t, dir)
		_, dep := only(t, "Deployment", r.deployments)
		for _, c := range append(dep.Spec.Template.Spec.InitContainers, dep.Spec.Template.Spec.Containers...) {
			if !digestRef.MatchString(c.Image) {
				t.Errorf("%s: container %s image %q is not pinned by digest (name@sha256:<64 hex>)", dir, c.Name, c.Image)
			}
		}
	}
	for _, ref := range []string{"erasured:0.1.0", "erasured", "erasured@sha256:abc", "erasured:0.1.0@sha256:" + strings.Repeat("a", 64), "erasured@sha256:" + strings.Repeat("A", 64)} {
		if digestRef.MatchString(ref) {
			t.Errorf("digestRef accepts %q", ref)
		}
	}
}

// TestPodsHaveNoNotices: every kustomization gives the pods what
// check-config would otherwise warn about: log.fingerprint_key, so
// replicas name a user by the same fingerprint in their logs, and
// replay.signing_key, so replayed records are restricted to the vendors
// that failed; and no vendor on plain http.
func TestPodsHaveNoNotices(t *testing.T) {
	t.Parallel()
	for _, dir := range kustomizations {
		r := render(t, dir)
		p := simulatePod(t, r)
		cfg, err := daemon.LoadConfig(p.configPath, func() []string { return p.environ })
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if n := cfg.Notices(); len(n) > 0 {
			t.Errorf("%s: check-config would say %q", dir, n)
		}
	}
}

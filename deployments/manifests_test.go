// Package deployments holds no code: its tests keep the Kubernetes
// manifests, the image build and the Grafana dashboard honest against the
// daemon they deploy.
package deployments

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/rs/zerolog"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/erasured/erasured/internal/daemon"
	"github.com/erasured/erasured/internal/testpki"
)

// kustomizations are the directories that must render.
var kustomizations = []string{"kubernetes/base", "kubernetes/overlays/example"}

// externalConfigMaps are ConfigMaps the manifests mount, optionally,
// but do not create: an operator creates erasured-pause to pause a vendor
// at runtime (vendors.pause_file).
var externalConfigMaps = map[string]bool{"erasured-pause": true}

// externalSecrets are Secrets the manifests use but do not create, with
// stand-in contents for the pod simulation. A reference to any other
// Secret that is not rendered is an error.
var externalSecrets = map[string]func(t *testing.T) map[string]string{
	// The base references the vendor credentials it leaves to overlays.
	"erasured-vendors": func(*testing.T) map[string]string {
		return map[string]string{
			"plivo-auth-token": "t", "webex-token": "t", "exotel-api-token": "t", "clevertap-passcode": "t",
		}
	},
	// The base takes log.fingerprint_key from a Secret it leaves to
	// overlays.
	"erasured-log": func(*testing.T) map[string]string {
		return map[string]string{"fingerprint-key": "a-stand-in-fingerprint-key-of-32-bytes-or-more"}
	},
	// ... and replay.signing_key from another.
	"erasured-replay": func(*testing.T) map[string]string {
		return map[string]string{"signing-key": "a-stand-in-replay-signing-key-of-32-bytes-or-more"}
	},
	// The Kafka operator publishes the cluster CA.
	"kafka-cluster-ca-cert": func(t *testing.T) map[string]string {
		pki, err := testpki.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(pki.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"ca.crt": string(b)}
	},
}

// rendered is one kustomization's output, each object decoded strictly
// into its API type.
type rendered struct {
	dir             string
	deployments     map[string]*appsv1.Deployment
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	services        map[string]*corev1.Service
	serviceAccounts map[string]*corev1.ServiceAccount
	namespaces      map[string]*corev1.Namespace
	pdbs            map[string]*policyv1.PodDisruptionBudget
	scaledObjects   map[string]*scaledObject
	triggerAuths    map[string]*triggerAuthentication
	rules           map[string]*monitoringv1.PrometheusRule
	serviceMonitors map[string]*monitoringv1.ServiceMonitor
	networkPolicies map[string]*networkingv1.NetworkPolicy
	namespaced      []string // kind/name of every namespaced object
	namespaceOf     map[string]string
}

// put decodes a rendered object strictly into a new T and files it under
// name.
func put[T any](m map[string]*T, name string, into func(any)) {
	o := new(T)
	into(o)
	m[name] = o
}

// decodeStrict decodes JSON or YAML into v, failing on a field the type
// does not have or a key given twice.
func decodeStrict(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }

// renderMu serialises kustomize runs: krusty keeps package-level state
// (its OpenAPI schema) that parallel tests otherwise race on, which showed
// as rare render failures under load.
var renderMu sync.Mutex

func render(t *testing.T, dir string) *rendered {
	t.Helper()
	renderMu.Lock()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	renderMu.Unlock()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	r := &rendered{
		dir: dir, deployments: map[string]*appsv1.Deployment{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{}, services: map[string]*corev1.Service{},
		serviceAccounts: map[string]*corev1.ServiceAccount{}, namespaces: map[string]*corev1.Namespace{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, scaledObjects: map[string]*scaledObject{},
		triggerAuths: map[string]*triggerAuthentication{}, rules: map[string]*monitoringv1.PrometheusRule{},
		serviceMonitors: map[string]*monitoringv1.ServiceMonitor{}, namespaceOf: map[string]string{},
		networkPolicies: map[string]*networkingv1.NetworkPolicy{},
	}
	if len(m.Resources()) == 0 {
		t.Fatalf("%s renders nothing", dir)
	}
	for _, res := range m.Resources() {
		b, err := res.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		gvk := res.GetApiVersion() + "/" + res.GetKind()
		name := res.GetName()
		into := func(obj any) {
			t.Helper()
			if err := decodeStrict(b, obj); err != nil {
				t.Errorf("%s: %s %s does not decode strictly: %v", dir, gvk, name, err)
			}
		}
		if res.GetKind() != "Namespace" {
			r.namespaced = append(r.namespaced, res.GetKind()+"/"+name)
			r.namespaceOf[res.GetKind()+"/"+name] = res.GetNamespace()
		}
		switch gvk {
		case "apps/v1/Deployment":
			put(r.deployments, name, into)
		case "v1/ConfigMap":
			put(r.configMaps, name, into)
		case "v1/Secret":
			put(r.secrets, name, into)
		case "v1/Service":
			put(r.services, name, into)
		case "v1/ServiceAccount":
			put(r.serviceAccounts, name, into)
		case "v1/Namespace":
			put(r.namespaces, name, into)
		case "policy/v1/PodDisruptionBudget":
			put(r.pdbs, name, into)
		case "keda.sh/v1alpha1/ScaledObject":
			put(r.scaledObjects, name, into)
		case "keda.sh/v1alpha1/TriggerAuthentication":
			put(r.triggerAuths, name, into)
		case "monitoring.coreos.com/v1/PrometheusRule":
			put(r.rules, name, into)
		case "monitoring.coreos.com/v1/ServiceMonitor":
			put(r.serviceMonitors, name, into)
		case "networking.k8s.io/v1/NetworkPolicy":
			put(r.networkPolicies, name, into)
		default:
			t.Errorf("%s: %s %s has no typed check; add one", dir, gvk, name)
		}
	}
	return r
}

// only returns the single value of m, failing unless there is exactly one.
func only[T any](t *testing.T, what string, m map[string]T) (string, T) {
	t.Helper()
	if len(m) != 1 {
		t.Fatalf("want exactly one %s, got %d", what, len(m))
	}
	for k, v := range m {
		return k, v
	}
	panic("unreachable")
}

func TestManifestsRenderAndDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			for what, n := range map[string]int{
				"Deployment": len(r.deployments), "ConfigMap": len(r.configMaps), "Service": len(r.services),
				"ServiceAccount": len(r.serviceAccounts), "PodDisruptionBudget": len(r.pdbs),
				"ScaledObject": len(r.scaledObjects), "PrometheusRule": len(r.rules), "ServiceMonitor": len(r.serviceMonitors),
				"NetworkPolicy": len(r.networkPolicies),
			} {
				if n != 1 {
					t.Errorf("%d %s objects, want 1", n, what)
				}
			}
			t.Logf("%s: %d namespaced objects: %s", dir, len(r.namespaced), strings.Join(r.namespaced, " "))
		})
	}
}

// TestStrictDecodingRejectsUnknownFields shows the decode above would
// catch a misspelt or misplaced field, in a core type and in a mirror.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		into any
	}{
		{"misspelt container field", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"selector":{},"template":{"spec":{"containers":[{"name":"c","imagePullPolicyy":"Always"}]}}}}`, &appsv1.Deployment{}},
		{"securityContext at the wrong level", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"selector":{},"readOnlyRootFilesystem":true,"template":{}}}`, &appsv1.Deployment{}},
		{"duplicate key", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP, type: NodePort}\n", &corev1.Service{}},
		{"unknown ScaledObject field", `{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"x"},"spec":{"scaleTargetRef":{"name":"x"},"maxReplicas":3,"triggers":[]}}`, &scaledObject{}},
		{"unknown PrometheusRule field", `{"apiVersion":"monitoring.coreos.com/v1","kind":"PrometheusRule","metadata":{"name":"x"},"spec":{"groups":[{"name":"g","rules":[{"alert":"A","expr":"1","severity":"x"}]}]}}`, &monitoringv1.PrometheusRule{}},
	}
	for _, tt := range tests {
		if err := decodeStrict([]byte(tt.doc), tt.into); err == nil {
			t.Errorf("%s: decoded without error", tt.name)
		}
	}
}

// pod is what the erasured container sees: its files and environment.
type pod struct {
	root       string // stands in for / in paths the container reads
	configPath string
	environ    []string
	container  corev1.Container
	spec       corev1.PodSpec
}

// simulatePod lays out the Deployment's mounted ConfigMaps and Secrets
// under a temporary root, rewriting the mount paths inside the files and
// the environment, and resolves the container's environment as the kubelet
// would.
func simulatePod(t *testing.T, r *rendered) *pod {
	t.Helper()
	_, dep := only(t, "Deployment", r.deployments)
	spec := dep.Spec.Template.Spec
	var c corev1.Container
	for _, cc := range spec.Containers {
		if cc.Name == "erasured" {
			c = cc
		}
	}
	if c.Name == "" {
		t.Fatal("no container named erasured")
	}
	p := &pod{root: t.TempDir(), container: c, spec: spec}
	secretData := func(name string) map[string]string {
		t.Helper()
		if s, ok := r.secrets[name]; ok {
			out := map[string]string{}
			for k, v := range s.Data {
				out[k] = string(v)
			}
			for k, v := range s.StringData {
				out[k] = v
			}
			return out
		}
		if f, ok := externalSecrets[name]; ok {
			return f(t)
		}
		t.Fatalf("Secret %q is neither rendered nor a declared external Secret", name)
		return nil
	}
	rewrite := func(s string) string {
		for _, vm := range c.VolumeMounts {
			s = strings.ReplaceAll(s, vm.MountPath+"/", filepath.Join(p.root, vm.MountPath)+"/")
		}
		return s
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			t.Fatalf("volume mount %s has no volume", vm.Name)
		}
		var data map[string]string
		var items []corev1.KeyToPath
		switch {
		case v.ConfigMap != nil:
			cm, ok := r.configMaps[v.ConfigMap.Name]
			if !ok && externalConfigMaps[v.ConfigMap.Name] {
				if v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional {
					t.Fatalf("ConfigMap %q is not rendered and its volume is not optional", v.ConfigMap.Name)
				}
				// Absent, as in a cluster where nobody created it: the
				// pod starts with an empty mount.
				continue
			}
			if !ok {
				t.Fatalf("ConfigMap %q is not rendered", v.ConfigMap.Name)
			}
			data, items = cm.Data, v.ConfigMap.Items
		case v.Secret != nil:
			data, items = secretData(v.Secret.SecretName), v.Secret.Items
		default:
			continue
		}
		if items == nil {
			for k := range data {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			val, ok := data[it.Key]
			if !ok {
				t.Fatalf("volume %s: key %q is not in its source", vm.Name, it.Key)
			}
			path := filepath.Join(p.root, vm.MountPath, it.Path)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(rewrite(val)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			p.environ = append(p.environ, e.Name+"="+rewrite(e.Value))
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			val, ok := secretData(ref.Name)[ref.Key]
			if !ok {
				t.Fatalf("env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
			}
			p.environ = append(p.environ, e.Name+"="+val)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			p.environ = append(p.environ, e.Name+"="+r.configMaps[ref.Name].Data[ref.Key])
		default:
			t.Fatalf("env %s: unsupported source", e.Name)
		}
	}
	i := slices.Index(c.Args, "-config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("container args %q name no -config file", c.Args)
	}
	p.configPath = rewrite(c.Args[i+1])
	return p
}

func (p *pod) env(name string) string {
	for _, kv := range p.environ {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// TestDeploymentRunsTheDaemon loads the configuration the way the pod
// would and checks the Deployment agrees with it and with the image.
func TestDeploymentRunsTheDaemon(t *testing.T) {
	t.Parallel()
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			p := simulatePod(t, r)
			cfg, err := daemon.LoadConfig(p.configPath, func() []string { return p.environ })
			if err != nil {
				t.Fatalf("the pod's configuration does not load: %v", err)
			}
			c, spec := p.container, p.spec

			// The metrics port is where the daemon listens, and the
			// probes hit paths the daemon serves.
			_, portStr, err := splitHostPort(cfg.HTTP.Listen)
			if err != nil {
				t.Fatal(err)
			}
			port, _ := strconv.Atoi(portStr)
			var metrics *corev1.ContainerPort
			for i := range c.Ports {
				if c.Ports[i].Name == "metrics" {
					metrics = &c.Ports[i]
				}
			}
			if metrics == nil || int(metrics.ContainerPort) != port {
				t.Errorf("container port metrics = %v, want %d (http.listen %q)", metrics, port, cfg.HTTP.Listen)
			}
			d := daemon.New(cfg, zerolog.Nop(), nil, nil)
			for probe, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
				if pr == nil || pr.HTTPGet == nil {
					t.Errorf("%s probe is not an HTTP GET", probe)
					continue
				}
				if pr.HTTPGet.Port.String() != "metrics" {
					t.Errorf("%s probe port %s, want metrics", probe, pr.HTTPGet.Port.String())
				}
				rec := httptest.NewRecorder()
				d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, pr.HTTPGet.Path, nil))
				if rec.Code == http.StatusNotFound {
					t.Errorf("%s probe path %s is not served by the daemon", probe, pr.HTTPGet.Path)
				}
			}
			if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("probes: liveness %s readiness %s", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
			}

			// The kubelet waits for the daemon's graceful stop.
			if g := spec.TerminationGracePeriodSeconds; g == nil {
				t.Error("terminationGracePeriodSeconds is not set")
			} else if time.Duration(*g)*time.Second <= cfg.StopBudget() {
				t.Errorf("terminationGracePeriodSeconds %d must exceed shutdown_timeout %s and the writers' and HTTP server's close (%s in all)", *g, cfg.ShutdownTimeout, cfg.StopBudget())
			}

			// Resources, and the Go heap limit below the memory limit.
			lim := c.Resources.Limits.Memory()
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || lim.IsZero() {
				t.Errorf("resources %+v: requests and a memory limit are required", c.Resources)
			}
			if gml := p.env("GOMEMLIMIT"); gml != "" {
				q, err := resource.ParseQuantity(strings.TrimSuffix(gml, "B"))
				if err != nil {
					t.Errorf("GOMEMLIMIT %q: %v", gml, err)
				} else if q.Cmp(*lim) >= 0 {
					t.Errorf("GOMEMLIMIT %s is not below limits.memory %s", gml, lim)
				}
			}

			// Locked down: non-root (the image's user), no escalation,
			// read-only root, no capabilities, no API token.
			psc, csc := spec.SecurityContext, c.SecurityContext
			switch {
			case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
				t.Error("pod securityContext.runAsNonRoot must be true")
			case psc.RunAsUser == nil || *psc.RunAsUser != imageUID:
				t.Errorf("pod runAsUser %v, want the image's %d", psc.RunAsUser, imageUID)
			case csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation:
				t.Error("allowPrivilegeEscalation must be false")
			case csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem:
				t.Error("readOnlyRootFilesystem must be true")
			case csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL"):
				t.Error("capabilities must drop ALL")
			case spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken:
				t.Error("the pod must not mount a service-account token")
			}
			if _, ok := r.serviceAccounts[spec.ServiceAccountName]; !ok {
				t.Errorf("serviceAccountName %q is not rendered", spec.ServiceAccountName)
			}

			// Selectors select the pods; the Service and ServiceMonitor
			// reach the metrics port.
			_, dep := only(t, "Deployment", r.deployments)
			podLabels := labels.Set(dep.Spec.Template.Labels)
			selects := func(what string, sel map[string]string) {
				t.Helper()
				if len(sel) == 0 || !labels.SelectorFromSet(sel).Matches(podLabels) {
					t.Errorf("%s selector %v does not select the pods %v", what, sel, podLabels)
				}
			}
			selects("Deployment", dep.Spec.Selector.MatchLabels)
			_, pdb := only(t, "PodDisruptionBudget", r.pdbs)
			selects("PodDisruptionBudget", pdb.Spec.Selector.MatchLabels)
			_, svc := only(t, "Service", r.services)
			selects("Service", svc.Spec.Selector)
			var svcPort string
			for _, sp := range svc.Spec.Ports {
				if sp.TargetPort.String() == "metrics" && sp.Port == metrics.ContainerPort {
					svcPort = sp.Name
				}
			}
			if svcPort == "" {
				t.Errorf("Service %s has no port targeting metrics", svc.Name)
			}
			_, sm := only(t, "ServiceMonitor", r.serviceMonitors)
			if !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) {
				t.Errorf("ServiceMonitor selector %v does not select Service labels %v", sm.Spec.Selector.MatchLabels, svc.Labels)
			}
			if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svcPort || sm.Spec.Endpoints[0].Path != "/metrics" {
				t.Errorf("ServiceMonitor endpoints %+v, want port %s path /metrics", sm.Spec.Endpoints, svcPort)
			}

			// An overlay with a namespace puts everything in it.
			for ns := range r.namespaces {
				for _, obj := range r.namespaced {
					if got := r.namespaceOf[obj]; got != ns {
						t.Errorf("%s is in namespace %q, want %q", obj, got, ns)
					}
				}
			}
		})
	}
}

// TestScaledObjectMatchesTheConsumer checks KEDA watches the lag of the
// group, topic and brokers the daemon uses, the way the daemon reaches
// them, and never runs more members than partitions.
func TestScaledObjectMatchesTheConsumer(t *testing.T) {
	t.Parallel()
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			r := render(t, dir)
			p := simulatePod(t, r)
			cfg, err := daemon.LoadConfig(p.configPath, func() []string { return p.environ })
			if err != nil {
				t.Fatal(err)
			}
			depName, _ := only(t, "Deployment", r.deployments)
			_, so := only(t, "ScaledObject", r.scaledObjects)
			s := so.Spec
			if s.ScaleTargetRef == nil || s.ScaleTargetRef.Name != depName {
				t.Errorf("scaleTargetRef %+v, want the Deployment %s", s.ScaleTargetRef, depName)
			}
			partitions, err := strconv.Atoi(so.Annotations["erasured.io/topic-partitions"])
			if err != nil || partitions < 1 {
				t.Fatalf("annotation erasured.io/topic-partitions = %q: the topic's partition count is needed", so.Annotations["erasured.io/topic-partitions"])
			}
			if s.MinReplicaCount == nil || *s.MinReplicaCount < 1 || s.MaxReplicaCount == nil {
				t.Fatal("minReplicaCount must be at least 1, so deletions never wait for a scale-up, and maxReplicaCount set")
			}
			if lo, hi := *s.MinReplicaCount, *s.MaxReplicaCount; hi > int32(partitions) || hi < lo {
				t.Errorf("maxReplicaCount %d must be in [minReplicaCount %d, %d partitions]", hi, lo, partitions)
			}
			if len(s.Triggers) != 1 || s.Triggers[0].Type != "kafka" {
				t.Fatalf("triggers %+v, want one kafka trigger", s.Triggers)
			}
			tr := s.Triggers[0]
			md := tr.Metadata
			for k := range md {
				if !kafkaTriggerMetadata[k] {
					t.Errorf("kafka trigger metadata %q is not a key KEDA reads", k)
				}
			}
			for key, want := range map[string]string{
				"bootstrapServers":   strings.Join(cfg.Kafka.Brokers, ","),
				"consumerGroup":      cfg.Kafka.GroupID,
				"topic":              cfg.Kafka.Topic,
				"offsetResetPolicy":  cfg.Kafka.StartOffset,
				"allowIdleConsumers": "false",
			} {
				if md[key] != want {
					t.Errorf("trigger %s = %q, want %q (from the daemon's configuration)", key, md[key], want)
				}
			}
			if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n < 1 {
				t.Errorf("lagThreshold %q must be a positive integer", md["lagThreshold"])
			}

			// KEDA must reach Kafka as the daemon does.
			auth := cfg.Kafka.Auth
			wantTLS := map[bool]string{true: "enable", false: ""}[auth.TLS.Enabled]
			if md["tls"] != wantTLS {
				t.Errorf("trigger tls = %q, want %q", md["tls"], wantTLS)
			}
			wantSASL := map[string]string{"": "", "PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}[auth.SASL.Mechanism]
			if md["sasl"] != wantSASL {
				t.Errorf("trigger sasl = %q, want %q for mechanism %q", md["sasl"], wantSASL, auth.SASL.Mechanism)
			}
			if !auth.TLS.Enabled && auth.SASL.Mechanism == "" {
				if tr.AuthenticationRef != nil {
					t.Errorf("authenticationRef %v with no Kafka security configured", tr.AuthenticationRef)
				}
				return
			}
			if tr.AuthenticationRef == nil {
				t.Fatal("Kafka security is on but the trigger has no authenticationRef")
			}
			ta, ok := r.triggerAuths[tr.AuthenticationRef.Name]
			if !ok {
				t.Fatalf("TriggerAuthentication %q is not rendered", tr.AuthenticationRef.Name)
			}
			params := map[string]authTargetRef{}
			for _, ref := range ta.Spec.SecretTargetRef {
				if !kafkaAuthParameters[ref.Parameter] {
					t.Errorf("TriggerAuthentication parameter %q is not one the kafka scaler reads", ref.Parameter)
				}
				if s, ok := r.secrets[ref.Name]; ok {
					if _, ok := s.Data[ref.Key]; !ok {
						t.Errorf("TriggerAuthentication %s: Secret %s has no key %s", ref.Parameter, ref.Name, ref.Key)
					}
				} else if f, ok := externalSecrets[ref.Name]; !ok {
					t.Errorf("TriggerAuthentication %s: Secret %q is neither rendered nor declared external", ref.Parameter, ref.Name)
				} else if _, ok := f(t)[ref.Key]; !ok {
					t.Errorf("TriggerAuthentication %s: external Secret %s has no key %s", ref.Parameter, ref.Name, ref.Key)
				}
				params[ref.Parameter] = ref
			}
			if auth.SASL.Mechanism != "" {
				// The same user as the daemon: its username comes from the
				// Secret key the scaler reads.
				user := params["username"]
				var found bool
				for _, e := range p.container.Env {
					if e.Name == "ERASURED_KAFKA_SASL_USERNAME" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil &&
						e.ValueFrom.SecretKeyRef.Name == user.Name && e.ValueFrom.SecretKeyRef.Key == user.Key {
						found = true
					}
				}
				if !found || params["password"].Name == "" {
					t.Errorf("KEDA's username/password (%+v, %+v) are not the daemon's", user, params["password"])
				}
			}
			if auth.TLS.CAFile != "" && params["ca"].Name == "" {
				t.Error("the daemon verifies brokers with a CA but KEDA is given none")
			}
		})
	}
}

// TestSecretsHoldOnlyPlaceholders keeps real credentials out of the
// repository: every generated Secret value is a marked placeholder, bar
// the names of things.
func TestSecretsHoldOnlyPlaceholders(t *testing.T) {
	t.Parallel()
	notSecret := map[string]bool{"username": true}
	for _, dir := range kustomizations {
		r := render(t, dir)
		for name, s := range r.secrets {
			for k, v := range s.Data {
				if !notSecret[k] && !strings.HasPrefix(string(v), "REPLACE-ME") {
					t.Errorf("%s: Secret %s key %s holds a value that is not a REPLACE-ME placeholder", dir, name, k)
				}
			}
			if len(s.StringData) > 0 {
				t.Errorf("%s: Secret %s uses stringData", dir, name)
			}
		}
	}
}

func splitHostPort(listen string) (string, string, error) {
	i := strings.LastIndex(listen, ":")
	if i < 0 {
		return "", "", fmt.Errorf("listen address %q has no port", listen)
	}
	return listen[:i], listen[i+1:], nil
}

// readJSON decodes a JSON file strictly.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

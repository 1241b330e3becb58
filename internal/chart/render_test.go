package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func TestHelmLint(t *testing.T) {
	for name, values := range map[string][]string{
		"defaults": nil,
		"all-on":   {allOnValues},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir(t)}
			for _, v := range values {
				abs, _ := filepath.Abs(v)
				args = append(args, "--values", abs)
			}
			runHelm(t, args...)
		})
	}
}

func deployment(t *testing.T, objs []*unstructured.Unstructured, name string) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(find(t, objs, "Deployment", name).Object, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// assertHardened checks the container security the chart promises for every
// medslice container.
func assertHardened(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s/%s: no securityContext", d.Name, c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s/%s: runAsNonRoot not set", d.Name, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s/%s: readOnlyRootFilesystem not set", d.Name, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s/%s: privilege escalation allowed", d.Name, c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s/%s: capabilities %+v, want drop [ALL] and nothing added", d.Name, c.Name, sc.Capabilities)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s/%s: seccomp profile %+v, want RuntimeDefault", d.Name, c.Name, sc.SeccompProfile)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: resources %+v, want cpu requests and memory limits", d.Name, c.Name, c.Resources)
		}
		// The default image names no registry host: a registry is the installer's choice.
		repo, _, _ := strings.Cut(c.Image, ":")
		if first, _, found := strings.Cut(repo, "/"); found && strings.ContainsAny(first, ".:") || first == "localhost" {
			t.Errorf("%s/%s: image %q names a registry host", d.Name, c.Name, c.Image)
		}
	}
}

func TestRenderDefaults(t *testing.T) {
	objs := render(t, false)

	op := deployment(t, objs, releaseName)
	if got := *op.Spec.Replicas; got != 2 {
		t.Errorf("operator replicas = %d, want 2", got)
	}
	c := op.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("operator args %v lack --leader-elect", c.Args)
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--emulated-") }) {
		t.Errorf("operator args %v use the emulator without demo.enabled", c.Args)
	}
	if slices.ContainsFunc(c.Args, func(a string) bool {
		return strings.HasPrefix(a, "--notify-tls") || strings.HasPrefix(a, "--notify-client-ca")
	}) {
		t.Errorf("operator args %v serve notifications over TLS without a Secret for it", c.Args)
	}
	if !slices.Contains(c.Args, "--evidence-checkpoint-interval=10s") {
		t.Errorf("operator args %v lack the default evidence checkpoint interval", c.Args)
	}
	for probe, want := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if want == nil || want.HTTPGet == nil {
			t.Fatalf("operator has no HTTP %s probe", probe)
		}
	}
	if p := c.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port.String() != "health" {
		t.Errorf("liveness probe %s on %s, want /healthz on health", p.Path, p.Port.String())
	}
	if p := c.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port.String() != "health" {
		t.Errorf("readiness probe %s on %s, want /readyz on health", p.Path, p.Port.String())
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"metrics": 8080, "health": 8081, "notifications": 8082, "console": 8083}, ports); diff != "" {
		t.Errorf("operator ports (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace"
	}) {
		t.Errorf("operator env %v lacks POD_NAMESPACE from metadata.namespace", c.Env)
	}
	assertHardened(t, op)

	for _, name := range []string{"medslice-metrics", "medslice-notify", "medslice-console"} {
		find(t, objs, "Service", name)
	}
	for _, name := range []string{"medslice-engineer", "medslice-requester", "medslice-auditor", "medslice-operator"} {
		find(t, objs, "ClusterRole", name)
	}
	if cm := find(t, objs, "ConfigMap", "medslice-dashboard"); cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard ConfigMap labels %v, want grafana_dashboard: \"1\"", cm.GetLabels())
	}
	if got := count(objs, "SliceProfile"); got != 4 {
		t.Errorf("%d SliceProfiles rendered, want the 4 built-in ones", got)
	}
	// Off by default: they need CRDs or groups a cluster may not have.
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "CoreNetwork", "Secret", "ClusterRoleBinding", "RoleBinding", "CustomResourceDefinition"} {
		n := count(objs, kind)
		if kind == "ClusterRoleBinding" || kind == "RoleBinding" {
			n-- // the operator's own binding
		}
		if n != 0 {
			t.Errorf("default render has %d extra %s objects, want none", n, kind)
		}
	}
	if got := count(objs, "Deployment"); got != 1 {
		t.Errorf("default render has %d Deployments, want the operator's only (no demo)", got)
	}
}

func TestRenderAllOn(t *testing.T) {
	objs := render(t, true, allOnValues)
	root := repoRoot(t)

	if got := count(objs, "CustomResourceDefinition"); got != len(yamlFiles(t, filepath.Join(root, "config", "crd", "bases"))) {
		t.Errorf("%d CRDs rendered with --include-crds, want every one of config/crd/bases", got)
	}

	// The PrometheusRule carries exactly the groups promtool tests.
	raw, err := os.ReadFile(filepath.Join(root, "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	pr := find(t, objs, "PrometheusRule", releaseName)
	if diff := cmp.Diff(want["groups"], pr.Object["spec"].(map[string]any)["groups"]); diff != "" {
		t.Errorf("PrometheusRule groups differ from config/prometheus/rules.yaml (-want +got):\n%s", diff)
	}
	sm := find(t, objs, "ServiceMonitor", releaseName)
	if eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints"); len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" {
		t.Errorf("ServiceMonitor endpoints %v, want the metrics port", eps)
	}

	// The dashboard ConfigMap holds the dashboard file unchanged.
	dash, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "medslice.json"))
	if err != nil {
		t.Fatal(err)
	}
	cm := find(t, objs, "ConfigMap", "medslice-dashboard")
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "medslice.json"); got != strings.TrimRight(string(dash), "\n") {
		t.Errorf("dashboard ConfigMap content differs from dashboards/medslice.json")
	}

	// Demo: emulator with its user plane, reflector, and the operator wired to both.
	emu := deployment(t, objs, "medslice-emulator")
	if args := emu.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--userplane") {
		t.Errorf("emulator args %v lack --userplane", args)
	}
	refl := deployment(t, objs, "medslice-reflector")
	for _, d := range []*appsv1.Deployment{emu, refl} {
		assertHardened(t, d)
	}
	op := deployment(t, objs, releaseName)
	opArgs := op.Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{
		"--emulated-user-plane=http://medslice-emulator.medslice-system.svc:8090",
		"--emulated-reflector=medslice-reflector.medslice-system.svc:862",
		"--report-key-secret=medslice-report-key",
		"--evidence-checkpoint-interval=5s",
		"--notify-tls-cert=/etc/medslice/notify-tls/tls.crt",
		"--notify-tls-key=/etc/medslice/notify-tls/tls.key",
		"--notify-client-ca=/etc/medslice/notify-tls/ca.crt",
	} {
		if !slices.Contains(opArgs, want) {
			t.Errorf("operator args %v lack %s", opArgs, want)
		}
	}
	// The receiver's certificate comes from the named Secret, mounted read-only.
	if vs := op.Spec.Template.Spec.Volumes; len(vs) != 1 || vs[0].Secret == nil || vs[0].Secret.SecretName != "medslice-notify-tls" {
		t.Errorf("operator volumes %+v, want the Secret medslice-notify-tls", vs)
	}
	if ms := op.Spec.Template.Spec.Containers[0].VolumeMounts; len(ms) != 1 || ms[0].MountPath != "/etc/medslice/notify-tls" || !ms[0].ReadOnly {
		t.Errorf("operator volume mounts %+v, want /etc/medslice/notify-tls read-only", ms)
	}

	// A real NEF with its OAuth2 Secret created from values and its TLS Secret named.
	nef := find(t, objs, "CoreNetwork", "carrier-nef")
	auth, _, _ := unstructured.NestedMap(nef.Object, "spec", "auth")
	if diff := cmp.Diff(map[string]any{
		"oauth2": map[string]any{"name": "carrier-nef-oauth2"},
		"tls":    map[string]any{"name": "carrier-nef-mtls"},
	}, auth); diff != "" {
		t.Errorf("carrier-nef spec.auth (-want +got):\n%s", diff)
	}
	sec := find(t, objs, "Secret", "carrier-nef-oauth2")
	if sec.GetNamespace() != releaseNamespace {
		t.Errorf("OAuth2 Secret in namespace %q, want the operator's %q", sec.GetNamespace(), releaseNamespace)
	}
	pcf := find(t, objs, "CoreNetwork", "campus-pcf")
	if got, _, _ := unstructured.NestedString(pcf.Object, "spec", "notificationBaseURL"); got != "http://medslice-notify.medslice-system.svc:8082" {
		t.Errorf("campus-pcf notificationBaseURL %q, want the in-cluster notifications Service", got)
	}
	for _, name := range []string{"emulator-nef", "emulator-pcf"} {
		find(t, objs, "CoreNetwork", name)
	}

	// Example persona bindings.
	find(t, objs, "ClusterRoleBinding", "medslice-engineer")
	find(t, objs, "ClusterRoleBinding", "medslice-auditor")
	find(t, objs, "ClusterRoleBinding", "medslice-requester-catalog")
	if rb := find(t, objs, "RoleBinding", "medslice-requester"); rb.GetNamespace() != "or-3" {
		t.Errorf("requester RoleBinding in %q, want or-3", rb.GetNamespace())
	}
}

// values.schema.json rejects what the CoreNetwork API would reject later, at
// install time.
func TestValuesSchemaRejects(t *testing.T) {
	helmBinary(t)
	for name, set := range map[string][]string{
		"NEF core without afID":              {"cores[0].name=nef", "cores[0].api=NEF", "cores[0].endpoint=https://nef.example"},
		"unknown core API":                   {"cores[0].name=x", "cores[0].api=SMF", "cores[0].endpoint=https://x.example"},
		"zero replicas":                      {"operator.replicas=0"},
		"unknown value":                      {"operator.replica=2"},
		"checkpoint interval without a unit": {"operator.evidence.checkpointInterval=10"},
		"notification TLS Secret not a name": {"operator.notifications.tls.secretName=Not_A_Name"},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", releaseName, chartDir(t)}
			for _, s := range set {
				args = append(args, "--set", s)
			}
			if out, err := execHelm(t, args...); err == nil {
				t.Errorf("helm template %v succeeded, want a schema error:\n%.300s", set, out)
			}
		})
	}
}

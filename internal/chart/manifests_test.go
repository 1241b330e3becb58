package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"
)

// The chart carries copies of generated or tested files (helm cannot read
// outside its directory). These tests keep every copy identical to its
// source so that the chart never installs stale CRDs, RBAC, profiles or rules.
const syncHint = "copy it again: cp config/crd/bases/*.yaml charts/medslice/crds/ && cp config/rbac/role.yaml charts/medslice/files/rbac/role.yaml && cp config/prometheus/rules.yaml charts/medslice/files/prometheus-rules.yaml && cp config/profiles/<name>.yaml charts/medslice/profiles/"

func yamlFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(m))
	for _, p := range m {
		names = append(names, filepath.Base(p))
	}
	slices.Sort(names)
	return names
}

func assertSameFile(t *testing.T, source, chartCopy string) {
	t.Helper()
	want, err := os.ReadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(chartCopy)
	if err != nil {
		t.Fatalf("%v: %s", err, syncHint)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s: %s", chartCopy, source, syncHint)
	}
}

func TestChartCRDsMatchConfig(t *testing.T) {
	root := repoRoot(t)
	src, dst := filepath.Join(root, "config", "crd", "bases"), filepath.Join(chartDir(t), "crds")
	want, got := yamlFiles(t, src), yamlFiles(t, dst)
	if !slices.Equal(got, want) {
		t.Fatalf("charts/medslice/crds holds %v, config/crd/bases %v: %s", got, want, syncHint)
	}
	for _, name := range want {
		assertSameFile(t, filepath.Join(src, name), filepath.Join(dst, name))
	}
}

func TestChartOperatorRBACMatchesConfig(t *testing.T) {
	assertSameFile(t, filepath.Join(repoRoot(t), "config", "rbac", "role.yaml"), filepath.Join(chartDir(t), "files", "rbac", "role.yaml"))
}

func TestChartRulesMatchConfig(t *testing.T) {
	assertSameFile(t, filepath.Join(repoRoot(t), "config", "prometheus", "rules.yaml"), filepath.Join(chartDir(t), "files", "prometheus-rules.yaml"))
}

// The chart installs exactly the profiles config/profiles' kustomization lists.
func TestChartProfilesMatchConfig(t *testing.T) {
	src := filepath.Join(repoRoot(t), "config", "profiles")
	raw, err := os.ReadFile(filepath.Join(src, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(k.Resources)
	slices.Sort(want)
	dst := filepath.Join(chartDir(t), "profiles")
	if got := yamlFiles(t, dst); !slices.Equal(got, want) {
		t.Fatalf("charts/medslice/profiles holds %v, config/profiles/kustomization.yaml lists %v: %s", got, want, syncHint)
	}
	for _, name := range want {
		assertSameFile(t, filepath.Join(src, name), filepath.Join(dst, name))
	}
}

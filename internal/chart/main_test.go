package chart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/medslice/medslice/internal/testenv"
)

const (
	releaseName      = "medslice"
	releaseNamespace = "medslice-system"
	// allOnValues turns every optional part of the chart on.
	allOnValues = "testdata/all-on.yaml"
)

// The control plane starts only for the install test, so that the file
// comparisons and renders run without it.
var lazyControlPlane testenv.Lazy

func controlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	return lazyControlPlane.Env(t)
}

func TestMain(m *testing.M) { lazyControlPlane.Run(m) }

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func chartDir(t *testing.T) string { return filepath.Join(repoRoot(t), "charts", "medslice") }

// helmBinary is bin/helm, built by hack/build-helm.sh; the helm tests skip
// without it (CI builds it first).
func helmBinary(t *testing.T) string {
	t.Helper()
	h := filepath.Join(repoRoot(t), "bin", "helm")
	if _, err := os.Stat(h); err != nil {
		t.Skipf("bin/helm not found: run `bash hack/build-helm.sh` to test the chart with helm")
	}
	return h
}

func runHelm(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(helmBinary(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s%s", args, err, out, stderr.String())
	}
	return out
}

// render runs `helm template` with the release name and namespace of the
// tests and the given values files.
func render(t *testing.T, includeCRDs bool, valuesFiles ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", releaseName, chartDir(t), "--namespace", releaseNamespace}
	if includeCRDs {
		args = append(args, "--include-crds")
	}
	for _, f := range valuesFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, "--values", abs)
	}
	return decodeObjects(t, runHelm(t, args...))
}

func decodeObjects(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("decoding rendered manifest: %v", err)
		}
		if len(u.Object) == 0 {
			continue
		}
		objs = append(objs, u)
	}
	return objs
}

// find returns the rendered object of kind and name, failing when absent.
func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("rendered chart has no %s %q", kind, name)
	return nil
}

func count(objs []*unstructured.Unstructured, kind string) int {
	n := 0
	for _, o := range objs {
		if o.GetKind() == kind {
			n++
		}
	}
	return n
}

// execHelm runs helm and returns its combined output and error, for tests
// that expect it to fail.
func execHelm(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	return exec.Command(helmBinary(t), args...).CombinedOutput()
}

// Package testenv starts the real local control plane (etcd and
// kube-apiserver built into bin/ by hack/build-controlplane.sh) through
// controller-runtime's envtest, with medslice's CRDs installed. Integration
// tests use it instead of a fake client: validation, the status subresource,
// finalizers and watches are the API server's behaviour, not ours.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/medslice/medslice/internal/scheme"
)

// Env is a running control plane.
type Env struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	env    *envtest.Environment
	onStop []func()
}

// OnStop registers f to run before the control plane stops, e.g. to stop a
// manager whose watches would otherwise hold the apiserver up.
func (e *Env) OnStop(f func()) { e.onStop = append(e.onStop, f) }

// RepoRoot finds the module root by walking up to go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Scheme returns a scheme with the built-in kinds and medslice's.
func Scheme() *runtime.Scheme { return scheme.New() }

// Start starts etcd and kube-apiserver from bin/ with the CRDs of
// config/crd/bases installed. It fails (never skips) when the binaries are
// missing: `make test` builds them first, and a silently skipped integration
// test would protect nothing.
func Start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := filepath.Join(root, "bin")
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%s not found in %s: run `make controlplane` (hack/build-controlplane.sh) first", b, assets)
		}
	}
	sch := scheme.New()
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                sch,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting envtest: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("building client: %w", err)
	}
	return &Env{Config: cfg, Client: c, Scheme: sch, env: env}, nil
}

// Stop stops the control plane.
func (e *Env) Stop() error {
	for i := len(e.onStop) - 1; i >= 0; i-- {
		e.onStop[i]()
	}
	return e.env.Stop()
}

// Main is a TestMain helper: it starts the control plane, runs the package's
// tests and stops it. The running Env is handed to set.
func Main(m *testing.M, set func(*Env)) {
	env, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
	set(env)
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stop:", err)
	}
	os.Exit(code)
}

// Lazy starts the control plane for the first test that asks for it, so
// that a package's unit tests run without one. Declare one per package and
// hand TestMain to its Run.
type Lazy struct {
	once sync.Once
	env  *Env
	err  error
}

// Env returns the running control plane, starting it on first use. It fails
// the test (never skips) when the control plane cannot start.
func (l *Lazy) Env(tb testing.TB) *Env {
	tb.Helper()
	l.once.Do(func() { l.env, l.err = Start() })
	if l.err != nil {
		tb.Fatalf("control plane: %v", l.err)
	}
	return l.env
}

// Run is a TestMain helper: it runs the package's tests, then stops the
// control plane if one of them started it.
func (l *Lazy) Run(m *testing.M) {
	code := m.Run()
	if l.env != nil {
		if err := l.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop:", err)
		}
	}
	os.Exit(code)
}

// Package devstack brings up medslice's embedded default on one machine: a
// real kube-apiserver and etcd (from bin/), the CRDs, the default profiles,
// two CoreNetworks on one core emulator, the operator and the samples.
// `make run` and the end-to-end tests both use it, so what a person sees is
// what the tests check.
package devstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	corev1 "k8s.io/api/core/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/scheme"
)

// OperatorNamespace holds the operator's own objects.
const OperatorNamespace = "medslice-system"

// ProbeSource is the operator's probe address as the flows name it: on the
// application servers' network (10.100.0.0/24 in the samples).
const ProbeSource = "10.100.0.254"

// Core names created by the stack.
const (
	CoreNEF = "emulator-nef"
	CorePCF = "emulator-pcf"
)

// Options configure a stack.
type Options struct {
	// Root is the repository root (config/ lives there).
	Root string
	// BinDir holds etcd, kube-apiserver and the medslice binaries.
	BinDir string
	// StateDir receives the kubeconfig, env file and process logs.
	StateDir string
	// Samples applies config/samples when true.
	Samples bool
	// NoOperator leaves the operator stopped; StartOperator starts it.
	NoOperator bool
	// OperatorArgs are extra flags for the operator.
	OperatorArgs []string
	// EmulatorArgs are extra flags for the core emulator.
	EmulatorArgs []string
	// Replicas is how many operator replicas run, each with its own ports
	// (1 when zero). With more than one they elect a leader
	// (--leader-elect), and NotifyURL and ConsoleURL lead to a front that
	// spreads connections over the replicas that accept them, as a
	// Kubernetes Service would.
	Replicas int
	// NoUserPlane runs the core emulator without its emulated user plane,
	// for tests that do not probe (start the operator with
	// --disable-probes): no relay per UE, less load on the machine.
	NoUserPlane bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Stack is a running embedded default.
type Stack struct {
	Options
	Config         *rest.Config
	Client         client.Client
	KubeconfigPath string
	EmulatorURL    string
	NotifyURL      string
	MetricsURL     string
	ReflectorAddr  string
	ConsoleURL     string

	env          *envtest.Environment
	operatorArgs []string
	mu           sync.Mutex
	emulator     *Proc
	reflector    *Proc
	replicas     []*Replica
	fronts       []*front
}

// Replica is one operator replica: its addresses, and its process while it
// runs. A restarted replica keeps its addresses.
type Replica struct {
	Index      int
	NotifyURL  string
	MetricsURL string // with the /metrics path
	HealthURL  string // /healthz and /readyz live under it
	ConsoleURL string

	args []string
	mu   sync.Mutex
	proc *Proc
}

// Proc is the replica's current process; nil before its first start.
func (r *Replica) Proc() *Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// Start brings the stack up. On error everything started is stopped.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, b := range []string{"etcd", "kube-apiserver", "medslice-operator", "medslice-core-emulator", "medslice-reflector"} {
		if _, err := os.Stat(filepath.Join(o.BinDir, b)); err != nil {
			return nil, fmt.Errorf("%s missing from %s: run `make build controlplane`", b, o.BinDir)
		}
	}
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{Options: o}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	start := time.Now()
	s.env = &envtest.Environment{
		BinaryAssetsDirectory: o.BinDir,
		CRDDirectoryPaths:     []string{filepath.Join(o.Root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme.New(),
	}
	if s.Config, err = s.env.Start(); err != nil {
		return nil, fmt.Errorf("starting control plane: %w", err)
	}
	s.logf("control plane up (etcd, kube-apiserver) in %s", time.Since(start).Round(time.Millisecond))
	if err := s.writeKubeconfig(); err != nil {
		return nil, err
	}
	if s.Client, err = client.New(s.Config, client.Options{Scheme: scheme.New()}); err != nil {
		return nil, err
	}
	if err := s.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: OperatorNamespace}}); err != nil {
		return nil, err
	}

	replicas := max(o.Replicas, 1)
	ports, err := freePorts(6 + 4*(replicas-1))
	if err != nil {
		return nil, err
	}
	// One reflector stands for every device's: the emulated user plane
	// relays each UE's probes to it through the emulated link.
	s.ReflectorAddr = fmt.Sprintf("127.0.0.1:%d", ports[4])
	if s.reflector, err = s.spawn("medslice-reflector", []string{"--listen", s.ReflectorAddr}); err != nil {
		return nil, err
	}
	emuAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s.EmulatorURL = "http://" + emuAddr
	s.NotifyURL = fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[2])
	healthAddr := fmt.Sprintf("127.0.0.1:%d", ports[3])
	s.ConsoleURL = fmt.Sprintf("http://127.0.0.1:%d", ports[5])

	emuArgs := []string{"--listen", emuAddr}
	if !o.NoUserPlane {
		emuArgs = append(emuArgs, "--userplane", "--probe-source", ProbeSource, "--reflector", s.ReflectorAddr)
	}
	s.emulator, err = s.spawn("medslice-core-emulator", append(emuArgs, o.EmulatorArgs...))
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, s.EmulatorURL+"/healthz", 20*time.Second); err != nil {
		return nil, fmt.Errorf("core emulator: %w (see %s)", err, s.emulator.LogPath)
	}
	if err := os.WriteFile(filepath.Join(o.StateDir, "env"), []byte("MEDSLICE_EMULATOR_URL="+s.EmulatorURL+"\n"), 0o644); err != nil {
		return nil, err
	}

	if err := ApplyDir(ctx, s.Client, filepath.Join(o.Root, "config", "profiles")); err != nil {
		return nil, fmt.Errorf("default profiles: %w", err)
	}
	s.operatorArgs = []string{
		"--namespace", OperatorNamespace,
		"--verify-interval", "5s",
		"--sweep-interval", "10s",
		"--core-ping-interval", "10s",
		"--probe-source", ProbeSource,
	}
	if !o.NoUserPlane {
		s.operatorArgs = append(s.operatorArgs, "--emulated-user-plane", s.EmulatorURL, "--emulated-reflector", s.ReflectorAddr)
	}
	if replicas > 1 {
		s.operatorArgs = append(s.operatorArgs, "--leader-elect")
	}
	s.operatorArgs = append(s.operatorArgs, o.OperatorArgs...)
	s.replicas = []*Replica{{NotifyURL: s.NotifyURL, MetricsURL: s.MetricsURL, HealthURL: "http://" + healthAddr, ConsoleURL: s.ConsoleURL}}
	for i := 1; i < replicas; i++ {
		p := ports[6+4*(i-1):]
		s.replicas = append(s.replicas, &Replica{
			Index:      i,
			NotifyURL:  fmt.Sprintf("http://127.0.0.1:%d", p[0]),
			MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", p[1]),
			HealthURL:  fmt.Sprintf("http://127.0.0.1:%d", p[2]),
			ConsoleURL: fmt.Sprintf("http://127.0.0.1:%d", p[3]),
		})
	}
	for _, r := range s.replicas {
		r.args = append([]string{
			"--notify-bind-address", strings.TrimPrefix(r.NotifyURL, "http://"),
			"--metrics-bind-address", strings.TrimSuffix(strings.TrimPrefix(r.MetricsURL, "http://"), "/metrics"),
			"--health-probe-bind-address", strings.TrimPrefix(r.HealthURL, "http://"),
			"--console-bind-address", strings.TrimPrefix(r.ConsoleURL, "http://"),
		}, s.operatorArgs...)
	}
	if replicas > 1 {
		// The cores and browsers reach the replicas through one address
		// each, as they would through a Service.
		if s.NotifyURL, err = s.startFront(func(r *Replica) string { return r.NotifyURL }); err != nil {
			return nil, err
		}
		if s.ConsoleURL, err = s.startFront(func(r *Replica) string { return r.ConsoleURL }); err != nil {
			return nil, err
		}
	}
	for _, cn := range s.Cores() {
		if err := s.Client.Create(ctx, cn); err != nil {
			return nil, fmt.Errorf("CoreNetwork %s: %w", cn.Name, err)
		}
	}
	if !o.NoOperator {
		for _, r := range s.replicas {
			if _, err := s.StartReplica(ctx, r.Index); err != nil {
				return nil, err
			}
		}
	}
	if o.Samples {
		if err := ApplyDir(ctx, s.Client, filepath.Join(o.Root, "config", "samples")); err != nil {
			return nil, fmt.Errorf("samples: %w", err)
		}
	}
	return s, nil
}

// Cores returns the CoreNetworks the stack creates: one NEF and one PCF,
// both served by the one emulator.
func (s *Stack) Cores() []*v1alpha1.CoreNetwork {
	mk := func(name string, api v1alpha1.CoreAPI) *v1alpha1.CoreNetwork {
		cn := &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: name}}
		cn.Spec = v1alpha1.CoreNetworkSpec{
			API: api, Endpoint: s.EmulatorURL, NotificationBaseURL: s.NotifyURL,
			Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 1_000_000, GBRDownlinkKbps: 1_000_000, MaxSessions: 10_000},
		}
		if api == v1alpha1.CoreAPINEF {
			cn.Spec.AFID = "hospital-af"
		}
		return cn
	}
	return []*v1alpha1.CoreNetwork{mk(CoreNEF, v1alpha1.CoreAPINEF), mk(CorePCF, v1alpha1.CoreAPIPCF)}
}

// StartOperator starts (or restarts) the operator process with extra
// flags: the first replica's, the only one unless Options.Replicas says
// otherwise.
func (s *Stack) StartOperator(ctx context.Context, extra ...string) (*Proc, error) {
	return s.StartReplica(ctx, 0, extra...)
}

// StartReplica starts (or restarts) operator replica i with extra flags,
// on the replica's own ports. Stop or kill its previous process first.
func (s *Stack) StartReplica(_ context.Context, i int, extra ...string) (*Proc, error) {
	if i < 0 || i >= len(s.replicas) {
		return nil, fmt.Errorf("no operator replica %d: the stack runs %d", i, len(s.replicas))
	}
	r := s.replicas[i]
	logName := "medslice-operator"
	if i > 0 {
		logName = fmt.Sprintf("medslice-operator-%d", i)
	}
	p, err := s.spawnAs("medslice-operator", logName, append(append([]string{}, r.args...), extra...))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	return p, nil
}

// Operator is the first replica's current process.
func (s *Stack) Operator() *Proc {
	if len(s.replicas) == 0 {
		return nil
	}
	return s.replicas[0].Proc()
}

// Replicas are the operator replicas, in index order.
func (s *Stack) Replicas() []*Replica { return s.replicas }

// Emulator is the core emulator process.
func (s *Stack) Emulator() *Proc { return s.emulator }

// Stop stops every process the stack started, then the control plane.
func (s *Stack) Stop() {
	var procs []*Proc
	for _, r := range s.replicas {
		procs = append(procs, r.Proc())
	}
	for _, p := range append(procs, s.emulator, s.reflector) {
		if p != nil {
			p.Stop()
		}
	}
	for _, f := range s.fronts {
		f.close()
	}
	if s.env != nil {
		if err := s.env.Stop(); err != nil {
			s.logf("stopping control plane: %v", err)
		}
	}
}

// WaitProvisioned waits until every MedicalSlice in the cluster has
// Provisioned=True, and returns the ones that did not make it in time.
func (s *Stack) WaitProvisioned(ctx context.Context, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		var list v1alpha1.MedicalSliceList
		if err := s.Client.List(ctx, &list); err != nil {
			return nil, err
		}
		var pending []string
		for _, sl := range list.Items {
			if !meta.IsStatusConditionTrue(sl.Status.Conditions, v1alpha1.ConditionProvisioned) {
				pending = append(pending, sl.Namespace+"/"+sl.Name)
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			return pending, nil
		}
		select {
		case <-ctx.Done():
			return pending, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitReady waits until every MedicalSlice is Ready (GO by measurement).
func (s *Stack) WaitReady(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	for {
		var list v1alpha1.MedicalSliceList
		if err := s.Client.List(ctx, &list); err != nil {
			return time.Since(start), err
		}
		var pending []string
		for _, sl := range list.Items {
			if !meta.IsStatusConditionTrue(sl.Status.Conditions, v1alpha1.ConditionReady) {
				c := meta.FindStatusCondition(sl.Status.Conditions, v1alpha1.ConditionReady)
				why := "no Ready condition"
				if c != nil {
					why = c.Reason
				}
				pending = append(pending, sl.Namespace+"/"+sl.Name+" ("+why+")")
			}
		}
		if len(pending) == 0 {
			return time.Since(start), nil
		}
		if time.Since(start) > timeout {
			return time.Since(start), fmt.Errorf("NO-GO: %s", strings.Join(pending, ", "))
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *Stack) logf(format string, args ...any) {
	fmt.Fprintf(s.Log, "devstack: "+format+"\n", args...)
}

func (s *Stack) writeKubeconfig() error {
	user, err := s.env.AddUser(envtest.User{Name: "medslice-dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("kubeconfig user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	s.KubeconfigPath = filepath.Join(s.StateDir, "kubeconfig")
	return os.WriteFile(s.KubeconfigPath, kc, 0o600)
}

// Proc is a process the stack started.
type Proc struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

func (s *Stack) spawn(name string, args []string) (*Proc, error) {
	return s.spawnAs(name, name, args)
}

// spawnAs starts binary name with its log in logName.log.
func (s *Stack) spawnAs(name, logName string, args []string) (*Proc, error) {
	logPath := filepath.Join(s.StateDir, logName+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(s.BinDir, name), args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.KubeconfigPath)
	// Its own process group, so Ctrl-C in the terminal reaches the stack,
	// which stops children in order, rather than every child at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	s.logf("started %s (pid %d), log %s", logName, cmd.Process.Pid, logPath)
	return p, nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to stop (SIGTERM), then kills it after a grace period.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.Kill()
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// ApplyDir creates every object in the YAML files of dir (not
// kustomization.yaml), in file order; objects that exist are left alone.
func ApplyDir(ctx context.Context, c client.Client, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		if err := ApplyFile(ctx, c, f); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

// ApplyFile creates the objects of one multi-document YAML file.
func ApplyFile(ctx context.Context, c client.Client, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := dec.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var u unstructured.Unstructured
		if err := utilyaml.Unmarshal(doc, &u.Object); err != nil {
			return err
		}
		if len(u.Object) == 0 {
			continue
		}
		if err := c.Create(ctx, &u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer within %s", url, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Command bench runs medslice's benchmarks of DESIGN §10 on the local stack
// and prints their figures with the machine's. It asserts nothing: machines
// are noisy, so the figures go to the README, not into a pass/fail.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/scheme"
	"github.com/medslice/medslice/internal/testenv"
)

func main() {
	n := flag.Int("b1-slices", 200, "B1: slices applied one by one")
	coreName := flag.String("b1-core", devstack.CoreNEF, "B1: core to provision on")
	sessions := flag.Int("b3-sessions", 1000, "B3: concurrent probe sessions")
	rounds := flag.Int("b4-rounds", 50, "B4: injections")
	var b2 b2Options
	flag.IntVar(&b2.slices, "b2-slices", 5000, "B2: slices created at once")
	flag.IntVar(&b2.workers, "b2-workers", 32, "B2: concurrent creators (and the floor's concurrent clients)")
	flag.DurationVar(&b2.idle, "b2-idle", time.Minute, "B2: how long idle CPU is measured after convergence")
	flag.IntVar(&b2.probed, "b2-probed", 100, "B2: slices of the probes-on idle measurement; 0 skips it")
	flag.StringVar(&b2.pprofDir, "b2-pprof-dir", "", "B2: directory for the operator's CPU and heap profiles; empty takes none")
	flag.StringVar(&b2.coreName, "b2-core", devstack.CoreNEF, "B2: core to provision on")
	flag.Func("b2-operator-arg", "B2: an extra operator flag, e.g. --max-concurrent-reconciles=32 (repeatable)", func(v string) error {
		b2.operatorArgs = append(b2.operatorArgs, v)
		return nil
	})
	flag.Func("b2-emulator-arg", "B2: an extra core emulator flag, e.g. --qos-monitoring-period=0 (repeatable)", func(v string) error {
		b2.emulatorArgs = append(b2.emulatorArgs, v)
		return nil
	})
	flag.BoolVar(&keepState, "keep", false, "keep each stack's state directory (process logs) and print where it is")
	flag.StringVar(&binDir, "bin-dir", "", "directory of the binaries the stack runs (default: the repository's bin/)")
	only := flag.String("only", "b1,b2,b3,b4,b5", "benchmarks to run")
	flag.Parse()
	// envtest logs through controller-runtime; the benches print figures.
	ctrllog.SetLogger(logr.Discard())
	printMachine()
	var err error
	for _, b := range strings.Split(*only, ",") {
		switch strings.TrimSpace(b) {
		case "b1":
			err = run(*n, *coreName)
		case "b2":
			err = runB2(b2)
		case "b3":
			err = runB3(*sessions)
		case "b4":
			err = runB4(*rounds)
		case "b5":
			err = runB5()
		default:
			err = fmt.Errorf("unknown benchmark %q", b)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", b, err)
			os.Exit(1)
		}
	}
}

var (
	// binDir overrides the repository's bin/, e.g. to bench a build of one's own.
	binDir string
	// keepState keeps the stacks' state directories.
	keepState bool
)

// stack starts the local stack for one benchmark.
func stack(ctx context.Context, o devstack.Options) (*devstack.Stack, func(), error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, nil, err
	}
	state, err := os.MkdirTemp("", "medslice-bench-")
	if err != nil {
		return nil, nil, err
	}
	o.Root, o.BinDir, o.StateDir = root, filepath.Join(root, "bin"), state
	if binDir != "" {
		o.BinDir = binDir
	}
	s, err := devstack.Start(ctx, o)
	if err != nil {
		os.RemoveAll(state)
		return nil, nil, err
	}
	var once sync.Once
	return s, func() {
		once.Do(func() {
			s.Stop()
			if keepState {
				fmt.Println("  stack state and logs kept in", state)
				return
			}
			os.RemoveAll(state)
		})
	}, nil
}

func run(n int, coreName string) error {
	ctx := context.Background()
	stack, stop, err := stack(ctx, devstack.Options{
		NoOperator:   true,
		OperatorArgs: []string{"--verify-interval", "10m", "--sweep-interval", "10m", "--disable-probes"},
	})
	if err != nil {
		return err
	}
	defer stop()
	wc, err := client.NewWithWatch(stack.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	if err := unlimited(ctx, stack, coreName); err != nil {
		return err
	}

	// The floor: what a bare client does for one slice, without the operator:
	// the apiserver write of the slice, one core POST, one status write.
	floor, err := measureFloor(ctx, stack, n, coreName)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if _, err := stack.StartOperator(ctx); err != nil {
		return err
	}
	b1, err := measureB1(ctx, stack, wc, n, coreName)
	if err != nil {
		return fmt.Errorf("B1: %w", err)
	}
	fmt.Printf("\nB1 apply -> Provisioned, %d slices one by one on %s (1 device each)\n", n, coreName)
	fmt.Printf("  %-10s %10s %10s %10s %10s\n", "", "p50", "p90", "p99", "max")
	row("operator", b1)
	row("floor", floor)
	fmt.Printf("  ratio p99 operator/floor = %.2f (target <= 1.5), p50 ratio = %.2f; p99 target <= 100ms: %s\n",
		ratio(pct(b1, 99), pct(floor, 99)), ratio(pct(b1, 50), pct(floor, 50)), verdict(pct(b1, 99) <= 100*time.Millisecond))
	return nil
}

// unlimited lifts the core's admission capacity: B1 measures provisioning,
// and 200 surgical slices at 20 Mbps would not fit the dev stack's 1 Gbps.
func unlimited(ctx context.Context, stack *devstack.Stack, coreName string) error {
	var cn v1alpha1.CoreNetwork
	if err := stack.Client.Get(ctx, client.ObjectKey{Name: coreName}, &cn); err != nil {
		return err
	}
	patch := client.MergeFrom(cn.DeepCopy())
	cn.Spec.Capacity = v1alpha1.CoreCapacity{}
	return stack.Client.Patch(ctx, &cn, patch)
}

func benchSlice(ns, name, coreName string, i int) *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Profile = "surgery-urllc"
	s.Spec.CoreRef = coreName
	s.Spec.Purpose = "benchmark"
	s.Spec.Devices = []v1alpha1.Device{{Name: "dev", IPv4: fmt.Sprintf("10.47.%d.%d", i/250, i%250+1)}}
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}}
	return s
}

func measureFloor(ctx context.Context, stack *devstack.Stack, n int, coreName string) ([]time.Duration, error) {
	ns := "bench-floor"
	if err := stack.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return nil, err
	}
	var cn v1alpha1.CoreNetwork
	if err := stack.Client.Get(ctx, client.ObjectKey{Name: coreName}, &cn); err != nil {
		return nil, err
	}
	hc := core.NewHTTPClient(10 * time.Second)
	var cl core.Client
	var err error
	if cn.Spec.API == v1alpha1.CoreAPINEF {
		cl, err = core.NewNEFClient(cn.Spec.Endpoint, cn.Spec.AFID, hc)
	} else {
		cl, err = core.NewPCFClient(cn.Spec.Endpoint, hc)
	}
	if err != nil {
		return nil, err
	}
	return floorLoop(ctx, stack, cl, ns, n, coreName)
}

func floorLoop(ctx context.Context, stack *devstack.Stack, cl core.Client, ns string, n int, coreName string) ([]time.Duration, error) {
	var out []time.Duration
	var ids []string
	for i := range n {
		s := benchSlice(ns, fmt.Sprintf("floor-%d", i), coreName, 1000+i)
		start := time.Now()
		if err := stack.Client.Create(ctx, s); err != nil {
			return nil, err
		}
		sess, err := cl.Create(ctx, core.SessionSpec{
			NotificationURI:  stack.NotifyURL + "/floor",
			UE:               core.UE{IPv4: s.Spec.Devices[0].IPv4},
			DNN:              "hospital",
			SNSSAI:           core.SNSSAI{SST: 2, SD: "000001"},
			FlowDescriptions: core.FlowDescriptions(core.UE{IPv4: s.Spec.Devices[0].IPv4}, s.Spec.Application.Servers, s.Spec.Application.Ports, "UDP", nil),
			QoS:              core.QoS{FiveQI: 82, GBRUplinkKbps: 1000, GBRDownlinkKbps: 1000, MBRUplinkKbps: 2000, MBRDownlinkKbps: 2000},
			ExpiresAt:        time.Now().Add(time.Hour),
		})
		if err != nil {
			return nil, err
		}
		s.Status.Sessions = []v1alpha1.CoreSession{{Device: "dev", Core: coreName, ID: sess.ID}}
		meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionProvisioned, Status: metav1.ConditionTrue, Reason: "Floor"})
		if err := stack.Client.Status().Update(ctx, s); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
		ids = append(ids, sess.ID)
	}
	// Leave nothing for the operator to find.
	for _, id := range ids {
		_ = cl.Delete(ctx, id)
	}
	return out, stack.Client.DeleteAllOf(ctx, &v1alpha1.MedicalSlice{}, client.InNamespace(ns))
}

func measureB1(ctx context.Context, stack *devstack.Stack, wc client.WithWatch, n int, coreName string) ([]time.Duration, error) {
	ns := "bench-b1"
	if err := stack.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return nil, err
	}
	var list v1alpha1.MedicalSliceList
	w, err := wc.Watch(ctx, &list, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var out []time.Duration
	for i := range n {
		s := benchSlice(ns, fmt.Sprintf("b1-%d", i), coreName, i)
		start := time.Now()
		if err := stack.Client.Create(ctx, s); err != nil {
			return nil, err
		}
		if err := waitProvisioned(w, s.Name, 30*time.Second); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

func waitProvisioned(w watch.Interface, name string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			s, ok := ev.Object.(*v1alpha1.MedicalSlice)
			if ok && s.Name == name && meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionProvisioned) {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("%s not provisioned within %s", name, timeout)
		}
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(i-1, len(s)-1))]
}

func row(name string, d []time.Duration) {
	f := func(x time.Duration) string { return fmt.Sprintf("%.1fms", float64(x.Microseconds())/1000) }
	fmt.Printf("  %-10s %10s %10s %10s %10s\n", name, f(pct(d, 50)), f(pct(d, 90)), f(pct(d, 99)), f(pct(d, 100)))
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func printMachine() {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				model = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	fmt.Printf("machine: %s, %d cores, %s %s/%s\n", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

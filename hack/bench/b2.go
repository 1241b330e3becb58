package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/scheme"
)

// b2Options configure B2.
type b2Options struct {
	slices   int           // created at once
	workers  int           // concurrent creators, and the floor's concurrent chains
	idle     time.Duration // how long idle CPU is measured after convergence
	probed   int           // slices of the probes-on idle measurement; 0 skips it
	pprofDir string        // where the operator's profiles are written; "" takes none
	coreName string
	// operatorArgs are extra operator flags, for experiments.
	operatorArgs []string
	// emulatorArgs are extra core emulator flags, for experiments.
	emulatorArgs []string
}

// Production settings, not the dev stack's short ones: idle CPU is what a
// hospital's operator spends with these.
var b2OperatorArgs = []string{"--verify-interval", "30s", "--sweep-interval", "30s", "--core-ping-interval", "30s"}

// B2: n slices created at once on the local stack (real etcd and
// kube-apiserver, the core emulator, the operator as a process) until all
// are Provisioned; the operator's peak RSS and its CPU while idle after
// convergence; and, in the same run, the floor: a bare client doing, with
// the same concurrency, what each slice needs at least to be Provisioned
// (create, one core POST, one status write).
//
// Probes are off for the 5,000: 5,000 devices at 10 packets/s is a probe
// benchmark (B3's job), not a provisioning one. The probes-on cost of a
// settled slice (status writes, CPU) is measured apart on -b2-probed slices.
func runB2(o b2Options) error {
	if o.slices == 0 {
		return b2Probed(context.Background(), o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pprofAddr, err := freeAddr()
	if err != nil {
		return err
	}
	args := append(append([]string{}, b2OperatorArgs...), "--disable-probes", "--pprof-bind-address", pprofAddr)
	args = append(args, o.operatorArgs...)
	stack, stop, err := stack(ctx, devstack.Options{
		NoOperator:   true,
		OperatorArgs: args,
		// The core's capacity is lifted on both sides: B2 measures
		// provisioning, not admission (surgical slices at 20 Mbps each).
		EmulatorArgs: append([]string{"--gbr-ul", "0 bps", "--gbr-dl", "0 bps", "--max-sessions", "0"}, o.emulatorArgs...),
	})
	if err != nil {
		return err
	}
	defer stop()
	if err := unlimited(ctx, stack, o.coreName); err != nil {
		return err
	}
	c, err := unthrottled(stack.Config)
	if err != nil {
		return err
	}

	fmt.Printf("\nB2 %d slices created at once (%d concurrent creators), core %s, 1 device each, probes off\n", o.slices, o.workers, o.coreName)
	floor, err := b2Floor(ctx, stack, c, o)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}

	op, err := stack.StartOperator(ctx)
	if err != nil {
		return err
	}
	if err := warmUp(ctx, c, o.coreName); err != nil {
		return fmt.Errorf("operator warm-up (see %s): %w", op.LogPath, err)
	}
	procs := stackProcs(op.Pid(), stack.Emulator().Pid())

	const ns = "bench-b2"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	f, err := follow(ctx, c, ns)
	if err != nil {
		return err
	}
	var burstProfile chan error
	if o.pprofDir != "" {
		burstProfile = profileAsync(pprofAddr, "profile?seconds=30", filepath.Join(o.pprofDir, "b2-burst.cpu.pprof"))
	}
	req0, err := apiRequests(ctx, stack.Config)
	if err != nil {
		return err
	}
	cpu0 := procs.cpu()
	start := time.Now()
	var createdAt atomic.Int64
	createErr := make(chan error, 1)
	go func() {
		createErr <- parallel(o.slices, o.workers, func(i int) error {
			return c.Create(ctx, benchSlice(ns, fmt.Sprintf("b2-%d", i), o.coreName, i))
		})
		createdAt.Store(int64(time.Since(start)))
	}()
	conv, err := b2Converge(f, o.slices, start, 10*time.Minute, createErr)
	if err != nil {
		return fmt.Errorf("operator (see %s): %w", op.LogPath, err)
	}
	opTime := conv.at[len(conv.at)-1]
	burstCPU := procs.cpu().sub(cpu0)
	req1, err := apiRequests(ctx, stack.Config)
	if err != nil {
		return err
	}
	f.drain(ctx)
	peak, _ := procStatusKB(op.Pid(), "VmHWM")
	if burstProfile != nil {
		if err := <-burstProfile; err != nil {
			return err
		}
		if err := profile(pprofAddr, "heap", filepath.Join(o.pprofDir, "b2-converged.heap.pprof")); err != nil {
			return err
		}
	}

	// Idle: nothing changes any more; what is left is the periodic
	// verification of the settled slices against the core and the core's
	// sweep.
	time.Sleep(5 * time.Second)
	var idleProfile chan error
	if o.pprofDir != "" {
		idleProfile = profileAsync(pprofAddr, fmt.Sprintf("profile?seconds=%d", int(o.idle.Seconds())), filepath.Join(o.pprofDir, "b2-idle.cpu.pprof"))
	}
	req2, err := apiRequests(ctx, stack.Config)
	if err != nil {
		return err
	}
	idle0, idleStart := procs.cpu(), time.Now()
	time.Sleep(o.idle)
	idleCPU, idleWall := procs.cpu().sub(idle0), time.Since(idleStart)
	req3, err := apiRequests(ctx, stack.Config)
	if err != nil {
		return err
	}
	if idleProfile != nil {
		if err := <-idleProfile; err != nil {
			return err
		}
	}
	peakIdle, _ := procStatusKB(op.Pid(), "VmHWM")
	rss, _ := procStatusKB(op.Pid(), "VmRSS")

	fmt.Printf("  operator: all Provisioned in %s (50%% at %s, 90%% at %s; creates done at %s); %.0f slices/s\n",
		ms(opTime), ms(pct(conv.at, 50)), ms(pct(conv.at, 90)), ms(time.Duration(createdAt.Load())), float64(o.slices)/opTime.Seconds())
	fmt.Printf("            API requests on slices: %s\n", req1.sub(req0).per(o.slices))
	fmt.Printf("            reconciles: %s\n", reconciles(stack.MetricsURL))
	fmt.Printf("  floor:    %s for %d creates + %d core POSTs + %d status writes, %d at a time (%.0f API writes/s)\n",
		ms(floor), o.slices, o.slices, o.slices, o.workers, float64(2*o.slices)/floor.Seconds())
	fmt.Printf("  ratio operator/floor = %.2f; target all Provisioned <= 20s: %s\n", ratio(opTime, floor), verdict(opTime <= 20*time.Second))
	writes := req1.sub(req0).writes()
	floorRate := float64(2*o.slices) / floor.Seconds()
	fmt.Printf("  the API server's writes bound it: %d writes with the slices' creates and Events (%.2f per slice, the floor's 2.00)\n"+
		"            take %.1fs at the floor's %.0f writes/s\n", writes, float64(writes)/float64(o.slices), float64(writes)/floorRate, floorRate)
	fmt.Printf("  operator RSS: peak %s at convergence, %s after %s idle (VmHWM), %s now (target peak <= 256 MiB: %s)\n",
		mib(peak), mib(peakIdle), o.idle, mib(rss), verdict(peakIdle <= 256*1024))
	fmt.Printf("  CPU during the burst (cores): %s\n", burstCPU.cores(opTime))
	fmt.Printf("  CPU idle over %s (%% of a core): %s (target operator <= 1%%: %s)\n",
		ms(idleWall), idleCPU.percent(idleWall), verdict(idleCPU.of("operator") <= idleWall/100))
	fmt.Printf("            API requests on slices while idle: %s\n", req3.sub(req2).total())
	if n := f.rewatches.Load(); n > 0 {
		fmt.Printf("  (the API server closed the bench's watch %d times; it listed and watched again)\n", n)
	}
	if o.pprofDir != "" {
		fmt.Printf("  profiles in %s (idle CPU includes the profiler's own cost)\n", o.pprofDir)
	}
	cancel()
	stop()
	if o.probed > 0 {
		return b2Probed(context.Background(), o)
	}
	return nil
}

// probedProfile is the profile of the probes-on measurement: 10 probes/s
// like the surgical profiles, with targets (RTT p99 150 ms, no jitter
// target) that a loaded 2-core machine meets steadily, so that what is
// measured is a settled slice, not verdicts flapping with the machine's load.
const probedProfile = "imaging-embb"

// b2Probed measures what a settled, probed slice costs: m slices probed at
// 10 packets/s through the emulated user plane, GO, then left alone.
func b2Probed(ctx context.Context, o b2Options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stack, stop, err := stack(ctx, devstack.Options{
		OperatorArgs: append(append([]string{}, b2OperatorArgs...), o.operatorArgs...),
		EmulatorArgs: o.emulatorArgs,
	})
	if err != nil {
		return err
	}
	defer stop()
	if err := unlimited(ctx, stack, o.coreName); err != nil {
		return err
	}
	c, err := unthrottled(stack.Config)
	if err != nil {
		return err
	}
	const ns = "bench-b2-probed"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	f, err := follow(ctx, c, ns)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := parallel(o.probed, o.workers, func(i int) error {
		s := benchSlice(ns, fmt.Sprintf("probed-%d", i), o.coreName, i)
		s.Spec.Profile = probedProfile
		return c.Create(ctx, s)
	}); err != nil {
		return err
	}
	isGo := map[string]bool{}
	deadline := time.After(5 * time.Minute)
	for count(isGo) < o.probed {
		select {
		case s := <-f.slices:
			isGo[s.Name] = meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionReady)
		case err := <-f.errs:
			return err
		case <-deadline:
			return fmt.Errorf("%d of %d probed slices GO within 5m (see %s)", count(isGo), o.probed, stack.Operator().LogPath)
		}
	}
	toGo := time.Since(start)
	f.drain(ctx)
	procs := stackProcs(stack.Operator().Pid(), stack.Emulator().Pid())
	time.Sleep(5 * time.Second)
	req0, err := apiRequests(ctx, stack.Config)
	if err != nil {
		return err
	}
	cpu0, t0 := procs.cpu(), time.Now()
	time.Sleep(o.idle)
	cpu, wall := procs.cpu().sub(cpu0), time.Since(t0)
	req1, err := apiRequests(ctx, stack.Config)
	if err != nil {
		return err
	}
	reqs := req1.sub(req0)
	peak, _ := procStatusKB(stack.Operator().Pid(), "VmHWM")
	fmt.Printf("\nB2 probes on: %d %s slices probed at 10 packets/s through the emulated user plane, all GO %s after their creation began\n", o.probed, probedProfile, ms(toGo))
	fmt.Printf("  settled, over %s: API requests on slices %s; %.2f status writes per slice per minute; operator RSS peak %s\n",
		ms(wall), reqs.total(), float64(reqs.statusWrites())/float64(o.probed)/wall.Minutes(), mib(peak))
	fmt.Printf("  CPU (%% of a core): %s (the operator's is mostly its %d probe sessions at 10 packets/s)\n", cpu.percent(wall), o.probed)
	return nil
}

// b2Floor is what the API server and the core can do without the operator:
// per slice the create, one core POST and one status write, by a bare
// client with o.workers of them in flight. It leaves nothing behind.
func b2Floor(ctx context.Context, stack *devstack.Stack, c client.Client, o b2Options) (time.Duration, error) {
	const ns = "bench-b2-floor"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return 0, err
	}
	cl, err := floorCore(ctx, stack, o.coreName)
	if err != nil {
		return 0, err
	}
	ids := make([]string, o.slices)
	start := time.Now()
	err = parallel(o.slices, o.workers, func(i int) error {
		s := benchSlice(ns, fmt.Sprintf("floor-%d", i), o.coreName, i)
		if err := c.Create(ctx, s); err != nil {
			return err
		}
		sess, err := cl.Create(ctx, floorSession(stack, s))
		if err != nil {
			return err
		}
		ids[i] = sess.ID
		s.Status.Sessions = []v1alpha1.CoreSession{{Device: "dev", Core: o.coreName, ID: sess.ID}}
		meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionProvisioned, Status: metav1.ConditionTrue, Reason: "Floor"})
		return c.Status().Update(ctx, s)
	})
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	// Leave nothing for the operator to find.
	if err := parallel(len(ids), o.workers, func(i int) error { return cl.Delete(ctx, ids[i]) }); err != nil {
		return 0, err
	}
	if err := c.DeleteAllOf(ctx, &v1alpha1.MedicalSlice{}, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	return elapsed, nil
}

// warmUp waits for a first slice to be Provisioned: the operator is up,
// its caches synced, its core connection open.
func warmUp(ctx context.Context, wc client.WithWatch, coreName string) error {
	c := wc
	const ns = "bench-b2-warm"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	w, err := wc.Watch(ctx, &v1alpha1.MedicalSliceList{}, client.InNamespace(ns))
	if err != nil {
		return err
	}
	defer w.Stop()
	s := benchSlice(ns, "warm", coreName, 19999)
	if err := c.Create(ctx, s); err != nil {
		return err
	}
	return waitProvisioned(w, s.Name, time.Minute)
}

// convergence is when each slice became Provisioned, in order.
type convergence struct {
	at []time.Duration
}

// b2Converge follows the namespace's slices until n are Provisioned.
func b2Converge(f *follower, n int, start time.Time, timeout time.Duration, createErr <-chan error) (*convergence, error) {
	conv := &convergence{}
	done := map[string]bool{}
	deadline := time.After(timeout)
	for len(conv.at) < n {
		select {
		case s := <-f.slices:
			if !done[s.Name] && meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionProvisioned) {
				done[s.Name] = true
				conv.at = append(conv.at, time.Since(start))
			}
		case err := <-f.errs:
			return nil, fmt.Errorf("following slices: %w", err)
		case err := <-createErr:
			if err != nil {
				return nil, fmt.Errorf("creating slices: %w", err)
			}
			createErr = nil
		case <-deadline:
			return nil, fmt.Errorf("%d of %d slices Provisioned within %s", len(conv.at), n, timeout)
		}
	}
	return conv, nil
}

// follower delivers every change of a namespace's slices. The API server
// closes a watch that falls behind, as a bench's may while the machine is
// saturated: the follower then lists and watches again from the list.
type follower struct {
	slices chan *v1alpha1.MedicalSlice
	errs   chan error
	// rewatches counts the watches the server closed.
	rewatches atomic.Int64
}

func follow(ctx context.Context, c client.WithWatch, ns string) (*follower, error) {
	f := &follower{slices: make(chan *v1alpha1.MedicalSlice, 1024), errs: make(chan error, 1)}
	w, err := c.Watch(ctx, &v1alpha1.MedicalSliceList{}, client.InNamespace(ns))
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				if s, ok := ev.Object.(*v1alpha1.MedicalSlice); ok {
					f.slices <- s
				}
			}
			if ctx.Err() != nil {
				return
			}
			f.rewatches.Add(1)
			var list v1alpha1.MedicalSliceList
			if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
				f.errs <- err
				return
			}
			for i := range list.Items {
				f.slices <- &list.Items[i]
			}
			w, err = c.Watch(ctx, &v1alpha1.MedicalSliceList{}, client.InNamespace(ns),
				&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
			if err != nil {
				f.errs <- err
				return
			}
		}
	}()
	return f, nil
}

// drain discards what the follower delivers from now on.
func (f *follower) drain(ctx context.Context) {
	go func() {
		for {
			select {
			case <-f.slices:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// unthrottled returns a client without client-side rate limiting, so that
// the API server is what limits the bench (as it is for the operator,
// whose config comes from controller-runtime with the limiter off).
func unthrottled(cfg *rest.Config) (client.WithWatch, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme.New()})
}

func floorCore(ctx context.Context, stack *devstack.Stack, coreName string) (core.Client, error) {
	var cn v1alpha1.CoreNetwork
	if err := stack.Client.Get(ctx, client.ObjectKey{Name: coreName}, &cn); err != nil {
		return nil, err
	}
	hc := core.NewHTTPClient(10 * time.Second)
	if cn.Spec.API == v1alpha1.CoreAPINEF {
		return core.NewNEFClient(cn.Spec.Endpoint, cn.Spec.AFID, hc)
	}
	return core.NewPCFClient(cn.Spec.Endpoint, hc)
}

func floorSession(stack *devstack.Stack, s *v1alpha1.MedicalSlice) core.SessionSpec {
	ue := core.UE{IPv4: s.Spec.Devices[0].IPv4}
	return core.SessionSpec{
		NotificationURI:  stack.NotifyURL + "/floor",
		UE:               ue,
		DNN:              "hospital",
		SNSSAI:           core.SNSSAI{SST: 2, SD: "000001"},
		FlowDescriptions: core.FlowDescriptions(ue, s.Spec.Application.Servers, s.Spec.Application.Ports, "UDP", nil),
		QoS:              core.QoS{FiveQI: 82, GBRUplinkKbps: 20000, GBRDownlinkKbps: 20000, MBRUplinkKbps: 40000, MBRDownlinkKbps: 40000},
		ExpiresAt:        time.Now().Add(time.Hour),
	}
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func count(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// profile saves one pprof profile of the operator.
func profile(addr, what, path string) error {
	resp, err := http.Get("http://" + addr + "/debug/pprof/" + what)
	if err != nil {
		return fmt.Errorf("pprof %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", what, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func profileAsync(addr, what, path string) chan error {
	ch := make(chan error, 1)
	go func() { ch <- profile(addr, what, path) }()
	return ch
}

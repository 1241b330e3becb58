package evidence

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/probe"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/scheme"
	"github.com/medslice/medslice/internal/sla"
)

const (
	operatorNS = "medslice-system"
	sliceNS    = "or-3"
	sliceName  = "robotic-surgery"
)

// t0 is a window boundary, 08:00 UTC.
var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

var sliceKey = types.NamespacedName{Namespace: sliceNS, Name: sliceName}

func targets() sla.Targets {
	return sla.Targets{RTTP99: 20 * time.Millisecond, JitterP99: 5 * time.Millisecond, LossRatio: 0.001, AvailabilityPercent: 99.9,
		Window: time.Second, VerificationPeriod: 30 * time.Second}
}

// fakeProbes stands in for probe.Manager: the test says which windows
// each device's tracker has closed; like the real one it keeps the last
// history windows and forgets a slice's on Reset and Stop.
type fakeProbes struct {
	mu      sync.Mutex
	windows map[types.NamespacedName]map[string][]sla.WindowRollup
	calls   []string
	history int
}

func newFakeProbes() *fakeProbes {
	return &fakeProbes{windows: map[types.NamespacedName]map[string][]sla.WindowRollup{}, history: 600}
}

func (f *fakeProbes) Ensure(key types.NamespacedName, spec probe.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "ensure")
	return nil
}

func (f *fakeProbes) Reset(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reset")
	delete(f.windows, key)
}

func (f *fakeProbes) Stop(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "stop")
	delete(f.windows, key)
}

func (f *fakeProbes) Verdict(types.NamespacedName) (sla.Verdict, bool) { return sla.Verdict{}, false }

func (f *fakeProbes) Rollups(key types.NamespacedName, device string) []sla.WindowRollup {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.windows[key][device])
}

// close adds windows to a device's tracker.
func (f *fakeProbes) close(key types.NamespacedName, device string, ws ...sla.WindowRollup) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.windows[key] == nil {
		f.windows[key] = map[string][]sla.WindowRollup{}
	}
	all := append(f.windows[key][device], ws...)
	if len(all) > f.history {
		all = all[len(all)-f.history:]
	}
	f.windows[key][device] = all
}

// good is a window of ten probes meeting every target.
func good(start time.Time, rtt time.Duration) sla.WindowRollup {
	return sla.WindowRollup{Start: start, End: start.Add(time.Second), Sent: 10, Received: 10,
		RTTP50: rtt, RTTP99: rtt + time.Millisecond, RTTMax: rtt + 2*time.Millisecond, JitterP99: 500 * time.Microsecond, Met: true}
}

// slow is a window whose RTT p99 misses the 20 ms target.
func slow(start time.Time) sla.WindowRollup {
	w := good(start, 25*time.Millisecond)
	w.RTTP99, w.RTTMax, w.Met = 31*time.Millisecond, 33*time.Millisecond, false
	w.Failed = []sla.Breach{{Metric: sla.MetricRTTP99, Observed: "31ms", Target: "20ms"}}
	return w
}

// run makes n good windows from start, one second each.
func run(start time.Time, n int) []sla.WindowRollup {
	out := make([]sla.WindowRollup, n)
	for i := range out {
		out[i] = good(start.Add(time.Duration(i)*time.Second), time.Duration(4000+i%7*100)*time.Microsecond)
	}
	return out
}

func testSlice(scheduled bool) *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: sliceNS, Name: sliceName, UID: "0b5e5a7e-1111-4c2d-9a7b-3c1f2e4d5a6b"}}
	s.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "surgery-urllc", CoreRef: "emulator-pcf", Purpose: "robotic-assisted laparoscopy, OR-3",
		Devices:     []v1alpha1.Device{{Name: "patient-cart", IPv4: "10.45.0.11"}, {Name: "vision-cart", IPv4: "10.45.0.12"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"40000-40009"}, Protocol: v1alpha1.ProtocolUDP},
	}
	if scheduled {
		s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.NewTime(t0), End: metav1.NewTime(t0.Add(2 * time.Hour))}
	}
	return s
}

func probeSpec(devices ...string) probe.Spec {
	spec := probe.Spec{Interval: 100 * time.Millisecond, SLA: targets()}
	for _, d := range devices {
		spec.Targets = append(spec.Targets, probe.Target{Device: d})
	}
	return spec
}

// testSigner is a fixed key, so that runs are repeatable.
func testSigner(t *testing.T) *report.Ed25519Signer {
	t.Helper()
	s, err := report.NewEd25519Signer([]byte("medslice evidence test key 32 by"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rig is a Recorder on a fake client and clock.
type rig struct {
	t      *testing.T
	rec    *Recorder
	probes *fakeProbes
	clock  *clocktesting.FakeClock
	c      client.Client
	signer *report.Ed25519Signer
}

func newRig(t *testing.T, c client.Client, at time.Time) *rig {
	t.Helper()
	g := &rig{t: t, probes: newFakeProbes(), clock: clocktesting.NewFakeClock(at), c: c, signer: testSigner(t)}
	g.rec = &Recorder{Probes: g.probes, Client: c, Reader: c, Namespace: operatorNS, Signer: g.signer,
		Clock: g.clock, Location: time.UTC, Log: logr.Discard()}
	if err := g.rec.restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	return g
}

func fakeClient(objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).Build()
}

// at moves the clock to t and runs a cycle.
func (g *rig) cycleAt(t time.Time) {
	g.t.Helper()
	g.clock.SetTime(t)
	g.rec.cycle(context.Background(), false)
}

func (g *rig) reports() []v1alpha1.SLAReport {
	g.t.Helper()
	var list v1alpha1.SLAReportList
	if err := g.c.List(context.Background(), &list, client.InNamespace(sliceNS)); err != nil {
		g.t.Fatal(err)
	}
	return list.Items
}

// onlyReport returns the one report there must be, verified.
func (g *rig) onlyReport() *v1alpha1.SLAReport {
	g.t.Helper()
	rs := g.reports()
	if len(rs) != 1 {
		g.t.Fatalf("%d reports, want 1", len(rs))
	}
	g.verify(&rs[0])
	return &rs[0]
}

func (g *rig) verify(r *v1alpha1.SLAReport) {
	g.t.Helper()
	ring := report.KeyRing{}
	ring.Add(g.signer.Public())
	if ps := report.Verify(&r.Spec, ring); len(ps) > 0 {
		g.t.Fatalf("report %s does not verify: %v", r.Name, ps)
	}
}

func gapsOf(r *v1alpha1.SLAReport) []report.Gap {
	var out []report.Gap
	for _, g := range r.Spec.Gaps {
		out = append(out, report.Gap{Start: g.Start.Time, End: g.End.Time, Reason: g.Reason})
	}
	return out
}

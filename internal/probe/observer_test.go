package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

// recordingObserver keeps the verdicts the manager reports.
type recordingObserver struct {
	mu       sync.Mutex
	verdicts []sla.Verdict
}

func (o *recordingObserver) Sample(types.NamespacedName, string, stamp.Sample) {}

func (o *recordingObserver) Verdict(_ types.NamespacedName, v sla.Verdict) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.verdicts = append(o.verdicts, v)
}

func (o *recordingObserver) last() (sla.Verdict, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.verdicts) == 0 {
		return sla.Verdict{}, 0
	}
	return o.verdicts[len(o.verdicts)-1], len(o.verdicts)
}

func startObservedManager(t *testing.T, obs Observer, onChange func(types.NamespacedName)) *Manager {
	t.Helper()
	m := &Manager{Now: time.Now, EvalInterval: 10 * time.Millisecond, Log: logr.Discard(), Observer: obs, OnChange: onChange}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for m.Ensure(types.NamespacedName{Name: "warmup"}, Spec{}) != nil {
		time.Sleep(poll)
	}
	m.Stop(types.NamespacedName{Name: "warmup"})
	return m
}

func waitObserved(t *testing.T, o *recordingObserver, what string, ok func(sla.Verdict) bool) sla.Verdict {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		v, _ := o.last()
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last observed verdict %+v", what, v)
		}
		time.Sleep(poll)
	}
}

// The metrics follow the figures, not only the verdict: while a slice
// stays GO its windows and compliance keep moving, so the observer hears
// of a closed window with the verdict unchanged. (The metrics froze
// until the verdict changed before, and an SLA violation found early,
// before its window closed, was never counted: its alert could not fire.)
func TestObserverHearsEveryClosedWindow(t *testing.T) {
	obs := &recordingObserver{}
	m := startObservedManager(t, obs, nil)
	if err := m.Ensure(key, fastSpec(Target{Device: "arm", Addr: reflector(t)})); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		obs.mu.Lock()
		vs := append([]sla.Verdict(nil), obs.verdicts...)
		obs.mu.Unlock()
		for i := 1; i < len(vs); i++ {
			a, b := vs[i-1], vs[i]
			if a.Go && b.Go && a.Reason == b.Reason && b.Summary.Windows > a.Summary.Windows {
				t.Logf("GO at %d windows, then %d windows with the verdict unchanged", a.Summary.Windows, b.Summary.Windows)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no closed window observed while GO stayed GO in %d verdicts", len(vs))
		}
		time.Sleep(poll)
	}
}

// A device that never answers is a violation, and the observer is told of
// it while the verdict stays Violated.
func TestObserverHearsTheViolation(t *testing.T) {
	obs := &recordingObserver{}
	m := startObservedManager(t, obs, nil)
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := m.Ensure(key, fastSpec(Target{Device: "cam", Addr: netip.MustParseAddrPort(dead.LocalAddr().String())})); err != nil {
		t.Fatal(err)
	}
	v := waitObserved(t, obs, "a violation observed", func(v sla.Verdict) bool { return v.Summary.LastViolation != nil })
	t.Logf("observed %s: %s since %s", v.Reason, v.Summary.LastViolation.Metric, v.Summary.LastViolation.Start.Format(time.StampMilli))
}

// Package probe runs the active STAMP probes of every provisioned slice and
// turns their samples into SLA verdicts. One Session-Sender and one SLA
// tracker per device: a slice is GO only when every device's path is.
package probe

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

// Target is where one device's probes go.
type Target struct {
	Device string
	Addr   netip.AddrPort
}

// Spec is what a slice's probes must do.
type Spec struct {
	Targets  []Target
	Interval time.Duration
	SLA      sla.Targets
}

func (s Spec) equal(o Spec) bool {
	return s.Interval == o.Interval && s.SLA == o.SLA && slices.Equal(s.Targets, o.Targets)
}

// Observer is told about every sample, for metrics.
type Observer interface {
	Sample(slice types.NamespacedName, device string, s stamp.Sample)
	Verdict(slice types.NamespacedName, v sla.Verdict)
}

// Manager owns the probes of every slice.
type Manager struct {
	// Now is the clock shared by senders, trackers and verdicts.
	Now func() time.Time
	// OnChange is called (without blocking) when a slice's verdict changes.
	OnChange func(types.NamespacedName)
	// EvalInterval is how often verdicts are re-evaluated, so that silence
	// (a dead reflector) is noticed without any sample arriving.
	EvalInterval time.Duration
	Observer     Observer
	Log          logr.Logger

	mu     sync.Mutex
	slices map[types.NamespacedName]*sliceProbes
	ctx    context.Context
}

type sliceProbes struct {
	spec    Spec
	cancel  context.CancelFunc
	devices map[string]*sla.Tracker
	last    sla.Verdict
	started time.Time
}

// Start runs the evaluation loop until ctx ends; probes started by Ensure
// live under ctx too. It implements manager.Runnable.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	t := time.NewTicker(m.EvalInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.mu.Lock()
			for k := range m.slices {
				m.stopLocked(k)
			}
			m.mu.Unlock()
			return nil
		case <-t.C:
			m.evaluateAll()
		}
	}
}

// NeedLeaderElection: probes run where the reconciler runs.
func (m *Manager) NeedLeaderElection() bool { return true }

// Ensure starts the probes of a slice, or restarts them when the spec
// changed (verification then starts over, as it must for a new path).
func (m *Manager) Ensure(key types.NamespacedName, spec Spec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx == nil {
		return fmt.Errorf("probe manager not started")
	}
	if cur, ok := m.slices[key]; ok && cur.spec.equal(spec) {
		return nil
	}
	m.stopLocked(key)
	ctx, cancel := context.WithCancel(m.ctx)
	sp := &sliceProbes{spec: spec, cancel: cancel, devices: map[string]*sla.Tracker{}, started: m.Now()}
	for _, t := range spec.Targets {
		tr, err := sla.NewTracker(sla.Config{Targets: spec.SLA, MaxRollups: 600, ProbeInterval: spec.Interval})
		if err != nil {
			cancel()
			return fmt.Errorf("device %s: %w", t.Device, err)
		}
		device := t.Device
		snd, err := stamp.NewSender(stamp.SenderConfig{
			Target:   t.Addr,
			Interval: spec.Interval,
			Now:      m.Now,
			OnSample: func(s stamp.Sample) {
				tr.Add(s)
				if m.Observer != nil {
					m.Observer.Sample(key, device, s)
				}
			},
		})
		if err != nil {
			cancel()
			return fmt.Errorf("device %s: probe to %s: %w", t.Device, t.Addr, err)
		}
		sp.devices[t.Device] = tr
		go func() {
			if err := snd.Run(ctx); err != nil && ctx.Err() == nil {
				m.Log.Error(err, "probe stopped", "slice", key, "device", device, "target", t.Addr)
			}
		}()
	}
	if m.slices == nil {
		m.slices = map[types.NamespacedName]*sliceProbes{}
	}
	m.slices[key] = sp
	return nil
}

// Reset restarts a slice's verification from nothing, e.g. after its core
// session was lost: what was measured before says nothing about the new one.
func (m *Manager) Reset(key types.NamespacedName) {
	m.mu.Lock()
	sp, ok := m.slices[key]
	m.mu.Unlock()
	if !ok {
		return
	}
	m.Stop(key)
	_ = m.Ensure(key, sp.spec)
}

// Stop ends a slice's probes and forgets its measurements.
func (m *Manager) Stop(key types.NamespacedName) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked(key)
}

func (m *Manager) stopLocked(key types.NamespacedName) {
	if sp, ok := m.slices[key]; ok {
		sp.cancel()
		delete(m.slices, key)
	}
}

// AddNetworkReport records the core's evidence for a device's session.
func (m *Manager) AddNetworkReport(key types.NamespacedName, device string, at time.Time, kind, detail string) {
	m.mu.Lock()
	sp, ok := m.slices[key]
	m.mu.Unlock()
	if !ok {
		return
	}
	if tr, ok := sp.devices[device]; ok {
		tr.AddNetworkReport(at, kind, detail)
	}
}

// Verdict is the slice's verdict now; ok is false when it is not probed.
func (m *Manager) Verdict(key types.NamespacedName) (sla.Verdict, bool) {
	m.mu.Lock()
	sp, ok := m.slices[key]
	m.mu.Unlock()
	if !ok {
		return sla.Verdict{}, false
	}
	return combine(sp, m.Now()), true
}

// Rollups returns a device's closed windows, for evidence.
func (m *Manager) Rollups(key types.NamespacedName, device string) []sla.WindowRollup {
	m.mu.Lock()
	sp, ok := m.slices[key]
	m.mu.Unlock()
	if !ok || sp.devices[device] == nil {
		return nil
	}
	return sp.devices[device].Rollups()
}

func (m *Manager) evaluateAll() {
	m.mu.Lock()
	type change struct {
		key types.NamespacedName
		v   sla.Verdict
		// verdict is true when GO, SLAMet or the reason changed; false when
		// only the figures did (a window closed, a violation began).
		verdict bool
	}
	var changed []change
	now := m.Now()
	for k, sp := range m.slices {
		v := combine(sp, now)
		switch {
		case v.Go != sp.last.Go || v.SLAMet != sp.last.SLAMet || v.Reason != sp.last.Reason:
			changed = append(changed, change{k, v, true})
		case figuresChanged(sp.last.Summary, v.Summary):
			changed = append(changed, change{k, v, false})
		}
		sp.last = v
	}
	m.mu.Unlock()
	for _, c := range changed {
		if m.Observer != nil {
			m.Observer.Verdict(c.key, c.v)
		}
		if c.verdict && m.OnChange != nil {
			m.OnChange(c.key)
		}
	}
}

// figuresChanged tells whether the observer's figures moved: a window
// closed (compliance, windows, RTT p99) or another violation began. The
// observer hears of these too, not only of verdict changes, or the
// metrics would freeze for as long as a slice stays GO or stays violated
// (a violation found early, before its window closed, would never be
// counted). At most once per window per slice.
func figuresChanged(old, cur sla.Summary) bool {
	if old.Windows != cur.Windows || old.GoodWindows != cur.GoodWindows {
		return true
	}
	ov, cv := old.LastViolation, cur.LastViolation
	switch {
	case ov == nil || cv == nil:
		return (ov == nil) != (cv == nil)
	default:
		return !ov.Start.Equal(cv.Start) || ov.Metric != cv.Metric
	}
}

// severity orders reasons from worst to best: the slice reports its worst
// device, and is GO only if every device is.
var severity = map[string]int{
	sla.ClockAnomaly: 0, sla.NetworkNotGuaranteed: 1, sla.Violated: 2, sla.Stale: 3, sla.NoData: 4, sla.Verifying: 5, sla.Met: 6,
}

func combine(sp *sliceProbes, now time.Time) sla.Verdict {
	var worst sla.Verdict
	worstDevice := ""
	first := true
	goAll, metAll := len(sp.devices) > 0, len(sp.devices) > 0
	var sum sla.Summary
	names := make([]string, 0, len(sp.devices))
	for d := range sp.devices {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		v := sp.devices[d].Evaluate(now)
		goAll = goAll && v.Go
		metAll = metAll && v.SLAMet
		if first || severity[v.Reason] < severity[worst.Reason] {
			worst, worstDevice, first = v, d, false
		}
		sum = worstOf(sum, v.Summary, d == names[0])
	}
	if first {
		return sla.Verdict{Reason: sla.NoData, Message: "no device to probe"}
	}
	sum.LastEvaluated = now
	out := sla.Verdict{Go: goAll, SLAMet: metAll, Reason: worst.Reason, Summary: sum}
	out.Message = fmt.Sprintf("device %s: %s", worstDevice, worst.Message)
	return out
}

// worstOf keeps, figure by figure, the worse of two devices' summaries.
func worstOf(a, b sla.Summary, firstDevice bool) sla.Summary {
	if firstDevice {
		return b
	}
	a.RTTP50 = max(a.RTTP50, b.RTTP50)
	a.RTTP99 = max(a.RTTP99, b.RTTP99)
	a.JitterP99 = max(a.JitterP99, b.JitterP99)
	a.LossRatio = max(a.LossRatio, b.LossRatio)
	a.Compliance = min(a.Compliance, b.Compliance)
	a.Windows = min(a.Windows, b.Windows)
	a.GoodWindows = min(a.GoodWindows, b.GoodWindows)
	if b.LastViolation != nil && (a.LastViolation == nil || b.LastViolation.Start.After(a.LastViolation.Start)) {
		a.LastViolation = b.LastViolation
	}
	if b.LastNetworkReport != nil && (a.LastNetworkReport == nil || b.LastNetworkReport.At.After(a.LastNetworkReport.At)) {
		a.LastNetworkReport = b.LastNetworkReport
	}
	return a
}

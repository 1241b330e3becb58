package controllers

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/plan"
	"github.com/medslice/medslice/internal/probe"
	"github.com/medslice/medslice/internal/sla"
)

// Probes runs the active probes of slices and judges their SLA.
type Probes interface {
	Ensure(key types.NamespacedName, spec probe.Spec) error
	Reset(key types.NamespacedName)
	Stop(key types.NamespacedName)
	Verdict(key types.NamespacedName) (sla.Verdict, bool)
}

// ProbeRoute maps a device's reflector address to the address the probes
// are sent to. On a real network that is the address itself; the emulated
// user plane gives each device a relay port instead.
type ProbeRoute func(ctx context.Context, reflector netip.AddrPort) (netip.AddrPort, error)

const defaultProbeInterval = 100 * time.Millisecond

// probeSpec is what the slice's probes must do.
func (r *MedicalSliceReconciler) probeSpec(ctx context.Context, s *v1alpha1.MedicalSlice, e plan.Effective) (probe.Spec, error) {
	targets, err := sla.TargetsFrom(e.SLA)
	if err != nil {
		return probe.Spec{}, fmt.Errorf("SLA targets: %w", err)
	}
	spec := probe.Spec{Interval: defaultProbeInterval, SLA: targets}
	if e.Probe.Interval != nil {
		spec.Interval = e.Probe.Interval.Duration
	}
	port := uint16(plan.DefaultProbePort)
	if e.Probe.Port != nil {
		port = uint16(*e.Probe.Port)
	}
	add := func(device, hostport string) error {
		ap, err := netip.ParseAddrPort(hostport)
		if err != nil {
			return fmt.Errorf("probe target %q of device %s: want IP:port: %w", hostport, device, err)
		}
		if r.ProbeRoute != nil {
			if ap, err = r.ProbeRoute(ctx, ap); err != nil {
				return fmt.Errorf("probe route for device %s: %w", device, err)
			}
		}
		spec.Targets = append(spec.Targets, probe.Target{Device: device, Addr: ap})
		return nil
	}
	if s.Spec.Probe != nil && s.Spec.Probe.Target != "" {
		// One reflector for the slice, named after its first device.
		return spec, add(s.Spec.Devices[0].Name, s.Spec.Probe.Target)
	}
	for _, d := range s.Spec.Devices {
		ip := d.IPv4
		if ip == "" {
			ip = d.IPv6
		}
		if err := add(d.Name, net.JoinHostPort(ip, strconv.Itoa(int(port)))); err != nil {
			return spec, err
		}
	}
	return spec, nil
}

// verify runs the slice's probes while it is provisioned and sets SLAMet
// and Ready from their verdict. GO is a measurement: anything missing,
// stale or failing is NO-GO with the reason.
func (r *MedicalSliceReconciler) verify(ctx context.Context, s *v1alpha1.MedicalSlice, e plan.Effective, sessionLost bool, p *pass) (sla.Verdict, bool) {
	key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
	if r.Probes == nil || len(s.Status.Sessions) == 0 {
		if r.Probes != nil {
			// Measurements of a path without sessions must not count
			// towards GO once it has them.
			r.Probes.Stop(key)
		} else if meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionProvisioned) {
			setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionUnknown, v1alpha1.ReasonSLANotVerified, "not measured: this operator runs without probes (--disable-probes)")
		}
		s.Status.SLA = nil
		return sla.Verdict{}, false
	}
	// Probing goes on while the core answers badly for a moment: a failing
	// core API makes the slice NO-GO (Provisioned is False), but says
	// nothing of the flow that exists, and restarting the verification on
	// every hiccup would keep a slice from ever being verified.
	provisioned := meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionProvisioned)
	spec, err := r.probeSpec(ctx, s, e)
	if err == nil {
		if sessionLost {
			r.Probes.Reset(key)
		}
		err = r.Probes.Ensure(key, spec)
	}
	if err != nil {
		setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionUnknown, v1alpha1.ReasonInvalidSpec, err.Error())
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec, "NO-GO: cannot probe: "+err.Error())
		s.Status.SLA = &v1alpha1.SLAStatus{Verdict: v1alpha1.VerdictNoGo}
		return sla.Verdict{}, false
	}
	v, ok := r.Probes.Verdict(key)
	if !ok {
		v = sla.Verdict{Reason: sla.NoData, Message: "probes not running"}
	}
	wasMet := meta.IsStatusConditionTrue(p.prev.Conditions, v1alpha1.ConditionSLAMet)
	wasGo := meta.IsStatusConditionTrue(p.prev.Conditions, v1alpha1.ConditionReady)
	switch {
	case v.SLAMet:
		setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionTrue, v.Reason, v.Message)
	case v.Reason == sla.NoData:
		setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionUnknown, v.Reason, v.Message)
	default:
		setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionFalse, v.Reason, v.Message)
	}
	if sessionLost {
		// The verdict so far was about a session that no longer exists.
		v.Go, v.SLAMet = false, false
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSessionLost, "NO-GO: the core lost a session of this slice; it was re-created and verification starts over")
	} else if !provisioned {
		// setProvisioned has said why Ready is False.
		v.Go = false
	} else if v.Go {
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionTrue, v.Reason, "GO: "+v.Message)
	} else {
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v.Reason, "NO-GO: "+v.Message)
	}
	s.Status.SLA = slaStatus(v)
	if wasMet && !v.SLAMet {
		p.event(corev1.EventTypeWarning, "SLAViolated", "Verify", "%s", v.Message)
	}
	if !wasMet && v.SLAMet {
		p.event(corev1.EventTypeNormal, "SLAMet", "Verify", "%s", v.Message)
	}
	if wasGo != v.Go {
		if v.Go {
			p.event(corev1.EventTypeNormal, "GO", "Verify", "GO: %s", v.Message)
		} else {
			p.event(corev1.EventTypeWarning, "NoGo", "Verify", "NO-GO: %s", v.Message)
		}
	}
	return v, true
}

func slaStatus(v sla.Verdict) *v1alpha1.SLAStatus {
	sum := v.Summary
	out := &v1alpha1.SLAStatus{Verdict: v1alpha1.VerdictNoGo, Windows: int32(sum.Windows), GoodWindows: int32(sum.GoodWindows)}
	if v.Go {
		out.Verdict = v1alpha1.VerdictGo
	}
	if sum.Windows > 0 {
		out.RTTP50 = duration(sum.RTTP50)
		out.RTTP99 = duration(sum.RTTP99)
		out.JitterP99 = duration(sum.JitterP99)
		out.LossRatio = strconv.FormatFloat(sum.LossRatio, 'g', 4, 64)
		out.Compliance = strconv.FormatFloat(sum.Compliance, 'f', 4, 64)
	}
	if lv := sum.LastViolation; lv != nil {
		out.LastViolation = &v1alpha1.SLAViolation{
			Start: metav1.Time{Time: lv.Start}, Metric: lv.Metric, Observed: lv.Observed, Target: lv.Target, Windows: int32(lv.Windows),
		}
		if !lv.End.IsZero() {
			out.LastViolation.End = &metav1.Time{Time: lv.End}
		}
	}
	if nr := sum.LastNetworkReport; nr != nil {
		out.Network = truncate(fmt.Sprintf("%s at %s %s", nr.Kind, nr.At.UTC().Format(time.RFC3339), nr.Detail), 512)
	}
	if !sum.LastEvaluated.IsZero() {
		// Whole seconds: a timestamp that changes every pass would make
		// every pass write status.
		out.LastEvaluated = &metav1.Time{Time: sum.LastEvaluated.Truncate(time.Second)}
	}
	return out
}

// duration rounds to 10 µs so that status does not churn on noise.
func duration(d time.Duration) *metav1.Duration {
	return &metav1.Duration{Duration: d.Round(10 * time.Microsecond)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

// sameVerdict tells whether two statuses differ in SLA figures at most:
// status.sla's numbers and the messages of SLAMet and Ready, whose
// status and reason stand. Everything else, the verdict included, is the
// same.
func sameVerdict(a, b *v1alpha1.MedicalSliceStatus) bool {
	if (a.SLA == nil) != (b.SLA == nil) || a.SLA != nil && a.SLA.Verdict != b.SLA.Verdict {
		return false
	}
	x, y := a.DeepCopy(), b.DeepCopy()
	x.SLA, y.SLA = nil, nil
	if len(x.Conditions) != len(y.Conditions) {
		return false
	}
	for i := range x.Conditions {
		cx, cy := &x.Conditions[i], &y.Conditions[i]
		if cx.Type == cy.Type && (cx.Type == v1alpha1.ConditionSLAMet || cx.Type == v1alpha1.ConditionReady) {
			cx.Message = cy.Message
		}
	}
	return !stored(x, y)
}

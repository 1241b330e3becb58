package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/plan"
)

// admit decides the slice's booking and reports Admitted; done is true when
// the slice must not be provisioned (declined or pre-empted).
func (r *MedicalSliceReconciler) admit(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork, eff plan.Effective, p *pass) (bool, ctrl.Result, error) {
	if r.Admitter == nil {
		setCondition(s, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, v1alpha1.ReasonAdmitted, fmt.Sprintf("admitted on %s; the core enforces its capacity", cn.Name))
		return false, ctrl.Result{}, nil
	}
	d, changed, err := r.Admitter.Admit(ctx, s, eff.QoS, cn, p.now)
	if err != nil {
		return true, ctrl.Result{}, err
	}
	for _, k := range changed {
		if r.Wake != nil {
			r.Wake(k)
		}
	}
	if d.Admitted {
		if holders, err := r.recordedElsewhere(ctx, s, cn, d, p.now); err != nil || len(holders) > 0 {
			// The capacity is free in the ledger, but the bookings it was
			// taken from have not recorded their new decision yet (they
			// were just woken to). Recording this admission first would
			// leave the recorded decisions over capacity until they do,
			// and a crash in between would leave them so for the next
			// leader: wait for them.
			for _, k := range holders {
				if r.Wake != nil {
					r.Wake(k)
				}
			}
			return true, ctrl.Result{RequeueAfter: admissionRecordWait}, err
		}
	}
	before := s.Status.Admission
	s.Status.Admission = admissionStatus(d, before, p.now)
	if before == nil || before.Decision != s.Status.Admission.Decision || before.ExtensionDeclined != d.ExtensionDeclined {
		kind := corev1.EventTypeNormal
		if !d.Admitted || d.ExtensionDeclined {
			kind = corev1.EventTypeWarning
		}
		p.event(kind, string(d.Reason), "Admit", "%s", d.Message)
	}
	if d.Admitted {
		setCondition(s, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, v1alpha1.ReasonAdmitted, d.Message)
		return false, ctrl.Result{}, nil
	}
	reason := v1alpha1.ReasonDeclined
	if d.Reason == "Preempted" {
		reason = v1alpha1.ReasonPreempted
	}
	setCondition(s, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, reason, d.Message)
	// A pre-empted slice that held sessions gives them up; a declined one
	// never had any.
	if err := r.releaseAll(ctx, s, cn); err != nil {
		return true, ctrl.Result{}, err
	}
	r.stopProbes(s)
	r.setProvisioned(s, metav1.ConditionFalse, reason, d.Message)
	return true, ctrl.Result{}, nil
}

// admissionRecordWait is how soon an admission that waits for displaced
// bookings to record their decision looks again.
const admissionRecordWait = 250 * time.Millisecond

// recordedElsewhere checks that recording d, s's admission, keeps the
// admissions recorded in status within the core's capacity wherever s
// reserves. It returns the other slices whose recorded admission is in the
// way: bookings the ledger has displaced (pre-empted, or declined by a new
// leader) but whose status still says Admitted. Nil when the core is
// unlimited or when s already records what d reserves.
func (r *MedicalSliceReconciler) recordedElsewhere(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork, d admission.Decision, now time.Time) ([]types.NamespacedName, error) {
	capacity := admission.CapacityOf(cn.Spec.Capacity)
	if capacity == (admission.Capacity{}) {
		return nil, nil
	}
	mine := admissionStatus(d, s.Status.Admission, now)
	if prev := s.Status.Admission; prev != nil && prev.Decision == v1alpha1.AdmissionAdmitted &&
		prev.Reserved == mine.Reserved && equalTime(prev.From, mine.From) && equalTime(prev.Until, mine.Until) {
		return nil, nil
	}
	var list v1alpha1.MedicalSliceList
	if err := r.List(ctx, &list, client.MatchingFields{indexCore: cn.Name}); err != nil {
		return nil, fmt.Errorf("listing the bookings of core %s: %w", cn.Name, err)
	}
	cut := func(iv admission.Interval) (admission.Interval, bool) {
		if !iv.OpenEnded() && !iv.End.After(now) {
			return iv, false
		}
		if iv.Start.Before(now) {
			iv.Start = now
		}
		return iv, true
	}
	var recorded []admission.Booking
	add := func(key admission.Key, a *v1alpha1.AdmissionStatus) {
		iv := admission.Interval{Start: now}
		if a.From != nil {
			iv.Start = a.From.Time
		}
		if a.Until != nil {
			iv.End = a.Until.Time
		}
		if iv, ok := cut(iv); ok {
			recorded = append(recorded, admission.Booking{Key: key, Interval: iv, Demand: admission.Resources{
				GBRUplinkKbps: a.Reserved.GBRUplinkKbps, GBRDownlinkKbps: a.Reserved.GBRDownlinkKbps, Sessions: a.Reserved.Sessions}})
		}
	}
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == s.UID || o.Status.Admission == nil || o.Status.Admission.Decision != v1alpha1.AdmissionAdmitted {
			continue
		}
		add(admission.Key{Namespace: o.Namespace, Name: o.Name, UID: o.UID}, o.Status.Admission)
	}
	key := admission.Key{Namespace: s.Namespace, Name: s.Name, UID: s.UID}
	add(key, mine)
	in := map[admission.Key]bool{}
	for _, seg := range admission.Timeline(capacity, recorded, now, time.Time{}) {
		if len(seg.Over) > 0 && slices.Contains(seg.Bookings, key) {
			for _, k := range seg.Bookings {
				in[k] = k != key
			}
		}
	}
	var holders []types.NamespacedName
	for k, other := range in {
		if other {
			holders = append(holders, types.NamespacedName{Namespace: k.Namespace, Name: k.Name})
		}
	}
	if len(holders) > 0 {
		log.FromContext(ctx).V(1).Info("admission waits until the bookings it displaced record their decision", "core", cn.Name, "holders", len(holders))
	}
	return holders, nil
}

func equalTime(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// schedule holds a booked slice's sessions only within its window: from
// start − leadTime (so it is verified, GO, before the first incision) to
// end. done is true when no session must exist now.
func (r *MedicalSliceReconciler) schedule(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork, profile *v1alpha1.SliceProfile, p *pass) (bool, ctrl.Result, error) {
	sc := s.Spec.Schedule
	if sc == nil {
		return false, ctrl.Result{}, nil
	}
	from := sc.Start.Time
	if sc.LeadTime != nil {
		from = from.Add(-sc.LeadTime.Duration)
	}
	local := func(t time.Time) string { return t.In(r.location()).Format("Mon 2006-01-02 15:04 MST") }
	switch {
	case p.now.Before(from):
		r.stopProbes(s)
		r.setProvisioned(s, metav1.ConditionFalse, v1alpha1.ReasonScheduled,
			fmt.Sprintf("booked %s–%s; provisioning and verification start at %s", local(sc.Start.Time), local(sc.End.Time), local(from)))
		return true, ctrl.Result{RequeueAfter: from.Sub(p.now)}, nil
	case !p.now.Before(sc.End.Time):
		if until := heldUntil(s); until.After(p.now) && r.protected(s, profile) && !forced(s) {
			// The end was moved into the past while the operation runs:
			// only an explicit request may cut it short.
			p.event(corev1.EventTypeWarning, v1alpha1.ReasonReleaseRefused, "Release",
				"schedule.end moved before now on an active surgical slice; sessions kept until %s. Set %s=true to release now", local(until), v1alpha1.ForceReleaseAnnotation)
			return false, ctrl.Result{}, nil
		}
		if len(s.Status.Sessions) > 0 {
			p.event(corev1.EventTypeNormal, v1alpha1.ReasonEnded, "Release", "booked window ended at %s: releasing %d core sessions", local(sc.End.Time), len(s.Status.Sessions))
		}
		if err := r.releaseAll(ctx, s, cn); err != nil {
			return true, ctrl.Result{}, err
		}
		r.stopProbes(s)
		r.setProvisioned(s, metav1.ConditionFalse, v1alpha1.ReasonEnded, fmt.Sprintf("booked window ended at %s; sessions released", local(sc.End.Time)))
		return true, ctrl.Result{}, nil
	}
	return false, ctrl.Result{}, nil
}

// heldUntil is the end of the window the slice was last admitted for.
func heldUntil(s *v1alpha1.MedicalSlice) time.Time {
	if a := s.Status.Admission; a != nil && a.Decision == v1alpha1.AdmissionAdmitted && a.Until != nil {
		return a.Until.Time
	}
	return time.Time{}
}

// protected tells whether the slice is an active surgical booking: inside
// its window, holding sessions, and of a profile that may never be
// pre-empted. Such a slice is never torn down early by an edit or delete.
func (r *MedicalSliceReconciler) protected(s *v1alpha1.MedicalSlice, profile *v1alpha1.SliceProfile) bool {
	if s.Spec.Schedule == nil || len(s.Status.Sessions) == 0 {
		return false
	}
	if profile == nil {
		return true // unknown: safety first
	}
	arp := plan.Resolve(s, profile).QoS.ARP
	return arp == nil || arp.PreemptVuln != v1alpha1.PreemptionPreemptable
}

func forced(s *v1alpha1.MedicalSlice) bool {
	return s.Annotations[v1alpha1.ForceReleaseAnnotation] == "true"
}

func (r *MedicalSliceReconciler) location() *time.Location {
	if r.Admitter != nil && r.Admitter.Location != nil {
		return r.Admitter.Location
	}
	return time.UTC
}

func (r *MedicalSliceReconciler) stopProbes(s *v1alpha1.MedicalSlice) {
	if r.Probes != nil {
		r.Probes.Stop(types.NamespacedName{Namespace: s.Namespace, Name: s.Name})
	}
	s.Status.SLA = nil
}

// releaseAll deletes every recorded core session of s; those the core
// would not delete stay recorded, and the error says so.
func (r *MedicalSliceReconciler) releaseAll(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork) error {
	if len(s.Status.Sessions) == 0 {
		return nil
	}
	cl, err := r.Cores.ClientFor(ctx, cn)
	if err != nil {
		return err
	}
	var kept []v1alpha1.CoreSession
	var firstErr error
	for _, rec := range s.Status.Sessions {
		if err := cl.Delete(ctx, rec.ID); err != nil {
			kept = append(kept, rec)
			if firstErr == nil {
				firstErr = fmt.Errorf("releasing session %s of device %s: %w", rec.ID, rec.Device, err)
			}
		}
	}
	s.Status.Sessions = kept
	return firstErr
}

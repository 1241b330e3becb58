package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/medslice/medslice/api/v1alpha1"
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

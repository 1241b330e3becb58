package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/plan"
	"github.com/medslice/medslice/internal/sla"
)

const defaultPatience = 2 * time.Second

// policy is the slice's remediation policy, or its profile's.
func policy(s *v1alpha1.MedicalSlice, p *v1alpha1.SliceProfile) ([]v1alpha1.RemediationAction, time.Duration) {
	r := p.Spec.Remediation
	if s.Spec.Remediation != nil {
		r = s.Spec.Remediation
	}
	if r == nil {
		return nil, defaultPatience
	}
	patience := defaultPatience
	if r.Patience != nil {
		patience = r.Patience.Duration
	}
	return r.Actions, patience
}

// remediate takes the next action of the slice's policy while its SLA is
// violated, one action per patience period, and says when to look again.
// Stale or missing data is not remediated: no action can be judged on it,
// and the slice is NO-GO anyway.
func (r *MedicalSliceReconciler) remediate(ctx context.Context, s *v1alpha1.MedicalSlice, profile *v1alpha1.SliceProfile, eff plan.Effective, v sla.Verdict, p *pass) time.Duration {
	st := s.Status.Remediation
	if v.SLAMet {
		if st != nil && st.LastAction != "" {
			p.event(corev1.EventTypeNormal, "SLARestored", "Remediate", "SLA met again after %s", st.LastAction)
			st.LastAction, st.LastActionTime = "", nil
		}
		return 0
	}
	if v.Reason != sla.Violated && v.Reason != sla.NetworkNotGuaranteed {
		return 0
	}
	actions, patience := policy(s, profile)
	if len(actions) == 0 {
		return 0
	}
	if st == nil {
		st = &v1alpha1.RemediationStatus{}
		s.Status.Remediation = st
	}
	next := 0
	if st.LastAction != "" {
		if st.LastActionTime != nil && p.now.Sub(st.LastActionTime.Time) < patience {
			return patience - p.now.Sub(st.LastActionTime.Time)
		}
		next = slices.Index(actions, st.LastAction) + 1
	}
	for ; next < len(actions); next++ {
		if r.apply(ctx, s, profile, eff, actions[next], p) {
			st.LastAction, st.LastActionTime = actions[next], &metav1.Time{Time: p.now}
			return patience
		}
	}
	return 0
}

// apply takes one action and tells whether it could be taken.
func (r *MedicalSliceReconciler) apply(ctx context.Context, s *v1alpha1.MedicalSlice, profile *v1alpha1.SliceProfile, eff plan.Effective, a v1alpha1.RemediationAction, p *pass) bool {
	switch a {
	case v1alpha1.RemediationReprovision:
		// Forgetting what was sent makes the next pass send it again.
		for i := range s.Status.Sessions {
			s.Status.Sessions[i].SpecHash = ""
		}
		p.event(corev1.EventTypeWarning, "Remediation", "Reprovision", "SLA violated: re-provisioning %d core sessions", len(s.Status.Sessions))
		return true
	case v1alpha1.RemediationEscalate:
		if profile.Spec.AlternativeQoS == nil || s.Status.Remediation.Escalated {
			return false
		}
		s.Status.Remediation.Escalated = true
		p.event(corev1.EventTypeWarning, "Remediation", "Escalate", "SLA violated: escalating to the alternative QoS of profile %s (5QI %d)", profile.Name, deref(profile.Spec.AlternativeQoS.FiveQI))
		return true
	case v1alpha1.RemediationPreempt:
		return r.preempt(ctx, s, eff, p) > 0
	}
	return false
}

// preempt releases pre-emptable slices of lower priority on the same core.
func (r *MedicalSliceReconciler) preempt(ctx context.Context, s *v1alpha1.MedicalSlice, eff plan.Effective, p *pass) int {
	arp := eff.QoS.ARP
	if arp == nil || arp.PreemptCap != v1alpha1.PreemptionMayPreempt {
		return 0
	}
	var list v1alpha1.MedicalSliceList
	if err := r.List(ctx, &list, client.MatchingFields{indexCore: s.Spec.CoreRef}); err != nil {
		p.event(corev1.EventTypeWarning, "RemediationFailed", "Preempt", "listing slices on %s: %v", s.Spec.CoreRef, err)
		return 0
	}
	me := s.Namespace + "/" + s.Name
	n := 0
	for i := range list.Items {
		c := &list.Items[i]
		if c.UID == s.UID || len(c.Status.Sessions) == 0 || c.Annotations[v1alpha1.PreemptedByAnnotation] != "" {
			continue
		}
		var cp v1alpha1.SliceProfile
		if err := r.Get(ctx, types.NamespacedName{Name: c.Spec.Profile}, &cp); err != nil {
			continue
		}
		carp := plan.Resolve(c, &cp).QoS.ARP
		// Only what the victim's own ARP allows: pre-emptable and of lower
		// priority (a higher level). A surgical slice is never a victim.
		if carp == nil || carp.PreemptVuln != v1alpha1.PreemptionPreemptable || carp.PriorityLevel <= arp.PriorityLevel {
			continue
		}
		patch := client.MergeFrom(c.DeepCopy())
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[v1alpha1.PreemptedByAnnotation] = me
		if err := r.Patch(ctx, c, patch); err != nil {
			p.event(corev1.EventTypeWarning, "RemediationFailed", "Preempt", "pre-empting %s/%s: %v", c.Namespace, c.Name, err)
			continue
		}
		st := s.Status.Remediation
		if !slices.Contains(st.Preempted, c.Namespace+"/"+c.Name) && len(st.Preempted) < 64 {
			st.Preempted = append(st.Preempted, c.Namespace+"/"+c.Name)
		}
		p.event(corev1.EventTypeWarning, "Remediation", "Preempt", "SLA violated: pre-empted %s/%s (ARP priority %d, pre-emptable)", c.Namespace, c.Name, carp.PriorityLevel)
		n++
	}
	return n
}

// releasePreempted handles a slice another slice pre-empted: its sessions
// are released and it stays NO-GO until the annotation is removed.
func (r *MedicalSliceReconciler) releasePreempted(ctx context.Context, s *v1alpha1.MedicalSlice, by string, p *pass) error {
	msg := fmt.Sprintf("pre-empted by %s, whose SLA was violated; remove the %s annotation to provision again", by, v1alpha1.PreemptedByAnnotation)
	r.stopProbes(s)
	if len(s.Status.Sessions) > 0 {
		var cn v1alpha1.CoreNetwork
		if err := r.Get(ctx, types.NamespacedName{Name: s.Spec.CoreRef}, &cn); err != nil {
			return err
		}
		if err := r.releaseAll(ctx, s, &cn); err != nil {
			return err
		}
		p.event(corev1.EventTypeWarning, v1alpha1.ReasonPreempted, "Preempt", "%s", msg)
	}
	setCondition(s, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, v1alpha1.ReasonPreempted, msg)
	setCondition(s, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, v1alpha1.ReasonPreempted, msg)
	setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionUnknown, v1alpha1.ReasonPreempted, msg)
	setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonPreempted, "NO-GO: "+msg)
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}

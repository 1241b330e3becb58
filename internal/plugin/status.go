package plugin

import (
	"fmt"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/plan"
)

// Verdict is GO or NO-GO for one slice, as read from its status, and why.
type Verdict struct {
	Go bool
	// Reason is the Ready condition's reason, or why the plugin does not
	// trust it: NoReadyCondition, Stale, Contradictory.
	Reason string
	// Why is the message a person reads.
	Why string
}

func (v Verdict) String() string {
	if v.Go {
		return v1alpha1.VerdictGo
	}
	return v1alpha1.VerdictNoGo
}

// Reasons the plugin gives when it does not trust the Ready condition.
const (
	ReasonNoReadyCondition = "NoReadyCondition"
	ReasonStale            = "Stale"
	ReasonContradictory    = "Contradictory"
)

// VerdictOf reads GO / NO-GO from the Ready condition (DESIGN §2): GO only
// when Ready is True for the slice's current generation and the SLA
// summary does not say otherwise. Missing, stale or contradictory status is
// NO-GO, never the other way round.
func VerdictOf(s *v1alpha1.MedicalSlice) Verdict {
	ready := apimeta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
	switch {
	case ready == nil:
		return Verdict{Reason: ReasonNoReadyCondition, Why: "the operator has not reported Ready yet"}
	case ready.ObservedGeneration != 0 && ready.ObservedGeneration < s.Generation:
		return Verdict{Reason: ReasonStale, Why: fmt.Sprintf("Ready was computed for generation %d; the slice has changed since (generation %d)", ready.ObservedGeneration, s.Generation)}
	case ready.Status != metav1.ConditionTrue:
		return Verdict{Reason: ready.Reason, Why: ready.Message}
	case s.Status.SLA != nil && s.Status.SLA.Verdict == v1alpha1.VerdictNoGo:
		return Verdict{Reason: ReasonContradictory, Why: "Ready is True but the SLA summary says NO-GO"}
	}
	return Verdict{Go: true, Reason: ready.Reason, Why: ready.Message}
}

// admissionCell is the ADMISSION column: the persisted decision, else the
// Admitted condition (an operator without admission control sets only
// that), else Pending.
func admissionCell(s *v1alpha1.MedicalSlice) string {
	if a := s.Status.Admission; a != nil {
		if a.Decision == v1alpha1.AdmissionAdmitted && a.ExtensionDeclined {
			return "Admitted (extension declined)"
		}
		return string(a.Decision)
	}
	if c := apimeta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionAdmitted); c != nil {
		if c.Status == metav1.ConditionTrue {
			return "Admitted"
		}
		return c.Reason
	}
	return "Pending"
}

// window is the slice's booked window, [start, end); ok is false for an
// open-ended slice.
func window(s *v1alpha1.MedicalSlice) (start, end time.Time, ok bool) {
	if sc := s.Spec.Schedule; sc != nil {
		return sc.Start.Time, sc.End.Time, true
	}
	return time.Time{}, time.Time{}, false
}

// provisionFrom is when the operator provisions a scheduled slice: start
// minus the lead time.
func provisionFrom(sc *v1alpha1.Schedule) time.Time {
	if sc.LeadTime != nil {
		return sc.Start.Add(-sc.LeadTime.Duration)
	}
	return sc.Start.Time
}

// holds tells whether the slice holds capacity: its decision is Admitted.
func holds(s *v1alpha1.MedicalSlice) bool {
	return s.Status.Admission != nil && s.Status.Admission.Decision == v1alpha1.AdmissionAdmitted
}

// Bookings are what the admitted slices on core hold, read from their
// persisted decisions (status.admission), as admission.Timeline takes them.
// A reservation without a start counts from the slice's creation; one
// without an end is open-ended.
func Bookings(slices []v1alpha1.MedicalSlice, core string) []admission.Booking {
	var out []admission.Booking
	for i := range slices {
		s := &slices[i]
		if s.Spec.CoreRef != core || !holds(s) {
			continue
		}
		a := s.Status.Admission
		b := admission.Booking{
			Key:      admission.Key{Namespace: s.Namespace, Name: s.Name, UID: s.UID},
			Created:  s.CreationTimestamp.Time,
			Interval: admission.Interval{Start: s.CreationTimestamp.Time},
			Demand: admission.Resources{
				GBRUplinkKbps:   a.Reserved.GBRUplinkKbps,
				GBRDownlinkKbps: a.Reserved.GBRDownlinkKbps,
				Sessions:        a.Reserved.Sessions,
			},
			Previous: admission.ReasonAdmitted,
		}
		if a.From != nil {
			b.Interval.Start = a.From.Time
		}
		if a.Until != nil {
			b.Interval.End = a.Until.Time
		}
		out = append(out, b)
	}
	return out
}

// surgical tells whether a slice of profile p must not be torn down early:
// a URLLC profile, or one whose effective ARP is not pre-emptable (the
// operator protects those). An unknown profile counts as surgical: safety
// first.
func surgical(s *v1alpha1.MedicalSlice, p *v1alpha1.SliceProfile) bool {
	if p == nil {
		return true
	}
	if p.Spec.ServiceType == v1alpha1.ServiceTypeURLLC {
		return true
	}
	arp := plan.Resolve(s, p).QoS.ARP
	return arp == nil || arp.PreemptVuln != v1alpha1.PreemptionPreemptable
}

// activeWindow tells whether now is inside the slice's provisioned window,
// [start − leadTime, end), while it holds (or may hold) its sessions.
func activeWindow(s *v1alpha1.MedicalSlice, now time.Time) bool {
	sc := s.Spec.Schedule
	if sc == nil || now.Before(provisionFrom(sc)) || !now.Before(sc.End.Time) {
		return false
	}
	if a := s.Status.Admission; a != nil && a.Decision != v1alpha1.AdmissionAdmitted {
		return false // declined or pre-empted: it holds nothing to tear down
	}
	return true
}

package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
)

// mustWrite keeps a slice's status writes to what changes a reader's
// picture: a GO or NO-GO is written the pass it changes, SLA figures at a
// bounded cadence, and differences the API server would not store (below a
// second) never.
func TestMustWrite(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(d).Truncate(time.Second)} }
	base := func(verdict string, readyStatus metav1.ConditionStatus, reason, msg string, evaluated *metav1.Time) *v1alpha1.MedicalSliceStatus {
		return &v1alpha1.MedicalSliceStatus{
			ObservedGeneration: 1,
			Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionSLAMet, Status: metav1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: *at(-time.Hour)},
				{Type: v1alpha1.ConditionReady, Status: readyStatus, Reason: reason, Message: "GO: " + msg, LastTransitionTime: *at(-time.Hour)},
			},
			Admission: &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionAdmitted, From: at(-time.Hour)},
			SLA: &v1alpha1.SLAStatus{Verdict: verdict, Windows: 100, RTTP99: &metav1.Duration{Duration: 4 * time.Millisecond},
				LastEvaluated: evaluated},
		}
	}
	written := base(v1alpha1.VerdictGo, metav1.ConditionTrue, "Met", "SLA met for 1h0m0s", at(-20*time.Second))
	for name, tc := range map[string]struct {
		after    func(*v1alpha1.MedicalSliceStatus)
		interval time.Duration
		want     bool
	}{
		"nothing changed": {after: func(*v1alpha1.MedicalSliceStatus) {}, interval: time.Minute, want: false},
		"a time finer than the API server stores": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.Admission.From = &metav1.Time{Time: s.Admission.From.Add(300 * time.Millisecond)}
		}, interval: time.Minute, want: false},
		"figures moved, written 20s ago, 1m cadence": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.SLA.Windows, s.SLA.RTTP99, s.SLA.LastEvaluated = 130, &metav1.Duration{Duration: 5 * time.Millisecond}, at(0)
			s.Conditions[0].Message, s.Conditions[1].Message = "SLA met for 1h0m30s", "GO: SLA met for 1h0m30s"
		}, interval: time.Minute, want: false},
		"figures moved, written 20s ago, no cadence": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.SLA.Windows, s.SLA.LastEvaluated = 130, at(0)
		}, interval: 0, want: true},
		"figures moved, written 20s ago, 15s cadence": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.SLA.Windows, s.SLA.LastEvaluated = 130, at(0)
		}, interval: 15 * time.Second, want: true},
		"GO turned NO-GO": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.SLA.Verdict = v1alpha1.VerdictNoGo
			s.Conditions[1].Status, s.Conditions[1].Reason, s.Conditions[1].Message = metav1.ConditionFalse, "Stale", "NO-GO: stale"
			s.Conditions[0].Status, s.Conditions[0].Reason = metav1.ConditionFalse, "Stale"
		}, interval: time.Hour, want: true},
		"same status, another reason": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.Conditions[0].Reason = "NetworkNotGuaranteed"
		}, interval: time.Hour, want: true},
		"a session changed": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.Sessions = []v1alpha1.CoreSession{{Device: "arm", Core: "nef", ID: "2"}}
		}, interval: time.Hour, want: true},
		"another condition's message": {after: func(s *v1alpha1.MedicalSliceStatus) {
			s.Conditions = append(s.Conditions, metav1.Condition{Type: v1alpha1.ConditionProvisioned, Status: metav1.ConditionTrue, Reason: "SessionsReady"})
		}, interval: time.Hour, want: true},
	} {
		t.Run(name, func(t *testing.T) {
			after := written.DeepCopy()
			tc.after(after)
			r := &MedicalSliceReconciler{SLAFiguresInterval: tc.interval}
			if got := r.mustWrite(written, after, now); got != tc.want {
				t.Errorf("mustWrite = %v, want %v", got, tc.want)
			}
		})
	}
}

// A condition's lastTransitionTime is when its status last changed: a pass
// that sets Ready to False and then back to True, as setProvisioned and
// verify do, leaves it alone (it moved at every pass, so every pass wrote).
func TestKeepTransitionTimes(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	before := []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Met", LastTransitionTime: then},
		{Type: v1alpha1.ConditionSLAMet, Status: metav1.ConditionTrue, Reason: "Met", LastTransitionTime: then},
	}
	after := []metav1.Condition{
		{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Met", LastTransitionTime: now},
		{Type: v1alpha1.ConditionSLAMet, Status: metav1.ConditionFalse, Reason: "Violated", LastTransitionTime: now},
		{Type: v1alpha1.ConditionProvisioned, Status: metav1.ConditionTrue, Reason: "SessionsReady", LastTransitionTime: now},
	}
	keepTransitionTimes(before, after)
	for _, c := range after {
		want := now
		if c.Type == v1alpha1.ConditionReady {
			want = then // status unchanged
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s: lastTransitionTime %s, want %s", c.Type, c.LastTransitionTime, want)
		}
	}
}

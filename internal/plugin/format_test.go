package plugin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/medslice/medslice/api/v1alpha1"
)

// sliceBuilder makes MedicalSlices for output tests.
type sliceBuilder struct{ s v1alpha1.MedicalSlice }

func slice(ns, name string) *sliceBuilder {
	return &sliceBuilder{s: v1alpha1.MedicalSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1, UID: "uid-" + "name",
			CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour))},
		Spec: v1alpha1.MedicalSliceSpec{Profile: "surgery-urllc", CoreRef: "campus-core",
			Devices:     []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}},
			Application: v1alpha1.Application{Servers: []string{"10.100.0.5"}}},
	}}
}

func (b *sliceBuilder) profile(p string) *sliceBuilder { b.s.Spec.Profile = p; return b }

func (b *sliceBuilder) window(start, end time.Time, lead time.Duration) *sliceBuilder {
	b.s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.NewTime(start), End: metav1.NewTime(end)}
	if lead > 0 {
		b.s.Spec.Schedule.LeadTime = &metav1.Duration{Duration: lead}
	}
	return b
}

func (b *sliceBuilder) generation(g int64) *sliceBuilder { b.s.Generation = g; return b }

func (b *sliceBuilder) ready(status metav1.ConditionStatus, reason, msg string, observed int64) *sliceBuilder {
	b.s.Status.Conditions = append(b.s.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: observed, LastTransitionTime: metav1.NewTime(testNow.Add(-2 * time.Minute))})
	return b
}

func (b *sliceBuilder) condition(typ string, status metav1.ConditionStatus, reason, msg string) *sliceBuilder {
	b.s.Status.Conditions = append(b.s.Status.Conditions, metav1.Condition{Type: typ, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: b.s.Generation, LastTransitionTime: metav1.NewTime(testNow.Add(-5 * time.Minute))})
	return b
}

func (b *sliceBuilder) admitted(ul, dl, sessions int64, from, until time.Time) *sliceBuilder {
	a := &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionAdmitted,
		Reserved: v1alpha1.Reservation{GBRUplinkKbps: ul, GBRDownlinkKbps: dl, Sessions: sessions},
		From:     ptr(metav1.NewTime(from)), Message: "admitted"}
	if !until.IsZero() {
		a.Until = ptr(metav1.NewTime(until))
	}
	b.s.Status.Admission = a
	return b
}

func (b *sliceBuilder) declined(msg string) *sliceBuilder {
	b.s.Status.Admission = &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionDeclined, Message: msg}
	return b
}

func (b *sliceBuilder) sla(verdict string, p50, p99 time.Duration) *sliceBuilder {
	b.s.Status.SLA = &v1alpha1.SLAStatus{Verdict: verdict, RTTP50: &metav1.Duration{Duration: p50}, RTTP99: &metav1.Duration{Duration: p99}}
	return b
}

func (b *sliceBuilder) build() v1alpha1.MedicalSlice { return *b.s.DeepCopy() }

func ptr[T any](v T) *T { return &v }

// TestRenderList protects the list table: local windows, GO only on a
// current Ready=True, NO-GO with the reason otherwise.
func TestRenderList(t *testing.T) {
	items := []v1alpha1.MedicalSlice{
		slice("surgery", "or3").window(at(2026, 11, 21, 8, 0), at(2026, 11, 21, 12, 0), 15*time.Minute).
			admitted(20000, 20000, 1, at(2026, 11, 21, 7, 45), at(2026, 11, 21, 12, 0)).
			ready(metav1.ConditionTrue, "SLAMet", "", 1).sla("GO", 4100*time.Microsecond, 8234567*time.Nanosecond).build(),
		slice("surgery", "or4").window(at(2026, 11, 23, 22, 0), at(2026, 11, 24, 2, 0), 0).
			admitted(20000, 20000, 1, at(2026, 11, 23, 22, 0), at(2026, 11, 24, 2, 0)).
			ready(metav1.ConditionFalse, "Scheduled", "booked", 1).build(),
		slice("surgery", "or5").window(at(2026, 12, 24, 8, 0), at(2026, 12, 24, 9, 30), 0).
			declined("declined: uplink GBR 100 of 100 Mbps reserved").build(),
		slice("surgery", "stale").generation(3).window(at(2026, 11, 21, 9, 0), at(2026, 11, 21, 11, 0), 0).
			admitted(20000, 20000, 1, at(2026, 11, 21, 9, 0), at(2026, 11, 21, 11, 0)).
			ready(metav1.ConditionTrue, "SLAMet", "", 2).sla("GO", time.Millisecond, 2*time.Millisecond).build(),
		slice("surgery", "contradictory").window(at(2026, 11, 21, 9, 0), at(2026, 11, 21, 11, 0), 0).
			admitted(20000, 20000, 1, at(2026, 11, 21, 9, 0), at(2026, 11, 21, 11, 0)).
			ready(metav1.ConditionTrue, "SLAMet", "", 1).sla("NO-GO", time.Millisecond, 31200*time.Microsecond).build(),
		slice("icu", "vitals").profile("iot-mmtc").build(),
	}
	var b bytes.Buffer
	if err := renderList(&b, items, false, testNow, berlin); err != nil {
		t.Fatal(err)
	}
	want := `NAME            PROFILE         CORE          WINDOW                       ADMISSION   GO      RTT-P99   REASON
or3             surgery-urllc   campus-core   Sat 08:00–12:00              Admitted    GO      8.23ms    SLAMet
or4             surgery-urllc   campus-core   Mon 22:00–Tue 02:00          Admitted    NO-GO   -         Scheduled
or5             surgery-urllc   campus-core   Thu 2026-12-24 08:00–09:30   Declined    NO-GO   -         NoReadyCondition
stale           surgery-urllc   campus-core   Sat 09:00–11:00              Admitted    NO-GO   2ms       Stale
contradictory   surgery-urllc   campus-core   Sat 09:00–11:00              Admitted    NO-GO   31.2ms    Contradictory
vitals          iot-mmtc        campus-core   open-ended                   Pending     NO-GO   -         NoReadyCondition
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}

	b.Reset()
	if err := renderList(&b, items[4:], true, testNow, berlin); err != nil {
		t.Fatal(err)
	}
	want = `NAMESPACE   NAME            PROFILE         CORE          WINDOW            ADMISSION   GO      RTT-P99   REASON
surgery     contradictory   surgery-urllc   campus-core   Sat 09:00–11:00   Admitted    NO-GO   31.2ms    Contradictory
icu         vitals          iot-mmtc        campus-core   open-ended        Pending     NO-GO   -         NoReadyCondition
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("list -A (-want +got):\n%s", diff)
	}
}

// TestVerdictOf protects DESIGN §2: GO only when Ready is True for the
// current generation; missing, stale or contradictory is NO-GO.
func TestVerdictOf(t *testing.T) {
	tests := []struct {
		name       string
		s          v1alpha1.MedicalSlice
		wantGo     bool
		wantReason string
	}{
		{"no status", slice("a", "b").build(), false, ReasonNoReadyCondition},
		{"ready true", slice("a", "b").ready(metav1.ConditionTrue, "SLAMet", "", 1).build(), true, "SLAMet"},
		{"ready true, no observed generation", slice("a", "b").ready(metav1.ConditionTrue, "SLAMet", "", 0).build(), true, "SLAMet"},
		{"ready true, sla GO", slice("a", "b").ready(metav1.ConditionTrue, "SLAMet", "", 1).sla("GO", 1, 2).build(), true, "SLAMet"},
		{"ready unknown", slice("a", "b").ready(metav1.ConditionUnknown, "Probing", "", 1).build(), false, "Probing"},
		{"ready false", slice("a", "b").ready(metav1.ConditionFalse, "SLANotVerified", "", 1).build(), false, "SLANotVerified"},
		{"stale", slice("a", "b").generation(2).ready(metav1.ConditionTrue, "SLAMet", "", 1).build(), false, ReasonStale},
		{"contradictory", slice("a", "b").ready(metav1.ConditionTrue, "SLAMet", "", 1).sla("NO-GO", 1, 2).build(), false, ReasonContradictory},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := VerdictOf(&tt.s)
			if v.Go != tt.wantGo || v.Reason != tt.wantReason {
				t.Errorf("VerdictOf = %+v, want go=%v reason=%s", v, tt.wantGo, tt.wantReason)
			}
		})
	}
}

// TestRenderDescribe protects describe's text.
func TestRenderDescribe(t *testing.T) {
	s := slice("surgery", "or3").window(at(2026, 11, 21, 8, 0), at(2026, 11, 21, 12, 0), 15*time.Minute).
		admitted(40000, 40000, 2, at(2026, 11, 21, 7, 45), at(2026, 11, 21, 12, 0)).
		condition(v1alpha1.ConditionAdmitted, metav1.ConditionTrue, "Admitted", "admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions reserved 2026-11-21 07:45–12:00").
		condition(v1alpha1.ConditionProvisioned, metav1.ConditionTrue, "SessionsReady", "2 sessions confirmed by the core").
		ready(metav1.ConditionFalse, "SLANotVerified", "RTT p99 31.2ms over 20ms\nsince 09:58", 1).
		build()
	s.Spec.Purpose = "robotic prostatectomy, OR-3"
	s.Spec.Devices = []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7", IPv6: "2001:db8::7"}, {Name: "console", IPv4: "10.45.0.8", SUPI: "imsi-208930000000011"}}
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.5", "10.100.1.0/24"}, Ports: []string{"443", "5000-5010"}, Protocol: v1alpha1.ProtocolTCP}
	s.Status.Admission.Message = "admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions reserved 2026-11-21 07:45–12:00"
	s.Status.SLA = &v1alpha1.SLAStatus{Verdict: "NO-GO",
		RTTP50: &metav1.Duration{Duration: 4100 * time.Microsecond}, RTTP99: &metav1.Duration{Duration: 31200 * time.Microsecond},
		JitterP99: &metav1.Duration{Duration: 1200 * time.Microsecond}, LossRatio: "0.0001", Compliance: "0.9980",
		Windows: 1000, GoodWindows: 998,
		LastViolation: &v1alpha1.SLAViolation{Start: metav1.NewTime(at(2026, 11, 21, 9, 58)), Metric: "rtt_p99", Observed: "31.2ms", Target: "20ms", Windows: 2},
		Network:       "QOS_NOT_GUARANTEED from the core at 09:58", LastEvaluated: ptr(metav1.NewTime(testNow.Add(-time.Second)))}
	s.Status.Sessions = []v1alpha1.CoreSession{{Device: "robot-arm", Core: "campus-core", ID: "app-sess-1", ExpiresAt: ptr(metav1.NewTime(at(2026, 11, 21, 12, 15)))},
		{Device: "console", Core: "campus-core", ID: "app-sess-2"}}
	profile := &v1alpha1.SliceProfile{Spec: v1alpha1.SliceProfileSpec{ServiceType: v1alpha1.ServiceTypeURLLC}}
	events := []corev1.Event{
		{Type: "Normal", Reason: "Admitted", Message: "admitted", ReportingController: "medslice-operator", EventTime: metav1.NewMicroTime(testNow.Add(-3 * time.Hour))},
		{Type: "Warning", Reason: "SLAViolated", Message: "rtt_p99 31.2ms > 20ms", Source: corev1.EventSource{Component: "medslice-operator"}, LastTimestamp: metav1.NewTime(testNow.Add(-2 * time.Minute)), Count: 3},
	}
	var b bytes.Buffer
	if err := renderDescribe(&b, &s, profile, events, nil, testNow, berlin); err != nil {
		t.Fatal(err)
	}
	want := `Name:        or3
Namespace:   surgery
Purpose:     robotic prostatectomy, OR-3
Profile:     surgery-urllc (URLLC)
Core:        campus-core
Devices:     robot-arm 10.45.0.7, 2001:db8::7
             console 10.45.0.8, imsi-208930000000011
Traffic:     TCP to 10.100.0.5, 10.100.1.0/24, ports 443, 5000-5010
Window:      Sat 2026-11-21 08:00–12:00 CET, provisioned from 07:45 (lead time 15m)
GO:          NO-GO: SLANotVerified: RTT p99 31.2ms over 20ms since 09:58
Admission:   Admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions held Sat 2026-11-21 07:45–12:00 CET
             admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions reserved 2026-11-21 07:45–12:00
Conditions:
  TYPE          STATUS   REASON           AGE   MESSAGE
  Admitted      True     Admitted         5m    admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions reserved 2026-11-21 07:45–12:00
  Provisioned   True     SessionsReady    5m    2 sessions confirmed by the core
  Ready         False    SLANotVerified   2m    RTT p99 31.2ms over 20ms since 09:58
SLA:
  RTT p50 4.1ms, p99 31.2ms; jitter p99 1.2ms; loss 0.0001
  compliance 0.9980 (998 of 1000 windows met every target)
  last violation: rtt_p99 31.2ms against 20ms, Sat 09:58 until now (2 windows)
  network: QOS_NOT_GUARANTEED from the core at 09:58
  evaluated 1s ago
Sessions:
  DEVICE      CORE          ID           EXPIRES
  robot-arm   campus-core   app-sess-1   Sat 12:15
  console     campus-core   app-sess-2   -
Events:
  TYPE      REASON        AGE       FROM                MESSAGE
  Normal    Admitted      3h        medslice-operator   admitted
  Warning   SLAViolated   2m (x3)   medslice-operator   rtt_p99 31.2ms > 20ms
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("describe (-want +got):\n%s", diff)
	}

	// A slice the operator has not touched yet, whose events may not be read.
	bare := slice("surgery", "new").build()
	b.Reset()
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no"))
	if err := renderDescribe(&b, &bare, nil, nil, forbidden, testNow, berlin); err != nil {
		t.Fatal(err)
	}
	want = `Name:        new
Namespace:   surgery
Purpose:     -
Profile:     surgery-urllc
Core:        campus-core
Devices:     robot-arm 10.45.0.7
Traffic:     UDP to 10.100.0.5, any port
Window:      open-ended (no schedule)
GO:          NO-GO: NoReadyCondition: the operator has not reported Ready yet
Admission:   Pending: the operator has not decided yet
Conditions:
  <none>
SLA:
  <not measured yet>
Sessions:
  <none>
Events:
  <not allowed to list events in this namespace>
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("describe of a new slice (-want +got):\n%s", diff)
	}
}

// TestRenderCapacity protects the capacity timeline: segments from
// admitted slices only, in local time, used/capacity per dimension.
func TestRenderCapacity(t *testing.T) {
	core := v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: "campus-core"},
		Spec: v1alpha1.CoreNetworkSpec{Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 100000, GBRDownlinkKbps: 200000, MaxSessions: 10}}}
	items := []v1alpha1.MedicalSlice{
		slice("surgery", "or3").window(at(2026, 11, 21, 12, 0), at(2026, 11, 21, 16, 0), 15*time.Minute).
			admitted(40000, 40000, 2, at(2026, 11, 21, 11, 45), at(2026, 11, 21, 16, 0)).build(),
		slice("imaging", "us-1").profile("imaging-embb").window(at(2026, 11, 21, 14, 0), at(2026, 11, 21, 18, 30), 0).
			admitted(15000, 1000, 1, at(2026, 11, 21, 14, 0), at(2026, 11, 21, 18, 30)).build(),
		slice("icu", "vitals").profile("iot-mmtc").admitted(0, 0, 4, at(2026, 11, 20, 0, 0), time.Time{}).build(),
		slice("surgery", "or9").window(at(2026, 11, 21, 12, 0), at(2026, 11, 21, 16, 0), 0).declined("declined").build(),
		func() v1alpha1.MedicalSlice {
			s := slice("surgery", "elsewhere").admitted(90000, 0, 1, at(2026, 11, 21, 12, 0), at(2026, 11, 21, 13, 0)).build()
			s.Spec.CoreRef = "other-core"
			return s
		}(),
	}
	tl := Timeline(core, items, testNow, testNow.Add(24*time.Hour), berlin)
	small := Timeline(v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: "lab-core"}}, nil, testNow, testNow.Add(24*time.Hour), berlin)
	var b bytes.Buffer
	if err := renderCapacity(&b, []CoreTimeline{tl, small}, testNow, berlin); err != nil {
		t.Fatal(err)
	}
	want := `Core campus-core: capacity uplink GBR 100 Mbps, downlink GBR 200 Mbps, 10 sessions; Sat 2026-11-21 10:00–Sun 2026-11-22 10:00 CET
FROM–TO               UL GBR        DL GBR        SESSIONS   BOOKINGS
Sat 10:00–11:45       0/100 Mbps    0/200 Mbps    4/10       icu/vitals
Sat 11:45–14:00       40/100 Mbps   40/200 Mbps   6/10       icu/vitals, surgery/or3
Sat 14:00–16:00       55/100 Mbps   41/200 Mbps   7/10       icu/vitals, imaging/us-1, surgery/or3
Sat 16:00–18:30       15/100 Mbps   1/200 Mbps    5/10       icu/vitals, imaging/us-1
Sat 18:30–Sun 10:00   0/100 Mbps    0/200 Mbps    4/10       icu/vitals

Core lab-core: no capacity limits declared; Sat 2026-11-21 10:00–Sun 2026-11-22 10:00 CET
FROM–TO               UL GBR            DL GBR            SESSIONS     BOOKINGS
Sat 10:00–Sun 10:00   0 kbps/no limit   0 kbps/no limit   0/no limit   -
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("capacity (-want +got):\n%s", diff)
	}
}

// TestAPIErrorVerbatim protects that a refusal by the API server's
// validation reaches the user word for word, on one line.
func TestAPIErrorVerbatim(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Group: "medslice.io", Kind: "MedicalSlice"}, "or3", field.ErrorList{
		field.Invalid(field.NewPath("spec", "schedule"), "object", "schedule.end must be after schedule.start"),
	})
	got := apiError(err, `create slice "or3" in namespace surgery`).Error()
	want := `the API server refused to create slice "or3" in namespace surgery: MedicalSlice.medslice.io "or3" is invalid: spec.schedule: Invalid value: "object": schedule.end must be after schedule.start`
	if got != want {
		t.Errorf("apiError:\n got: %s\nwant: %s", got, want)
	}
	if multi := apiError(errors.New("first\nsecond"), "list slices").Error(); strings.Contains(multi, "\n") {
		t.Errorf("apiError kept a line break: %q", multi)
	}
}

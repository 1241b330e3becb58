package controllers

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
)

func bookedSlice(ns, name, coreName, profile string, start, end time.Time, devices int) *v1alpha1.MedicalSlice {
	b := newSlice(ns, name, coreName).profile(profile)
	for i := range devices {
		b.device(fmt.Sprintf("dev-%d", i), fmt.Sprintf("10.48.%d.%d", len(name)%200, i+1))
	}
	s := b.obj()
	s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.Time{Time: start}, End: metav1.Time{Time: end}, LeadTime: &metav1.Duration{Duration: 15 * time.Minute}}
	return s
}

func smallCore(t *testing.T, name string, gbrKbps int64) {
	t.Helper()
	cn := coreNetwork(name, v1alpha1.CoreAPIPCF)
	cn.Spec.Capacity = v1alpha1.CoreCapacity{GBRUplinkKbps: gbrKbps, GBRDownlinkKbps: gbrKbps}
	if err := env.Client.Create(ctx, cn); err != nil {
		t.Fatal(err)
	}
}

func admittedSet(t *testing.T, ns string) (admitted, declined map[string]bool, held []admission.Booking) {
	t.Helper()
	var list v1alpha1.MedicalSliceList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	admitted, declined = map[string]bool{}, map[string]bool{}
	for _, s := range list.Items {
		a := s.Status.Admission
		switch {
		case a == nil:
		case a.Decision == v1alpha1.AdmissionAdmitted:
			admitted[s.Name] = true
			held = append(held, admission.Booking{Key: admission.Key{Namespace: s.Namespace, Name: s.Name}, Interval: admission.Interval{Start: a.From.Time, End: a.Until.Time},
				Demand: admission.Resources{GBRUplinkKbps: a.Reserved.GBRUplinkKbps, GBRDownlinkKbps: a.Reserved.GBRDownlinkKbps, Sessions: a.Reserved.Sessions}})
		default:
			declined[s.Name] = true
		}
	}
	return admitted, declined, held
}

// 50 bookings at once on a core that fits 20: never over-admitted, and the
// same answer from a fresh ledger (as after a restart or leader change).
func TestConcurrentBookingsNeverOverAdmit(t *testing.T) {
	const ns = "or-1"
	smallCore(t, "small", 20*20000) // 20 surgical bookings of one device at 20 Mbps
	start := testClock.Now().Add(24 * time.Hour).Truncate(time.Minute)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := bookedSlice(ns, fmt.Sprintf("booking-%02d", i), "small", "urllc", start, start.Add(3*time.Hour), 1)
			if err := env.Client.Create(ctx, s); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var admitted, declined map[string]bool
	var held []admission.Booking
	eventually(t, "every booking decided", func() error {
		admitted, declined, held = admittedSet(t, ns)
		if n := len(admitted) + len(declined); n < 50 {
			return fmt.Errorf("%d of 50 decided", n)
		}
		return nil
	})
	capacity := admission.Capacity{GBRUplinkKbps: 400000, GBRDownlinkKbps: 400000}
	if err := admission.Check(capacity, held); err != nil {
		t.Fatalf("over-admitted: %v", err)
	}
	if len(admitted) != 20 {
		t.Errorf("%d admitted, want 20 (the core fits exactly 20)", len(admitted))
	}
	t.Logf("50 concurrent bookings: %d admitted, %d declined; sum of admitted GBR within capacity at every instant", len(admitted), len(declined))

	// A fresh ledger, as a restarted operator or a new leader builds it,
	// decides the same.
	fresh := &Admitter{Reader: env.Client, Location: time.UTC}
	cn := &v1alpha1.CoreNetwork{}
	if err := env.Client.Get(ctx, types.NamespacedName{Name: "small"}, cn); err != nil {
		t.Fatal(err)
	}
	var list v1alpha1.MedicalSliceList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		s := &list.Items[i]
		if s.Spec.CoreRef != "small" {
			continue
		}
		d, _, err := fresh.Admit(ctx, s, profile("urllc").Spec.QoS, cn, testClock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d.Admitted != admitted[s.Name] {
			t.Errorf("%s: a fresh ledger says admitted=%v, the persisted decision %v", s.Name, d.Admitted, admitted[s.Name])
		}
	}
	for name := range declined {
		got := get(t, &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
		if msg := got.Status.Admission.Message; !strings.Contains(msg, "reserved") || !strings.Contains(msg, "this needs") {
			t.Errorf("decline of %s does not name the conflict: %q", name, msg)
		}
		break
	}
}

// A surgical booking pre-empts a pre-emptable imaging booking on a full
// core; a second surgical booking on the same window is declined with a
// message naming the conflict.
func TestSurgeryPreemptsImagingOnAFullCore(t *testing.T) {
	const ns = "or-2"
	smallCore(t, "full", 20000)
	imaging := profile("imaging-booking")
	imaging.Spec.ServiceType = v1alpha1.ServiceTypeEMBB
	imaging.Spec.QoS.FiveQI = ptr[int32](4)
	imaging.Spec.QoS.ARP = &v1alpha1.ARP{PriorityLevel: 8, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionPreemptable}
	if err := env.Client.Create(ctx, imaging); err != nil {
		t.Fatal(err)
	}
	start := testClock.Now().Add(48 * time.Hour).Truncate(time.Minute)
	ultrasound := bookedSlice(ns, "ultrasound", "full", "imaging-booking", start, start.Add(2*time.Hour), 1)
	if err := env.Client.Create(ctx, ultrasound); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, ultrasound, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, "")

	surgery := bookedSlice(ns, "prostatectomy", "full", "urllc", start.Add(time.Hour), start.Add(4*time.Hour), 1)
	if err := env.Client.Create(ctx, surgery); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, surgery, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, "")
	got := waitCondition(t, ultrasound, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, v1alpha1.ReasonPreempted)
	t.Logf("imaging: %s", got.Status.Admission.Message)

	second := bookedSlice(ns, "second-surgery", "full", "urllc", start.Add(2*time.Hour), start.Add(3*time.Hour), 1)
	if err := env.Client.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	got = waitCondition(t, second, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, v1alpha1.ReasonDeclined)
	t.Logf("second surgery: %s", got.Status.Admission.Message)
	if msg := got.Status.Admission.Message; !strings.Contains(msg, "20 of 20 Mbps reserved") || !strings.Contains(msg, "this needs 20 Mbps") {
		t.Errorf("decline message %q does not name the conflict", msg)
	}
	if c := condition(get(t, surgery), v1alpha1.ConditionAdmitted); c.Status != metav1.ConditionTrue {
		t.Error("the first surgery lost its admission to the second")
	}
	// Cancelling frees capacity at once: the declined surgery fits now.
	if err := env.Client.Delete(ctx, surgery); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, second, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, "")
}

// A booked slice is provisioned at start − leadTime, GO before start, kept
// against a delete while it runs, and released at its end; the reconciler's
// clock is moved, the probes measure in real time.
func TestScheduledLifecycle(t *testing.T) {
	if err := env.Client.Create(ctx, fastProfile("fast")); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	refl, _ := startReflector(t)
	start := testClock.Now().Add(time.Hour)
	s := bookedSlice("or-2", "scheduled", "pcf", "fast", start, start.Add(2*time.Hour), 1)
	s.Spec.Probe = &v1alpha1.ProbeTarget{Target: refl}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, v1alpha1.ReasonScheduled)
	if len(sessionsFor(t, s)) != 0 {
		t.Fatal("sessions exist before start − leadTime")
	}
	poke := func() { wakeUp(types.NamespacedName{Namespace: s.Namespace, Name: s.Name}) }

	testClock.Advance(46 * time.Minute) // 14 minutes before start, inside the lead time
	poke()
	got := waitCondition(t, s, v1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if !testClock.Now().Before(start) {
		t.Fatal("the test clock passed start before GO")
	}
	t.Logf("GO %s before start, RTT p99 %s", start.Sub(testClock.Now()).Round(time.Minute), got.Status.SLA.RTTP99.Duration)

	// A delete during the operation is refused without the force annotation.
	testClock.Advance(30 * time.Minute)
	if err := env.Client.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, v1alpha1.ReasonReleaseRefused)
	if len(sessionsFor(t, s)) != 1 {
		t.Fatal("a delete released an active surgical slice early")
	}

	testClock.Advance(2 * time.Hour) // past the end
	poke()
	eventually(t, "released at end and gone", func() error {
		if n := len(sessionsFor(t, s)); n != 0 {
			return fmt.Errorf("%d sessions left", n)
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), &v1alpha1.MedicalSlice{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("slice still there: %v", err)
		}
		return nil
	})
}

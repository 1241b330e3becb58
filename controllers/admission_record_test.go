package controllers

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
)

// A surgery pre-empts imaging bookings on a full core, several times over:
// at no state the API server stored do the recorded admissions reserve more
// than the core has. The pre-emptor records its admission only once the
// bookings it displaced have recorded theirs, so that a crash in between
// leaves no over-admission for the next leader either (the chaos test
// found the pre-emptor recorded first).
func TestRecordedAdmissionsNeverExceedCapacityDuringPreemption(t *testing.T) {
	const ns, coreName, rounds = "or-5", "preempt-record", 4
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	smallCore(t, coreName, 20000)
	imaging := profile("imaging-record")
	imaging.Spec.ServiceType = v1alpha1.ServiceTypeEMBB
	imaging.Spec.QoS.FiveQI = ptr[int32](4)
	imaging.Spec.QoS.ARP = &v1alpha1.ARP{PriorityLevel: 8, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionPreemptable}
	imaging.Spec.QoS.GBRUplinkKbps, imaging.Spec.QoS.GBRDownlinkKbps = ptr[int64](10000), ptr[int64](10000)
	if err := env.Client.Create(ctx, imaging); err != nil {
		t.Fatal(err)
	}
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	var list v1alpha1.MedicalSliceList
	if err := wc.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(ctx, &v1alpha1.MedicalSliceList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	capacity := admission.Capacity{GBRUplinkKbps: 20000, GBRDownlinkKbps: 20000}
	overs := make(chan string, 100)
	states := make(chan int, 1)
	// The watch has seen every earlier state once it sees the sentinel.
	const sentinel = "sentinel"
	go func() {
		state := map[types.UID]v1alpha1.MedicalSlice{}
		n := 0
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*v1alpha1.MedicalSlice)
			if !ok {
				continue
			}
			n++
			if s.Name == sentinel {
				break
			}
			if ev.Type == watch.Deleted {
				delete(state, s.UID)
			} else {
				state[s.UID] = *s
			}
			var held []admission.Booking
			for _, x := range state {
				if a := x.Status.Admission; a != nil && a.Decision == v1alpha1.AdmissionAdmitted {
					held = append(held, admission.Booking{Key: admission.Key{Namespace: x.Namespace, Name: x.Name, UID: x.UID},
						Interval: admission.Interval{Start: a.From.Time, End: a.Until.Time},
						Demand:   admission.Resources{GBRUplinkKbps: a.Reserved.GBRUplinkKbps, GBRDownlinkKbps: a.Reserved.GBRDownlinkKbps}})
				}
			}
			if err := admission.Check(capacity, held); err != nil {
				select {
				case overs <- fmt.Sprintf("after %s of %s: %v", ev.Type, s.Name, err):
				default:
				}
			}
		}
		states <- n
	}()

	start := testClock.Now().Add(72 * time.Hour).Truncate(time.Minute)
	for i := range rounds {
		from := start.Add(time.Duration(i) * 24 * time.Hour)
		var scans []*v1alpha1.MedicalSlice
		for j := range 2 {
			s := bookedSlice(ns, fmt.Sprintf("scan-%d-%d", i, j), coreName, "imaging-record", from, from.Add(2*time.Hour), 1)
			s.Spec.Devices[0].IPv4 = fmt.Sprintf("10.49.%d.%d", i, j+1)
			if err := env.Client.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			scans = append(scans, s)
		}
		for _, s := range scans {
			waitCondition(t, s, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, "")
		}
		surgery := bookedSlice(ns, fmt.Sprintf("surgery-%d", i), coreName, "urllc", from, from.Add(time.Hour), 1)
		surgery.Spec.Devices[0].IPv4 = fmt.Sprintf("10.49.%d.10", i)
		if err := env.Client.Create(ctx, surgery); err != nil {
			t.Fatal(err)
		}
		waitCondition(t, surgery, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, "")
		for _, s := range scans {
			waitCondition(t, s, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, v1alpha1.ReasonPreempted)
		}
	}
	end := newSlice(ns, sentinel, "no-such-core").device("arm", "10.49.255.1").obj()
	if err := env.Client.Create(ctx, end); err != nil {
		t.Fatal(err)
	}
	var n int
	select {
	case n = <-states:
	case <-time.After(timeout):
		t.Fatal("the watch did not see the sentinel")
	}
	close(overs)
	for o := range overs {
		t.Errorf("recorded admissions over capacity %s", o)
	}
	t.Logf("%d rounds of a surgery pre-empting two imaging bookings: %d stored states watched", rounds, n)
}

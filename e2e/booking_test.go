//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
)

// 50 bookings submitted at once against a core that fits 20, with the
// operator SIGKILLed while it decides and restarted: never over-admitted,
// and the decisions are those a single uninterrupted run makes.
func TestBookingsSurviveOperatorKill(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-booking"
	if err := stack.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	cn := stack.Cores()[1] // a PCF on the emulator
	cn.Name = "e2e-small"
	cn.Spec.Capacity = v1alpha1.CoreCapacity{GBRUplinkKbps: 20 * 20000, GBRDownlinkKbps: 20 * 20000, MaxSessions: 100}
	if err := stack.Client.Create(ctx, cn); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("op-%02d", i)}}
			s.Spec.Profile, s.Spec.CoreRef, s.Spec.Purpose = "surgery-urllc", cn.Name, "e2e booking"
			s.Spec.Devices = []v1alpha1.Device{{Name: "arm", IPv4: fmt.Sprintf("10.45.150.%d", i+1)}}
			s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}}
			s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.Time{Time: start}, End: metav1.Time{Time: start.Add(3 * time.Hour)}}
			if err := stack.Client.Create(ctx, s); err != nil {
				t.Error(err)
			}
		}()
		if i == 25 {
			// Mid-way through the submissions and the decisions.
			stack.Operator().Kill()
			if _, err := stack.StartOperator(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	var admitted []admission.Booking
	var nAdmitted, nDeclined int
	eventually(t, settleTimeout, "all 50 decided", func() (bool, string) {
		var list v1alpha1.MedicalSliceList
		if err := stack.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		admitted, nAdmitted, nDeclined = nil, 0, 0
		for _, s := range list.Items {
			a := s.Status.Admission
			switch {
			case a == nil:
			case a.Decision == v1alpha1.AdmissionAdmitted:
				nAdmitted++
				admitted = append(admitted, admission.Booking{Key: admission.Key{Namespace: ns, Name: s.Name},
					Interval: admission.Interval{Start: a.From.Time, End: a.Until.Time},
					Demand:   admission.Resources{GBRUplinkKbps: a.Reserved.GBRUplinkKbps, GBRDownlinkKbps: a.Reserved.GBRDownlinkKbps, Sessions: a.Reserved.Sessions}})
			default:
				nDeclined++
			}
		}
		return nAdmitted+nDeclined == 50, fmt.Sprintf("%d admitted, %d declined", nAdmitted, nDeclined)
	})
	if err := admission.Check(admission.CapacityOf(cn.Spec.Capacity), admitted); err != nil {
		t.Fatalf("over-admitted after the kill: %v", err)
	}
	t.Logf("operator SIGKILLed after 26 of 50 submissions: %d admitted, %d declined, sum of admitted GBR within capacity at every instant", nAdmitted, nDeclined)
	if nAdmitted != 20 {
		t.Errorf("%d admitted, want exactly 20 (the core fits 20)", nAdmitted)
	}
	// Leave nothing for the other tests, which expect every slice to hold
	// its sessions.
	if err := stack.Client.DeleteAllOf(ctx, &v1alpha1.MedicalSlice{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	eventually(t, settleTimeout, "bookings cancelled", func() (bool, string) {
		var list v1alpha1.MedicalSliceList
		if err := stack.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 0, fmt.Sprintf("%d left", len(list.Items))
	})
}

package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/notify"
)

func get(t *testing.T, s *v1alpha1.MedicalSlice) *v1alpha1.MedicalSlice {
	t.Helper()
	var got v1alpha1.MedicalSlice
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func condition(s *v1alpha1.MedicalSlice, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(s.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

func waitCondition(t *testing.T, s *v1alpha1.MedicalSlice, typ string, status metav1.ConditionStatus, reason string) *v1alpha1.MedicalSlice {
	t.Helper()
	var got *v1alpha1.MedicalSlice
	eventually(t, fmt.Sprintf("%s %s=%s/%s", s.Name, typ, status, reason), func() error {
		got = get(t, s)
		c := condition(got, typ)
		if c.Status != status || (reason != "" && c.Reason != reason) {
			return fmt.Errorf("%s is %s/%s: %s", typ, c.Status, c.Reason, c.Message)
		}
		return nil
	})
	return got
}

// oneSessionPerDevice waits until the emulator holds exactly one session per
// device of s, and none for devices s does not have.
func oneSessionPerDevice(t *testing.T, s *v1alpha1.MedicalSlice) map[string][]emuSession {
	t.Helper()
	var by map[string][]emuSession
	eventually(t, "one session per device of "+s.Name, func() error {
		by = sessionsFor(t, s)
		for _, d := range s.Spec.Devices {
			if len(by[d.Name]) != 1 {
				return fmt.Errorf("device %s has %d sessions", d.Name, len(by[d.Name]))
			}
		}
		if len(by) != len(s.Spec.Devices) {
			return fmt.Errorf("%d devices with sessions, want %d", len(by), len(s.Spec.Devices))
		}
		return nil
	})
	return by
}

func TestProvisionAndReleaseOnEachCore(t *testing.T) {
	for _, coreName := range []string{"nef", "pcf"} {
		t.Run(coreName, func(t *testing.T) {
			s := newSlice("or-1", "release-"+coreName, coreName).device("arm", "10.45.1.1").device("cam", "10.45.1.2").obj()
			if err := env.Client.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, v1alpha1.ReasonSessionsReady)
			if !strings.Contains(condition(s, v1alpha1.ConditionProvisioned).Message, "2 of 2") {
				t.Errorf("Provisioned message %q does not count the sessions", condition(s, v1alpha1.ConditionProvisioned).Message)
			}
			// Its devices' addresses lead nowhere here: nothing is
			// measured, so it must never be GO.
			if c := condition(s, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %s/%s, want False: GO needs measurements", c.Status, c.Reason)
			}
			if len(s.Status.Sessions) != 2 || s.Status.Sessions[0].ExpiresAt == nil {
				t.Fatalf("status sessions = %+v", s.Status.Sessions)
			}
			by := oneSessionPerDevice(t, s)
			if by["arm"][0].ID != s.Status.Sessions[0].ID {
				t.Errorf("recorded id %s, emulator has %s", s.Status.Sessions[0].ID, by["arm"][0].ID)
			}
			if err := env.Client.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
			eventually(t, "sessions released and slice gone", func() error {
				if n := len(sessionsFor(t, s)); n != 0 {
					return fmt.Errorf("%d devices still have sessions", n)
				}
				err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), &v1alpha1.MedicalSlice{})
				if !apierrors.IsNotFound(err) {
					return fmt.Errorf("slice still there: %v", err)
				}
				return nil
			})
		})
	}
}

func TestMissingProfileThenCreated(t *testing.T) {
	s := newSlice("or-1", "late-profile", "nef").profile("late").device("arm", "10.45.2.1").obj()
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	got := waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, v1alpha1.ReasonProfileNotFound)
	if c := condition(got, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse {
		t.Errorf("Ready = %s without a profile", c.Status)
	}
	if err := env.Client.Create(ctx, profile("late")); err != nil {
		t.Fatal(err)
	}
	waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, v1alpha1.ReasonSessionsReady)
}

func TestSpecEditsReachTheCore(t *testing.T) {
	s := newSlice("or-1", "edited", "pcf").device("arm", "10.45.3.1").device("cam", "10.45.3.2").obj()
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, "")
	oneSessionPerDevice(t, s)

	// A new port reaches the core as an update of the same sessions.
	s.Spec.Application.Ports = []string{"5000", "6000-6010"}
	// A removed device releases its session.
	s.Spec.Devices = s.Spec.Devices[:1]
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "edit applied", func() error {
		by := sessionsFor(t, s)
		if len(by) != 1 || len(by["arm"]) != 1 {
			return fmt.Errorf("sessions %v", by)
		}
		if !strings.Contains(strings.Join(by["arm"][0].FlowDescriptions, " "), "6000-6010") {
			return fmt.Errorf("flows %v lack the new port range", by["arm"][0].FlowDescriptions)
		}
		all := sessionsFor(t, &v1alpha1.MedicalSlice{ObjectMeta: s.ObjectMeta, Spec: v1alpha1.MedicalSliceSpec{Devices: []v1alpha1.Device{{Name: "cam"}}}})
		if len(all) != 0 {
			return fmt.Errorf("removed device still has a session")
		}
		return nil
	})
}

// A core that forgets its sessions (a restart) gets them back.
func TestLostSessionRecreated(t *testing.T) {
	s := newSlice("or-2", "lost", "nef").device("arm", "10.45.4.1").obj()
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, "")
	old := oneSessionPerDevice(t, s)["arm"][0].ID
	cl, err := core.NewNEFClient(emuURL, "test-af", core.NewHTTPClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session re-created", func() error {
		by := sessionsFor(t, s)
		if len(by["arm"]) != 1 || by["arm"][0].ID == old {
			return fmt.Errorf("sessions %v", by)
		}
		if got := get(t, s).Status.Sessions; len(got) != 1 || got[0].ID != by["arm"][0].ID {
			return fmt.Errorf("status records %v", got)
		}
		return nil
	})
}

// A session the core holds for a slice, but the slice never recorded (the
// operator died between the core's yes and the status write), is adopted.
func TestAdoptsUnrecordedSession(t *testing.T) {
	s := newSlice("or-2", "adopt", "nef").device("arm", "10.45.5.1").obj()
	s.Spec.Profile = "missing-for-now" // keep the operator away while we plant the session
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, v1alpha1.ReasonProfileNotFound)
	cl, err := core.NewNEFClient(emuURL, "test-af", core.NewHTTPClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ref := notify.Ref{Slice: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, UID: s.UID, Device: "arm"}
	planted, err := cl.Create(ctx, core.SessionSpec{
		NotificationURI: signer.URI("http://127.0.0.1:1", ref), UE: core.UE{IPv4: "10.45.5.1"},
		DNN: "hospital", SNSSAI: core.SNSSAI{SST: 2, SD: "000001"}, FlowDescriptions: []string{"permit out 17 from 10.100.0.10 to 10.45.5.1"},
		QoS: core.QoS{FiveQI: 82, GBRUplinkKbps: 1000, GBRDownlinkKbps: 1000, MBRUplinkKbps: 2000, MBRDownlinkKbps: 2000}, ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Profile = "urllc"
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, "")
	if got := oneSessionPerDevice(t, s)["arm"][0].ID; got != planted.ID || s.Status.Sessions[0].ID != planted.ID {
		t.Fatalf("emulator has %s, status %v; want the planted %s adopted", got, s.Status.Sessions, planted.ID)
	}
}

// The sweep deletes a session whose slice is gone, but only on its second
// look, so a create whose status write is in flight is never mistaken for one.
func TestSweepDeletesOrphans(t *testing.T) {
	cl, err := core.NewNEFClient(emuURL, "test-af", core.NewHTTPClient(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ref := notify.Ref{Slice: types.NamespacedName{Namespace: "or-2", Name: "never-existed"}, UID: "0000-orphan", Device: "arm"}
	orphan, err := cl.Create(ctx, core.SessionSpec{
		NotificationURI: signer.URI("http://127.0.0.1:1", ref), UE: core.UE{IPv4: "10.45.6.1"},
		DNN: "hospital", SNSSAI: core.SNSSAI{SST: 2}, FlowDescriptions: []string{"permit out 17 from 10.100.0.10 to 10.45.6.1"},
		QoS: core.QoS{FiveQI: 82, GBRUplinkKbps: 1000, GBRDownlinkKbps: 1000, MBRUplinkKbps: 2000, MBRDownlinkKbps: 2000}, ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := cl.Create(ctx, core.SessionSpec{
		NotificationURI: "http://other-af.example/callbacks/1", UE: core.UE{IPv4: "10.45.6.2"},
		DNN: "hospital", SNSSAI: core.SNSSAI{SST: 2}, FlowDescriptions: []string{"permit out 17 from 10.100.0.10 to 10.45.6.2"},
		QoS: core.QoS{FiveQI: 82, GBRUplinkKbps: 1000, GBRDownlinkKbps: 1000, MBRUplinkKbps: 2000, MBRDownlinkKbps: 2000}, ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	has := func(id string) bool {
		_, err := cl.Get(context.Background(), id)
		return err == nil
	}
	sweeper.Sweep(ctx)
	if !has(orphan.ID) {
		t.Fatal("the first sweep deleted a suspect; it must wait for a second look")
	}
	sweeper.Sweep(ctx)
	if has(orphan.ID) {
		t.Error("the second sweep left the orphan")
	}
	if !has(foreign.ID) {
		t.Error("the sweep deleted another AF's session")
	}
}

func TestCoreNetworkReachable(t *testing.T) {
	var cn v1alpha1.CoreNetwork
	eventually(t, "nef Reachable", func() error {
		if err := env.Client.Get(ctx, types.NamespacedName{Name: "nef"}, &cn); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(cn.Status.Conditions, v1alpha1.ConditionReachable) {
			return fmt.Errorf("conditions %v", cn.Status.Conditions)
		}
		return nil
	})
	down := coreNetwork("down", v1alpha1.CoreAPIPCF)
	down.Spec.Endpoint = "http://127.0.0.1:1"
	if err := env.Client.Create(ctx, down); err != nil {
		t.Fatal(err)
	}
	eventually(t, "down not Reachable", func() error {
		if err := env.Client.Get(ctx, types.NamespacedName{Name: "down"}, &cn); err != nil {
			return err
		}
		c := meta.FindStatusCondition(cn.Status.Conditions, v1alpha1.ConditionReachable)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.ReasonAPIUnreachable {
			return fmt.Errorf("conditions %v", cn.Status.Conditions)
		}
		return nil
	})
}

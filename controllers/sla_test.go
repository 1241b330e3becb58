package controllers

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

// fastProfile verifies in a second, so that the fail-safe tests run quickly.
func fastProfile(name string) *v1alpha1.SliceProfile {
	p := profile(name)
	p.Spec.SLA = v1alpha1.SLATargets{
		RTTP99: &metav1.Duration{Duration: 20 * time.Millisecond}, JitterP99: &metav1.Duration{Duration: 10 * time.Millisecond},
		LossRatio: "0.05", Window: &metav1.Duration{Duration: 200 * time.Millisecond}, VerificationPeriod: &metav1.Duration{Duration: time.Second},
	}
	p.Spec.Probe = v1alpha1.ProbeSettings{Interval: &metav1.Duration{Duration: 10 * time.Millisecond}}
	return p
}

// startReflector runs a real STAMP reflector on loopback until stop.
func startReflector(t *testing.T) (addr string, stop func()) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&stamp.Reflector{}).Serve(ctx, conn)
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			conn.Close()
			<-done
		}
	}
	t.Cleanup(stop)
	return conn.LocalAddr().String(), stop
}

func probedSlice(t *testing.T, name, reflector string) *v1alpha1.MedicalSlice {
	t.Helper()
	s := newSlice("or-2", name, "pcf").profile("fast").device("arm", "10.45.9."+name[len(name)-1:]).obj()
	s.Spec.Probe = &v1alpha1.ProbeTarget{Target: reflector}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s
}

func waitGo(t *testing.T, s *v1alpha1.MedicalSlice) *v1alpha1.MedicalSlice {
	t.Helper()
	got := waitCondition(t, s, v1alpha1.ConditionReady, metav1.ConditionTrue, sla.Met)
	if got.Status.SLA == nil || got.Status.SLA.Verdict != v1alpha1.VerdictGo || got.Status.SLA.RTTP99 == nil || got.Status.SLA.LossRatio == "" {
		t.Fatalf("GO without measured figures in status: %+v", got.Status.SLA)
	}
	return got
}

// GO is a measurement: a provisioned slice whose probes meet the SLA for the
// verification period becomes Ready, and every way its inputs can fail
// makes it NO-GO with a reason that says which.
func TestGoByMeasurementAndFailSafes(t *testing.T) {
	if err := env.Client.Create(ctx, fastProfile("fast")); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	t.Run("reflector stopped", func(t *testing.T) {
		refl, stop := startReflector(t)
		s := waitGo(t, probedSlice(t, "go-1", refl))
		t.Logf("GO with RTT p99 %s, loss %s", s.Status.SLA.RTTP99.Duration, s.Status.SLA.LossRatio)
		time.Sleep(time.Second) // several passes while GO: still one GO Event
		if n := eventCount(t, s, "GO"); n != 1 {
			t.Errorf("%d GO Events for one transition", n)
		}
		stop()
		got := waitCondition(t, s, v1alpha1.ConditionReady, metav1.ConditionFalse, "")
		eventually(t, "NoGo and SLAViolated Events", func() error {
			if eventCount(t, s, "NoGo") == 0 || eventCount(t, s, "SLAViolated") == 0 {
				return errString("missing")
			}
			return nil
		})
		if r := condition(got, v1alpha1.ConditionReady).Reason; r != sla.Violated && r != sla.Stale {
			t.Errorf("reason %s, want Violated (all lost) or Stale", r)
		}
		if condition(got, v1alpha1.ConditionSLAMet).Status == metav1.ConditionTrue {
			t.Error("SLAMet stayed True with the reflector gone")
		}
	})

	t.Run("core reports QoS not guaranteed", func(t *testing.T) {
		refl, _ := startReflector(t)
		s := waitGo(t, probedSlice(t, "go-2", refl))
		key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		probes.AddNetworkReport(key, "arm", time.Now(), sla.ReportQoSNotGuaranteed, "test")
		waitCondition(t, s, v1alpha1.ConditionReady, metav1.ConditionFalse, sla.NetworkNotGuaranteed)
		probes.AddNetworkReport(key, "arm", time.Now(), sla.ReportQoSGuaranteed, "test")
		waitCondition(t, s, v1alpha1.ConditionReady, metav1.ConditionTrue, sla.Met)
	})

	t.Run("core session deleted behind the operator's back", func(t *testing.T) {
		refl, _ := startReflector(t)
		s := waitGo(t, probedSlice(t, "go-3", refl))
		cl, err := core.NewPCFClient(emuURL, core.NewHTTPClient(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.Delete(ctx, s.Status.Sessions[0].ID); err != nil {
			t.Fatal(err)
		}
		// Verification starts over on the re-created session, so the
		// slice must pass through NO-GO before it is GO again.
		eventually(t, "NO-GO after the session was lost", func() error {
			got := get(t, s)
			if c := condition(got, v1alpha1.ConditionReady); c.Status == metav1.ConditionTrue && got.Status.Sessions[0].ID == s.Status.Sessions[0].ID {
				return errString("still GO on the lost session")
			}
			return nil
		})
		got := waitGo(t, s)
		if got.Status.Sessions[0].ID == s.Status.Sessions[0].ID {
			t.Error("GO again on the id of the lost session")
		}
	})

	t.Run("no probes for a slice that is not provisioned", func(t *testing.T) {
		s := newSlice("or-2", "go-4", "pcf").profile("no-such-profile").device("arm", "10.45.9.4").obj()
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got := waitCondition(t, s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotAdmitted)
		if !strings.Contains(condition(got, v1alpha1.ConditionReady).Message, "NO-GO") {
			t.Errorf("Ready message %q does not say NO-GO", condition(got, v1alpha1.ConditionReady).Message)
		}
		if _, probed := probes.Verdict(types.NamespacedName{Namespace: s.Namespace, Name: s.Name}); probed {
			t.Error("an unprovisioned slice is being probed")
		}
	})
}

// eventCount counts the slice's Events with reason.
func eventCount(t *testing.T, s *v1alpha1.MedicalSlice, reason string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(ctx, &list, client.InNamespace(s.Namespace)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Name == s.Name && e.Reason == reason {
			n++
			if e.Series != nil {
				n += int(e.Series.Count) - 1
			}
		}
	}
	return n
}

type errString string

func (e errString) Error() string { return string(e) }

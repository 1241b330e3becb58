//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

const (
	goTimeout   = 180 * time.Second
	surgeryUE   = "10.45.0.11" // first device of or-3/robotic-surgery
	surgeryName = "robotic-surgery"
)

func sample(t *testing.T, name string) *v1alpha1.MedicalSlice {
	t.Helper()
	var s v1alpha1.MedicalSlice
	if err := stack.Client.Get(context.Background(), client.ObjectKey{Namespace: "or-3", Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func cond(s *v1alpha1.MedicalSlice, typ string) string {
	if c := meta.FindStatusCondition(s.Status.Conditions, typ); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return "missing"
}

func isTrue(s *v1alpha1.MedicalSlice, typ string) bool {
	return meta.IsStatusConditionTrue(s.Status.Conditions, typ)
}

// eventReasons lists the reasons of the slice's Events.
func eventReasons(t *testing.T, s *v1alpha1.MedicalSlice) map[string]int {
	t.Helper()
	var list eventsv1.EventList
	if err := stack.Client.List(context.Background(), &list, client.InNamespace(s.Namespace)); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range list.Items {
		if e.Regarding.Name == s.Name {
			out[e.Reason]++
		}
	}
	return out
}

func waitGO(t *testing.T, name string) time.Duration {
	t.Helper()
	return eventually(t, goTimeout, name+" GO", func() (bool, string) {
		s := sample(t, name)
		return isTrue(s, v1alpha1.ConditionReady), cond(s, v1alpha1.ConditionReady)
	})
}

// Every sample becomes GO by measurement, with RTT and loss from real probe
// packets through the emulated user plane.
func TestSamplesGoByMeasurement(t *testing.T) {
	eventually(t, goTimeout, "every sample GO", func() (bool, string) {
		for _, s := range listSlices(t) {
			if s.Namespace == "or-3" && !isTrue(&s, v1alpha1.ConditionReady) {
				return false, s.Name + " " + cond(&s, v1alpha1.ConditionReady)
			}
		}
		return true, ""
	})
	for _, s := range listSlices(t) {
		if s.Namespace != "or-3" {
			continue
		}
		sla := s.Status.SLA
		if sla == nil || sla.RTTP99 == nil || sla.LossRatio == "" || sla.Windows == 0 || sla.Verdict != v1alpha1.VerdictGo {
			t.Errorf("%s is GO without measured figures: %+v", s.Name, sla)
			continue
		}
		t.Logf("%-20s GO: RTT p50 %s p99 %s, jitter p99 %s, loss %s, %d windows", s.Name, sla.RTTP50.Duration, sla.RTTP99.Duration, sla.JitterP99.Duration, sla.LossRatio, sla.Windows)
	}
}

// With background load on the link, a path without a provisioned flow is
// above the surgery target and the provisioned slice stays within it.
func TestLoadContrast(t *testing.T) {
	prov, unprov, err := stack.Contrast(context.Background(), surgeryUE, "95 Mbps", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("95 Mbps background load: unprovisioned %s; provisioned %s", unprov, prov)
	fmt.Printf("e2e contrast: unprovisioned RTT p99 %s, provisioned RTT p99 %s (target 20ms)\n", unprov.P99, prov.P99)
	if unprov.P99 <= 20*time.Millisecond {
		t.Errorf("unprovisioned p99 %s is within the surgery target: the load does not load the link", unprov.P99)
	}
	if prov.P99 > 20*time.Millisecond {
		t.Errorf("provisioned p99 %s is above the surgery target", prov.P99)
	}
}

// An impairment on a GO slice makes it NO-GO; cleared, it is GO again after
// the verification period; every transition is an Event.
func TestImpairmentNoGoAndBack(t *testing.T) {
	waitGO(t, surgeryName)
	emulatorPost(t, "/admin/v1/impairments", `{"target": "`+surgeryUE+`", "delay": "30ms"}`)
	start := time.Now()
	noGo := eventually(t, 30*time.Second, "NO-GO under impairment", func() (bool, string) {
		s := sample(t, surgeryName)
		return !isTrue(s, v1alpha1.ConditionSLAMet) && !isTrue(s, v1alpha1.ConditionReady), cond(s, v1alpha1.ConditionReady)
	})
	s := sample(t, surgeryName)
	t.Logf("30ms delay injected: SLAMet=%s Ready=%s after %s", cond(s, v1alpha1.ConditionSLAMet), cond(s, v1alpha1.ConditionReady), noGo.Round(time.Millisecond))
	emulatorPost(t, "/admin/v1/impairments", `{}`)
	back := waitGO(t, surgeryName)
	t.Logf("impairment cleared: GO again after %s (verification period 30s); impaired for %s", back.Round(time.Millisecond), time.Since(start).Round(time.Second))
	reasons := eventReasons(t, sample(t, surgeryName))
	for _, want := range []string{"SLAViolated", "NoGo", "SLAMet", "GO"} {
		if reasons[want] == 0 {
			t.Errorf("no %s Event; events: %v", want, reasons)
		}
	}
}

// A QoS rule the user plane silently lost is found by the probes and
// restored by the re-provisioning remediation.
func TestSilentDegradationRemediated(t *testing.T) {
	waitGO(t, surgeryName)
	emulatorPost(t, "/admin/v1/load", `{"rate": "95 Mbps"}`)
	defer emulatorPost(t, "/admin/v1/load", `{"rate": "0 bps"}`)
	before := eventReasons(t, sample(t, surgeryName))["Remediation"]
	emulatorPost(t, "/admin/v1/degrade", `{"ue": "`+surgeryUE+`"}`)
	detect := eventually(t, 30*time.Second, "violation detected", func() (bool, string) {
		s := sample(t, surgeryName)
		return !isTrue(s, v1alpha1.ConditionSLAMet), cond(s, v1alpha1.ConditionSLAMet)
	})
	restore := eventually(t, 30*time.Second, "SLA restored", func() (bool, string) {
		s := sample(t, surgeryName)
		return isTrue(s, v1alpha1.ConditionSLAMet), cond(s, v1alpha1.ConditionSLAMet)
	})
	t.Logf("QoS rule lost under load: SLAMet=False after %s, restored %s later", detect.Round(time.Millisecond), restore.Round(time.Millisecond))
	if after := eventReasons(t, sample(t, surgeryName))["Remediation"]; after <= before {
		t.Errorf("no Remediation event (before %d, after %d)", before, after)
	}
}

package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/scheme"
)

// B4: how fast the SLA verdict follows the network. Detection: a delay
// injected on a GO surgical slice (100 ms probes, 1 s windows) until the
// API shows SLAMet=False. Remediation: a QoS rule the user plane silently
// lost under load until re-provisioning has the SLA met again.
func runB4(rounds int) error {
	ctx := context.Background()
	stack, stop, err := stack(ctx, devstack.Options{})
	if err != nil {
		return err
	}
	defer stop()
	wc, err := client.NewWithWatch(stack.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	if err := stack.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "b4"}}); err != nil {
		return err
	}
	const ue = "10.45.77.1"
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "b4", Name: "surgery"}}
	s.Spec.Profile, s.Spec.CoreRef, s.Spec.Purpose = "surgery-urllc", devstack.CoreNEF, "benchmark B4"
	s.Spec.Devices = []v1alpha1.Device{{Name: "arm", IPv4: ue}}
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}}
	if err := stack.Client.Create(ctx, s); err != nil {
		return err
	}
	var list v1alpha1.MedicalSliceList
	w, err := wc.Watch(ctx, &list, client.InNamespace("b4"))
	if err != nil {
		return err
	}
	defer w.Stop()
	if _, err := waitFor(w, 3*time.Minute, v1alpha1.ConditionReady, true); err != nil {
		return fmt.Errorf("waiting for GO: %w", err)
	}

	var detect, restore, remedyDetect []time.Duration
	for range rounds {
		if _, err := waitFor(w, time.Minute, v1alpha1.ConditionSLAMet, true); err != nil {
			return err
		}
		start := time.Now()
		if err := post(stack.EmulatorURL+"/admin/v1/impairments", map[string]string{"target": ue, "delay": "30ms"}, nil); err != nil {
			return err
		}
		if _, err := waitFor(w, time.Minute, v1alpha1.ConditionSLAMet, false); err != nil {
			return err
		}
		detect = append(detect, time.Since(start))
		if err := post(stack.EmulatorURL+"/admin/v1/impairments", map[string]string{}, nil); err != nil {
			return err
		}
	}
	if err := post(stack.EmulatorURL+"/admin/v1/load", map[string]string{"rate": "95 Mbps"}, nil); err != nil {
		return err
	}
	for range rounds {
		if _, err := waitFor(w, time.Minute, v1alpha1.ConditionSLAMet, true); err != nil {
			return err
		}
		start := time.Now()
		if err := post(stack.EmulatorURL+"/admin/v1/degrade", map[string]string{"ue": ue}, nil); err != nil {
			return err
		}
		if _, err := waitFor(w, time.Minute, v1alpha1.ConditionSLAMet, false); err != nil {
			return err
		}
		detected := time.Now()
		remedyDetect = append(remedyDetect, detected.Sub(start))
		if _, err := waitFor(w, time.Minute, v1alpha1.ConditionSLAMet, true); err != nil {
			return err
		}
		restore = append(restore, time.Since(detected))
	}
	_ = post(stack.EmulatorURL+"/admin/v1/load", map[string]string{"rate": "0 bps"}, nil)
	fmt.Printf("\nB4 SLA verdict latency, %d rounds each, 100ms probes, 1s windows, as seen on the API server\n", rounds)
	fmt.Printf("  %-46s p50 %8s  p99 %8s  (target p99 <= 1s: %s)\n", "impairment injected -> SLAMet=False", p(detect, 50), p(detect, 99), verdict(p(detect, 99) <= time.Second))
	fmt.Printf("  %-46s p50 %8s  p99 %8s\n", "QoS rule lost under load -> SLAMet=False", p(remedyDetect, 50), p(remedyDetect, 99))
	fmt.Printf("  %-46s p50 %8s  p99 %8s  (target <= 3s: %s)\n", "re-provisioning remediation -> SLAMet=True", p(restore, 50), p(restore, 99), verdict(p(restore, 99) <= 3*time.Second))
	return nil
}

func p(d []time.Duration, q int) time.Duration { return pct(d, q).Round(time.Millisecond) }

// waitFor waits for the slice's condition to reach the wanted status.
func waitFor(w watch.Interface, timeout time.Duration, typ string, want bool) (*v1alpha1.MedicalSlice, error) {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("watch closed")
			}
			s, ok := ev.Object.(*v1alpha1.MedicalSlice)
			if ok && meta.IsStatusConditionTrue(s.Status.Conditions, typ) == want {
				return s, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("%s=%v not within %s", typ, want, timeout)
		}
	}
}

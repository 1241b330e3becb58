package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
)

// Two CoreNetworks may lead to one core (the same NEF, as the same AF), for
// instance to book separate capacity on it; listing either lists the
// sessions of both. Sweeping one must leave the other's slices' sessions
// alone: the chaos test found them deleted, re-created and deleted again.
func TestSweepKeepsSessionsOfATwinCoreNetwork(t *testing.T) {
	twin := coreNetwork("nef-twin", v1alpha1.CoreAPINEF)
	if err := env.Client.Create(ctx, twin); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, twin) }()
	s := newSlice("or-2", "sweep-twin", "nef").device("arm", "10.45.7.1").obj()
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, s) }()
	s = waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, v1alpha1.ReasonSessionsReady)
	id := oneSessionPerDevice(t, s)["arm"][0].ID

	sweeper.Sweep(ctx)
	sweeper.Sweep(ctx)
	if got := sessionsFor(t, s)["arm"]; len(got) != 1 || got[0].ID != id {
		t.Errorf("after two sweeps the device has sessions %+v, want its own %s kept", got, id)
	}
}

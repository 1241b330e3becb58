package evidence

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/testenv"
)

// requestTimeout bounds one test's calls to the API server.
const requestTimeout = 60 * time.Second

// controlPlane is started by the first integration test, so that unit
// tests do not start one.
var controlPlane testenv.Lazy

func TestMain(m *testing.M) { controlPlane.Run(m) }

func apiServer(t *testing.T) client.Client {
	t.Helper()
	return controlPlane.Env(t).Client
}

// On the real API server: the report key Secret is created at first use,
// checkpoints are ConfigMaps in the operator's namespace, a checkpoint
// edited through the API is not trusted after a restart (the gap starts
// at the creation time the API server set), the sealed report is created
// in the slice's namespace and verifies with the public keys of the
// Secret, and sealing it again finds it.
func TestRecorderOnTheAPIServer(t *testing.T) {
	c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for _, ns := range []string{operatorNS, sliceNS} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	sl := testSlice(true)
	sl.UID = ""
	sl.Spec.Schedule.Start, sl.Spec.Schedule.End = metav1.NewTime(now), metav1.NewTime(now.Add(time.Hour))
	if err := c.Create(ctx, sl); err != nil {
		t.Fatal(err)
	}
	signer, _, err := report.LoadOrCreateKey(ctx, c, operatorNS, "medslice-report-key")
	if err != nil {
		t.Fatal(err)
	}
	newRecorder := func(at time.Time) (*Recorder, *fakeProbes, *clocktesting.FakeClock) {
		p, clk := newFakeProbes(), clocktesting.NewFakeClock(at)
		r := &Recorder{Probes: p, Client: c, Reader: c, Namespace: operatorNS, Signer: signer, Clock: clk, Log: logr.Discard()}
		if err := r.restore(ctx); err != nil {
			t.Fatal(err)
		}
		return r, p, clk
	}

	a, ap, aclk := newRecorder(now)
	if err := a.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		ap.close(sliceKey, d, run(now, 30)...)
	}
	aclk.SetTime(now.Add(31 * time.Second))
	a.cycle(ctx, false)
	var cm corev1.ConfigMap
	if err := c.Get(ctx, types.NamespacedName{Namespace: operatorNS, Name: checkpointName(sliceKey)}, &cm); err != nil {
		t.Fatalf("no checkpoint on the API server: %v", err)
	}
	if cm.Labels[LabelCheckpoint] != "true" || cm.Labels[LabelSliceNamespace] != sliceNS {
		t.Errorf("checkpoint labels %v", cm.Labels)
	}
	t.Logf("checkpoint %s: %d bytes compressed for 30 windows", cm.Name, len(cm.BinaryData[keyPayload]))

	// Someone with write access to the operator's namespace edits it.
	cm.BinaryData[keyPayload][len(cm.BinaryData[keyPayload])-5] ^= 0x10
	if err := c.Update(ctx, &cm); err != nil {
		t.Fatal(err)
	}

	restart := now.Add(60 * time.Second)
	b, bp, bclk := newRecorder(restart)
	if err := b.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		bp.close(sliceKey, d, run(restart.Add(time.Second), 20)...)
	}
	bclk.SetTime(restart.Add(21 * time.Second))
	b.Stop(sliceKey)
	b.cycle(ctx, false)

	var list v1alpha1.SLAReportList
	if err := c.List(ctx, &list, client.InNamespace(sliceNS)); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d reports on the API server, want 1", len(list.Items))
	}
	r := list.Items[0]
	var secret corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: operatorNS, Name: "medslice-report-key"}, &secret); err != nil {
		t.Fatal(err)
	}
	ring, err := report.KeyRingFromSecret(&secret)
	if err != nil {
		t.Fatal(err)
	}
	if ps := report.Verify(&r.Spec, ring); len(ps) > 0 {
		t.Fatalf("the report read back does not verify with the Secret's keys: %v", ps)
	}
	if r.Spec.Slice.UID != string(mustUID(t, c, sliceKey)) || r.Spec.Measured.Windows != 20 {
		t.Errorf("report of %s with %d windows", r.Spec.Slice.UID, r.Spec.Measured.Windows)
	}
	gs := gapsOf(&r)
	created := cm.CreationTimestamp.Time
	if len(gs) != 1 || !gs[0].Start.Equal(created) || !strings.Contains(gs[0].Reason, "failed verification") {
		t.Errorf("gaps %+v, want one from the checkpoint's creation %s", gs, created)
	}
	t.Logf("report %s: period %s to %s, gap %q", r.Name, r.Spec.Period.Start.Format(time.RFC3339), r.Spec.Period.End.Format(time.RFC3339), gs[0].Reason)
	if err := c.Get(ctx, client.ObjectKeyFromObject(&cm), &cm); err == nil {
		t.Errorf("the checkpoint is kept after its evidence was sealed")
	}

	// Sealing the same period again, as after a crash, finds the report.
	p := &period{Start: r.Spec.Period.Start.Time, End: r.Spec.Period.End.Time, Planned: r.Spec.Period.End.Time, Targets: targets(), Per: 1}
	ref, _, err := refOf(mustGet(t, c, sliceKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.seal(ctx, sealJob{key: sliceKey, ref: ref, period: p}); err != nil {
		t.Errorf("sealing again: %v", err)
	}
	if err := c.List(ctx, &list, client.InNamespace(sliceNS)); err != nil || len(list.Items) != 1 {
		t.Errorf("%d reports after sealing again (%v), want 1", len(list.Items), err)
	}
}

func mustGet(t *testing.T, c client.Client, key types.NamespacedName) *v1alpha1.MedicalSlice {
	t.Helper()
	var s v1alpha1.MedicalSlice
	if err := c.Get(context.Background(), key, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func mustUID(t *testing.T, c client.Client, key types.NamespacedName) types.UID {
	return mustGet(t, c, key).UID
}

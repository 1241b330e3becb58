package evidence

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/medslice/medslice/internal/sla"
)

var bothDevices = probeSpec("patient-cart", "vision-cart")

// The window ends (Stop): one report of the slice, verifying, with both
// devices' windows combined, the bad window of one device as a violation
// naming it, and the windows still open at the end stated as a gap. The
// report is taken before the probes forget their windows.
func TestStopSealsOneVerifiedReportOfBothDevices(t *testing.T) {
	c := fakeClient(testSlice(true))
	g := newRig(t, c, t0)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	a, b := run(t0, 120), run(t0, 120)
	a[60] = slow(t0.Add(60 * time.Second))
	g.probes.close(sliceKey, "patient-cart", a[:60]...)
	g.probes.close(sliceKey, "vision-cart", b[:60]...)
	g.cycleAt(t0.Add(61 * time.Second))
	if _, err := g.checkpointMap(); err != nil {
		t.Fatalf("no checkpoint after a cycle with new windows: %v", err)
	}

	g.probes.close(sliceKey, "patient-cart", a[60:]...)
	g.probes.close(sliceKey, "vision-cart", b[60:]...)
	stop := t0.Add(121600 * time.Millisecond)
	g.clock.SetTime(stop)
	g.rec.Stop(sliceKey)
	if got := strings.Join(g.probes.calls, ","); got != "ensure,stop" {
		t.Errorf("calls to the probes: %s", got)
	}
	g.cycleAt(stop.Add(time.Second))

	r := g.onlyReport()
	if want := "robotic-surgery-20261123-080000"; r.Name != want {
		t.Errorf("report name %s, want %s", r.Name, want)
	}
	if r.Labels[LabelSliceUID] != string(testSlice(true).UID) || r.Annotations[AnnotationPeriodStart] != "2026-11-23T08:00:00Z" ||
		r.Annotations[AnnotationPeriodEnd] != "2026-11-23T08:02:01.6Z" || r.Annotations[AnnotationCompliance] != "0.991667" {
		t.Errorf("report metadata: labels %v, annotations %v", r.Labels, r.Annotations)
	}
	s := r.Spec
	if !s.Period.Start.Time.Equal(t0) || !s.Period.End.Time.Equal(stop) {
		t.Errorf("period %s to %s", s.Period.Start, s.Period.End)
	}
	if s.Measured.Windows != 120 || s.Measured.GoodWindows != 119 || s.Measured.Compliance != "0.991667" || len(s.Rollups) != 120 {
		t.Errorf("measured %+v, %d rollups", s.Measured, len(s.Rollups))
	}
	if s.Rollups[0].Sent != 20 {
		t.Errorf("a window of two devices counts %d probes, want 20", s.Rollups[0].Sent)
	}
	if len(s.Violations) != 1 || s.Violations[0].Metric != sla.MetricRTTP99 || s.Violations[0].Observed != "31ms (patient-cart)" ||
		s.Violations[0].End == nil || !s.Violations[0].End.Time.Equal(t0.Add(61*time.Second)) {
		t.Errorf("violations %+v", s.Violations)
	}
	if gs := gapsOf(r); len(gs) != 1 || gs[0].Reason != reasonTail || !gs[0].Start.Equal(t0.Add(120*time.Second)) {
		t.Errorf("gaps %+v, want the open windows at the end", gs)
	}
	if _, err := g.checkpointMap(); err == nil {
		t.Errorf("the checkpoint is kept after everything in it was sealed")
	}
}

// A device whose probes fall silent makes the slice's windows bad: the
// slice is not GO without every device's evidence, and the report says
// which device.
func TestSilentDeviceMakesTheSlicesWindowsBad(t *testing.T) {
	g := newRig(t, fakeClient(testSlice(true)), t0)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	g.probes.close(sliceKey, "patient-cart", run(t0, 90)...)
	g.probes.close(sliceKey, "vision-cart", run(t0, 30)...)
	g.cycleAt(t0.Add(91 * time.Second))
	g.clock.SetTime(t0.Add(91 * time.Second))
	g.rec.Stop(sliceKey)
	g.cycleAt(t0.Add(92 * time.Second))

	s := g.onlyReport().Spec
	if s.Measured.Windows != 90 || s.Measured.GoodWindows != 30 {
		t.Errorf("measured %d good of %d windows, want 30 of 90", s.Measured.GoodWindows, s.Measured.Windows)
	}
	if len(s.Violations) != 1 || s.Violations[0].Metric != sla.MetricNoSamples || !strings.Contains(s.Violations[0].Observed, "vision-cart") ||
		s.Violations[0].Windows != 60 {
		t.Errorf("violations %+v", s.Violations)
	}
}

// Windows one device had not closed yet when the probes stopped are not
// evidence of the slice: left out, and the span is a gap.
func TestWindowOpenOnOneDeviceAtStopIsLeftOut(t *testing.T) {
	g := newRig(t, fakeClient(testSlice(true)), t0)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	g.probes.close(sliceKey, "patient-cart", run(t0, 11)...)
	g.probes.close(sliceKey, "vision-cart", run(t0, 10)...)
	g.clock.SetTime(t0.Add(11500 * time.Millisecond))
	g.rec.Stop(sliceKey)
	g.cycleAt(t0.Add(12 * time.Second))
	r := g.onlyReport()
	if r.Spec.Measured.Windows != 10 {
		t.Errorf("%d windows, want 10", r.Spec.Measured.Windows)
	}
	if gs := gapsOf(r); len(gs) != 1 || !gs[0].Start.Equal(t0.Add(10*time.Second)) {
		t.Errorf("gaps %+v", gs)
	}
}

// A restart of the probes (the core lost a session) keeps the evidence
// before it, and states the windows lost with the reason.
func TestProbeResetIsAGapWithItsReason(t *testing.T) {
	g := newRig(t, fakeClient(testSlice(true)), t0)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		g.probes.close(sliceKey, d, run(t0, 20)...)
	}
	g.clock.SetTime(t0.Add(21 * time.Second))
	g.rec.Reset(sliceKey)
	for _, d := range []string{"patient-cart", "vision-cart"} {
		g.probes.close(sliceKey, d, run(t0.Add(23*time.Second), 10)...)
	}
	g.clock.SetTime(t0.Add(33 * time.Second))
	g.rec.Stop(sliceKey)
	g.cycleAt(t0.Add(34 * time.Second))
	r := g.onlyReport()
	if r.Spec.Measured.Windows != 30 {
		t.Errorf("%d windows, want 30", r.Spec.Measured.Windows)
	}
	gs := gapsOf(r)
	if len(gs) != 1 || !gs[0].Start.Equal(t0.Add(20*time.Second)) || !gs[0].End.Equal(t0.Add(23*time.Second)) || !strings.Contains(gs[0].Reason, "core lost a session") {
		t.Errorf("gaps %+v", gs)
	}
}

// DESIGN §7: an operator killed during an active slice loses at most one
// checkpoint interval of evidence, and the report says so: the windows
// closed after the last checkpoint lie inside the stated lost-evidence
// gap, which is no longer than the interval, and the time the operator
// was down is a second gap up to the first window after the restart.
// Everything checkpointed is in the report.
func TestOperatorCrashLosesAtMostOneInterval(t *testing.T) {
	c := fakeClient(testSlice(true))
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 50)...)
	}
	a.cycleAt(t0.Add(50500 * time.Millisecond)) // checkpoint: evidence up to 08:00:50
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0.Add(50*time.Second), 8)...) // closed after it, lost in the crash
	}
	a.cycleAt(t0.Add(58500 * time.Millisecond)) // harvested, but no checkpoint due yet
	lastLost := t0.Add(58 * time.Second)
	// SIGKILL at 08:00:59: a is never heard of again.

	b := newRig(t, c, t0.Add(80*time.Second))
	if err := b.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		b.probes.close(sliceKey, d, run(t0.Add(81*time.Second), 20)...)
	}
	stop := t0.Add(101 * time.Second)
	b.clock.SetTime(stop)
	b.rec.Stop(sliceKey)
	b.cycleAt(stop)

	r := b.onlyReport()
	if r.Spec.Measured.Windows != 70 {
		t.Errorf("%d windows, want the 50 checkpointed and the 20 after the restart", r.Spec.Measured.Windows)
	}
	gs := gapsOf(r)
	if len(gs) != 2 {
		t.Fatalf("gaps %+v, want lost evidence and time down", gs)
	}
	lost, down := gs[0], gs[1]
	t.Logf("lost evidence %s (%s to %s), operator down %s (%s to %s); checkpoint interval %s",
		lost.End.Sub(lost.Start), lost.Start.Format("15:04:05"), lost.End.Format("15:04:05"),
		down.End.Sub(down.Start), down.Start.Format("15:04:05"), down.End.Format("15:04:05"), b.rec.Interval)
	if !strings.HasPrefix(lost.Reason, "operator restarted") || !strings.HasPrefix(down.Reason, "operator not running") {
		t.Errorf("reasons %q, %q", lost.Reason, down.Reason)
	}
	if d := lost.End.Sub(lost.Start); d > DefaultInterval {
		t.Errorf("lost evidence stated as %s, more than one checkpoint interval", d)
	}
	if !lost.Start.Equal(t0.Add(50*time.Second)) || lastLost.After(lost.End) {
		t.Errorf("the lost gap %s to %s does not hold the windows lost, 08:00:50 to 08:00:58", lost.Start, lost.End)
	}
	if !down.Start.Equal(lost.End) || !down.End.Equal(t0.Add(81*time.Second)) {
		t.Errorf("down %s to %s, want from the lost gap's end to the first window after the restart", down.Start, down.End)
	}
}

// An operator back within a few seconds: the evidence lost ends no later
// than the restart, and the time down starts there.
func TestQuickRestartSplitsLostAndDownAtTheRestart(t *testing.T) {
	c := fakeClient(testSlice(true))
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 50)...)
	}
	a.cycleAt(t0.Add(50500 * time.Millisecond))
	restart := t0.Add(53500 * time.Millisecond)
	b := newRig(t, c, restart)
	if err := b.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		b.probes.close(sliceKey, d, run(t0.Add(55*time.Second), 5)...)
	}
	b.clock.SetTime(t0.Add(60 * time.Second))
	b.rec.Stop(sliceKey)
	b.cycleAt(t0.Add(60 * time.Second))
	gs := gapsOf(b.onlyReport())
	if len(gs) != 2 || !gs[0].End.Equal(restart) || !gs[1].Start.Equal(restart) || !gs[1].End.Equal(t0.Add(55*time.Second)) {
		t.Errorf("gaps %+v, want lost evidence up to the restart at %s and time down from there", gs, restart)
	}
}

// A clean shutdown writes a last checkpoint saying when it stopped: the
// report states exactly that instant instead of a bound.
func TestCleanShutdownStatesWhenTheOperatorStopped(t *testing.T) {
	c := fakeClient(testSlice(true))
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 40)...)
	}
	a.cycleAt(t0.Add(40500 * time.Millisecond))
	a.clock.SetTime(t0.Add(45 * time.Second))
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0.Add(40*time.Second), 4)...)
	}
	a.rec.cycle(context.Background(), true)

	b := newRig(t, c, t0.Add(60*time.Second))
	if err := b.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		b.probes.close(sliceKey, d, run(t0.Add(61*time.Second), 5)...)
	}
	b.clock.SetTime(t0.Add(66 * time.Second))
	b.rec.Stop(sliceKey)
	b.cycleAt(t0.Add(66 * time.Second))
	r := b.onlyReport()
	if r.Spec.Measured.Windows != 49 {
		t.Errorf("%d windows, want 44 kept through the shutdown and 5 after", r.Spec.Measured.Windows)
	}
	gs := gapsOf(r)
	if len(gs) != 2 || !gs[0].Start.Equal(t0.Add(44*time.Second)) || !gs[0].End.Equal(t0.Add(45*time.Second)) ||
		!strings.HasPrefix(gs[0].Reason, "operator shut down") || !gs[1].End.Equal(t0.Add(61*time.Second)) {
		t.Errorf("gaps %+v", gs)
	}
}

// A checkpoint changed by anyone but the operator is not trusted: its
// evidence is left out, and the report states the span since the
// checkpoint was created as a gap with the reason.
func TestTamperedCheckpointBecomesAGap(t *testing.T) {
	c := fakeClient(testSlice(true))
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 50)...)
	}
	a.cycleAt(t0.Add(50500 * time.Millisecond))
	cm, err := a.checkpointMap()
	if err != nil {
		t.Fatal(err)
	}
	cm.BinaryData[keyPayload][len(cm.BinaryData[keyPayload])/2] ^= 0x01
	cm.CreationTimestamp = metav1.NewTime(t0.Add(10 * time.Second)) // as the API server would have set it
	if err := c.Update(context.Background(), cm); err != nil {
		t.Fatal(err)
	}
	created := a.mustCheckpointMap().CreationTimestamp.Time

	b := newRig(t, c, t0.Add(80*time.Second))
	if err := b.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		b.probes.close(sliceKey, d, run(t0.Add(81*time.Second), 20)...)
	}
	b.clock.SetTime(t0.Add(101 * time.Second))
	b.rec.Stop(sliceKey)
	b.cycleAt(t0.Add(101 * time.Second))
	r := b.onlyReport()
	if r.Spec.Measured.Windows != 20 {
		t.Errorf("%d windows, want only the 20 after the restart", r.Spec.Measured.Windows)
	}
	gs := gapsOf(r)
	if created.IsZero() || len(gs) != 1 || !gs[0].Start.Equal(created.Truncate(time.Microsecond)) || !gs[0].End.Equal(t0.Add(81*time.Second)) ||
		!strings.Contains(gs[0].Reason, "failed verification") {
		t.Errorf("gaps %+v, want one from the checkpoint's creation %s saying it failed verification", gs, created)
	}
	t.Logf("stated: %s", gs[0].Reason)
}

// decode refuses every alteration of a checkpoint: its payload, its key
// id, its signature, and the whole checkpoint moved to another slice.
func TestCheckpointVerification(t *testing.T) {
	signer := testSigner(t)
	ring := report.KeyRing{}
	ring.Add(signer.Public())
	l := &ledger{}
	for _, w := range run(t0, 30) {
		l.add(window{WindowRollup: w}, targets(), func(time.Time) (time.Time, bool) { return t0.Add(time.Hour), false }, time.UTC)
	}
	ref, _, err := refOf(testSlice(true))
	if err != nil {
		t.Fatal(err)
	}
	name := checkpointName(sliceKey)
	data, err := encode(&checkpoint{Version: checkpointVersion, Slice: ref, Written: t0, Interval: DefaultInterval, Ledger: l}, name, signer)
	if err != nil {
		t.Fatal(err)
	}
	cmOf := func(name string, data map[string][]byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: operatorNS},
			Data:       map[string]string{keySignature: string(data[keySignature]), keyKeyID: string(data[keyKeyID])},
			BinaryData: map[string][]byte{keyPayload: bytes.Clone(data[keyPayload])}}
	}
	cp, err := decode(cmOf(name, data), ring)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON(t, cp.Ledger), mustJSON(t, l); got != want {
		t.Errorf("round trip changed the ledger:\n%s\n%s", got, want)
	}
	other, _ := report.GenerateEd25519Signer(nil)
	otherData, _ := encode(&checkpoint{Version: checkpointVersion, Slice: ref, Written: t0, Ledger: l}, name, other)
	for what, cm := range map[string]*corev1.ConfigMap{
		"payload byte flipped": func() *corev1.ConfigMap {
			cm := cmOf(name, data)
			cm.BinaryData[keyPayload][10] ^= 0x80
			return cm
		}(),
		"signature of another key": cmOf(name, otherData),
		"signature removed": func() *corev1.ConfigMap {
			cm := cmOf(name, data)
			delete(cm.Data, keySignature)
			return cm
		}(),
		"moved to another slice": cmOf(checkpointName(types.NamespacedName{Namespace: sliceNS, Name: "other"}), data),
	} {
		if _, err := decode(cm, ring); err == nil || !strings.Contains(err.Error(), errUntrusted.Error()) {
			t.Errorf("%s: decode says %v, want %v", what, err, errUntrusted)
		}
	}
}

// Sealing again after a crash between the report's creation and the
// checkpoint's deletion finds the report and makes no second one.
func TestSealingAgainAfterACrashMakesNoSecondReport(t *testing.T) {
	c := fakeClient(testSlice(true))
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 30)...)
	}
	a.clock.SetTime(t0.Add(31 * time.Second))
	a.rec.Stop(sliceKey)
	a.rec.checkpoint(context.Background(), a.clock.Now(), false) // the closed period, checkpointed
	saved := a.mustCheckpointMap().DeepCopy()
	a.cycleAt(t0.Add(32 * time.Second))
	first := a.onlyReport()
	if _, err := a.checkpointMap(); err == nil {
		t.Fatal("checkpoint kept after sealing")
	}
	// The crash: the checkpoint's deletion never happened.
	saved.ResourceVersion = ""
	if err := c.Create(context.Background(), saved); err != nil {
		t.Fatal(err)
	}
	b := newRig(t, c, t0.Add(40*time.Second))
	b.cycleAt(t0.Add(40 * time.Second))
	if again := b.onlyReport(); again.Name != first.Name || again.Spec.Signature.Value != first.Spec.Signature.Value {
		t.Errorf("report changed: %s, want %s unchanged", again.Name, first.Name)
	}
	if _, err := b.checkpointMap(); err == nil {
		t.Errorf("checkpoint kept after sealing again")
	}
}

// An open-ended slice is sealed daily at midnight in the operator's time
// zone, and at its end: the second day's report starts at midnight.
func TestOpenEndedSliceIsSealedAtMidnightAndAtItsEnd(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, berlin)
	start := midnight.Add(-2 * time.Minute)
	g := newRig(t, fakeClient(testSlice(false)), start)
	g.rec.Location = berlin
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		g.probes.close(sliceKey, d, run(start, 60)...)
	}
	g.cycleAt(start.Add(61 * time.Second))
	for _, d := range []string{"patient-cart", "vision-cart"} {
		g.probes.close(sliceKey, d, run(start.Add(60*time.Second), 180)...)
	}
	g.cycleAt(midnight.Add(61 * time.Second))
	rs := g.reports()
	if len(rs) != 1 {
		t.Fatalf("%d reports a minute after midnight, want the day's", len(rs))
	}
	day := rs[0]
	g.verify(&day)
	if !day.Spec.Period.End.Time.Equal(midnight) || day.Spec.Measured.Windows != 120 {
		t.Errorf("the day's report: %s to %s, %d windows", day.Spec.Period.Start, day.Spec.Period.End, day.Spec.Measured.Windows)
	}
	end := midnight.Add(2 * time.Minute)
	g.clock.SetTime(end)
	g.rec.Stop(sliceKey)
	g.cycleAt(end)
	rs = g.reports()
	if len(rs) != 2 {
		t.Fatalf("%d reports after the end, want 2", len(rs))
	}
	var next v1alpha1.SLAReport
	for _, r := range rs {
		if r.Name != day.Name {
			next = r
		}
	}
	g.verify(&next)
	if !next.Spec.Period.Start.Time.Equal(midnight) || next.Spec.Measured.Windows != 120 {
		t.Errorf("the second report: %s to %s, %d windows", next.Spec.Period.Start, next.Spec.Period.End, next.Spec.Measured.Windows)
	}
	t.Logf("reports %s (%s to %s) and %s (%s to %s)", day.Name, day.Spec.Period.Start.In(berlin).Format("15:04"), day.Spec.Period.End.In(berlin).Format("15:04"),
		next.Name, next.Spec.Period.Start.In(berlin).Format("15:04"), next.Spec.Period.End.In(berlin).Format("15:04:05"))
}

// A day of an open-ended slice whose probes fell silent before midnight
// is still sealed, once midnight has passed and the last windows would
// have closed.
func TestSilentDayIsSealedAfterMidnight(t *testing.T) {
	midnight := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	start := midnight.Add(-time.Minute)
	g := newRig(t, fakeClient(testSlice(false)), start)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		g.probes.close(sliceKey, d, run(start, 30)...)
	}
	g.cycleAt(start.Add(31 * time.Second))
	g.cycleAt(midnight.Add(time.Second))
	if n := len(g.reports()); n != 0 {
		t.Fatalf("sealed %d reports before the day's last windows could close", n)
	}
	g.cycleAt(midnight.Add(10 * time.Second))
	r := g.onlyReport()
	if !r.Spec.Period.End.Time.Equal(midnight) {
		t.Errorf("period ends %s", r.Spec.Period.End)
	}
}

// A restored ledger that nobody probes again is sealed as it is, ending
// at its booking's end, with the time after the checkpoint as gaps.
func TestRestoredLedgerNobodyClaimsIsSealed(t *testing.T) {
	sl := testSlice(true)
	sl.Spec.Schedule.End = metav1.NewTime(t0.Add(70 * time.Second))
	c := fakeClient(sl)
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 50)...)
	}
	a.cycleAt(t0.Add(50500 * time.Millisecond))

	b := newRig(t, c, t0.Add(5*time.Minute))
	b.cycleAt(t0.Add(5*time.Minute + 30*time.Second))
	if n := len(b.reports()); n != 0 {
		t.Fatalf("sealed before the slice could be claimed")
	}
	b.cycleAt(t0.Add(6*time.Minute + time.Second))
	r := b.onlyReport()
	if !r.Spec.Period.End.Time.Equal(t0.Add(70*time.Second)) || r.Spec.Measured.Windows != 50 {
		t.Errorf("period to %s, %d windows; want to the booked end with the 50 checkpointed", r.Spec.Period.End, r.Spec.Measured.Windows)
	}
}

// Checkpoints the operator could not load at start are loaded at a later
// cycle and never overwritten before: the slice probed meanwhile gets its
// report, and the restored evidence is sealed on its own.
func TestCheckpointsLoadedLateAreNotOverwritten(t *testing.T) {
	c := fakeClient(testSlice(true))
	a := newRig(t, c, t0)
	if err := a.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		a.probes.close(sliceKey, d, run(t0, 50)...)
	}
	a.cycleAt(t0.Add(50500 * time.Millisecond))

	// b starts without the checkpoints (the list failed) and gives up waiting.
	b := &rig{t: t, probes: newFakeProbes(), clock: clocktesting.NewFakeClock(t0.Add(70 * time.Second)), c: c, signer: a.signer}
	b.rec = &Recorder{Probes: b.probes, Client: c, Reader: c, Namespace: operatorNS, Signer: b.signer, Clock: b.clock, Log: logr.Discard()}
	b.rec.init()
	b.rec.gaveUp.Store(true)
	if err := b.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		b.probes.close(sliceKey, d, run(t0.Add(71*time.Second), 10)...)
	}
	b.rec.cycle(context.Background(), false) // no restore yet: must not write
	if cp, err := decode(b.mustCheckpointMap(), report.KeyRing{b.signer.KeyID(): b.signer.Public()}); err != nil || cp.Ledger.Until != t0.Add(50*time.Second) {
		t.Fatalf("the checkpoint of before the restart was overwritten before it was loaded")
	}
	if err := b.rec.restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.clock.SetTime(t0.Add(81 * time.Second))
	b.rec.Stop(sliceKey)
	b.cycleAt(t0.Add(82 * time.Second))
	rs := b.reports()
	if len(rs) != 2 {
		t.Fatalf("%d reports, want the restored evidence's and the new one's", len(rs))
	}
	for _, r := range rs {
		b.verify(&r)
		t.Logf("report %s: %s to %s, %d windows", r.Name, r.Spec.Period.Start.Format("15:04:05"), r.Spec.Period.End.Format("15:04:05"), r.Spec.Measured.Windows)
	}
}

// Nothing is written for idle slices: a slice without new windows does
// not rewrite its checkpoint.
func TestIdleSlicesDoNotWrite(t *testing.T) {
	g := newRig(t, fakeClient(testSlice(true)), t0)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"patient-cart", "vision-cart"} {
		g.probes.close(sliceKey, d, run(t0, 10)...)
	}
	g.cycleAt(t0.Add(11 * time.Second))
	rv := g.mustCheckpointMap().ResourceVersion
	g.cycleAt(t0.Add(22 * time.Second))
	g.cycleAt(t0.Add(33 * time.Second))
	if got := g.mustCheckpointMap().ResourceVersion; got != rv {
		t.Errorf("checkpoint rewritten without new windows (resourceVersion %s, then %s)", rv, got)
	}
}

func (g *rig) checkpointMap() (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	err := g.c.Get(context.Background(), client.ObjectKey{Namespace: operatorNS, Name: checkpointName(sliceKey)}, &cm)
	return &cm, err
}

func (g *rig) mustCheckpointMap() *corev1.ConfigMap {
	g.t.Helper()
	cm, err := g.checkpointMap()
	if err != nil {
		g.t.Fatal(err)
	}
	return cm
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

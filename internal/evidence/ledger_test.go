package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
)

// varied makes n windows from start whose medians vary, a few bad and a
// few without replies, so that merging has something to get wrong.
func varied(start time.Time, n int) []sla.WindowRollup {
	out := make([]sla.WindowRollup, n)
	for i := range out {
		w := good(start.Add(time.Duration(i)*time.Second), time.Duration(3000+(i*7919)%5000)*time.Microsecond)
		w.RTTP99 = w.RTTP50 + time.Duration(i%13)*100*time.Microsecond
		w.RTTMax = w.RTTP99 + time.Millisecond
		switch {
		case i%997 == 3:
			w.Received, w.Lost, w.Met = 0, 10, false
			w.RTTP50, w.RTTP99, w.RTTMax, w.JitterP99 = 0, 0, 0, 0
			w.Failed = []sla.Breach{{Metric: sla.MetricLoss, Observed: "1", Target: "0.001"}}
		case i%331 == 7:
			w = slow(w.Start)
		}
		out[i] = w
	}
	return out
}

func fixedPlan(end time.Time) planner {
	return func(time.Time) (time.Time, bool) { return end, false }
}

// The ledger merges windows into intervals as report.Build would merge
// them for the planned period, so that a report sealed from the ledger
// (which holds 2,000 intervals, never 7,200 windows) says exactly what
// Build says of the raw windows: the same rollups, figures and violations.
func TestLedgerIntervalsAreThoseOfReportBuild(t *testing.T) {
	const n = 7200 // two hours of 1 s windows: intervals of 4 windows
	ws := varied(t0, n)
	end := t0.Add(n * time.Second)
	l := &ledger{}
	for _, w := range ws {
		win := window{WindowRollup: w}
		for _, b := range w.Failed {
			win.consider(b, "d", severity(b, w))
		}
		if win.Worst != nil {
			win.Worst.Observed = w.Failed[0].Observed // the violations below name no device
		}
		l.add(win, targets(), fixedPlan(end), time.UTC)
	}
	l.close(end, "", false)
	p := l.Periods[0]
	if p.Per != 4 || len(p.Intervals) != 1800 {
		t.Fatalf("per %d, %d intervals; want 4 and 1800", p.Per, len(p.Intervals))
	}
	slice := testSlice(true)
	ref, _, err := refOf(slice)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sealReport(ref, p, testSigner(t))
	if err != nil {
		t.Fatal(err)
	}
	var violations []sla.Violation
	for _, w := range ws {
		if w.Met {
			if k := len(violations); k > 0 && violations[k-1].End.IsZero() {
				violations[k-1].End = w.Start
			}
			continue
		}
		if k := len(violations); k > 0 && violations[k-1].End.IsZero() {
			violations[k-1].Windows++
			continue
		}
		violations = append(violations, sla.Violation{Start: w.Start, Metric: w.Failed[0].Metric, Observed: w.Failed[0].Observed, Target: w.Failed[0].Target, Windows: 1})
	}
	want, err := report.Build(slice, ws, violations, targets(), report.Period{Start: t0, End: end}, nil)
	if err != nil {
		t.Fatal(err)
	}
	unsealed := func(s v1alpha1.SLAReportSpec) v1alpha1.SLAReportSpec {
		s.Rollups = slices.Clone(s.Rollups)
		for i := range s.Rollups {
			s.Rollups[i].Hash = ""
		}
		s.Chain, s.Signature = v1alpha1.SLAReportChain{}, v1alpha1.SLAReportSignature{}
		return s
	}
	if got, want := unsealed(got.Spec), unsealed(*want); !reflect.DeepEqual(got, want) {
		for i := range min(len(got.Rollups), len(want.Rollups)) {
			if got.Rollups[i] != want.Rollups[i] {
				t.Errorf("rollup %d: ledger %+v, Build %+v", i, got.Rollups[i], want.Rollups[i])
				break
			}
		}
		got.Rollups, want.Rollups = nil, nil
		t.Errorf("the ledger's report differs from report.Build on the raw windows:\nledger %s\nBuild  %s", mustJSON(t, got), mustJSON(t, want))
	}
}

// A booking extended beyond its plan keeps the report within bounds:
// intervals are merged in pairs as the period grows.
func TestLedgerOutgrowingItsPlanStaysBounded(t *testing.T) {
	l := &ledger{}
	plannedEnd := t0.Add(2000 * time.Second) // planned for one window per interval
	for _, w := range run(t0, 9000) {
		l.add(window{WindowRollup: w}, targets(), fixedPlan(plannedEnd), time.UTC)
	}
	p := l.open()
	if len(p.Intervals) > v1alpha1.MaxReportRollups {
		t.Fatalf("%d intervals", len(p.Intervals))
	}
	var windows int64
	for _, iv := range p.Intervals {
		windows += iv.Windows
	}
	if windows != 9000 {
		t.Errorf("%d windows in the intervals, want 9000", windows)
	}
	t.Logf("9000 windows planned as 2000: %d intervals of %d windows", len(p.Intervals), p.Per)
}

// When more runs of bad windows occur than a report keeps, the longest
// are kept and the others counted as omitted.
func TestLedgerKeepsTheLongestViolations(t *testing.T) {
	l := &ledger{}
	end := t0.Add(4 * time.Hour)
	at := t0
	for i := range v1alpha1.MaxReportViolations + 100 {
		bad := 1
		if i%5 == 0 {
			bad = 3
		}
		for range bad {
			w := window{WindowRollup: slow(at), Worst: &sla.Breach{Metric: sla.MetricRTTP99, Observed: "31ms", Target: "20ms"}, Severity: 1.55}
			l.add(w, targets(), fixedPlan(end), time.UTC)
			at = at.Add(time.Second)
		}
		l.add(window{WindowRollup: good(at, 4*time.Millisecond)}, targets(), fixedPlan(end), time.UTC)
		at = at.Add(time.Second)
	}
	p := l.open()
	long := 0
	for _, v := range p.Violations {
		if v.Windows == 3 {
			long++
		}
	}
	if len(p.Violations) != v1alpha1.MaxReportViolations || p.Omitted != 100 || long != 120 {
		t.Errorf("%d violations (%d long), %d omitted; want %d with all 120 long ones, 100 omitted", len(p.Violations), long, p.Omitted, v1alpha1.MaxReportViolations)
	}
}

// B5's shape through the Recorder: a 24 h booking of two devices at 1 s
// windows, harvested every five minutes from trackers that keep ten
// minutes, checkpointed and sealed. The report keeps at most 2,000
// rollups and fits etcd's object size with room; the checkpoint fits a
// ConfigMap.
func TestDaySliceFitsAReportAndACheckpoint(t *testing.T) {
	sl := testSlice(true)
	sl.Spec.Schedule.End.Time = t0.Add(24 * time.Hour)
	c := fakeClient(sl)
	g := newRig(t, c, t0)
	if err := g.rec.Ensure(sliceKey, bothDevices); err != nil {
		t.Fatal(err)
	}
	const step = 300
	var biggest int
	for i := 0; i < 86400; i += step {
		ws := varied(t0.Add(time.Duration(i)*time.Second), step)
		g.probes.close(sliceKey, "patient-cart", ws...)
		g.probes.close(sliceKey, "vision-cart", ws...)
		g.cycleAt(t0.Add(time.Duration(i+step)*time.Second + 500*time.Millisecond))
		if cm, err := g.checkpointMap(); err == nil {
			biggest = max(biggest, len(cm.BinaryData[keyPayload]))
		}
	}
	stop := t0.Add(24*time.Hour + 2*time.Second)
	g.clock.SetTime(stop)
	g.rec.Stop(sliceKey)
	began := time.Now()
	g.cycleAt(stop)
	sealTook := time.Since(began)
	r := g.onlyReport()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(r); err != nil {
		t.Fatal(err)
	}
	t.Logf("24 h, 2 devices: report %d bytes as JSON, %d rollups of %s, %d windows, %d violations (%d omitted), %d gaps; largest checkpoint %d bytes compressed; seal and create %s",
		buf.Len(), len(r.Spec.Rollups), r.Spec.Interval, r.Spec.Measured.Windows, len(r.Spec.Violations), r.Spec.ViolationsOmitted, len(r.Spec.Gaps), biggest, sealTook.Round(time.Millisecond))
	if len(r.Spec.Rollups) > v1alpha1.MaxReportRollups || r.Spec.Measured.Windows != 86400 || r.Spec.Interval != "44s" {
		t.Errorf("%d rollups of %s for %d windows", len(r.Spec.Rollups), r.Spec.Interval, r.Spec.Measured.Windows)
	}
	if buf.Len() > 1<<20 {
		t.Errorf("a day's report is %d bytes: too close to etcd's 1.5 MiB", buf.Len())
	}
	if biggest > 512<<10 {
		t.Errorf("a day's checkpoint is %d bytes compressed", biggest)
	}
	if err := c.Get(context.Background(), sliceKey, sl); err != nil {
		t.Fatal(err)
	}
}

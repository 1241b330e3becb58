package evidence

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
)

// ReportName is the name of the SLAReport of a slice's period starting at
// start: the same for every attempt, so that sealing again after a crash
// finds the report made before (AlreadyExists) instead of making two.
func ReportName(slice string, start time.Time) string {
	stamp := start.UTC().Format("20060102-150405")
	if ms := start.Nanosecond() / int(time.Millisecond); ms != 0 {
		stamp += fmt.Sprintf("-%03d", ms)
	}
	if room := 253 - 1 - len(stamp); len(slice) > room {
		slice = strings.TrimRight(slice[:room], "-.")
	}
	return slice + "-" + stamp
}

// sealReport builds and signs the SLAReport of a closed period.
//
// report.Build merges windows into intervals itself when a period holds
// more than a report keeps; the ledger has done that already, to bound
// what it holds and checkpoints, so each of its intervals is given to
// Build as one rollup and the window counts Build cannot know are put
// back before sealing: each rollup's windows and good windows, and the
// period's totals and compliance, computed as Build computes them (Verify
// recomputes them from the rollups and checks).
func sealReport(ref sliceRef, p *period, signer report.Signer) (*v1alpha1.SLAReport, error) {
	if !p.closed() {
		return nil, fmt.Errorf("period from %s is still open", p.Start.UTC().Format(time.RFC3339))
	}
	slice := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name, UID: ref.UID}}
	if len(ref.Spec) > 0 {
		if err := json.Unmarshal(ref.Spec, &slice.Spec); err != nil {
			return nil, fmt.Errorf("the slice's recorded spec: %w", err)
		}
	}
	var in []interval
	var rollups []sla.WindowRollup
	for _, iv := range p.Intervals {
		if iv.Start.Before(p.Start) || !iv.Start.Before(p.End) {
			continue // as Build leaves them out
		}
		in = append(in, iv)
		rollups = append(rollups, sla.WindowRollup{
			Start: iv.Start, End: iv.End, Sent: int(iv.Sent), Received: int(iv.Received), Lost: int(iv.Lost),
			RTTP50: iv.RTTP50, RTTP99: iv.RTTP99, RTTMax: iv.RTTMax, JitterP99: iv.JitterP99,
			Met: iv.Good == iv.Windows,
		})
	}
	gaps := make([]report.Gap, 0, len(p.Gaps))
	for _, g := range p.Gaps {
		gaps = append(gaps, report.Gap{Start: g.Start, End: g.End, Reason: g.Reason})
	}
	spec, err := report.Build(slice, rollups, p.Violations, p.Targets, report.Period{Start: p.Start, End: p.End}, gaps)
	if err != nil {
		return nil, err
	}
	spec.Gaps = dropCovered(spec.Gaps, gaps)
	if len(spec.Rollups) != len(in) {
		return nil, fmt.Errorf("report.Build made %d rollups of %d intervals", len(spec.Rollups), len(in))
	}
	var windows, good int64
	for i := range spec.Rollups {
		spec.Rollups[i].Windows, spec.Rollups[i].GoodWindows = in[i].Windows, in[i].Good
		windows += in[i].Windows
		good += in[i].Good
	}
	spec.Measured.Windows, spec.Measured.GoodWindows = windows, good
	if windows > 0 {
		spec.Measured.Compliance = strconv.FormatFloat(float64(good)/float64(windows), 'f', 6, 64)
	}
	spec.Interval = (time.Duration(p.Per) * p.Targets.Window).String()
	spec.ViolationsOmitted += p.Omitted
	if err := report.Seal(spec, signer); err != nil {
		return nil, err
	}
	return &v1alpha1.SLAReport{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ref.Namespace, Name: ReportName(ref.Name, p.Start),
			Labels: map[string]string{"app.kubernetes.io/part-of": "medslice", LabelSliceUID: string(ref.UID)},
			Annotations: map[string]string{
				AnnotationPeriodStart: spec.Period.Start.UTC().Format(time.RFC3339Nano),
				AnnotationPeriodEnd:   spec.Period.End.UTC().Format(time.RFC3339Nano),
				AnnotationCompliance:  spec.Measured.Compliance,
			},
		},
		Spec: *spec,
	}, nil
}

// Metadata of the reports the Recorder writes, so that a slice's reports
// can be listed without reading them whole (a day's report is hundreds of
// kilobytes): by label, with the period and compliance in annotations.
// They are conveniences, outside what the signature covers; the spec is
// the evidence.
const (
	LabelSliceUID         = "medslice.io/slice-uid"
	AnnotationPeriodStart = "medslice.io/period-start"
	AnnotationPeriodEnd   = "medslice.io/period-end"
	AnnotationCompliance  = "medslice.io/compliance"
)

// dropCovered removes the gaps report.Build added itself (spans without
// rollups that no single given gap covers) where the given gaps cover
// them together: a restart is stated as evidence lost, then time down,
// and Build must not state the same span a third time.
func dropCovered(out []v1alpha1.SLAReportGap, given []report.Gap) []v1alpha1.SLAReportGap {
	isGiven := func(g v1alpha1.SLAReportGap) bool {
		return slices.ContainsFunc(given, func(h report.Gap) bool {
			return h.Reason == g.Reason && h.Start.Truncate(time.Microsecond).Equal(g.Start.Time) && h.End.Truncate(time.Microsecond).Equal(g.End.Time)
		})
	}
	covered := func(g v1alpha1.SLAReportGap) bool {
		cursor := g.Start.Time
		for _, h := range slices.SortedFunc(slices.Values(given), func(a, b report.Gap) int { return a.Start.Compare(b.Start) }) {
			if h.Start.After(cursor) {
				break
			}
			cursor = maxTime(cursor, h.End)
		}
		return !cursor.Before(g.End.Time)
	}
	return slices.DeleteFunc(out, func(g v1alpha1.SLAReportGap) bool { return !isGiven(g) && covered(g) })
}

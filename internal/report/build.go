package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/sla"
)

// Period is the span a report covers, [Start, End).
type Period struct {
	Start, End time.Time
}

// Gap is a span of the period without evidence, with the reason, e.g. an
// operator restart that lost the windows since the last checkpoint.
type Gap struct {
	Start, End time.Time
	Reason     string
}

// ReasonNoWindows is the reason of a gap that Build finds itself: a span of
// at least one window with no rollup, that the caller did not explain.
const ReasonNoWindows = "no closed windows: probes silent or evidence lost between checkpoints"

// Build assembles the report of slice over period from the closed windows
// of its probes (oldest first, as sla.Tracker.Rollups and
// probe.Manager.Rollups return them), the violations, the targets the
// windows were judged against and the known gaps. Windows starting outside
// the period are left out. When more than v1alpha1.MaxReportRollups windows
// remain they are merged into intervals of a whole number of windows (see
// SLAReportRollup for how). Spans of at least one window without a rollup
// and not covered by a given gap are added as gaps. The result is not
// sealed: call Seal.
func Build(slice *v1alpha1.MedicalSlice, rollups []sla.WindowRollup, violations []sla.Violation, targets sla.Targets, period Period, gaps []Gap) (*v1alpha1.SLAReportSpec, error) {
	if slice == nil {
		return nil, errors.New("report: no slice")
	}
	if slice.UID == "" {
		return nil, fmt.Errorf("report: slice %s has no uid", slice.Name)
	}
	if err := targets.Validate(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	period.Start, period.End = micro(period.Start), micro(period.End)
	if !period.End.After(period.Start) {
		return nil, fmt.Errorf("report: period end %s is not after its start %s", period.End.Format(time.RFC3339Nano), period.Start.Format(time.RFC3339Nano))
	}
	sliceSpec, err := json.Marshal(slice.Spec)
	if err != nil {
		return nil, fmt.Errorf("report: encoding the slice spec: %w", err)
	}

	var in []sla.WindowRollup
	for _, r := range rollups {
		if !r.Start.Before(period.Start) && r.Start.Before(period.End) {
			in = append(in, r)
		}
	}
	groups, interval := coarsen(in, period, targets.Window)

	spec := &v1alpha1.SLAReportSpec{
		Slice:     v1alpha1.SLAReportSliceRef{Name: slice.Name, UID: string(slice.UID)},
		SliceSpec: string(sliceSpec),
		Period:    v1alpha1.SLAReportPeriod{Start: mt(period.Start), End: mt(period.End)},
		Interval:  interval.String(),
		Targets:   reportTargets(targets),
		Chain:     v1alpha1.SLAReportChain{Algorithm: v1alpha1.ChainAlgorithmSHA256},
		Signature: v1alpha1.SLAReportSignature{Algorithm: v1alpha1.SignatureAlgorithmEd25519},
	}
	for _, g := range groups {
		spec.Rollups = append(spec.Rollups, merge(g))
	}
	spec.Measured = measure(spec.Rollups)
	spec.Violations, spec.ViolationsOmitted = reportViolations(violations, period)
	spec.Gaps = reportGaps(in, gaps, period, targets.Window)
	return spec, nil
}

// coarsen groups the windows into at most MaxReportRollups intervals: one
// window each when they fit, else buckets of k windows aligned on the
// period's start, k as small as fits.
func coarsen(in []sla.WindowRollup, period Period, window time.Duration) ([][]sla.WindowRollup, time.Duration) {
	if len(in) <= v1alpha1.MaxReportRollups {
		groups := make([][]sla.WindowRollup, len(in))
		for i := range in {
			groups[i] = in[i : i+1]
		}
		return groups, window
	}
	span := period.End.Sub(period.Start)
	k := max(int64(2), ceilDiv(int64(span), int64(v1alpha1.MaxReportRollups)*int64(window)))
	for {
		interval := time.Duration(k) * window
		var groups [][]sla.WindowRollup
		last := int64(-1)
		for i, r := range in {
			b := int64(r.Start.Sub(period.Start) / interval)
			if b != last || len(groups) == 0 {
				groups = append(groups, in[i:i+1])
				last = b
				continue
			}
			g := groups[len(groups)-1]
			groups[len(groups)-1] = g[:len(g)+1] // in[i] follows g in in
		}
		if len(groups) <= v1alpha1.MaxReportRollups {
			return groups, interval
		}
		k *= 2 // only when windows overlap (a clock stepped back) and a bucket recurs
	}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// merge rolls consecutive windows into one interval: counts summed, p99s
// and maximum the highest (never better than any window), p50 the median of
// the window medians.
func merge(ws []sla.WindowRollup) v1alpha1.SLAReportRollup {
	var out v1alpha1.SLAReportRollup
	start, end := ws[0].Start, ws[0].End
	var p50s []time.Duration
	var p99, maxRTT, jitter time.Duration
	for _, w := range ws {
		if w.Start.Before(start) {
			start = w.Start
		}
		if w.End.After(end) {
			end = w.End
		}
		out.Windows++
		if w.Met {
			out.GoodWindows++
		}
		out.Sent += int64(w.Sent)
		out.Received += int64(w.Received)
		out.Lost += int64(w.Lost)
		if w.Received > 0 {
			p50s = append(p50s, w.RTTP50)
		}
		p99, maxRTT, jitter = max(p99, w.RTTP99), max(maxRTT, w.RTTMax), max(jitter, w.JitterP99)
	}
	out.Start, out.End = mt(micro(start)), mt(micro(end))
	out.RTTP50 = formatDuration(median(p50s))
	out.RTTP99 = formatDuration(p99)
	out.RTTMax = formatDuration(maxRTT)
	out.JitterP99 = formatDuration(jitter)
	out.LossRatio = formatRatio(out.Lost, out.Sent)
	out.Met = out.GoodWindows == out.Windows
	return out
}

// measure computes the period's figures from the rollups. Verify computes
// them the same way and compares.
func measure(rs []v1alpha1.SLAReportRollup) v1alpha1.SLAReportMeasured {
	var m v1alpha1.SLAReportMeasured
	var p50s []time.Duration
	var p99, maxRTT, jitter time.Duration
	var sent, lost int64
	for _, r := range rs {
		m.Windows += r.Windows
		m.GoodWindows += r.GoodWindows
		sent += r.Sent
		lost += r.Lost
		if r.Received > 0 {
			p50s = append(p50s, parseDuration(r.RTTP50))
		}
		p99 = max(p99, parseDuration(r.RTTP99))
		maxRTT = max(maxRTT, parseDuration(r.RTTMax))
		jitter = max(jitter, parseDuration(r.JitterP99))
	}
	if len(p50s) > 0 {
		m.RTTP50 = formatDuration(median(p50s))
		m.RTTP99 = formatDuration(p99)
		m.RTTMax = formatDuration(maxRTT)
		m.JitterP99 = formatDuration(jitter)
	}
	if sent > 0 {
		m.LossRatio = formatRatio(lost, sent)
	}
	if m.Windows > 0 {
		m.Compliance = strconv.FormatFloat(float64(m.GoodWindows)/float64(m.Windows), 'f', 6, 64)
	}
	return m
}

// median is the lower nearest-rank median, 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)+1)/2-1]
}

func reportTargets(t sla.Targets) v1alpha1.SLAReportTargets {
	var out v1alpha1.SLAReportTargets
	if t.RTTP99 > 0 {
		out.RTTP99 = formatDuration(t.RTTP99)
	}
	if t.JitterP99 > 0 {
		out.JitterP99 = formatDuration(t.JitterP99)
	}
	if t.LossRatio >= 0 {
		out.LossRatio = strconv.FormatFloat(t.LossRatio, 'g', -1, 64)
	}
	if t.AvailabilityPercent >= 0 {
		out.AvailabilityPercent = strconv.FormatFloat(t.AvailabilityPercent, 'f', -1, 64)
	}
	out.Window = t.Window.String()
	return out
}

// reportViolations keeps the violations that overlap the period; when more
// than fit, the longest (by bad windows) are kept, in time order.
func reportViolations(vs []sla.Violation, period Period) ([]v1alpha1.SLAReportViolation, int64) {
	var in []sla.Violation
	for _, v := range vs {
		if v.Start.Before(period.End) && (v.End.IsZero() || v.End.After(period.Start)) {
			in = append(in, v)
		}
	}
	var omitted int64
	if len(in) > v1alpha1.MaxReportViolations {
		omitted = int64(len(in) - v1alpha1.MaxReportViolations)
		slices.SortStableFunc(in, func(a, b sla.Violation) int { return b.Windows - a.Windows })
		in = in[:v1alpha1.MaxReportViolations]
		slices.SortStableFunc(in, func(a, b sla.Violation) int { return a.Start.Compare(b.Start) })
	}
	out := make([]v1alpha1.SLAReportViolation, 0, len(in))
	for _, v := range in {
		rv := v1alpha1.SLAReportViolation{
			Start: mt(micro(v.Start)), Metric: clip(v.Metric, 32), Observed: clip(v.Observed, 64), Target: clip(v.Target, 64), Windows: int64(v.Windows),
		}
		if !v.End.IsZero() {
			e := mt(micro(v.End))
			rv.End = &e
		}
		out = append(out, rv)
	}
	if len(out) == 0 {
		return nil, omitted
	}
	return out, omitted
}

// reportGaps merges the given gaps with the spans of at least one window
// that no rollup covers and no given gap explains.
func reportGaps(rollups []sla.WindowRollup, given []Gap, period Period, window time.Duration) []v1alpha1.SLAReportGap {
	all := slices.Clone(given)
	covered := func(s, e time.Time) bool {
		for _, g := range given {
			if !g.Start.After(s) && !g.End.Before(e) {
				return true
			}
		}
		return false
	}
	cursor := period.Start
	add := func(s, e time.Time) {
		if e.Sub(s) >= window && !covered(s, e) {
			all = append(all, Gap{Start: s, End: e, Reason: ReasonNoWindows})
		}
	}
	for _, r := range rollups {
		add(cursor, r.Start)
		if r.End.After(cursor) {
			cursor = r.End
		}
	}
	add(cursor, period.End)
	slices.SortStableFunc(all, func(a, b Gap) int { return a.Start.Compare(b.Start) })
	if len(all) > v1alpha1.MaxReportGaps {
		rest := all[v1alpha1.MaxReportGaps-1:]
		last := Gap{Start: rest[0].Start, End: rest[0].End, Reason: fmt.Sprintf("%d gaps merged to fit the report", len(rest))}
		for _, g := range rest {
			if g.End.After(last.End) {
				last.End = g.End
			}
		}
		all = append(all[:v1alpha1.MaxReportGaps-1], last)
	}
	var out []v1alpha1.SLAReportGap
	for _, g := range all {
		out = append(out, v1alpha1.SLAReportGap{Start: mt(micro(g.Start)), End: mt(micro(g.End)), Reason: clip(g.Reason, 256)})
	}
	return out
}

// micro truncates to the microsecond in UTC: the precision of the API's
// MicroTime, so that what is hashed is what is stored.
func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func mt(t time.Time) metav1.MicroTime { return metav1.NewMicroTime(t) }

// formatDuration rounds to the microsecond: probe timestamps carry no more.
func formatDuration(d time.Duration) string { return d.Round(time.Microsecond).String() }

// parseDuration is time.ParseDuration, 0 for what does not parse (Verify
// reports those separately).
func parseDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return d
}

// formatRatio is lost/sent with six significant digits, "0" for nothing sent.
func formatRatio(lost, sent int64) string {
	if sent == 0 {
		return "0"
	}
	return strconv.FormatFloat(float64(lost)/float64(sent), 'g', 6, 64)
}

// clip shortens s to n bytes for the API's bounds.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

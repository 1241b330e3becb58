package evidence

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
)

// maxGaps bounds the gaps a period keeps before it merges the newest into
// the one before: report.Build merges them further, to v1alpha1.MaxReportGaps.
const maxGaps = 4 * v1alpha1.MaxReportGaps

// Reasons of the gaps the ledger states itself.
const (
	reasonTail   = "the probes stopped with the slice: windows still open then were never closed"
	reasonMerged = "several spans without evidence, merged to bound the report"
)

// window is one SLA window of the slice: the windows its devices' probes
// closed for the same span, combined (see combine).
type window struct {
	sla.WindowRollup
	// Worst is the breach furthest beyond its target, for violations; nil
	// when the window met every target.
	Worst    *sla.Breach
	Severity float64
}

// interval is one rollup of a report: one window, or several merged when
// the period holds more windows than a report keeps.
type interval struct {
	Start     time.Time     `json:"s"`
	End       time.Time     `json:"e"`
	Windows   int64         `json:"w"`
	Good      int64         `json:"g"`
	Sent      int64         `json:"n"`
	Received  int64         `json:"r"`
	Lost      int64         `json:"l"`
	RTTP50    time.Duration `json:"p50"`
	RTTP99    time.Duration `json:"p99"`
	RTTMax    time.Duration `json:"max"`
	JitterP99 time.Duration `json:"j99"`
}

// MarshalJSON writes an interval as an array of integers (times as Unix
// nanoseconds, durations in nanoseconds): a day's checkpoint holds 2,000
// of them and is written every interval, so it is kept small and cheap.
func (iv interval) MarshalJSON() ([]byte, error) {
	return json.Marshal([11]int64{iv.Start.UnixNano(), iv.End.UnixNano(), iv.Windows, iv.Good, iv.Sent, iv.Received, iv.Lost,
		int64(iv.RTTP50), int64(iv.RTTP99), int64(iv.RTTMax), int64(iv.JitterP99)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (iv *interval) UnmarshalJSON(b []byte) error {
	var a [11]int64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*iv = interval{Start: time.Unix(0, a[0]).UTC(), End: time.Unix(0, a[1]).UTC(), Windows: a[2], Good: a[3], Sent: a[4], Received: a[5], Lost: a[6],
		RTTP50: time.Duration(a[7]), RTTP99: time.Duration(a[8]), RTTMax: time.Duration(a[9]), JitterP99: time.Duration(a[10])}
	return nil
}

// gap is a span of a period without evidence, with the reason.
type gap struct {
	Start  time.Time `json:"s"`
	End    time.Time `json:"e"`
	Reason string    `json:"why"`
}

// period is the evidence of one report in the making: from the slice's
// first window (or midnight, for an open-ended slice's next day) to End.
type period struct {
	Start time.Time `json:"start"`
	// Planned is when the period is expected to end: the booked end of a
	// scheduled slice, the next midnight of an open-ended one. It sizes
	// the intervals, so that a period that ends as planned needs no
	// further merging.
	Planned time.Time `json:"planned"`
	// Daily periods (open-ended slices) end at Planned.
	Daily bool `json:"daily,omitempty"`
	// End is zero while the period is open; once set, the period waits to
	// be sealed and takes no more windows.
	End     time.Time   `json:"end,omitzero"`
	Targets sla.Targets `json:"targets"`
	// Per is how many windows one interval holds (1 until the period holds
	// more windows than a report keeps).
	Per       int64      `json:"per"`
	Intervals []interval `json:"intervals,omitempty"`
	// P50s are the medians of the last interval's windows, so that its
	// median of medians stays exact while windows join it.
	P50s []time.Duration `json:"p50s,omitempty"`
	// Until is the end of the last window taken.
	Until      time.Time       `json:"until,omitzero"`
	Gaps       []gap           `json:"gaps,omitempty"`
	Violations []sla.Violation `json:"violations,omitempty"`
	// Open is true while the last violation goes on; Severity is how far
	// its worst breach is beyond its target.
	Open     bool    `json:"open,omitempty"`
	Severity float64 `json:"severity,omitempty"`
	// Omitted counts the violations dropped to bound the report.
	Omitted int64 `json:"omitted,omitempty"`
	// Slice, when set, is the slice the period is about: an earlier slice
	// of the same name, whose evidence was restored after it was gone.
	Slice *sliceRef `json:"slice,omitempty"`
}

// closed tells whether the period waits to be sealed.
func (p *period) closed() bool { return !p.End.IsZero() }

// limit is where the period stops taking windows: its end once closed,
// its planned end when daily, else never.
func (p *period) limit() time.Time {
	switch {
	case p.closed():
		return p.End
	case p.Daily:
		return p.Planned
	}
	return time.Time{}
}

// restartMark is a pending explanation of the span without evidence that
// starts at From: the operator restarted (or the probes did), and the gap
// ends where the next window starts, or where the period ends.
type restartMark struct {
	From time.Time `json:"from"`
	// Lost, until LostUntil, is evidence measured but not kept; Down, from
	// LostUntil, is time nothing was measured. LostUntil equal to From
	// means no evidence was lost.
	LostUntil time.Time `json:"lostUntil"`
	Lost      string    `json:"lost,omitempty"`
	Down      string    `json:"down"`
}

// planner says, for a period starting at start, when it is planned to end
// and whether it is a day of an open-ended slice (which ends at the next
// midnight, whatever planned says).
type planner func(start time.Time) (planned time.Time, daily bool)

// ledger is the evidence of one slice: its periods, oldest first; all but
// the last are closed.
type ledger struct {
	Periods []*period `json:"periods,omitempty"`
	// Until is the end of the last window taken: everything before it is
	// in the ledger or stated as a gap.
	Until time.Time `json:"until,omitzero"`
	// Next, when set, is where the next period starts: the midnight that
	// ended the previous day of an open-ended slice.
	Next    time.Time    `json:"next,omitzero"`
	Restart *restartMark `json:"restart,omitempty"`
	// dirty is set by any change, and cleared once checkpointed.
	dirty bool
}

// open returns the open period, nil when none.
func (l *ledger) open() *period {
	if n := len(l.Periods); n > 0 && !l.Periods[n-1].closed() {
		return l.Periods[n-1]
	}
	return nil
}

// add takes the slice's next window. Windows must come in time order; one
// starting before the ledger's end (a clock that stepped back) is left
// out, as report.Build would flag it.
func (l *ledger) add(w window, targets sla.Targets, plan planner, loc *time.Location) {
	if w.Start.Before(l.Until) {
		return
	}
	l.dirty = true
	p := l.open()
	if p != nil && p.Targets != targets {
		// Judged against other targets: another report.
		l.close(w.Start, "", false)
		p = nil
	}
	for p != nil && p.Daily && !w.Start.Before(p.Planned) {
		l.endDay(p)
		p = nil
	}
	if p == nil {
		p = l.begin(w.Start, targets, plan, loc)
	}
	if m := l.Restart; m != nil {
		l.explain(*m, w.Start)
		l.Restart = nil
	} else if !p.Until.IsZero() && w.Start.Sub(p.Until) >= targets.Window {
		p.addGap(gap{Start: p.Until, End: w.Start, Reason: report.ReasonNoWindows})
	}
	if !p.Until.IsZero() && w.Start.After(p.Until) {
		p.endViolation(p.Until) // a run of bad windows does not span a gap
	}
	p.addInterval(w)
	p.addViolation(w)
	p.Until = w.End
	l.Until = w.End
}

// begin opens a period for a window starting at start. A period that
// continues an open-ended slice's days starts at the midnight that began
// the window's day; one after a restart whose checkpoint was not trusted
// starts where the distrust begins, so that the report states it.
func (l *ledger) begin(start time.Time, targets sla.Targets, plan planner, loc *time.Location) *period {
	from := start
	if !l.Next.IsZero() && !start.Before(l.Next) {
		from = maxTime(l.Next, dayStart(start, loc))
	}
	if m := l.Restart; m != nil && m.From.Before(from) {
		floor := time.Time{}
		if _, daily := plan(from); daily {
			floor = dayStart(start, loc)
		}
		from = maxTime(m.From, floor)
	}
	planned, daily := plan(from)
	if daily {
		planned = nextMidnight(from, loc)
	}
	if !planned.After(from) {
		planned = from.Add(24 * time.Hour)
	}
	p := &period{Start: from, Planned: planned, Daily: daily, Targets: targets, Per: 1}
	l.Periods = append(l.Periods, p)
	l.Next = time.Time{}
	l.dirty = true
	return p
}

// endDay closes an open-ended slice's day p at its midnight; the next
// period starts there. A pending restart is stated up to midnight and
// goes on into the next day.
func (l *ledger) endDay(p *period) {
	midnight := p.Planned
	if m := l.Restart; m != nil && m.From.Before(midnight) {
		l.explain(*m, midnight)
		m.From = midnight
		if m.LostUntil.Before(midnight) {
			m.LostUntil, m.Lost = midnight, ""
		}
	}
	l.close(midnight, "", true)
	l.Next = midnight
}

// close ends the open period at end, stating a pending restart as gaps up
// to end (and forgetting it, unless keepRestart) and, when tail is set,
// the span after the last window as a gap with that reason. A period that
// took nothing (no window, no gap) is dropped.
func (l *ledger) close(end time.Time, tail string, keepRestart bool) {
	p := l.open()
	if p == nil {
		return
	}
	l.dirty = true
	if end.Before(p.Until) {
		end = p.Until
	}
	explained := false
	if m := l.Restart; m != nil && m.From.Before(end) && !keepRestart {
		l.explain(*m, end)
		l.Restart, explained = nil, true
	}
	if tail != "" && !explained && !p.Until.IsZero() && end.Sub(p.Until) >= p.Targets.Window {
		p.addGap(gap{Start: p.Until, End: end, Reason: tail})
	}
	if !end.After(p.Start) || (len(p.Intervals) == 0 && len(p.Gaps) == 0) {
		l.Periods = l.Periods[:len(l.Periods)-1]
		return
	}
	p.End = end
	if p.Daily && end.Before(p.Planned) {
		p.Planned = end
	}
	p.finishInterval()
}

// explain states the restart mark m as gaps over [m.From, to), in every
// period it overlaps: evidence lost up to m.LostUntil, time down after.
func (l *ledger) explain(m restartMark, to time.Time) {
	lostEnd := minTime(m.LostUntil, to)
	for _, p := range l.Periods {
		if m.Lost != "" && lostEnd.After(m.From) {
			p.addClipped(gap{Start: m.From, End: lostEnd, Reason: m.Lost})
		}
		if to.After(maxTime(m.LostUntil, m.From)) {
			p.addClipped(gap{Start: maxTime(m.LostUntil, m.From), End: to, Reason: m.Down})
		}
	}
	l.dirty = true
}

// addClipped adds the part of g inside the period, if any.
func (p *period) addClipped(g gap) {
	if g.Start.Before(p.Start) {
		g.Start = p.Start
	}
	if lim := p.limit(); !lim.IsZero() && g.End.After(lim) {
		g.End = lim
	}
	if g.End.After(g.Start) {
		p.addGap(g)
	}
}

func (p *period) addGap(g gap) {
	if len(p.Gaps) >= maxGaps {
		last := &p.Gaps[len(p.Gaps)-1]
		last.End = maxTime(last.End, g.End)
		last.Reason = reasonMerged
		return
	}
	p.Gaps = append(p.Gaps, g)
}

// addInterval puts w into the intervals: its own while the period holds
// no more windows than a report keeps, else into the interval of Per
// windows (aligned on the period's start) it falls in.
func (p *period) addInterval(w window) {
	iv := interval{
		Start: w.Start, End: w.End, Windows: 1, Sent: int64(w.Sent), Received: int64(w.Received), Lost: int64(w.Lost),
		RTTP50: w.RTTP50, RTTP99: w.RTTP99, RTTMax: w.RTTMax, JitterP99: w.JitterP99,
	}
	if w.Met {
		iv.Good = 1
	}
	if w.Received == 0 {
		iv.RTTP50 = 0
	}
	n := len(p.Intervals)
	if p.Per > 1 && n > 0 && p.slot(p.Intervals[n-1].Start) == p.slot(w.Start) {
		last := &p.Intervals[n-1]
		if w.Received > 0 {
			p.P50s = append(p.P50s, w.RTTP50)
		}
		merge(last, iv)
		last.RTTP50 = median(p.P50s)
		return
	}
	p.P50s = p.P50s[:0]
	if w.Received > 0 && p.Per > 1 {
		p.P50s = append(p.P50s, w.RTTP50)
	}
	p.Intervals = append(p.Intervals, iv)
	if len(p.Intervals) > v1alpha1.MaxReportRollups {
		p.coarsen()
	}
}

// slot is the index of the interval a window starting at t falls in.
func (p *period) slot(t time.Time) int64 {
	return int64(t.Sub(p.Start) / (time.Duration(p.Per) * p.Targets.Window))
}

// coarsen regroups the intervals into fewer, longer ones until they fit a
// report. The first time, the windows are grouped as report.Build would
// group the planned period's (the fewest per interval that fit it), with
// exact medians of the windows' medians; if the period outgrows its plan
// (a booking extended), intervals are merged in pairs, and a merged
// interval's median is then the median of its parts' medians.
func (p *period) coarsen() {
	for len(p.Intervals) > v1alpha1.MaxReportRollups {
		per := p.Per * 2
		if p.Per == 1 {
			span := max(p.Planned.Sub(p.Start), p.Intervals[len(p.Intervals)-1].End.Sub(p.Start))
			per = max(2, ceilDiv(int64(span), int64(v1alpha1.MaxReportRollups)*int64(p.Targets.Window)))
		}
		old := p.Intervals
		p.Per = per
		p.Intervals = make([]interval, 0, v1alpha1.MaxReportRollups)
		var p50s []time.Duration
		for _, iv := range old {
			n := len(p.Intervals)
			if n > 0 && p.slot(p.Intervals[n-1].Start) == p.slot(iv.Start) {
				merge(&p.Intervals[n-1], iv)
			} else {
				if n > 0 {
					p.Intervals[n-1].RTTP50 = median(p50s)
				}
				p50s = p50s[:0]
				p.Intervals = append(p.Intervals, iv)
			}
			if iv.Received > 0 {
				p50s = append(p50s, iv.RTTP50)
			}
		}
		p.Intervals[len(p.Intervals)-1].RTTP50 = median(p50s)
		p.P50s = slices.Clone(p50s)
	}
}

// finishInterval drops the working medians once the period takes no more windows.
func (p *period) finishInterval() { p.P50s = nil }

// merge adds b's counts and worst figures into a (the median is the caller's).
func merge(a *interval, b interval) {
	a.Start = minTime(a.Start, b.Start)
	a.End = maxTime(a.End, b.End)
	a.Windows += b.Windows
	a.Good += b.Good
	a.Sent += b.Sent
	a.Received += b.Received
	a.Lost += b.Lost
	a.RTTP99 = max(a.RTTP99, b.RTTP99)
	a.RTTMax = max(a.RTTMax, b.RTTMax)
	a.JitterP99 = max(a.JitterP99, b.JitterP99)
}

// addViolation extends the open run of bad windows with w, or opens one;
// a good window ends the run.
func (p *period) addViolation(w window) {
	if w.Met {
		p.endViolation(w.Start)
		return
	}
	b := sla.Breach{Metric: sla.MetricNoSamples}
	if w.Worst != nil {
		b = *w.Worst
	}
	if p.Open {
		v := &p.Violations[len(p.Violations)-1]
		v.Windows++
		if w.Severity > p.Severity {
			v.Metric, v.Observed, v.Target = b.Metric, b.Observed, b.Target
			p.Severity = w.Severity
		}
		return
	}
	p.Violations = append(p.Violations, sla.Violation{Start: w.Start, Metric: b.Metric, Observed: b.Observed, Target: b.Target, Windows: 1})
	p.Open, p.Severity = true, w.Severity
	if len(p.Violations) > v1alpha1.MaxReportViolations {
		// Drop the shortest closed run (the latest of equals), as
		// report.Build keeps the longest.
		drop := -1
		for i, v := range p.Violations[:len(p.Violations)-1] {
			if drop < 0 || v.Windows <= p.Violations[drop].Windows {
				drop = i
			}
		}
		p.Violations = slices.Delete(p.Violations, drop, drop+1)
		p.Omitted++
	}
}

// endViolation ends the open run at end.
func (p *period) endViolation(end time.Time) {
	if p.Open {
		p.Violations[len(p.Violations)-1].End = end
		p.Open, p.Severity = false, 0
	}
}

// median is the lower nearest-rank median, as report.Build takes it; 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)+1)/2-1]
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// dayStart is the midnight that begins t's day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// nextMidnight is the midnight that ends t's day in loc.
func nextMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// inf is the severity of a window without evidence.
var inf = math.Inf(1)

package evidence

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medslice/medslice/internal/sla"
)

// feed takes one device's closed windows from its tracker, in order, and
// holds them until every device of the slice has closed the same span.
type feed struct {
	// cursor is the start of the last window taken; frontier its end.
	cursor, frontier time.Time
	// first is the start of the device's first window: before it the
	// device was not probed yet, and its absence is no evidence.
	first time.Time
	// added is when the device was first probed.
	added   time.Time
	pending []sla.WindowRollup
}

// take adds the windows of rs that start after the cursor.
func (f *feed) take(rs []sla.WindowRollup) bool {
	took := false
	for _, r := range rs {
		if !f.cursor.IsZero() && !r.Start.After(f.cursor) {
			continue
		}
		f.pending = append(f.pending, r)
		f.cursor, f.frontier = r.Start, r.End
		if f.first.IsZero() {
			f.first = r.Start
		}
		took = true
	}
	return took
}

// stalled tells whether the device has closed no window for longer than
// a live tracker can take: its probes are silent, or never started.
func (f *feed) stalled(now time.Time, after time.Duration) bool {
	last := f.frontier
	if last.IsZero() {
		last = f.added
	}
	return now.Sub(last) > after
}

// release combines, in time order, the windows every device has closed:
// those ending at or before the earliest frontier of the devices still
// live (all of them when force). A device that is required at a window
// (probed since before it) but has none makes the window bad with
// no_samples when the device is stalled or has gone past it; when force
// and it simply has not closed it yet, the window is incomplete and left
// out (the report then states a gap). Windows starting before from were
// released already and are dropped.
func release(feeds map[string]*feed, from, now time.Time, staleAfter time.Duration, force bool) []window {
	horizon := time.Time{}
	if force {
		horizon = time.Unix(1<<62, 0)
	} else {
		live := false
		for _, f := range feeds {
			if f.stalled(now, staleAfter) {
				continue
			}
			if !live || f.frontier.Before(horizon) {
				horizon = f.frontier
			}
			live = true
		}
		if !live {
			for _, f := range feeds {
				horizon = maxTime(horizon, f.frontier)
			}
		}
	}
	if horizon.IsZero() {
		return nil
	}
	var starts []time.Time
	for _, f := range feeds {
		for _, r := range f.pending {
			if !r.End.After(horizon) {
				starts = append(starts, r.Start)
			}
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	starts = slices.CompactFunc(starts, func(a, b time.Time) bool { return a.Equal(b) })

	names := make([]string, 0, len(feeds))
	for d := range feeds {
		names = append(names, d)
	}
	slices.Sort(names)
	var out []window
	for _, t := range starts {
		var present []deviceWindow
		var missing []string
		incomplete := false
		for _, d := range names {
			f := feeds[d]
			if r, ok := f.windowAt(t); ok {
				present = append(present, deviceWindow{d, r})
				continue
			}
			switch {
			case f.first.IsZero() && !f.stalled(now, staleAfter),
				!f.first.IsZero() && t.Before(f.first),
				f.first.IsZero() && t.Before(f.added):
				// Not probed yet at t.
			case f.stalled(now, staleAfter), t.Before(f.frontier):
				missing = append(missing, d)
			default:
				incomplete = true
			}
		}
		if len(present) == 0 || t.Before(from) || incomplete {
			continue
		}
		out = append(out, combine(present, missing))
	}
	for _, f := range feeds {
		f.pending = slices.DeleteFunc(f.pending, func(r sla.WindowRollup) bool { return !r.End.After(horizon) })
	}
	return out
}

func (f *feed) windowAt(t time.Time) (sla.WindowRollup, bool) {
	for _, r := range f.pending {
		if r.Start.Equal(t) {
			return r, true
		}
	}
	return sla.WindowRollup{}, false
}

type deviceWindow struct {
	device string
	sla.WindowRollup
}

// combine makes the slice's window from its devices' (DESIGN §5: a slice
// is GO only when every device's path is): counts summed, each percentile
// and the maximum the highest of the devices, met only when every device
// met every target and none is missing. The worst breach names its device.
func combine(ws []deviceWindow, missing []string) window {
	out := window{WindowRollup: sla.WindowRollup{Start: ws[0].Start, End: ws[0].End, Met: len(missing) == 0}}
	for _, w := range ws {
		out.End = maxTime(out.End, w.End)
		out.Sent += w.Sent
		out.Received += w.Received
		out.Lost += w.Lost
		if w.Received > 0 {
			out.RTTP50 = max(out.RTTP50, w.RTTP50)
		}
		out.RTTP99 = max(out.RTTP99, w.RTTP99)
		out.RTTMax = max(out.RTTMax, w.RTTMax)
		out.JitterP99 = max(out.JitterP99, w.JitterP99)
		out.Met = out.Met && w.Met
		for _, b := range w.Failed {
			out.consider(b, w.device, severity(b, w.WindowRollup))
		}
	}
	if out.Sent > 0 {
		out.LossRatio = float64(out.Lost) / float64(out.Sent)
	}
	for _, d := range missing {
		out.consider(sla.Breach{Metric: sla.MetricNoSamples, Observed: "no window", Target: "a window per device"}, d, inf)
	}
	if !out.Met && out.Worst == nil {
		// Not met, yet no breach given: never count it good.
		out.consider(sla.Breach{Metric: sla.MetricNoSamples, Observed: "not judged", Target: "every target met"}, ws[0].device, inf)
	}
	return out
}

// consider keeps b as the window's worst breach if it is worse.
func (w *window) consider(b sla.Breach, device string, sev float64) {
	if w.Worst != nil && sev <= w.Severity {
		return
	}
	b.Observed = b.Observed + " (" + device + ")"
	w.Worst, w.Severity = &b, sev
}

// severity is how far a breach is beyond its target, as the SLA tracker
// weighs them: the ratio of observed to target (target to observed for a
// floor such as throughput), +Inf for a window without evidence, 1 for a
// target the samples could not judge.
func severity(b sla.Breach, w sla.WindowRollup) float64 {
	switch {
	case b.Metric == sla.MetricNoSamples || w.Sent == 0:
		return inf
	case b.Metric == sla.MetricLoss && w.Received == 0:
		return inf
	}
	if od, err := time.ParseDuration(b.Observed); err == nil {
		if td, err := time.ParseDuration(b.Target); err == nil && td > 0 {
			return float64(od) / float64(td)
		}
		return 1
	}
	if b.Metric == sla.MetricThroughput {
		o, err1 := strconv.ParseFloat(strings.TrimSuffix(b.Observed, "kbps"), 64)
		t, err2 := strconv.ParseFloat(strings.TrimSuffix(b.Target, "kbps"), 64)
		if err1 == nil && err2 == nil {
			return ratio(t, o)
		}
		return 1
	}
	o, err1 := strconv.ParseFloat(b.Observed, 64)
	t, err2 := strconv.ParseFloat(b.Target, 64)
	if err1 == nil && err2 == nil {
		return ratio(o, t)
	}
	return 1
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.Inf(1)
	}
	return a / b
}

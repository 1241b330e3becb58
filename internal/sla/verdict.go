package sla

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Verdict reasons. They are valid metav1.Condition reasons.
const (
	// NoData: no window has closed yet.
	NoData = "NoData"
	// Stale: no window has closed recently enough to speak for now; the
	// probes stopped, or the clock jumped forward.
	Stale = "Stale"
	// ClockAnomaly: the clock stepped back; NO-GO until windows after the
	// step close.
	ClockAnomaly = "ClockAnomaly"
	// Violated: the last window missed a target, or an open window is
	// already certain to miss one whatever its remaining probes bring
	// (early breach detection, see early.go).
	Violated = "Violated"
	// Verifying: the SLA holds, but not yet for the whole verification period.
	Verifying = "Verifying"
	// NetworkNotGuaranteed: the probes meet the SLA but the core says the
	// QoS is not guaranteed.
	NetworkNotGuaranteed = "NetworkNotGuaranteed"
	// Met: GO.
	Met = "Met"
)

// Verdict is the GO / NO-GO of one tracker at one instant.
type Verdict struct {
	// SLAMet is true when the last window met every target and is fresh,
	// and no open window is already certain to miss one: for Met,
	// Verifying and NetworkNotGuaranteed.
	SLAMet bool
	// Go is true only for Met: every window met the SLA, without a gap, for
	// at least the verification period, up to a fresh window, and no
	// failing network evidence.
	Go bool
	// Reason is one of the reason constants.
	Reason string
	// Message is one sentence for people, with the figures; times are UTC.
	Message string
	// Summary is the status figures at the time of the verdict.
	Summary Summary
}

// Summary holds the figures for a slice's status.
type Summary struct {
	// RTTP50, RTTP99, JitterP99 and LossRatio cover the windows of the last
	// verification period. They are built from the window rollups: the p99s
	// are the highest window p99, never below the p99 over the whole
	// period and over target exactly when some window missed that target;
	// RTTP50 is the median of the window medians; LossRatio is exact.
	RTTP50, RTTP99, JitterP99 time.Duration
	LossRatio                 float64
	// Compliance is GoodWindows / Windows since tracking started (DESIGN §5),
	// 0 before the first window.
	Compliance           float64
	Windows, GoodWindows int
	// LastViolation is the latest violation, open (zero End) or not.
	LastViolation *Violation
	// LastEvaluated is the time given to the latest Evaluate.
	LastEvaluated time.Time
	// LastNetworkReport is the latest report from the core, if any.
	LastNetworkReport *NetworkReport
	// DiscardedSamples counts probes dropped because the clock stepped back.
	DiscardedSamples int
}

// Evaluate closes the windows whose grace has passed at now and returns the
// verdict. It is NO-GO, with the reason, whenever an input is missing,
// stale, contradictory or failing (DESIGN §11). A now more than a window
// before the end of the last closed window means the clock stepped back:
// ClockAnomaly until windows after the step close. An open window already
// certain to fail a target makes it Violated before the window closes, and
// restarts the GO streak (see early.go).
func (t *Tracker) Evaluate(now time.Time) Verdict {
	n := now.UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastEvaluated = now
	if t.closedAny && n < t.lastEnd-t.w {
		if b := max(t.sampleClock, t.lastEnd); t.needsAnomaly(b) {
			t.flagAnomaly(b, fmt.Sprintf(
				"the clock stepped back: %s is %s before the end of the last window (%s); NO-GO until windows after %s close",
				t.clock(n), formatAge(t.lastEnd-n), t.clock(t.lastEnd), t.clock(b)))
		}
	} else if t.started {
		t.closeUntil(n, false)
	}
	early := t.earlyBreach()
	s := t.summary()
	v := t.verdict(n, &s, early)
	v.Summary = s
	return v
}

// Summary returns the status figures as of the latest Add or Evaluate; it
// closes no window.
func (t *Tracker) Summary() Summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.summary()
}

// verdict decides; early is the open window certain to fail, -1 if none.
func (t *Tracker) verdict(n int64, s *Summary, early int) Verdict {
	switch {
	case !t.started:
		return Verdict{Reason: NoData, Message: "no probe samples yet"}
	case !t.closedAny && early < 0:
		return Verdict{Reason: NoData, Message: fmt.Sprintf("the first window %s is still open", t.span(t.openStart, t.openStart+t.w))}
	case t.anomaly:
		return Verdict{Reason: ClockAnomaly, Message: t.anomalyMsg}
	case !t.closedAny:
		return Verdict{Reason: Violated, Message: t.earlyMessage(early)}
	case n-t.lastEnd > t.grace+2*t.w:
		// A window closes Grace after its end at the latest, so a live
		// probe always has one ending within Grace plus a window of now;
		// one more window of slack absorbs evaluation timing.
		return Verdict{Reason: Stale, Message: fmt.Sprintf(
			"no probe window since the one ending %s, %s ago (limit %s): the measurements are stale",
			t.clock(t.lastEnd), formatAge(n-t.lastEnd), formatAge(t.grace+2*t.w))}
	}
	// A failed closed window keeps its message, an open window certain to
	// fail comes next: both are Violated.
	last := t.rollups.last()
	if !last.Met {
		return Verdict{Reason: Violated, Message: t.windowMessage(last)}
	}
	if early >= 0 {
		return Verdict{Reason: Violated, Message: t.earlyMessage(early)}
	}
	if ng := t.networkFailing(); ng != nil {
		msg := fmt.Sprintf("the core reported %s at %s with no %s since", ng.Kind, t.clock(ng.At.UnixNano()), ReportQoSGuaranteed)
		if ng.Detail != "" {
			msg += " (" + ng.Detail + ")"
		}
		return Verdict{SLAMet: true, Reason: NetworkNotGuaranteed, Message: msg + "; the probes still meet the SLA"}
	}
	var held time.Duration
	if t.streaking {
		held = time.Duration(t.lastEnd - t.streakStart)
	}
	if held < t.tg.VerificationPeriod {
		return Verdict{SLAMet: true, Reason: Verifying, Message: fmt.Sprintf(
			"SLA met for %s of the %s verification period, since %s",
			held, t.tg.VerificationPeriod, t.clock(t.streakStart))}
	}
	return Verdict{SLAMet: true, Go: true, Reason: Met, Message: fmt.Sprintf(
		"SLA met for %s since %s: RTT p99 %s, jitter p99 %s, loss %s over the last %s",
		held, t.clock(t.streakStart), formatDuration(s.RTTP99), formatDuration(s.JitterP99),
		formatRatio(s.LossRatio), t.tg.VerificationPeriod)}
}

// windowMessage says why window r failed, worst figures first as judged.
func (t *Tracker) windowMessage(r *WindowRollup) string {
	parts := make([]string, 0, len(r.Failed))
	for _, b := range r.Failed {
		parts = append(parts, breachPhrase(b, r))
	}
	return strings.Join(parts, "; ") + " in window " + t.span(r.Start.UnixNano(), r.End.UnixNano())
}

func breachPhrase(b Breach, r *WindowRollup) string {
	switch b.Metric {
	case MetricRTTP99:
		return fmt.Sprintf("RTT p99 %s > target %s", b.Observed, b.Target)
	case MetricJitterP99:
		if b.Observed == notMeasured {
			return fmt.Sprintf("jitter not measured (no two consecutive probes answered), target %s", b.Target)
		}
		return fmt.Sprintf("jitter p99 %s > target %s", b.Observed, b.Target)
	case MetricLoss:
		return fmt.Sprintf("loss %s (%d of %d probes lost) > target %s", b.Observed, r.Lost, r.Sent, b.Target)
	case MetricThroughput:
		if b.Observed == notMeasured {
			return fmt.Sprintf("throughput not measured, target %s", b.Target)
		}
		return fmt.Sprintf("throughput %s < target %s", b.Observed, b.Target)
	case MetricNoSamples:
		return "no probe sent"
	}
	return fmt.Sprintf("%s %s, target %s", b.Metric, b.Observed, b.Target)
}

func (t *Tracker) summary() Summary {
	s := Summary{
		Windows:          t.windows,
		GoodWindows:      t.goodWindows,
		LastEvaluated:    t.lastEvaluated,
		DiscardedSamples: t.discarded,
	}
	if t.windows > 0 {
		s.Compliance = float64(t.goodWindows) / float64(t.windows)
	}
	if v := t.violations.last(); v != nil {
		c := *v
		s.LastViolation = &c
	}
	if r := t.reports.last(); r != nil {
		c := *r
		s.LastNetworkReport = &c
	}
	from := t.lastEnd - int64(t.tg.VerificationPeriod)
	medians := t.scratch[:0]
	var sent, lost int
	for i := t.rollups.len() - 1; i >= 0; i-- {
		r := t.rollups.at(i)
		if r.End.UnixNano() <= from {
			break
		}
		sent += r.Sent
		lost += r.Lost
		if r.Received > 0 {
			medians = append(medians, r.RTTP50)
			s.RTTP99 = max(s.RTTP99, r.RTTP99)
			s.JitterP99 = max(s.JitterP99, r.JitterP99)
		}
	}
	if sent > 0 {
		s.LossRatio = float64(lost) / float64(sent)
	}
	slices.Sort(medians)
	s.RTTP50 = nearestRank(medians, 50)
	t.scratch = medians
	return s
}

// clock formats an instant for messages, in UTC, to the millisecond when
// windows are not whole seconds.
func (t *Tracker) clock(n int64) string {
	layout := "15:04:05"
	if t.w%int64(time.Second) != 0 {
		layout = "15:04:05.000"
	}
	return timeAt(n).Format(layout)
}

func (t *Tracker) span(start, end int64) string { return t.clock(start) + "–" + t.clock(end) }

func formatAge(d int64) string { return time.Duration(d).Round(time.Millisecond).String() }

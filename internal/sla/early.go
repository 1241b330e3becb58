package sla

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Early breach detection.
//
// A window is judged when it closes, up to Grace after its end. Evaluate
// does not wait for that when an open window is already certain to fail:
// it reports Violated as soon as no way the window can still end would
// let it pass. It never reports a breach that the closed window will not
// have. The argument, per metric, follows.
//
// What the rollup fails (closeFront, judge). With R answered probes, the
// nearest-rank p99 is the value of rank ceil(99R/100) (nearestRank); it
// exceeds the target exactly when at least R - ceil(99R/100) + 1 values do.
// So the RTT p99 fails exactly when the number a of RTTs over the target is
// above
//
//	tol(R) = R - ceil(99R/100) = floor(R/100)   (p99Tolerance)
//
// No value over the target is tolerated below 100 values, one from 100 to
// 199, and so on. The jitter p99 is the same over the window's P |IPDV|
// pairs. The loss fails when Lost/Sent > target, where Sent counts every
// probe resolved in the window: its own, and late ones of closed windows.
//
// What the rest of the window can still bring. An open window's counts only
// grow: an RTT or |IPDV| over the target stays counted, and a loss stays
// lost. What is unknown is how many probes are still to come and how they
// turn out. Let N be the most probes of its own that a window can hold
// (below), own the own probes resolved so far (slot.inRange), and
// rem = N - own the ones that may still come. At close:
//
//   - R <= received + rem =: Rmax. Every probe still to come adds at most
//     one RTT.
//   - P <= Rmax. A pair is counted in the window of its later probe, an own
//     probe of the window that was answered. Each probe is the later probe
//     of one pair at most, and a late probe's pairs with closed windows are
//     dropped.
//   - a only grows and tol never decreases, so a > tol(Rmax) now gives
//     a_final >= a > tol(Rmax) >= tol(R): the p99 fails. The window then has
//     an answer (R >= 1), so judge reaches the p99 check. The same holds
//     for the jitter.
//   - The loss ends as (lost + x + y) / (sent + n + y). Here n <= rem own
//     probes still come, x <= n of them lost, and y late losses. The ratio is
//     at most 1, so adding y to both terms cannot lower it, and x >= 0,
//     n <= rem: the ratio is at least lost / (sent + rem) =: lost / Smax.
//     Float division is correctly rounded, hence monotonic, so
//     lost/Smax > target in float64 implies the rollup's
//     float64(Lost)/float64(Sent) > target. If nothing is answered in the
//     end, judge fails the window on loss alone, the same metric.
//
// With a 1 s window at 100 ms (N = 11), one RTT or |IPDV| over the target
// is therefore certain to fail, while with 100 probes a window (N = 101)
// it takes two. One loss of 11 fails a 1e-4 loss target at once, but not
// a target of 0.2.
//
// N comes from the probe schedule. stamp.Sender sends one probe per due
// time, never before it. Each due time comes at least one interval I after
// the previous one and after the previous probe was sent. Take probes
// k1 < ... < km sent in [start, start+w). The due times of k2 ... km lie in
// (t(k1), t(km)], inside (start, start+w), at least I apart. So
// (m-2)·I < w, and m <= ceil(w/I) + 1 = N (maxProbes). That is 11 for 1 s
// windows at 100 ms, not 10: a probe due just before the window and sent
// late lands in it.
//
// Assumptions, and what guards them:
//   - The interval. Config.ProbeInterval gives it. Otherwise it is inferred
//     as the shortest gap seen between consecutive probes. Under the
//     schedule that gap is at most I, unless every gap seen was stretched
//     by a late sender; a stream that speeds up later defeats the
//     inference. Detection waits for the first gap. A window that holds
//     more than N own probes proves the bound wrong, and switches detection
//     off for good.
//   - Late replies. A reply resolved after its window closed is counted in
//     the oldest open window (WindowRollup.Late). That adds an answer the
//     bound above does not allow for. Late losses are harmless: they only
//     raise the loss and add no RTT or pair. A reply is reported within the
//     sender's loss timeout of its send time, and Grace exceeds that
//     timeout (Config.Grace), so a reply can only land late if its delivery
//     stalled longer than Grace minus the timeout (500 ms by default), or
//     if the clock stepped. The first late reply switches detection off for
//     good: the closed windows still judge, only later.
//   - Each probe is reported once, answered or lost (stamp.Sender).
//
// Add keeps the counts (slot.rttHigh, slot.jitHigh and the existing ones)
// at the cost of a comparison. Evaluate tests the open windows, a few
// integer operations each. It reports the oldest one certain to fail, and
// restarts the GO streak.

// Metrics an open window is certain to fail, as a bit set.
const (
	earlyRTT = 1 << iota
	earlyJitter
	earlyLoss
)

// p99Tolerance is how many of n values may exceed a bound while their
// nearest-rank p99 stays within it: n - ceil(99n/100), computed as
// nearestRank ranks, which is floor(n/100).
func p99Tolerance(n int) int {
	if n <= 0 {
		return 0
	}
	return n - (99*n+99)/100
}

// maxProbes is the most probes a window of w can hold at probe interval
// interval: ceil(w/interval) + 1 (see above).
func maxProbes(w, interval int64) int {
	return int((w+interval-1)/interval) + 1
}

// observeGap infers the probe interval from the gap between two
// consecutive probes' send times: the shortest seen.
func (t *Tracker) observeGap(g int64) {
	if g > 0 && (t.minGap == 0 || g < t.minGap) {
		t.minGap = g
		t.nMax = maxProbes(t.w, g)
	}
}

// certain returns the metrics the open window sl is certain to fail, with
// the bounds on its answers (Rmax) and probes (Smax) at close.
func (t *Tracker) certain(sl *slot) (metrics, rMax, sMax int) {
	rem := t.nMax - int(sl.inRange)
	if rem < 0 {
		return 0, 0, 0 // the bound is wrong; earlyOff is set
	}
	rMax, sMax = sl.received+rem, sl.sent+rem
	tol := p99Tolerance(rMax)
	if sl.rttHigh > tol {
		metrics |= earlyRTT
	}
	if sl.jitHigh > tol {
		metrics |= earlyJitter
	}
	if t.tg.LossRatio >= 0 && sl.lost > 0 && float64(sl.lost)/float64(sMax) > t.tg.LossRatio {
		metrics |= earlyLoss
	}
	return metrics, rMax, sMax
}

// earlyBreach returns the oldest open window certain to fail, -1 if none.
// Finding one restarts the GO streak: the SLA is failing now.
func (t *Tracker) earlyBreach() int {
	if t.earlyOff || t.nMax == 0 {
		return -1
	}
	for i := range t.nOpen {
		if m, _, _ := t.certain(t.slot(i)); m != 0 {
			t.streaking = false
			return i
		}
	}
	return -1
}

// earlyMessage says why open window i is certain to fail, for instance "RTT
// p99 certain to exceed 20ms in window 08:00:03–08:00:04: 1 of at most 11
// probes at 31.2ms".
func (t *Tracker) earlyMessage(i int) string {
	sl := t.slot(i)
	metrics, rMax, sMax := t.certain(sl)
	start := t.openStart + int64(i)*t.w
	where := " in window " + t.span(start, start+t.w)
	tol := p99Tolerance(rMax)
	var parts []string
	add := func(what, target, detail string) {
		if len(parts) == 0 {
			target += where
		}
		parts = append(parts, what+" certain to exceed "+target+": "+detail)
	}
	if metrics&earlyRTT != 0 {
		add("RTT p99", formatDuration(t.tg.RTTP99), overPhrase(sl.rttHigh, rMax, "probes", kthLargest(sl.rtts, tol+1), t.tg.RTTP99))
	}
	if metrics&earlyJitter != 0 {
		add("jitter p99", formatDuration(t.tg.JitterP99), overPhrase(sl.jitHigh, rMax, "pairs", kthLargest(sl.jitters, tol+1), t.tg.JitterP99))
	}
	if metrics&earlyLoss != 0 {
		add("loss", formatTargetRatio(t.tg.LossRatio), fmt.Sprintf("%d of at most %d probes lost", sl.lost, sMax))
	}
	return strings.Join(parts, "; ")
}

// overPhrase describes the n values over target out of at most most, p being
// a lower bound of the window's p99 at close: the (tol+1)-th largest value
// so far, the largest below 100 values.
func overPhrase(n, most int, what string, p, target time.Duration) string {
	if n == 1 {
		return fmt.Sprintf("1 of at most %d %s at %s", most, what, formatObserved(p, target))
	}
	return fmt.Sprintf("%d of at most %d %s over it, p99 at least %s", n, most, what, formatObserved(p, target))
}

// kthLargest returns the k-th largest of vs (k >= 1, at most len(vs)). It
// may reorder vs, which an open window's values can afford.
func kthLargest(vs []time.Duration, k int) time.Duration {
	if k == 1 {
		return slices.Max(vs)
	}
	slices.Sort(vs)
	return vs[len(vs)-k]
}

package sla

import (
	"math"
	"strconv"
	"time"
)

// Breach metrics: which target a window missed.
const (
	MetricRTTP99     = "rtt_p99"
	MetricJitterP99  = "jitter_p99"
	MetricLoss       = "loss"
	MetricThroughput = "throughput"
	// MetricNoSamples marks a window in which no probe packet was sent at
	// all, so nothing could be measured.
	MetricNoSamples = "no_samples"
)

// notMeasured is the observed value of a target that the window's samples
// could not judge; it fails the window (DESIGN §11: missing is NO-GO).
const notMeasured = "not measured"

// WindowRollup is what one closed window measured (DESIGN §5 "Windows").
type WindowRollup struct {
	// Start and End bound the window, [Start, End), by the probes' send time.
	Start, End time.Time
	// Sent counts probes resolved in the window (Received + Lost); duplicates
	// are not probes.
	Sent, Received, Lost int
	// Duplicates counts further replies to probes already answered (RFC 5560);
	// Reordered counts replies overtaken by a later probe's (RFC 4737).
	Duplicates, Reordered int
	// Late counts probes of an earlier, already closed window that resolved
	// after it closed; they are counted here so that a late loss is never
	// dropped.
	Late int
	// RTTP50, RTTP99 and RTTMax are exact nearest-rank percentiles of the
	// round-trip times of the probes answered in the window.
	RTTP50, RTTP99, RTTMax time.Duration
	// JitterP99 is the nearest-rank 99th percentile of |IPDV| (RFC 5481 §4.2)
	// between consecutive probes, each pair counted in the window of its
	// later probe.
	JitterP99 time.Duration
	// LossRatio is Lost / Sent, or 0 when nothing was sent.
	LossRatio float64
	// ThroughputKbps is the lowest throughput reported in the window, over
	// ThroughputReports reports; both are zero when none came.
	ThroughputKbps    float64
	ThroughputReports int
	// Met is true when every set target held.
	Met bool
	// Failed lists the targets the window missed; empty when Met.
	Failed []Breach
}

// Breach is one target a window missed.
type Breach struct {
	// Metric is one of the Metric constants.
	Metric string
	// Observed and Target are the figures for people, e.g. "31.2ms" and "20ms".
	Observed, Target string
}

// Violation is a run of consecutive bad windows (DESIGN §5).
type Violation struct {
	// Start is the start of the first bad window; End the end of the last,
	// zero while the violation is still open.
	Start, End time.Time
	// Metric, Observed and Target come from the worst breach of the run: the
	// one furthest beyond its target.
	Metric, Observed, Target string
	// Windows counts the bad windows in the run.
	Windows int
}

// noSamplesBreach is shared by every empty window; Rollups hands out copies.
var noSamplesBreach = []Breach{{Metric: MetricNoSamples, Observed: "0 probes", Target: "at least 1 probe"}}

// judge lists the targets r misses and the severity of the worst, as the
// factor by which it misses its target (+Inf for a window with nothing
// received). A target the samples cannot judge counts as missed with
// severity 1: missing evidence is never a pass. Ties go to the first metric
// in the order rtt, jitter, loss, throughput.
func judge(tg Targets, r *WindowRollup, jitterPairs int) (failed []Breach, worst int, severity float64) {
	if r.Sent == 0 {
		return noSamplesBreach, 0, math.Inf(1)
	}
	if r.Received == 0 {
		target := "< 1"
		if tg.LossRatio >= 0 {
			target = formatTargetRatio(tg.LossRatio)
		}
		return []Breach{{Metric: MetricLoss, Observed: "1", Target: target}}, 0, math.Inf(1)
	}
	add := func(b Breach, sev float64) {
		if len(failed) == 0 || sev > severity {
			worst, severity = len(failed), sev
		}
		failed = append(failed, b)
	}
	if tg.RTTP99 > 0 && r.RTTP99 > tg.RTTP99 {
		add(Breach{Metric: MetricRTTP99, Observed: formatObserved(r.RTTP99, tg.RTTP99), Target: formatDuration(tg.RTTP99)},
			float64(r.RTTP99)/float64(tg.RTTP99))
	}
	if tg.JitterP99 > 0 {
		switch {
		case jitterPairs == 0:
			add(Breach{Metric: MetricJitterP99, Observed: notMeasured, Target: formatDuration(tg.JitterP99)}, 1)
		case r.JitterP99 > tg.JitterP99:
			add(Breach{Metric: MetricJitterP99, Observed: formatObserved(r.JitterP99, tg.JitterP99), Target: formatDuration(tg.JitterP99)},
				float64(r.JitterP99)/float64(tg.JitterP99))
		}
	}
	if tg.LossRatio >= 0 && r.LossRatio > tg.LossRatio {
		add(Breach{Metric: MetricLoss, Observed: formatRatio(r.LossRatio), Target: formatTargetRatio(tg.LossRatio)},
			ratio(r.LossRatio, tg.LossRatio))
	}
	if tg.MinThroughputKbps > 0 {
		target := formatKbps(float64(tg.MinThroughputKbps))
		switch {
		case r.ThroughputReports == 0:
			add(Breach{Metric: MetricThroughput, Observed: notMeasured, Target: target}, 1)
		case r.ThroughputKbps < float64(tg.MinThroughputKbps):
			add(Breach{Metric: MetricThroughput, Observed: formatKbps(r.ThroughputKbps), Target: target},
				ratio(float64(tg.MinThroughputKbps), r.ThroughputKbps))
		}
	}
	return failed, worst, severity
}

// ratio is a/b, +Inf when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.Inf(1)
	}
	return a / b
}

// nearestRank returns the pct-th percentile of sorted by the nearest-rank
// method: the smallest value with at least pct % of the values at or below
// it. No interpolation, so the figure is always one that was observed, and
// with fewer than 100 values the 99th percentile is the maximum.
func nearestRank(sorted []time.Duration, pct int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (pct*n + 99) / 100 // ceil(pct*n/100) in integers: no float rounding at n = 100
	return sorted[max(rank, 1)-1]
}

// formatDuration rounds to the microsecond: probe timestamps carry no more.
func formatDuration(d time.Duration) string {
	return d.Round(time.Microsecond).String()
}

// formatObserved is formatDuration, except that a figure over its target
// never reads as equal to it ("20ms > 20ms").
func formatObserved(d, target time.Duration) string {
	if r := d.Round(time.Microsecond); r <= target {
		return d.String()
	}
	return formatDuration(d)
}

// formatRatio shows a measured share with four significant digits.
func formatRatio(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// formatTargetRatio shows a target share exactly as parsed.
func formatTargetRatio(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func formatKbps(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "kbps" }

package sla

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// verdictOnly compares what decides GO / NO-GO, not the figures.
var verdictOnly = cmpopts.IgnoreFields(Verdict{}, "Summary")

func TestEvaluate(t *testing.T) {
	tests := map[string]struct {
		// feed drives the tracker and returns the time to evaluate at.
		feed func(p *probe) time.Time
		want Verdict
	}{
		"no sample yet": {
			feed: func(p *probe) time.Time { return sec(10) },
			want: Verdict{Reason: NoData, Message: "no probe samples yet"},
		},
		"first window still open": {
			feed: func(p *probe) time.Time {
				p.reply(5, goodRTT)
				return sec(0.5)
			},
			want: Verdict{Reason: NoData, Message: "the first window 08:00:00–08:00:01 is still open"},
		},
		"met for less than the verification period": {
			feed: func(p *probe) time.Time {
				p.until(sec(4.05), goodRTT) // windows 0-3 closed
				return sec(4.05)
			},
			want: Verdict{SLAMet: true, Reason: Verifying, Message: "SLA met for 4s of the 5s verification period, since 08:00:00"},
		},
		"met for the verification period": {
			feed: func(p *probe) time.Time {
				p.until(sec(5.05), goodRTT) // windows 0-4 closed
				return sec(5.05)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met,
				Message: "SLA met for 5s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"one window over the RTT target": {
			feed: func(p *probe) time.Time {
				p.until(sec(3), goodRTT)
				p.reply(9, goodRTT)
				p.reply(1, 31200*time.Microsecond) // window 3's p99 is its max
				p.reply(1, goodRTT)                // opens window 4: window 3 closes
				return sec(4.05)
			},
			want: Verdict{Reason: Violated,
				Message: "RTT p99 31.2ms > target 20ms; jitter p99 21.2ms > target 5ms in window 08:00:03–08:00:04"},
		},
		"every probe of a window lost": {
			feed: func(p *probe) time.Time {
				p.until(sec(3), goodRTT)
				p.lose(10)
				p.reply(1, goodRTT)
				return sec(4.05)
			},
			want: Verdict{Reason: Violated, Message: "loss 1 (10 of 10 probes lost) > target 0.0001 in window 08:00:03–08:00:04"},
		},
		"one loss in a window": {
			feed: func(p *probe) time.Time {
				p.until(sec(3), goodRTT)
				p.reply(5, goodRTT)
				p.lose(1)
				p.reply(5, goodRTT)
				return sec(4.05)
			},
			want: Verdict{Reason: Violated, Message: "loss 0.1 (1 of 10 probes lost) > target 0.0001 in window 08:00:03–08:00:04"},
		},
		"good again after a bad window restarts verification": {
			feed: func(p *probe) time.Time {
				p.until(sec(3), goodRTT)
				p.reply(10, 50*time.Millisecond)
				p.until(sec(9.05), goodRTT) // windows 4-8 good, but jitter breaks window 4
				return sec(9.05)
			},
			want: Verdict{SLAMet: true, Reason: Verifying, Message: "SLA met for 4s of the 5s verification period, since 08:00:05"},
		},
		"no sample for more than grace and two windows": {
			feed: func(p *probe) time.Time {
				p.until(sec(5.05), goodRTT) // last probe sent at 5.0: window 5 ends 6.0
				return sec(6).Add(DefaultGrace + 2*time.Second + time.Millisecond)
			},
			want: Verdict{Reason: Stale,
				Message: "no probe window since the one ending 08:00:06, 3.501s ago (limit 3.5s): the measurements are stale"},
		},
		"not yet stale at the limit": {
			feed: func(p *probe) time.Time {
				p.until(sec(5.05), goodRTT)
				return sec(6).Add(DefaultGrace + 2*time.Second)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met,
				Message: "SLA met for 6s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"clock jumps forward": {
			feed: func(p *probe) time.Time {
				p.until(sec(10), goodRTT)
				return sec(10).Add(time.Hour)
			},
			want: Verdict{Reason: Stale,
				Message: "no probe window since the one ending 08:00:10, 1h0m0s ago (limit 3.5s): the measurements are stale"},
		},
		"clock jumps back at evaluation": {
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				return sec(10).Add(-time.Hour)
			},
			want: Verdict{Reason: ClockAnomaly,
				Message: "the clock stepped back: 07:00:10 is 1h0m0s before the end of the last window (08:00:10); NO-GO until windows after 08:00:10 close"},
		},
		"clock steps back in the probe stream": {
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				p.next = sec(-50)
				p.reply(1, goodRTT)
				return sec(11)
			},
			want: Verdict{Reason: ClockAnomaly,
				Message: "probe sent at 07:59:10 is 1m0s before the latest probe (08:00:10): the clock stepped back; NO-GO until windows after 08:00:10 close"},
		},
		"core says QoS not guaranteed": {
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				p.tr.AddNetworkReport(sec(8), ReportQoSNotGuaranteed, "gNB overload")
				return sec(10.05)
			},
			want: Verdict{SLAMet: true, Reason: NetworkNotGuaranteed,
				Message: "the core reported QOS_NOT_GUARANTEED at 08:00:08 with no QOS_GUARANTEED since (gNB overload); the probes still meet the SLA"},
		},
		"core says QoS guaranteed again": {
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				p.tr.AddNetworkReport(sec(8), ReportQoSNotGuaranteed, "")
				p.tr.AddNetworkReport(sec(9), ReportQoSGuaranteed, "")
				return sec(10.05)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met,
				Message: "SLA met for 10s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"an older QOS_GUARANTEED arriving late does not clear a newer failure": {
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				p.tr.AddNetworkReport(sec(9), ReportQoSNotGuaranteed, "")
				p.tr.AddNetworkReport(sec(8), ReportQoSGuaranteed, "")
				return sec(10.05)
			},
			want: Verdict{SLAMet: true, Reason: NetworkNotGuaranteed,
				Message: "the core reported QOS_NOT_GUARANTEED at 08:00:09 with no QOS_GUARANTEED since; the probes still meet the SLA"},
		},
		"a QoS monitoring report is evidence, not a failure": {
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				p.tr.AddNetworkReport(sec(9), ReportQoSMonitoring, "ulDelays=[4] dlDelays=[5]")
				return sec(10.05)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met,
				Message: "SLA met for 10s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"a violation outranks the core's word": {
			feed: func(p *probe) time.Time {
				p.until(sec(3), goodRTT)
				p.lose(10)
				p.reply(1, goodRTT)
				p.tr.AddNetworkReport(sec(2), ReportQoSNotGuaranteed, "")
				return sec(4.05)
			},
			want: Verdict{Reason: Violated, Message: "loss 1 (10 of 10 probes lost) > target 0.0001 in window 08:00:03–08:00:04"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tr := newTracker(t, Config{})
			now := tc.feed(newProbe(tr))
			got := tr.Evaluate(now)
			if diff := cmp.Diff(tc.want, got, verdictOnly); diff != "" {
				t.Errorf("Evaluate(%v) mismatch (-want +got):\n%s", now.Format(time.TimeOnly), diff)
			}
		})
	}
}

// TestVerifyingThenMet protects the GO rule over time: NO-GO until the SLA
// has held for the whole verification period, GO from then on.
func TestVerifyingThenMet(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	var got []string
	for s := 1; s <= 7; s++ {
		p.until(sec(float64(s)+0.05), goodRTT)
		got = append(got, tr.Evaluate(sec(float64(s)+0.05)).Reason)
	}
	// Window 0 closes on the clock, at its end plus the grace (2.5 s);
	// from then on each window closes when the next one's first probe is in.
	want := []string{NoData, NoData, Verifying, Verifying, Met, Met, Met}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons at 1 s to 7 s (-want +got):\n%s", diff)
	}
}

// TestClockAnomalyHoldsUntilFreshWindows protects "NO-GO until data is
// fresh again" after the clock steps back, and the recovery after it.
func TestClockAnomalyHoldsUntilFreshWindows(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.until(sec(10.05), goodRTT) // windows 0-9 closed, GO
	if v := tr.Evaluate(sec(10.05)); !v.Go {
		t.Fatalf("before the step: %s: %s", v.Reason, v.Message)
	}

	// The clock steps back 10 s: the next probe is sent at 0.1 s.
	p.next = sec(0.1)
	type step struct {
		at   float64
		want string
	}
	for _, s := range []step{
		{at: 5, want: ClockAnomaly},  // probes from before 7.5 s are discarded
		{at: 10, want: ClockAnomaly}, // back to where it was: window 10 holds probes from both sides
		// Window 10's sequence numbers have a hole (the discarded probes),
		// so it closes on the clock, at 12.5 s; window 11, the first wholly
		// after the step, closes with it.
		{at: 12.05, want: ClockAnomaly},
		{at: 13.05, want: Verifying},
		{at: 15.05, want: Verifying},
		{at: 16.05, want: Met}, // windows 11-15 met
	} {
		p.until(sec(s.at), goodRTT)
		if v := tr.Evaluate(sec(s.at)); v.Reason != s.want {
			t.Errorf("at %v s: %s (%s), want %s", s.at, v.Reason, v.Message, s.want)
		}
	}
	if got := tr.Summary().DiscardedSamples; got != 74 {
		t.Errorf("DiscardedSamples = %d, want 74 (sent 0.1 s to 7.4 s)", got)
	}
}

// TestNetworkEvidenceSequence protects that the core's QOS_NOT_GUARANTEED
// holds GO back exactly until its QOS_GUARANTEED.
func TestNetworkEvidenceSequence(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.until(sec(6.05), goodRTT)
	var got []string
	eval := func(at float64) {
		p.until(sec(at), goodRTT)
		got = append(got, tr.Evaluate(sec(at)).Reason)
	}
	eval(6.05)
	tr.AddNetworkReport(sec(6.1), ReportQoSNotGuaranteed, "")
	eval(7.05)
	eval(8.05)
	tr.AddNetworkReport(sec(8.1), ReportQoSGuaranteed, "")
	eval(9.05)
	want := []string{Met, NetworkNotGuaranteed, NetworkNotGuaranteed, Met}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reasons (-want +got):\n%s", diff)
	}
	wantLast := &NetworkReport{At: sec(8.1), Kind: ReportQoSGuaranteed}
	if diff := cmp.Diff(wantLast, tr.Summary().LastNetworkReport); diff != "" {
		t.Errorf("LastNetworkReport (-want +got):\n%s", diff)
	}
}

func TestSummary(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.until(sec(4), goodRTT)         // windows 0-3: 10 ms
	p.reply(10, 12*time.Millisecond) // window 4: 12 ms, |IPDV| 2 ms at its first probe
	p.reply(5, 14*time.Millisecond)  // window 5: 14 ms and a loss
	p.lose(1)
	p.reply(4, 14*time.Millisecond)
	p.until(sec(10.05), 8*time.Millisecond) // windows 6-9: 8 ms, |IPDV| 6 ms at window 6's first probe
	tr.AddNetworkReport(sec(9), ReportQoSMonitoring, "rtt 9ms")

	got := tr.Evaluate(sec(10.05)).Summary
	want := Summary{
		// Windows 5-9, the last 5 s: medians 14, 8, 8, 8, 8 ms.
		RTTP50:      8 * time.Millisecond,
		RTTP99:      14 * time.Millisecond,
		JitterP99:   6 * time.Millisecond,
		LossRatio:   1.0 / 50,
		Compliance:  8.0 / 10, // window 5 lost a probe, window 6 broke the jitter target
		Windows:     10,
		GoodWindows: 8,
		LastViolation: &Violation{
			// The loss is 1000 times its target, the jitter 1.2 times.
			Start: sec(5), End: sec(7), Metric: MetricLoss, Observed: "0.1", Target: "0.0001", Windows: 2,
		},
		LastEvaluated:     sec(10.05),
		LastNetworkReport: &NetworkReport{At: sec(9), Kind: ReportQoSMonitoring, Detail: "rtt 9ms"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summary mismatch (-want +got):\n%s", diff)
	}
}

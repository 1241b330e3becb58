package sla

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medslice/medslice/internal/stamp"
)

const ms = time.Millisecond

func TestNearestRank(t *testing.T) {
	// values 1..n ms
	series := func(n int) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = time.Duration(i+1) * ms
		}
		return s
	}
	tests := map[string]struct {
		values           []time.Duration
		wantP50, wantP99 time.Duration
	}{
		"no value":                        {values: nil, wantP50: 0, wantP99: 0},
		"one value":                       {values: series(1), wantP50: 1 * ms, wantP99: 1 * ms},
		"two values":                      {values: series(2), wantP50: 1 * ms, wantP99: 2 * ms},
		"ten values: p99 is the max":      {values: series(10), wantP50: 5 * ms, wantP99: 10 * ms},
		"99 values: p99 is still the max": {values: series(99), wantP50: 50 * ms, wantP99: 99 * ms},
		"100 values: p99 is the 99th":     {values: series(100), wantP50: 50 * ms, wantP99: 99 * ms},
		"101 values: p99 is the 100th":    {values: series(101), wantP50: 51 * ms, wantP99: 100 * ms},
		"200 values: p99 is the 198th":    {values: series(200), wantP50: 100 * ms, wantP99: 198 * ms},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := []time.Duration{nearestRank(tc.values, 50), nearestRank(tc.values, 99)}
			if diff := cmp.Diff([]time.Duration{tc.wantP50, tc.wantP99}, got); diff != "" {
				t.Errorf("p50, p99 (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJitter checks the |IPDV| values of a window against hand-computed
// RFC 5481 §4.2 pairs: consecutive sequence numbers, both answered, in
// whatever order the replies came.
func TestJitter(t *testing.T) {
	// s is probe seq, sent at t0 + seq × 100 ms, with the given RTT.
	s := func(seq uint32, rtt time.Duration) stamp.Sample {
		sent := t0.Add(time.Duration(seq) * probeInterval)
		return stamp.Sample{Seq: seq, Sent: sent, Received: sent.Add(rtt), RTT: rtt}
	}
	lost := func(seq uint32) stamp.Sample {
		return stamp.Sample{Seq: seq, Sent: t0.Add(time.Duration(seq) * probeInterval), Lost: true}
	}
	synced := func(seq uint32, rtt, fwd time.Duration) stamp.Sample {
		smp := s(seq, rtt)
		smp.Synchronized, smp.ForwardDelay = true, fwd
		return smp
	}
	tests := map[string]struct {
		samples []stamp.Sample // in delivery order
		want    []time.Duration
	}{
		"in order": {
			// RTT 10, 12, 11, 15: IPDV +2, -1, +4
			samples: []stamp.Sample{s(0, 10*ms), s(1, 12*ms), s(2, 11*ms), s(3, 15*ms)},
			want:    []time.Duration{1 * ms, 2 * ms, 4 * ms},
		},
		"a loss leaves no pair on either side": {
			// 10, 12, lost, 11, 15: pairs (0,1) = +2 and (3,4) = +4 only
			samples: []stamp.Sample{s(0, 10*ms), s(1, 12*ms), lost(2), s(3, 11*ms), s(4, 15*ms)},
			want:    []time.Duration{2 * ms, 4 * ms},
		},
		"a loss reported after its neighbours": {
			samples: []stamp.Sample{s(0, 10*ms), s(1, 12*ms), s(3, 11*ms), s(4, 15*ms), lost(2)},
			want:    []time.Duration{2 * ms, 4 * ms},
		},
		"a reordered reply pairs with both neighbours": {
			// seq 3 (15) overtakes seq 2 (11): pairs (0,1) +2, (1,2) -1, (2,3) +4, (3,4) 0
			samples: []stamp.Sample{s(0, 10*ms), s(1, 12*ms), s(3, 15*ms), s(2, 11*ms), s(4, 15*ms)},
			want:    []time.Duration{0, 1 * ms, 2 * ms, 4 * ms},
		},
		"a duplicate is no probe": {
			samples: func() []stamp.Sample {
				dup := s(1, 30*ms)
				dup.Duplicate = true
				return []stamp.Sample{s(0, 10*ms), s(1, 12*ms), dup, s(2, 11*ms)}
			}(),
			want: []time.Duration{1 * ms, 2 * ms},
		},
		"synchronized clocks use the forward delay": {
			// RTT constant, forward delay 5, 8, 6: IPDV +3, -2
			samples: []stamp.Sample{synced(0, 10*ms, 5*ms), synced(1, 10*ms, 8*ms), synced(2, 10*ms, 6*ms)},
			want:    []time.Duration{2 * ms, 3 * ms},
		},
		"one synchronized end is not enough": {
			samples: []stamp.Sample{synced(0, 10*ms, 5*ms), s(1, 13*ms)},
			want:    []time.Duration{3 * ms},
		},
		"a restarted sender's numbers do not pair with the old ones": {
			// The sender restarted 2 s later (more than the grace) at seq 1.
			samples: func() []stamp.Sample {
				again := s(1, 50*ms)
				again.Sent = t0.Add(2*time.Second + 500*ms)
				return []stamp.Sample{s(0, 10*ms), s(2, 40*ms), again}
			}(),
			want: nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tr := newTracker(t, Config{})
			for _, smp := range tc.samples {
				tr.Add(smp)
			}
			got := slices.Clone(tr.slot(0).jitters)
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("|IPDV| of window 0 (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJitterCountsInTheLaterWindow checks that a pair straddling a window
// boundary is judged with the window of its later probe.
func TestJitterCountsInTheLaterWindow(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.reply(10, 10*ms) // window 0
	p.reply(10, 17*ms) // window 1: first probe 7 ms after the last of window 0
	p.until(sec(3), 17*ms)
	got := tr.Rollups()
	if len(got) != 2 {
		t.Fatalf("got %d rollups, want 2", len(got))
	}
	if got[0].JitterP99 != 0 || got[1].JitterP99 != 7*ms {
		t.Errorf("jitter p99 of windows 0, 1 = %v, %v; want 0, 7ms", got[0].JitterP99, got[1].JitterP99)
	}
	if want := []Breach{{Metric: MetricJitterP99, Observed: "7ms", Target: "5ms"}}; !cmp.Equal(want, got[1].Failed) {
		t.Errorf("window 1 failed %v, want %v", got[1].Failed, want)
	}
}

func TestWindowRollup(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	// Window 0: ten probes with RTT 1, 2, 3, 4, -, 6, ... 10 ms: probe 4 is
	// lost, probe 6's reply overtakes probe 5's, and probe 2 is answered
	// twice.
	for seq := range uint32(10) {
		switch seq {
		case 4:
			tr.Add(p.sample(0, true))
		case 5:
			five := p.sample(6*ms, false)
			six := p.sample(7*ms, false)
			tr.Add(six)
			five.Reordered = true
			tr.Add(five)
		case 6:
		case 2:
			two := p.sample(3*ms, false)
			tr.Add(two)
			two.Duplicate, two.RTT = true, 99*ms
			tr.Add(two)
		default:
			tr.Add(p.sample(time.Duration(seq+1)*ms, false))
		}
	}
	p.reply(1, 1*ms) // window 1 opens; window 0 closes on the clock only, being the first
	tr.Evaluate(sec(2.5))

	want := []WindowRollup{{
		Start: sec(0), End: sec(1),
		Sent: 10, Received: 9, Lost: 1, Duplicates: 1, Reordered: 1,
		RTTP50: 6 * ms, RTTP99: 10 * ms, RTTMax: 10 * ms, // 5th of 9
		JitterP99: 1 * ms, // pairs (0,1) (1,2) (2,3) (5,6) ... (8,9): all 1 ms
		LossRatio: 0.1,
		Failed:    []Breach{{Metric: MetricLoss, Observed: "0.1", Target: "0.0001"}},
	}}
	if diff := cmp.Diff(want, tr.Rollups()); diff != "" {
		t.Errorf("Rollups() mismatch (-want +got):\n%s", diff)
	}
}

// TestWindowCloses protects when windows close: on the clock for the first,
// and as soon as every probe is resolved afterwards, waiting for a loss
// still to be reported.
func TestWindowCloses(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	closed := func() int { return len(tr.Rollups()) }

	p.until(sec(2.45), goodRTT)
	if got := closed(); got != 0 {
		t.Fatalf("before 2.5 s: %d windows closed, want 0 (the first waits for its end plus the grace)", got)
	}
	p.reply(1, goodRTT) // sent at 2.5 s
	if got := closed(); got != 2 {
		t.Fatalf("at 2.5 s: %d windows closed, want 2 (window 0 on the clock, then window 1, complete)", got)
	}
	p.until(sec(3), goodRTT)
	p.reply(1, goodRTT) // window 3's first probe proves window 2 complete
	if got := closed(); got != 3 {
		t.Fatalf("at 3.0 s: %d windows closed, want 3", got)
	}

	// Window 3's last probe is lost, its loss reported after window 4 began.
	p.until(sec(3.9), goodRTT)
	last := p.sample(0, true)
	p.until(sec(4.5), goodRTT)
	if got := closed(); got != 3 {
		t.Fatalf("loss outstanding: %d windows closed, want 3", got)
	}
	tr.Add(last)
	if got := closed(); got != 4 {
		t.Fatalf("loss reported: %d windows closed, want 4", got)
	}
	if r := tr.Rollups()[3]; r.Lost != 1 || r.Sent != 10 || r.Late != 0 {
		t.Errorf("window 3: sent %d, lost %d, late %d; want 10, 1, 0", r.Sent, r.Lost, r.Late)
	}
}

// TestLateLossIsCounted protects against forgetting a loss reported after
// its window closed on the clock: it counts in the oldest open window.
func TestLateLossIsCounted(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.until(sec(0.9), goodRTT)
	late := p.sample(0, true) // sent at 0.9 s, window 0
	p.until(sec(2.5), goodRTT)
	p.reply(1, goodRTT) // sent at 2.5 s: window 0 closes on the clock
	tr.Add(late)
	p.until(sec(5.05), goodRTT)

	got := tr.Rollups()
	if got[0].Lost != 0 || got[0].Sent != 9 {
		t.Errorf("window 0: sent %d, lost %d; want 9, 0", got[0].Sent, got[0].Lost)
	}
	// Window 1 was the oldest open. With probe 9 outstanding it could not
	// close early either.
	if r := got[1]; r.Lost != 1 || r.Late != 1 || r.Sent != 11 || r.Met {
		t.Errorf("window 1: sent %d, lost %d, late %d, met %v; want 11, 1, 1, false", r.Sent, r.Lost, r.Late, r.Met)
	}
}

func TestViolations(t *testing.T) {
	tg := urllcTargets()
	tg.JitterP99 = 0 // steps in RTT would otherwise fail on jitter too
	tr := newTracker(t, Config{Targets: tg})
	p := newProbe(tr)
	window := func(rtt time.Duration, lost int) {
		p.reply(10-lost, rtt)
		p.lose(lost)
	}
	window(goodRTT, 0)  // 0
	window(25*ms, 0)    // 1 bad: RTT 1.25 × target
	window(40*ms, 0)    // 2 bad: RTT 2 × target, the worst of the run
	window(30*ms, 0)    // 3 bad
	window(goodRTT, 0)  // 4
	window(goodRTT, 1)  // 5 bad: loss
	window(goodRTT, 0)  // 6
	window(22*ms, 0)    // 7 bad, still open
	p.reply(1, goodRTT) // closes window 7

	want := []Violation{
		{Start: sec(1), End: sec(4), Metric: MetricRTTP99, Observed: "40ms", Target: "20ms", Windows: 3},
		{Start: sec(5), End: sec(6), Metric: MetricLoss, Observed: "0.1", Target: "0.0001", Windows: 1},
		{Start: sec(7), Metric: MetricRTTP99, Observed: "22ms", Target: "20ms", Windows: 1},
	}
	if diff := cmp.Diff(want, tr.Violations()); diff != "" {
		t.Errorf("Violations() mismatch (-want +got):\n%s", diff)
	}
	s := tr.Summary()
	if s.Windows != 8 || s.GoodWindows != 3 || s.Compliance != 3.0/8 {
		t.Errorf("compliance %d/%d = %v, want 3/8", s.GoodWindows, s.Windows, s.Compliance)
	}
}

// TestGapInProbes protects that windows without probes count against the
// SLA once the stream resumes: they are failed windows, not missing ones.
func TestGapInProbes(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.until(sec(3), goodRTT)
	p.pause(5 * time.Second) // nothing sent for windows 3-7
	p.until(sec(9.05), goodRTT)

	v := tr.Evaluate(sec(9.05))
	if v.Reason != Verifying {
		t.Errorf("after the gap: %s (%s), want Verifying", v.Reason, v.Message)
	}
	want := []Violation{{Start: sec(3), End: sec(8), Metric: MetricNoSamples, Observed: "0 probes", Target: "at least 1 probe", Windows: 5}}
	if diff := cmp.Diff(want, tr.Violations()); diff != "" {
		t.Errorf("Violations() mismatch (-want +got):\n%s", diff)
	}
	if s := v.Summary; s.Windows != 9 || s.GoodWindows != 4 {
		t.Errorf("windows %d, good %d; want 9, 4", s.Windows, s.GoodWindows)
	}
}

func TestThroughput(t *testing.T) {
	tg := urllcTargets()
	tg.MinThroughputKbps = 1000
	tr := newTracker(t, Config{Targets: tg})
	p := newProbe(tr)
	p.reply(1, goodRTT)
	tr.AddThroughput(sec(0.5), 1500)
	tr.AddThroughput(sec(0.6), 1200) // window 0 keeps the lowest
	p.until(sec(1.5), goodRTT)
	tr.AddThroughput(sec(1.5), 800) // window 1 under target
	p.until(sec(3.05), goodRTT)     // window 2 unmeasured

	var got []string
	for _, r := range tr.Rollups() {
		got = append(got, formatKbps(r.ThroughputKbps)+" "+fmtBreaches(r.Failed))
	}
	want := []string{
		"1200kbps ",
		"800kbps throughput 800kbps/1000kbps",
		"0kbps throughput not measured/1000kbps",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("throughput per window (-want +got):\n%s", diff)
	}
}

func fmtBreaches(bs []Breach) string {
	var s string
	for _, b := range bs {
		s += b.Metric + " " + b.Observed + "/" + b.Target
	}
	return s
}

// TestBoundedMemory protects the history bounds, also across a gap far
// longer than the rollup history.
func TestBoundedMemory(t *testing.T) {
	tr := newTracker(t, Config{MaxRollups: 10, MaxViolations: 3, MaxNetworkReports: 4})
	p := newProbe(tr)
	for range 6 { // six one-window violations
		p.reply(10, goodRTT)
		p.lose(10)
	}
	p.reply(10, goodRTT) // windows 0-12
	for i := range 10 {
		tr.AddNetworkReport(sec(float64(i)), ReportQoSMonitoring, "")
	}
	tr.AddNetworkReport(sec(20), ReportQoSMonitoring, string(make([]byte, 4096)))

	p.pause(time.Hour)
	p.until(sec(3614.05), goodRTT)

	if got := len(tr.Rollups()); got != 10 {
		t.Errorf("kept %d rollups, want 10", got)
	}
	if got := tr.Rollups()[9].Start; !got.Equal(sec(3613)) {
		t.Errorf("newest rollup starts at %v, want %v", got, sec(3613))
	}
	vs := tr.Violations()
	if len(vs) != 3 {
		t.Fatalf("kept %d violations, want 3", len(vs))
	}
	gap := Violation{Start: sec(13), End: sec(3613), Metric: MetricNoSamples, Observed: "0 probes", Target: "at least 1 probe", Windows: 3600}
	if diff := cmp.Diff(gap, vs[2]); diff != "" {
		t.Errorf("the gap's violation (-want +got):\n%s", diff)
	}
	if s := tr.Summary(); s.Windows != 3614 || s.GoodWindows != 8 {
		t.Errorf("windows %d, good %d; want 3614, 8", s.Windows, s.GoodWindows)
	}
	reports := tr.NetworkReports()
	if len(reports) != 4 || len(reports[3].Detail) != maxDetailBytes {
		t.Errorf("kept %d reports, the last with %d bytes of detail; want 4 and %d", len(reports), len(reports[3].Detail), maxDetailBytes)
	}
	for i := range tr.slots {
		if c := cap(tr.slots[i].rtts); c > 64 {
			t.Errorf("slot %d holds %d RTTs of capacity after the run", i, c)
		}
	}
}

func TestRollupsAreCopies(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	p.until(sec(1), goodRTT)
	p.pause(2 * time.Second)
	p.until(sec(5), goodRTT)
	rs := tr.Rollups()
	rs[1].Failed[0].Metric = "tampered"
	if got := tr.Rollups()[2].Failed[0].Metric; got != MetricNoSamples {
		t.Errorf("a caller's edit reached the tracker: %q", got)
	}
}

// TestConcurrentUse runs the probe and the reconciler sides together, for -race.
func TestConcurrentUse(t *testing.T) {
	tr := newTracker(t, Config{})
	p := newProbe(tr)
	var wg sync.WaitGroup
	wg.Go(func() { p.until(sec(60), goodRTT) })
	wg.Go(func() {
		for i := range 200 {
			tr.Evaluate(sec(float64(i) * 0.3))
			_ = tr.Rollups()
			_ = tr.Violations()
			tr.AddNetworkReport(sec(float64(i)*0.3), ReportQoSMonitoring, "")
		}
	})
	wg.Wait()
	if s := tr.Summary(); s.Windows == 0 || math.IsNaN(s.Compliance) {
		t.Errorf("summary after concurrent use: %+v", s)
	}
}

func TestJudge(t *testing.T) {
	tests := map[string]struct {
		r    WindowRollup
		jit  int // |IPDV| pairs measured
		want []Breach
	}{
		"all within target": {
			r:   WindowRollup{Sent: 10, Received: 10, RTTP99: 20 * ms, JitterP99: 5 * ms},
			jit: 9,
		},
		"just over a target never reads as equal to it": {
			r:    WindowRollup{Sent: 10, Received: 10, RTTP99: 20*ms + 400*time.Nanosecond},
			jit:  9,
			want: []Breach{{Metric: MetricRTTP99, Observed: "20.0004ms", Target: "20ms"}},
		},
		"jitter unmeasurable is a breach": {
			r:    WindowRollup{Sent: 10, Received: 5, Lost: 5, LossRatio: 0.5},
			want: []Breach{{Metric: MetricJitterP99, Observed: "not measured", Target: "5ms"}, {Metric: MetricLoss, Observed: "0.5", Target: "0.0001"}},
		},
		"nothing sent": {
			want: []Breach{{Metric: MetricNoSamples, Observed: "0 probes", Target: "at least 1 probe"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, _ := judge(urllcTargets(), &tc.r, tc.jit)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("judge() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

package sla

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medslice/medslice/internal/stamp"
)

func TestP99Tolerance(t *testing.T) {
	for n := range 1001 {
		tol := p99Tolerance(n)
		if tol != n/100 {
			t.Errorf("p99Tolerance(%d) = %d, want floor(n/100) = %d", n, tol, n/100)
		}
		// Against the rollup's own percentile: a values over the target
		// fail the p99 exactly when a > tol.
		for _, a := range []int{tol, tol + 1} {
			if a > n {
				continue
			}
			vs := make([]time.Duration, n)
			for i := range a {
				vs[n-1-i] = 2 // over a target of 1
			}
			if fails := nearestRank(vs, 99) > 1; fails != (a > tol) {
				t.Errorf("n %d, %d over target: p99 fails %v, tolerance %d", n, a, fails, tol)
			}
		}
	}
}

func TestMaxProbes(t *testing.T) {
	for _, tc := range []struct {
		w, interval time.Duration
		want        int
	}{
		{time.Second, 100 * ms, 11}, // ten due times, and one due before the window sent late
		{time.Second, 10 * ms, 101},
		{time.Second, 300 * ms, 5},
		{time.Second, time.Second, 2},
		{time.Second, 2 * time.Second, 2},
	} {
		if got := maxProbes(int64(tc.w), int64(tc.interval)); got != tc.want {
			t.Errorf("maxProbes(%v, %v) = %d, want %d", tc.w, tc.interval, got, tc.want)
		}
	}
}

// TestEarlyBreach protects detection before a window closes: when it fires,
// and when it must not.
func TestEarlyBreach(t *testing.T) {
	noJitter := urllcTargets()
	noJitter.JitterP99 = 0
	lossOnly := func(ratio float64) Targets {
		tg := noJitter
		tg.RTTP99, tg.LossRatio = 0, ratio
		return tg
	}
	at100ms := Config{Targets: noJitter, ProbeInterval: probeInterval}
	tests := map[string]struct {
		cfg  Config
		feed func(p *probe) time.Time
		want Verdict
	}{
		"one RTT over target in the first window": {
			cfg: at100ms,
			feed: func(p *probe) time.Time {
				p.reply(1, 30*ms)
				return sec(0.05)
			},
			want: Verdict{Reason: Violated, Message: "RTT p99 certain to exceed 20ms in window 08:00:00–08:00:01: 1 of at most 11 probes at 30ms"},
		},
		"one RTT over target after the SLA held": {
			cfg: Config{ProbeInterval: probeInterval}, // with the jitter target
			feed: func(p *probe) time.Time {
				p.until(sec(5), goodRTT) // windows 0-4 met
				p.reply(1, 31200*time.Microsecond)
				return sec(5.05)
			},
			want: Verdict{Reason: Violated, Message: "RTT p99 certain to exceed 20ms in window 08:00:05–08:00:06: 1 of at most 11 probes at 31.2ms; " +
				"jitter p99 certain to exceed 5ms: 1 of at most 11 pairs at 21.2ms"},
		},
		"100 probes a window: one RTT over target is tolerated": {
			cfg: Config{Targets: noJitter, ProbeInterval: 10 * ms},
			feed: func(p *probe) time.Time {
				p.every = 10 * ms
				p.until(sec(3.5), goodRTT)
				p.reply(1, 30*ms)
				p.until(sec(3.7), goodRTT)
				return sec(3.7)
			},
			want: Verdict{SLAMet: true, Reason: Verifying, Message: "SLA met for 3s of the 5s verification period, since 08:00:00"},
		},
		"100 probes a window: two RTTs over target are not": {
			cfg: Config{Targets: noJitter, ProbeInterval: 10 * ms},
			feed: func(p *probe) time.Time {
				p.every = 10 * ms
				p.until(sec(3.5), goodRTT)
				p.reply(1, 30*ms)
				p.until(sec(3.7), goodRTT)
				p.reply(1, 25*ms)
				return sec(3.71)
			},
			// Of at most 101 answers the p99 is the second largest.
			want: Verdict{Reason: Violated, Message: "RTT p99 certain to exceed 20ms in window 08:00:03–08:00:04: 2 of at most 101 probes over it, p99 at least 25ms"},
		},
		"one loss of at most 11 probes against 1e-4": {
			cfg: at100ms,
			feed: func(p *probe) time.Time {
				p.until(sec(5), goodRTT)
				p.reply(3, goodRTT)
				p.lose(1)
				return sec(5.35)
			},
			want: Verdict{Reason: Violated, Message: "loss certain to exceed 0.0001 in window 08:00:05–08:00:06: 1 of at most 11 probes lost"},
		},
		"one loss against 0.2 is not certain": {
			cfg: Config{Targets: lossOnly(0.2), ProbeInterval: probeInterval},
			feed: func(p *probe) time.Time {
				p.until(sec(5), goodRTT)
				p.lose(1)
				p.reply(8, goodRTT)
				return sec(5.9)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met, Message: "SLA met for 5s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"two losses against 0.2 are not certain": {
			// 2 of 11 is 0.18: nine answers may still come.
			cfg: Config{Targets: lossOnly(0.2), ProbeInterval: probeInterval},
			feed: func(p *probe) time.Time {
				p.until(sec(5), goodRTT)
				p.lose(2)
				return sec(5.15)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met, Message: "SLA met for 5s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"three losses against 0.2 are": {
			cfg: Config{Targets: lossOnly(0.2), ProbeInterval: probeInterval},
			feed: func(p *probe) time.Time {
				p.until(sec(5), goodRTT)
				p.lose(3)
				return sec(5.25)
			},
			want: Verdict{Reason: Violated, Message: "loss certain to exceed 0.2 in window 08:00:05–08:00:06: 3 of at most 11 probes lost"},
		},
		"inferred interval: unknown after one probe": {
			cfg: Config{Targets: noJitter},
			feed: func(p *probe) time.Time {
				p.reply(1, 30*ms)
				return sec(0.05)
			},
			want: Verdict{Reason: NoData, Message: "the first window 08:00:00–08:00:01 is still open"},
		},
		"inferred interval: known from two consecutive probes": {
			cfg: Config{Targets: noJitter},
			feed: func(p *probe) time.Time {
				p.reply(1, goodRTT)
				p.reply(1, 30*ms)
				return sec(0.15)
			},
			want: Verdict{Reason: Violated, Message: "RTT p99 certain to exceed 20ms in window 08:00:00–08:00:01: 1 of at most 11 probes at 30ms"},
		},
		"inferred interval: losses give the gap too": {
			cfg: Config{Targets: urllcTargets()},
			feed: func(p *probe) time.Time {
				p.lose(2)
				return sec(0.15)
			},
			want: Verdict{Reason: Violated, Message: "loss certain to exceed 0.0001 in window 08:00:00–08:00:01: 2 of at most 11 probes lost"},
		},
		"a failed closed window keeps its message": {
			cfg: Config{ProbeInterval: probeInterval},
			feed: func(p *probe) time.Time {
				p.until(sec(3), goodRTT)
				p.reply(9, goodRTT)
				p.reply(1, 31200*time.Microsecond)
				p.reply(1, goodRTT) // closes window 3; window 4 is certain to fail jitter
				return sec(4.05)
			},
			want: Verdict{Reason: Violated,
				Message: "RTT p99 31.2ms > target 20ms; jitter p99 21.2ms > target 5ms in window 08:00:03–08:00:04"},
		},
		"a clock step back outranks it": {
			cfg: at100ms,
			feed: func(p *probe) time.Time {
				p.until(sec(10.05), goodRTT)
				p.next = sec(-50)
				p.reply(1, goodRTT)
				p.next = sec(10.1)
				p.reply(1, 30*ms)
				return sec(10.15)
			},
			want: Verdict{Reason: ClockAnomaly,
				Message: "probe sent at 07:59:10 is 1m0s before the latest probe (08:00:10): the clock stepped back; NO-GO until windows after 08:00:10 close"},
		},
		"more probes in a window than the interval allows switch it off": {
			cfg: Config{Targets: noJitter, ProbeInterval: 250 * ms}, // at most 5 a window, but sent at 100 ms
			feed: func(p *probe) time.Time {
				p.until(sec(5), goodRTT)
				p.reply(1, 30*ms)
				return sec(5.05)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met, Message: "SLA met for 5s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"a late reply switches it off": {
			cfg: at100ms,
			feed: func(p *probe) time.Time {
				p.until(sec(5.5), goodRTT)
				held := p.sample(goodRTT, false) // sent at 5.5 s, delivered after window 5 closed
				p.until(sec(7.55), goodRTT)      // window 5 closes on the clock at 7.5 s
				p.tr.Add(held)
				p.reply(1, 30*ms)
				return sec(7.65)
			},
			want: Verdict{SLAMet: true, Go: true, Reason: Met, Message: "SLA met for 7s since 08:00:00: RTT p99 10ms, jitter p99 0s, loss 0 over the last 5s"},
		},
		"without the late reply it fires": {
			cfg: at100ms,
			feed: func(p *probe) time.Time {
				p.until(sec(5.5), goodRTT)
				p.sample(goodRTT, false) // never delivered
				p.until(sec(7.55), goodRTT)
				p.reply(1, 30*ms)
				return sec(7.65)
			},
			want: Verdict{Reason: Violated, Message: "RTT p99 certain to exceed 20ms in window 08:00:07–08:00:08: 1 of at most 11 probes at 30ms"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tr := newTracker(t, tc.cfg)
			now := tc.feed(newProbe(tr))
			got := tr.Evaluate(now)
			if diff := cmp.Diff(tc.want, got, verdictOnly); diff != "" {
				t.Errorf("Evaluate(%v) mismatch (-want +got):\n%s", now.Format(time.TimeOnly), diff)
			}
		})
	}
}

// TestEarlyBoundCountsALateSend protects the + 1 in the most probes a window
// holds: the probe due just before a window, sent late, lands in it, and the
// window then passes targets that its due probes alone would fail.
func TestEarlyBoundCountsALateSend(t *testing.T) {
	tests := map[string]struct {
		every time.Duration
		tg    func(*Targets)
		first func(p *probe) // sends the late probe
	}{
		"loss: 1 of 11 meets a target of 1/11": {
			every: probeInterval,
			tg:    func(tg *Targets) { tg.RTTP99, tg.LossRatio = 0, 1.0/11 },
			first: func(p *probe) { p.lose(1) },
		},
		"RTT: 1 of 100 meets the p99": {
			every: 10101011, // 99 due times a window
			tg:    func(tg *Targets) { tg.LossRatio = 0 },
			first: func(p *probe) { p.reply(1, 30*ms) },
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tg := urllcTargets()
			tg.JitterP99 = 0
			tc.tg(&tg)
			tr := newTracker(t, Config{Targets: tg, ProbeInterval: tc.every})
			p := newProbe(tr)
			p.every = tc.every
			for p.next.Add(p.every).Before(sec(3)) {
				p.reply(1, goodRTT)
			}
			due := p.next // the last due time of window 2
			p.next = sec(3)
			tc.first(p)
			p.next = due.Add(p.every)
			p.until(sec(3.5), goodRTT)
			if v := tr.Evaluate(sec(3.5)); v.Reason != Verifying {
				t.Errorf("window 3 half sent: %s: %s; want Verifying", v.Reason, v.Message)
			}
			p.until(sec(4.05), goodRTT)
			rs := tr.Rollups()
			if r := rs[len(rs)-1]; !r.Start.Equal(sec(3)) || !r.Met || r.Sent != maxProbes(int64(time.Second), int64(tc.every)) {
				t.Errorf("window 3: %+v; want met with %d probes", r, maxProbes(int64(time.Second), int64(tc.every)))
			}
		})
	}
}

// TestEarlyLateLosses protects the loss bound against late losses: they
// count in the oldest open window's probes as well as in its losses.
func TestEarlyLateLosses(t *testing.T) {
	tg := urllcTargets()
	tg.JitterP99, tg.LossRatio = 0, 2.0/12
	tr := newTracker(t, Config{Targets: tg, ProbeInterval: probeInterval})
	p := newProbe(tr)
	p.until(sec(4.8), goodRTT)
	a, b := p.sample(0, true), p.sample(0, true) // sent at 4.8 and 4.9 s, reported late
	p.until(sec(6.55), goodRTT)                  // window 4 closes on the clock at 6.5 s
	tr.Add(a)
	tr.Add(b) // both count in window 5: 2 lost of at most 13
	if v := tr.Evaluate(sec(6.55)); v.Reason != Met {
		t.Errorf("after the late losses: %s: %s; want Met", v.Reason, v.Message)
	}
	p.until(sec(7.55), goodRTT) // window 5 closes on the clock at 7.5 s
	if r := tr.Rollups()[5]; !r.Start.Equal(sec(5)) || r.Sent != 12 || r.Lost != 2 || r.Late != 2 || !r.Met {
		t.Errorf("window 5: %+v; want 2 late losses of 12 probes, met", r)
	}
}

// TestEarlyBreachThenRollup protects the hand-over: the verdict turns
// Violated as soon as the window is certain to fail, the GO streak restarts
// then, and the closed window fails the same target.
func TestEarlyBreachThenRollup(t *testing.T) {
	tg := urllcTargets()
	tg.JitterP99 = 0
	tr := newTracker(t, Config{Targets: tg, ProbeInterval: probeInterval})
	p := newProbe(tr)
	type step struct {
		at     float64
		rtt    time.Duration // of the probe sent at at
		reason string
	}
	var got, want []string
	for _, s := range []step{
		{at: 10, rtt: goodRTT, reason: Met},
		{at: 10.1, rtt: 30 * ms, reason: Violated}, // window 10 is certain to fail
		{at: 10.5, rtt: goodRTT, reason: Violated},
		{at: 11, rtt: goodRTT, reason: Violated}, // window 10 closed, failed
		{at: 12, rtt: goodRTT, reason: Verifying},
		{at: 16, rtt: goodRTT, reason: Met}, // windows 11-15
	} {
		p.until(sec(s.at), goodRTT)
		p.reply(1, s.rtt)
		v := tr.Evaluate(sec(s.at + 0.05))
		got = append(got, fmt.Sprintf("%v %s: %s", s.at, v.Reason, v.Message))
		want = append(want, fmt.Sprintf("%v %s", s.at, s.reason))
		if s.at == 10.1 && tr.streaking {
			t.Errorf("the GO streak goes on after an early breach")
		}
	}
	for i := range got {
		if got[i][:len(want[i])] != want[i] {
			t.Errorf("got %q, want %q", got[i], want[i])
		}
	}
	rs := tr.Rollups()
	if r := rs[10]; !r.Start.Equal(sec(10)) || r.Met || r.Failed[0].Metric != MetricRTTP99 {
		t.Errorf("window 10: %+v, want failed on %s", r, MetricRTTP99)
	}
	if vs := tr.Violations(); len(vs) != 1 || !vs[0].Start.Equal(sec(10)) || !vs[0].End.Equal(sec(11)) {
		t.Errorf("violations %+v, want window 10 alone", vs)
	}
}

// TestEarlyBreachIsSound checks over random streams that whatever early
// detection says of an open window, the window says too once closed. The
// sender is modelled as stamp.Sender: due times one interval apart, sends
// late by a random delay (sometimes long enough to shift the schedule),
// replies after their RTT, losses reported after the loss timeout, in
// order of report, with duplicates; Evaluate is called in between.
func TestEarlyBreachIsSound(t *testing.T) {
	seeds := 600
	if testing.Short() {
		seeds = 200
	}
	var fired, windows, failedWindows int
	for seed := range uint64(seeds) {
		f, w, fw := checkEarlySoundness(t, seed)
		fired += f
		windows += w
		failedWindows += fw
	}
	t.Logf("%d seeds: %d windows, %d failed, %d early detections (window × metric)", seeds, windows, failedWindows, fired)
	if fired < seeds {
		t.Errorf("only %d early detections over %d seeds: the test no longer exercises detection", fired, seeds)
	}
}

func checkEarlySoundness(t *testing.T, seed uint64) (fired, windows, failed int) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	pick := func(vs ...float64) float64 { return vs[rng.IntN(len(vs))] }
	// Intervals around the points where the bound on a window's probes
	// crosses a p99 tolerance step (100, 200 answers): 10101011 ns makes
	// 99 due times a window, and 100 probes when one due before it is sent
	// late.
	interval := time.Duration(pick(5, 9.9, 10, 10.2, 20.2, 50, 100, 100, 100, 200, 300, 400) * float64(ms))
	if rng.IntN(4) == 0 {
		interval = time.Duration(pick(10101011, 5025126))
	}
	lossTarget := pick(-1, 0, 1e-4, 0.05, 0.1, 0.2)
	switch rng.IntN(3) {
	case 0:
		lossTarget = rng.Float64() * 0.4
	case 1:
		// Just under or at k/n for n about the most probes a window
		// holds, where an off-by-one in the bound would show.
		n := max(int(time.Second/interval)+rng.IntN(4)-1, 3)
		lossTarget = float64(1+rng.IntN(3)) / float64(n)
		if rng.IntN(2) == 0 {
			lossTarget = math.Nextafter(lossTarget, 0)
		}
	}
	tg := Targets{
		RTTP99:              time.Duration(pick(0, 15, 20, 25)) * ms,
		JitterP99:           time.Duration(pick(0, 3, 5, 10)) * ms,
		LossRatio:           lossTarget,
		AvailabilityPercent: -1,
		Window:              time.Second,
		VerificationPeriod:  testVerification,
	}
	cfg := Config{Targets: tg}
	if rng.IntN(2) == 0 {
		cfg.ProbeInterval = interval
	}
	tr := newTracker(t, cfg)
	lossP := pick(0, 0.01, 0.05, 0.1, 0.3)
	spikeP := pick(0, 0.005, 0.01, 0.02, 0.1)
	lateP := pick(0, 0.05, 0.3, 0.6) // chance a send is late, up to 1.5 intervals
	// Chance a loss is reported after its window closed: late losses are
	// counted in the oldest open window, and must not make detection wrong.
	lateLossP := pick(0, 0, 0.2)

	type report struct {
		at time.Time
		s  stamp.Sample
	}
	var reports []report
	due := t0.Add(time.Duration(rng.Int64N(int64(time.Second))))
	end := due.Add(20 * time.Second)
	for seq := uint32(0); due.Before(end); seq++ {
		sent := due
		if rng.Float64() < lateP {
			sent = sent.Add(time.Duration(rng.Int64N(int64(interval) * 3 / 2)))
		} else {
			sent = sent.Add(time.Duration(rng.Int64N(int64(time.Millisecond))))
		}
		due = due.Add(interval)
		if !due.After(sent) {
			due = sent.Add(interval)
		}
		s := stamp.Sample{Seq: seq, Sent: sent}
		if rng.Float64() < lossP {
			s.Lost = true
			at := sent.Add(stamp.DefaultLossTimeout)
			if rng.Float64() < lateLossP {
				// After the window's end plus Grace, before a clock step
				// would be suspected.
				at = sent.Add(DefaultGrace + time.Second + time.Duration(rng.Int64N(int64(400*ms))))
			}
			reports = append(reports, report{at: at, s: s})
			continue
		}
		s.RTT = 8*ms + time.Duration(rng.Int64N(int64(4*ms)))
		if rng.Float64() < spikeP {
			s.RTT += time.Duration(rng.Int64N(int64(40 * ms)))
		}
		s.Received = sent.Add(s.RTT)
		reports = append(reports, report{at: s.Received, s: s})
		if rng.Float64() < 0.01 {
			d := s
			d.Duplicate = true
			reports = append(reports, report{at: s.Received.Add(ms), s: d})
		}
	}
	slices.SortStableFunc(reports, func(a, b report) int { return a.at.Compare(b.at) })

	// early[window start] is the metrics early detection named for it.
	early := map[int64]int{}
	for _, r := range reports {
		tr.Add(r.s)
		if rng.IntN(10) == 0 {
			tr.Evaluate(r.at)
		}
		tr.mu.Lock()
		if !tr.earlyOff && tr.nMax > 0 {
			for i := range tr.nOpen {
				if m, _, _ := tr.certain(tr.slot(i)); m != 0 {
					early[tr.openStart+int64(i)*tr.w] |= m
				}
			}
		}
		tr.mu.Unlock()
	}
	tr.Evaluate(end.Add(DefaultGrace + 2*time.Second)) // closes every window

	byStart := map[int64]WindowRollup{}
	for _, r := range tr.Rollups() {
		byStart[r.Start.UnixNano()] = r
		windows++
		if !r.Met {
			failed++
		}
	}
	for start, m := range early {
		r, ok := byStart[start]
		if !ok {
			t.Errorf("seed %d: window %s detected early never closed", seed, timeAt(start).Format(time.TimeOnly))
			continue
		}
		for _, c := range []struct {
			bit    int
			metric string
		}{{earlyRTT, MetricRTTP99}, {earlyJitter, MetricJitterP99}, {earlyLoss, MetricLoss}} {
			if m&c.bit == 0 {
				continue
			}
			fired++
			if !slices.ContainsFunc(r.Failed, func(b Breach) bool { return b.Metric == c.metric }) {
				t.Errorf("seed %d (interval %v, explicit %v, targets %+v): window %s detected early on %s, closed as %+v",
					seed, interval, cfg.ProbeInterval != 0, tg, r.Start.Format(time.TimeOnly), c.metric, r)
			}
		}
	}
	return fired, windows, failed
}

package userplane

import (
	"net/netip"
	"testing"
	"time"
)

// TestImpairmentMeanDelay protects the impairment delay a QoS monitoring
// report states: the mean of what the link draws, clipped at zero.
func TestImpairmentMeanDelay(t *testing.T) {
	for name, tc := range map[string]struct {
		delay, jitter time.Duration
		want          time.Duration
	}{
		"none":                     {0, 0, 0},
		"delay only":               {20 * time.Millisecond, 0, 20 * time.Millisecond},
		"jitter within the delay":  {10 * time.Millisecond, 4 * time.Millisecond, 10 * time.Millisecond},
		"jitter equal to delay":    {5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		"jitter beyond the delay":  {2 * time.Millisecond, 6 * time.Millisecond, 8 * 8 * time.Millisecond / 24}, // (d+j)²/4j
		"jitter without any delay": {0, 8 * time.Millisecond, 2 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			got := time.Duration(impairment{delay: int64(tc.delay), jitter: int64(tc.jitter)}.meanDelay())
			if diff := got - tc.want; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("mean delay of %v ± %v = %v, want %v", tc.delay, tc.jitter, got, tc.want)
			}
		})
	}
}

// TestLinkQueueing protects the queueing delay a report states: the rest
// of the datagram being sent, then what is queued at the level and the more
// urgent ones, nothing less urgent.
func TestLinkQueueing(t *testing.T) {
	m := newManualLink(1)
	if got := m.queueing(BestEffort); got != 0 {
		t.Fatalf("idle link queueing = %v, want 0", time.Duration(got))
	}
	// The first best-effort datagram starts at once; two more wait behind
	// it, and one of priority level 20 waits for it only.
	for range 3 {
		m.send(BestEffort, nil)
	}
	m.send(20, nil)
	tx := m.txTime(probeWire)
	for _, tc := range []struct {
		level int
		want  int64
	}{
		{5, tx},
		{20, tx + m.txTime(probeWire)},
		{BestEffort, tx + m.txTime(3*probeWire)},
	} {
		if got := m.queueing(tc.level); got != tc.want {
			t.Errorf("level %d: queueing %v, want %v", tc.level, time.Duration(got), time.Duration(tc.want))
		}
	}
	m.clock += tx / 2
	if got, want := m.queueing(5), tx-tx/2; got != want {
		t.Errorf("halfway through the first datagram: queueing %v, want %v", time.Duration(got), time.Duration(want))
	}
}

// TestFlowDelay protects what the forwarder says a session's packets meet:
// the base delay, the UE's impairment in the direction it applies to, and
// the queueing of the session's priority level, or best effort when the
// session has no flows installed.
func TestFlowDelay(t *testing.T) {
	f := newForwarder(t, Config{LinkDelay: 2 * time.Millisecond, TimerSpin: -1})
	other := netip.MustParseAddr("10.45.0.12")
	if err := f.SetFlows("s1", testUEAddr, 82, []string{"permit out 17 from any to " + testUE}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetImpairment(Impairment{Target: testUE, Delay: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetImpairment(Impairment{Target: AllUEs, Delay: 5 * time.Millisecond, Directions: BothDirections}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir     Direction
		ue      netip.Addr
		session string
		want    PacketDelay
	}{
		{Downlink, testUEAddr, "s1", PacketDelay{Base: 2 * time.Millisecond, Impairment: 20 * time.Millisecond}},
		// The UE's own impairment is downlink only and replaces "*".
		{Uplink, testUEAddr, "s1", PacketDelay{Base: 2 * time.Millisecond}},
		{Uplink, other, "s2", PacketDelay{Base: 2 * time.Millisecond, Impairment: 5 * time.Millisecond}},
	} {
		if got := f.FlowDelay(tc.dir, tc.ue, tc.session); got != tc.want {
			t.Errorf("%s %s %s: %+v, want %+v", tc.dir, tc.ue, tc.session, got, tc.want)
		}
	}

	// Under bursty background load the best-effort queue builds up; the
	// provisioned flow waits for one background packet at most.
	if err := f.SetLoad(Load{Rate: 95_000_000}); err != nil {
		t.Fatal(err)
	}
	chunk := time.Duration(f.links[Downlink].txTime(backgroundChunk))
	deadline := time.Now().Add(waitFor)
	for {
		best := f.FlowDelay(Downlink, other, "s2").Queueing
		if q := f.FlowDelay(Downlink, testUEAddr, "s1").Queueing; q > chunk {
			t.Fatalf("provisioned flow queueing %v under load, want at most one background packet (%v)", q, chunk)
		}
		if best >= 10*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("best-effort queueing %v under 95 Mbps of 50 ms bursts, want some ms", best)
		}
		time.Sleep(pollEvery)
	}
	// A session whose flows are gone is best effort again.
	f.RemoveFlows("s1")
	deadline = time.Now().Add(waitFor)
	for f.FlowDelay(Downlink, testUEAddr, "s1").Queueing < 10*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatal("a session without flows is not queued as best effort")
		}
		time.Sleep(pollEvery)
	}
}

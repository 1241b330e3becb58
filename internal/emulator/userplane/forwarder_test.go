package userplane

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

// Probe sessions of the relay tests.
const (
	// probeInterval is 200 packets/s: enough samples in a second or two.
	probeInterval = 5 * time.Millisecond
	// loadProbes is two full background cycles' worth of samples per case.
	loadProbes = 300
	// surgeryRTT is the surgery-urllc profile's RTT p99 target (DESIGN §2):
	// best effort under load must miss it, a provisioned 5QI 82 flow meet
	// it with room to spare.
	surgeryRTT = 20 * time.Millisecond
	// provisionedRTT bounds a provisioned probe's median under load: 2 ms of
	// base delay, one background packet's wait per direction (120 µs),
	// and room for the host's scheduling noise (tests share the machine).
	provisionedRTT = 8 * time.Millisecond
)

// probeFlows are the flow descriptions medslice writes for its probe to a
// reflector at port: downlink then uplink.
func probeFlows(port uint16) []string {
	return []string{
		fmt.Sprintf("permit out 17 from %s to %s %d", testProbeSource, testUE, port),
		fmt.Sprintf("permit in 17 from %s %d to %s", testUE, port, testProbeSource),
	}
}

// TestRelayRoundTrip protects the relay itself: a STAMP session through a
// route gets every reply, from the address it sent to (its connected
// socket drops any other), with an RTT of twice the base delay.
func TestRelayRoundTrip(t *testing.T) {
	f := newForwarder(t, Config{})
	network, err := f.AddRoute(testUE, startReflector(t))
	if err != nil {
		t.Fatal(err)
	}
	if network.Addr() != netip.MustParseAddr("127.0.0.1") || network.Port() == 0 {
		t.Errorf("network side = %v, want 127.0.0.1 and a port", network)
	}
	s := probe(t, network, 50, probeInterval)
	r := rtts(s)
	if len(r) != 50 {
		t.Fatalf("%d of 50 replies", len(r))
	}
	// Host scheduling can only add to an RTT, so only the floor is
	// asserted: the base delay is applied each way, never skipped.
	p50 := quantile(r, 0.5)
	t.Logf("RTT p50 %v, min %v (1 ms base delay each way)", p50, r[0])
	if r[0] < 2*time.Millisecond {
		t.Errorf("RTT min = %v, want at least 2 ms (1 ms base delay each way)", r[0])
	}
	st := f.Stats()
	for _, ls := range []LinkStats{st.Downlink, st.Uplink} {
		be := ls.Queues[len(ls.Queues)-1]
		if be.Name != "best-effort" || be.Forwarded != 50 {
			t.Errorf("%s queues = %+v, want 50 best-effort datagrams", ls.Direction, ls.Queues)
		}
	}
	routes := f.Routes()
	if len(routes) != 1 || routes[0].Downlink != 50 || routes[0].Uplink != 50 || routes[0].Peers != 1 {
		t.Errorf("routes = %+v, want one with 50 datagrams each way from one peer", routes)
	}
}

// TestRelayKeepsSendersApart protects the NAT-like mapping: senders sharing
// a route each get their own replies, none of another's.
func TestRelayKeepsSendersApart(t *testing.T) {
	f := newForwarder(t, Config{})
	network, err := f.AddRoute(testUE, startReflector(t))
	if err != nil {
		t.Fatal(err)
	}
	const senders, count = 4, 40
	var wg sync.WaitGroup
	stats := make([]stamp.SenderStats, senders)
	for i := range senders {
		wg.Go(func() {
			s, err := stamp.NewSender(stamp.SenderConfig{Target: network, Interval: probeInterval, Timeout: probeLossTimeout, Count: count})
			if err != nil {
				t.Error(err)
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), sessionDeadline)
			defer cancel()
			if err := s.Run(ctx); err != nil {
				t.Error(err)
			}
			stats[i] = s.Stats()
		})
	}
	wg.Wait()
	for i, st := range stats {
		if st.Received != count || st.Unmatched != 0 || st.Lost != 0 {
			t.Errorf("sender %d: %+v, want %d replies, none unmatched", i, st, count)
		}
	}
	if r := f.Routes(); r[0].Peers != senders {
		t.Errorf("peers = %d, want %d", r[0].Peers, senders)
	}
}

// TestRoutes protects the route API the emulator's admin API builds on.
func TestRoutes(t *testing.T) {
	f := newForwarder(t, Config{})
	target := netip.MustParseAddrPort("127.0.0.1:8620")
	n1, err := f.AddRoute(testUE, target)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.AddRoute(testUE, target); err != nil || again != n1 {
		t.Errorf("adding the same route again = %v, %v; want %v", again, err, n1)
	}
	if _, err := f.AddRoute(testUE, netip.MustParseAddrPort("127.0.0.1:8621")); !errors.Is(err, ErrRouteExists) {
		t.Errorf("route to another target: err = %v, want ErrRouteExists", err)
	}
	free := freeUDPPort(t)
	n2, err := f.AddRouteAt("2001:db8::11", target, free)
	if err != nil || n2 != free {
		t.Fatalf("AddRouteAt(%v) = %v, %v", free, n2, err)
	}
	for _, bad := range []struct {
		ue     string
		target string
	}{
		{"not-an-ip", "127.0.0.1:8620"},
		{"0.0.0.0", "127.0.0.1:8620"},
		{"fe80::1%eth0", "127.0.0.1:8620"},
		{"10.45.0.12", "127.0.0.1:0"},
		{"10.45.0.12", "0.0.0.0:8620"},
	} {
		if _, err := f.AddRoute(bad.ue, netip.MustParseAddrPort(bad.target)); err == nil {
			t.Errorf("AddRoute(%q, %s) accepted", bad.ue, bad.target)
		}
	}
	got := f.Routes()
	if len(got) != 2 || got[0].UE.String() != testUE || got[1].UE.String() != "2001:db8::11" || got[1].Network != free {
		t.Errorf("routes = %+v", got)
	}
	if err := f.RemoveRoute(testUE); err != nil {
		t.Fatal(err)
	}
	if err := f.RemoveRoute(testUE); !errors.Is(err, ErrNoRoute) {
		t.Errorf("removing twice: err = %v, want ErrNoRoute", err)
	}
	// The port is free again.
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(n1))
	if err != nil {
		t.Errorf("network-side port %v still held after RemoveRoute: %v", n1, err)
	} else {
		conn.Close()
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddRoute(testUE, target); !errors.Is(err, ErrClosed) {
		t.Errorf("AddRoute after Close: err = %v, want ErrClosed", err)
	}
}

func freeUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	conn.Close()
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// TestLoadProvisionedVsBestEffort is what the emulated user plane is for
// (DESIGN §4): with 95 Mbps of imaging traffic on the 100 Mbps link, a probe
// that is best effort sees RTTs far beyond a surgery SLA, and the same probe
// in a provisioned 5QI 82 flow sees the base delay and little else.
func TestLoadProvisionedVsBestEffort(t *testing.T) {
	f := newForwarder(t, Config{})
	refl := startReflector(t)
	network, err := f.AddRoute(testUE, refl)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetLoad(Load{Rate: 95_000_000}); err != nil {
		t.Fatal(err)
	}

	c0 := cpuTime()
	be := rtts(probe(t, network, loadProbes, probeInterval))
	if err := f.SetFlows("session-1", testUEAddr, 82, probeFlows(refl.Port())); err != nil {
		t.Fatal(err)
	}
	prov := rtts(probe(t, network, loadProbes, probeInterval))
	cpu := cpuTime() - c0

	t.Logf("95 Mbps load on 100 Mbps: best effort RTT p50 %v p99 %v (%d replies); provisioned 5QI 82 RTT p50 %v p99 %v (%d replies); process CPU %v for %d round trips",
		quantile(be, 0.5), quantile(be, 0.99), len(be), quantile(prov, 0.5), quantile(prov, 0.99), len(prov), cpu, 2*loadProbes)
	if p99 := quantile(be, 0.99); p99 <= surgeryRTT {
		t.Errorf("best-effort RTT p99 = %v under load, want above %v", p99, surgeryRTT)
	}
	// The provisioned bound is on the median: a p99 of 300 probes is three
	// samples, which a busy test machine alone can push past it. The p99
	// is the benchmark's and the e2e contrast's to report.
	if p50 := quantile(prov, 0.5); p50 > provisionedRTT {
		t.Errorf("provisioned RTT p50 = %v under load, want at most %v", p50, provisionedRTT)
	}
	if len(prov) != loadProbes {
		t.Errorf("provisioned probe lost %d of %d", loadProbes-len(prov), loadProbes)
	}
	st := f.Stats()
	if q := st.Downlink.Queues[0]; q.Name != "priority-19" || q.Forwarded != loadProbes {
		t.Errorf("downlink queues = %+v, want %d datagrams in priority-19", st.Downlink.Queues, loadProbes)
	}
	if st.Uplink.Background.SentBytes == 0 || st.Downlink.Background.SentBytes == 0 {
		t.Errorf("background = %+v / %+v, want load both ways", st.Downlink.Background, st.Uplink.Background)
	}
}

// TestImpairmentDelay protects the injected delay as a probe sees it: 20 ms
// on a UE's downlink adds 20 ms to its RTT, within 1 ms, and leaves other
// UEs alone.
func TestImpairmentDelay(t *testing.T) {
	f := newForwarder(t, Config{})
	refl := startReflector(t)
	network, err := f.AddRoute(testUE, refl)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.AddRoute("10.45.0.12", refl)
	if err != nil {
		t.Fatal(err)
	}
	base := quantile(rtts(probe(t, network, 50, probeInterval)), 0.5)
	if err := f.SetImpairment(Impairment{Target: testUE, Delay: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	impaired := rtts(probe(t, network, 100, probeInterval))
	p50, p99 := quantile(impaired, 0.5), quantile(impaired, 0.99)
	t.Logf("base RTT p50 %v; with 20ms injected: p50 %v p99 %v", base, p50, p99)
	// Noise only adds delay: the injected 20 ms must be there, and not
	// twice (once per direction would add 40 ms).
	if d := p50 - base - 20*time.Millisecond; d < -time.Millisecond || d > 15*time.Millisecond {
		t.Errorf("RTT p50 with 20ms injected = %v, want %v + 20ms (not less, and not doubled)", p50, base)
	}
	if p := quantile(rtts(probe(t, other, 20, probeInterval)), 0.5); p > base+10*time.Millisecond {
		t.Errorf("another UE's RTT p50 = %v, want the base %v: the 20 ms impairment is not its", p, base)
	}
	if !f.Impaired(testUEAddr) || f.Impaired(netip.MustParseAddr("10.45.0.12")) {
		t.Error("Impaired disagrees with the impairment set")
	}
}

// TestImpairmentJitterAndLoss protects jitter's spread and the loss ratio
// over many packets, on every UE ("*").
func TestImpairmentJitterAndLoss(t *testing.T) {
	f := newForwarder(t, Config{Seed: 42})
	network, err := f.AddRoute(testUE, startReflector(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetImpairment(Impairment{Target: AllUEs, Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.2}); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	s := probe(t, network, n, 2*time.Millisecond)
	r := rtts(s)
	ratio := float64(lost(s)) / n
	t.Logf("loss 0.2 injected: %d of %d lost (%.3f); jitter 5ms: RTT min %v p50 %v max %v", lost(s), n, ratio, r[0], quantile(r, 0.5), r[len(r)-1])
	// Binomial(1000, 0.2) has a standard deviation of 0.013.
	if ratio < 0.16 || ratio > 0.24 {
		t.Errorf("loss ratio %.3f, want about 0.2", ratio)
	}
	// Uniform over [5ms, 15ms] plus 2 ms of base delay: nothing below
	// 7 ms, and p10..p90 at least 6 ms apart (8 ms without noise). The top
	// is left to the host's scheduling noise, which only adds delay.
	p10, p90 := quantile(r, 0.1), quantile(r, 0.9)
	if r[0] < 7*time.Millisecond || p90-p10 < 6*time.Millisecond {
		t.Errorf("RTT min %v p10 %v p90 %v, want at least 7ms and p10..p90 about 8ms apart", r[0], p10, p90)
	}
	var lostStat uint64
	for _, q := range f.Stats().Downlink.Queues {
		lostStat += q.Lost
	}
	if lostStat != uint64(lost(s)) {
		t.Errorf("downlink counts %d lost, the probe %d", lostStat, lost(s))
	}
	f.ClearImpairments()
	if f.Impaired(testUEAddr) || len(f.Impairments()) != 0 {
		t.Error("impairments left after ClearImpairments")
	}
}

// TestImpairmentValidation protects SetImpairment and SetLoad against
// values the admin API must refuse.
func TestImpairmentValidation(t *testing.T) {
	f := newForwarder(t, Config{})
	for _, im := range []Impairment{
		{Target: "", Delay: time.Millisecond},
		{Target: "ue-1", Delay: time.Millisecond},
		{Target: testUE, Delay: -time.Millisecond},
		{Target: testUE, Delay: time.Hour},
		{Target: testUE, Jitter: -1},
		{Target: testUE, Loss: 1.5},
		{Target: testUE, Loss: -0.1},
	} {
		if err := f.SetImpairment(im); err == nil {
			t.Errorf("SetImpairment(%+v) accepted", im)
		}
	}
	for _, ld := range []Load{
		{Rate: 10_000_000_000},
		{Rate: 1, Burst: time.Microsecond},
		{Rate: 1, Burst: time.Second},
	} {
		if err := f.SetLoad(ld); err == nil {
			t.Errorf("SetLoad(%+v) accepted", ld)
		}
	}
	if err := f.SetLoad(Load{Rate: 50_000_000, Directions: UplinkOnly}); err != nil {
		t.Fatal(err)
	}
	if got := f.Load(); got.Rate != 50_000_000 || got.Burst != DefaultLoadBurst || got.Directions != UplinkOnly {
		t.Errorf("Load() = %+v", got)
	}
	if err := f.SetLoad(Load{}); err != nil || f.Load() != (Load{}) {
		t.Errorf("clearing the load: %v, %+v", err, f.Load())
	}
}

// TestSetFlows protects the flow table: parse errors are reported while the
// good rules are installed, a session replaces its flows, and removal makes
// its UE best effort again.
func TestSetFlows(t *testing.T) {
	f := newForwarder(t, Config{})
	down := FiveTuple{Protocol: udpProtocol, Src: testProbeSource, SrcPort: 40000, Dst: testUEAddr, DstPort: 8620}
	err := f.SetFlows("s1", testUEAddr, 9, append(probeFlows(8620), "permit inout 17 from any to any"))
	if err == nil || !strings.Contains(err.Error(), "inout") {
		t.Errorf("SetFlows error = %v, want the inout rule reported", err)
	}
	if got := f.classify(Downlink, testUEAddr, down); got != 90 {
		t.Errorf("level = %d, want 90 (5QI 9)", got)
	}
	if err := f.SetFlows("s2", testUEAddr, 82, probeFlows(8620)); err != nil {
		t.Fatal(err)
	}
	if got := f.classify(Downlink, testUEAddr, down); got != 19 {
		t.Errorf("level = %d, want 19: the most urgent matching flow wins", got)
	}
	if err := f.SetFlows("s2", testUEAddr, 82, probeFlows(9999)); err != nil {
		t.Fatal(err)
	}
	if got := f.classify(Downlink, testUEAddr, down); got != 90 {
		t.Errorf("level after s2 moved to another port = %d, want 90", got)
	}
	if got := f.classify(Downlink, netip.MustParseAddr("10.45.0.12"), FiveTuple{Protocol: 17, Src: testProbeSource, Dst: netip.MustParseAddr("10.45.0.12"), DstPort: 8620}); got != BestEffort {
		t.Errorf("another UE's level = %d, want best effort", got)
	}
	if fl := f.Flows(); len(fl) != 2 || fl[0].Session != "s1" || len(fl[0].Rules) != 2 || fl[1].PriorityLevel != 19 {
		t.Errorf("flows = %+v", fl)
	}
	f.RemoveFlows("s1")
	f.RemoveFlows("s2")
	if got := f.classify(Downlink, testUEAddr, down); got != BestEffort {
		t.Errorf("level after removal = %d, want best effort", got)
	}
	if err := f.SetFlows("s3", testUEAddr, 0, probeFlows(8620)); err != nil {
		t.Fatal(err)
	}
	if got := f.classify(Downlink, testUEAddr, down); got != UnknownFiveQILevel {
		t.Errorf("level of an unknown 5QI = %d, want %d", got, UnknownFiveQILevel)
	}
	f.ClearFlows()
	if len(f.Flows()) != 0 {
		t.Error("flows left after ClearFlows")
	}
}

// TestForwardDoesNotAllocate protects the forwarding path from the socket
// read to the write: classification, impairment, queueing, scheduling and
// delivery allocate nothing per datagram.
func TestForwardDoesNotAllocate(t *testing.T) {
	f := newForwarder(t, Config{})
	refl := startReflector(t)
	if _, err := f.AddRoute(testUE, refl); err != nil {
		t.Fatal(err)
	}
	if err := f.SetFlows("s", testUEAddr, 82, probeFlows(refl.Port())); err != nil {
		t.Fatal(err)
	}
	if err := f.SetImpairment(Impairment{Target: testUE, Jitter: time.Millisecond, Loss: 0.01}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	r := f.routes[testUEAddr]
	f.mu.Unlock()
	sink, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(refl))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	data := make([]byte, 44)
	ft := FiveTuple{Protocol: udpProtocol, Src: testProbeSource, SrcPort: 40000, Dst: testUEAddr, DstPort: refl.Port()}
	send := func() { f.forward(Downlink, r, data, sink, netip.AddrPort{}, ft) }
	// Warm-up grows the queue and the delay line to what the measured
	// run needs and fills the free lists.
	for range 2500 {
		send()
	}
	eventually(t, "warm-up delivered", func() bool { return f.Stats().Downlink.InFlight == 0 })
	// AllocsPerRun counts the whole process: on a loaded machine the
	// queue may outgrow the warm-up once and allocate. The least of three
	// runs is the path's own figure.
	least := math.Inf(1)
	for range 3 {
		least = math.Min(least, testing.AllocsPerRun(2000, send))
		eventually(t, "delivered", func() bool { return f.Stats().Downlink.InFlight == 0 })
	}
	if least != 0 {
		t.Errorf("%v allocations per datagram, want 0", least)
	}
}

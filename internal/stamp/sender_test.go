package stamp

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	// testInterval is short so that sessions finish quickly.
	testInterval = 5 * time.Millisecond
	// testLossTimeout is long enough for any loopback reply under -race and
	// short enough that loss tests end soon.
	testLossTimeout = 250 * time.Millisecond
	// testResidence is the time the slow reflector holds each packet.
	testResidence = 5 * time.Millisecond
	// testCount is the number of packets of most sessions here.
	testCount = 20
	// lateTimeout is a loss timeout short enough for a reply held back for
	// many intervals to miss it, and long enough for the others under -race.
	lateTimeout = 60 * time.Millisecond
)

// runSession runs one sender to completion against target and returns its
// samples in delivery order. Interval and Timeout default to the test ones.
func runSession(t *testing.T, cfg SenderConfig) ([]Sample, SenderStats) {
	t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = testInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = testLossTimeout
	}
	if cfg.Count == 0 {
		cfg.Count = testCount
	}
	var samples []Sample
	cfg.OnSample = func(s Sample) { samples = append(samples, s) } // Run's goroutine is this one
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("session of %d packets did not finish within %v", cfg.Count, testDeadline)
	}
	return samples, s.Stats()
}

// outcome is the part of a sample that sequence numbers decide.
type outcome struct {
	Seq                        uint32
	Lost, Duplicate, Reordered bool
}

// outcomes lists what happened to each packet, in sortedOutcomes order.
func outcomes(samples []Sample) []outcome {
	out := make([]outcome, 0, len(samples))
	for _, s := range samples {
		out = append(out, outcome{Seq: s.Seq, Lost: s.Lost, Duplicate: s.Duplicate, Reordered: s.Reordered})
	}
	return sortedOutcomes(out)
}

// sortedOutcomes orders by sequence number, duplicates after the original.
func sortedOutcomes(out []outcome) []outcome {
	slices.SortStableFunc(out, func(a, b outcome) int {
		if a.Seq != b.Seq {
			return int(int64(a.Seq) - int64(b.Seq))
		}
		if a.Duplicate != b.Duplicate {
			if b.Duplicate {
				return -1
			}
			return 1
		}
		return 0
	})
	return out
}

// wantOutcomes is one clean outcome per packet, edited by mark.
func wantOutcomes(count uint32, mark func(o *outcome)) []outcome {
	var out []outcome
	for seq := range count {
		o := outcome{Seq: seq}
		if mark != nil {
			mark(&o)
		}
		out = append(out, o)
	}
	return out
}

func seqOf(reply []byte) uint32 { return binary.BigEndian.Uint32(reply[24:28]) }

func TestSenderRoundTrip(t *testing.T) {
	r := &Reflector{}
	target := startReflector(t, r, listenUDP(t, "udp4", "127.0.0.1:0"), nil)

	samples, stats := runSession(t, SenderConfig{Target: target})

	if diff := cmp.Diff(wantOutcomes(testCount, nil), outcomes(samples)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	ttl := loopbackTTL(t)
	for _, s := range samples {
		raw := s.Received.Sub(s.Sent)
		if s.RTT <= 0 || s.RTT > testLossTimeout {
			t.Errorf("seq %d: RTT %v, want positive and below %v", s.Seq, s.RTT, testLossTimeout)
		}
		if s.Residence < 0 || s.RTT != raw-s.Residence {
			t.Errorf("seq %d: RTT %v residence %v, want RTT = %v - residence", s.Seq, s.RTT, s.Residence, raw)
		}
		if s.Synchronized || s.ForwardDelay != 0 || s.BackwardDelay != 0 {
			t.Errorf("seq %d: one-way delays %v/%v reported without synchronised clocks", s.Seq, s.ForwardDelay, s.BackwardDelay)
		}
		if s.TTL != ttl {
			t.Errorf("seq %d: TTL %d, want %d", s.Seq, s.TTL, ttl)
		}
	}
	if want := (SenderStats{Sent: testCount, Received: testCount}); stats != want {
		t.Errorf("Stats() = %+v, want %+v", stats, want)
	}
	if got := r.Stats().Reflected; got != testCount {
		t.Errorf("reflector reflected %d, want %d", got, testCount)
	}
}

// With both clocks marked synchronised, the one-way delays add up to the
// round trip. A reflector clock that runs ahead shows up in them, which is
// why they are only reported when both ends claim synchronisation.
func TestSenderOneWayDelays(t *testing.T) {
	const offset = 20 * time.Millisecond
	synced := ErrorEstimate{Synchronized: true, Multiplier: 1}
	ahead := &Reflector{ErrorEstimate: synced, Now: func() time.Time { return time.Now().Add(offset) }}
	target := startReflector(t, ahead, listenUDP(t, "udp4", "127.0.0.1:0"), nil)

	samples, _ := runSession(t, SenderConfig{Target: target, ErrorEstimate: synced})
	if len(samples) != testCount {
		t.Fatalf("got %d samples, want %d", len(samples), testCount)
	}
	for _, s := range samples {
		if !s.Synchronized {
			t.Fatalf("seq %d: not synchronised", s.Seq)
		}
		// Wall-clock NTP timestamps and the monotonic round trip may
		// disagree by rounding only.
		if d := s.ForwardDelay + s.BackwardDelay - s.RTT; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("seq %d: forward %v + backward %v differs from RTT %v by %v", s.Seq, s.ForwardDelay, s.BackwardDelay, s.RTT, d)
		}
		if s.ForwardDelay < offset || s.BackwardDelay > -offset+s.RTT {
			t.Errorf("seq %d: forward %v backward %v do not show the reflector's %v offset", s.Seq, s.ForwardDelay, s.BackwardDelay, offset)
		}
	}

	t.Run("sender not synchronised", func(t *testing.T) {
		samples, _ := runSession(t, SenderConfig{Target: target, Count: 3})
		for _, s := range samples {
			if s.Synchronized || s.ForwardDelay != 0 {
				t.Errorf("seq %d: one-way delay %v reported though the sender clock is not synchronised", s.Seq, s.ForwardDelay)
			}
		}
	})
}

// The reflector holds each packet for testResidence between T2 and T3; the
// sender must take that out of the round trip.
func TestSenderSubtractsResidence(t *testing.T) {
	var calls atomic.Int64
	slow := &Reflector{Now: func() time.Time {
		if calls.Add(1)%2 == 0 { // every second call is T3, once per packet
			time.Sleep(testResidence)
		}
		return time.Now()
	}}
	target := startReflector(t, slow, listenUDP(t, "udp4", "127.0.0.1:0"), nil)

	samples, _ := runSession(t, SenderConfig{Target: target, Interval: 2 * testResidence, Count: 10})
	if len(samples) != 10 {
		t.Fatalf("got %d samples, want 10", len(samples))
	}
	for _, s := range samples {
		raw := s.Received.Sub(s.Sent)
		if s.Residence < testResidence {
			t.Errorf("seq %d: residence %v, want at least %v", s.Seq, s.Residence, testResidence)
		}
		if raw < testResidence || s.RTT != raw-s.Residence || s.RTT <= 0 {
			t.Errorf("seq %d: raw round trip %v, RTT %v, residence %v; want RTT = raw - residence > 0", s.Seq, raw, s.RTT, s.Residence)
		}
	}
}

func TestSenderFaults(t *testing.T) {
	tests := []struct {
		name              string
		fault             func() func(reply []byte) [][]byte
		count             uint32
		interval, timeout time.Duration
		mark              func(o *outcome)
		// extra are outcomes beyond one per packet (duplicates).
		extra     []outcome
		wantStats SenderStats
	}{
		{
			name: "every fourth reply dropped",
			fault: func() func([]byte) [][]byte {
				return func(b []byte) [][]byte {
					if seqOf(b)%4 == 3 {
						return nil
					}
					return [][]byte{b}
				}
			},
			count:     testCount,
			mark:      func(o *outcome) { o.Lost = o.Seq%4 == 3 },
			wantStats: SenderStats{Sent: testCount, Received: 15, Lost: 5},
		},
		{
			name: "every fifth reply duplicated",
			fault: func() func([]byte) [][]byte {
				return func(b []byte) [][]byte {
					if seqOf(b)%5 == 4 {
						return [][]byte{b, b}
					}
					return [][]byte{b}
				}
			},
			count: testCount,
			extra: []outcome{
				{Seq: 4, Duplicate: true}, {Seq: 9, Duplicate: true},
				{Seq: 14, Duplicate: true}, {Seq: 19, Duplicate: true},
			},
			wantStats: SenderStats{Sent: testCount, Received: testCount, Duplicates: 4},
		},
		{
			name: "pairs swapped",
			fault: func() func([]byte) [][]byte {
				var held []byte
				return func(b []byte) [][]byte {
					switch seqOf(b) % 4 {
					case 2:
						held = b
						return nil
					case 3:
						return [][]byte{b, held}
					}
					return [][]byte{b}
				}
			},
			count:     16,
			mark:      func(o *outcome) { o.Reordered = o.Seq%4 == 2 },
			wantStats: SenderStats{Sent: 16, Received: 16, Reordered: 4},
		},
		{
			name: "a reply held past the loss timeout is late, not received",
			fault: func() func([]byte) [][]byte {
				var held []byte
				return func(b []byte) [][]byte {
					switch seqOf(b) {
					case 2:
						held = b
						return nil
					case 10: // 8 intervals later: past lateTimeout, before the ring reuses the slot
						return [][]byte{b, held}
					}
					return [][]byte{b}
				}
			},
			count:     testCount,
			interval:  10 * time.Millisecond,
			timeout:   lateTimeout,
			mark:      func(o *outcome) { o.Lost = o.Seq == 2 },
			wantStats: SenderStats{Sent: testCount, Received: testCount - 1, Lost: 1, Late: 1},
		},
		{
			name: "garbage and strangers around every reply",
			fault: func() func([]byte) [][]byte {
				return func(b []byte) [][]byte {
					unknownSeq := slices.Clone(b)
					binary.BigEndian.PutUint32(unknownSeq[24:28], seqOf(b)+1000)
					wrongTimestamp := slices.Clone(b)
					wrongTimestamp[35] ^= 1
					return [][]byte{[]byte("garbage"), unknownSeq, wrongTimestamp, b}
				}
			},
			count:     testCount,
			wantStats: SenderStats{Sent: testCount, Received: testCount, Malformed: testCount, Unmatched: 2 * testCount},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), withFault(tc.fault()))

			samples, stats := runSession(t, SenderConfig{Target: target, Count: tc.count, Interval: tc.interval, Timeout: tc.timeout})

			want := append(wantOutcomes(tc.count, tc.mark), tc.extra...)
			if diff := cmp.Diff(sortedOutcomes(want), outcomes(samples)); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if stats != tc.wantStats {
				t.Errorf("Stats() = %+v, want %+v", stats, tc.wantStats)
			}
			for _, s := range samples {
				if s.Lost != s.Received.IsZero() {
					t.Errorf("seq %d: lost %t but received at %v", s.Seq, s.Lost, s.Received)
				}
			}
		})
	}
}

// With nothing listening, every packet is lost and the ICMP errors the
// connected socket reports do not stop the session.
func TestSenderReflectorDown(t *testing.T) {
	c := listenUDP(t, "udp4", "127.0.0.1:0")
	target := c.LocalAddr().(*net.UDPAddr).AddrPort()
	c.Close()

	samples, stats := runSession(t, SenderConfig{Target: target, Count: 3, Timeout: 50 * time.Millisecond})

	if diff := cmp.Diff(wantOutcomes(3, func(o *outcome) { o.Lost = true }), outcomes(samples)); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if stats.Lost != 3 || stats.Received != 0 {
		t.Errorf("Stats() = %+v, want 3 lost", stats)
	}
	if runtime.GOOS == "linux" && stats.ReceiveErrors == 0 {
		t.Errorf("Stats() = %+v, want the port-unreachable errors counted", stats)
	}
}

func TestSenderStopsOnCancel(t *testing.T) {
	target := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	first := make(chan struct{})
	var once atomic.Bool
	s, err := NewSender(SenderConfig{Target: target, Interval: testInterval, OnSample: func(Sample) {
		if once.CompareAndSwap(false, true) {
			close(first)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	select {
	case <-first:
	case <-time.After(testDeadline):
		t.Fatal("no sample before the deadline")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("Run did not return after cancel")
	}
}

// Sending, matching and reporting must not allocate per packet. A session's
// setup allocates a fixed amount, so the test compares a short and a long
// session: the difference is what the extra packets cost.
func TestSenderAllocationsPerPacket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the allocation-free reflector path is the Linux one")
	}
	const short, long = 100, 1100
	target := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	mallocs := func(count uint32) uint64 {
		var got atomic.Int64
		s, err := NewSender(SenderConfig{
			Target: target, Interval: 100 * time.Microsecond, Count: count, Timeout: testLossTimeout,
			OnSample: func(Sample) { got.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		if got.Load() != int64(count) {
			t.Fatalf("%d samples, want %d", got.Load(), count)
		}
		return after.Mallocs - before.Mallocs
	}
	a, b := mallocs(short), mallocs(long)
	perPacket := (float64(b) - float64(a)) / (long - short)
	t.Logf("%d allocations for %d packets, %d for %d: %.3f per packet (sender and reflector)", a, short, b, long, perPacket)
	// A stray runtime allocation now and then is not ours; one per packet
	// would be.
	if perPacket >= 0.05 {
		t.Errorf("%.3f allocations per packet, want 0", perPacket)
	}
}

func TestNewSenderValidation(t *testing.T) {
	target := netip.MustParseAddrPort("127.0.0.1:862")
	tests := []struct {
		name string
		cfg  SenderConfig
	}{
		{name: "no target", cfg: SenderConfig{Interval: time.Second}},
		{name: "no port", cfg: SenderConfig{Target: netip.AddrPortFrom(target.Addr(), 0), Interval: time.Second}},
		{name: "no interval", cfg: SenderConfig{Target: target}},
		{name: "negative timeout", cfg: SenderConfig{Target: target, Interval: time.Second, Timeout: -1}},
		{name: "DSCP over 6 bits", cfg: SenderConfig{Target: target, Interval: time.Second, DSCP: 64}},
		{name: "PTP timestamps", cfg: SenderConfig{Target: target, Interval: time.Second, ErrorEstimate: ErrorEstimate{PTP: true, Multiplier: 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSender(tc.cfg); err == nil {
				t.Error("NewSender accepted an invalid config")
			}
		})
	}

	s, err := NewSender(SenderConfig{Target: target, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Timeout != DefaultLossTimeout || s.cfg.ErrorEstimate != (ErrorEstimate{Multiplier: 1}) {
		t.Errorf("defaults: timeout %v estimate %v", s.cfg.Timeout, s.cfg.ErrorEstimate)
	}
	s, _ = NewSender(SenderConfig{Target: target, Interval: time.Second})
	if s.cfg.Timeout != 3*time.Second {
		t.Errorf("default timeout for a 1 s interval = %v, want 3 s", s.cfg.Timeout)
	}
}

func TestSenderDSCP(t *testing.T) {
	target := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	// Marking must not break the session (reading the mark back needs a
	// raw socket; the option call itself is what can fail).
	samples, _ := runSession(t, SenderConfig{Target: target, DSCP: 46, Count: 2}) // EF
	if len(samples) != 2 || samples[0].Lost {
		t.Errorf("samples with DSCP set: %+v", samples)
	}
}

func TestIPDV(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		prev, cur Sample
		want      time.Duration
		wantOK    bool
	}{
		{name: "round trips", prev: Sample{Seq: 1, RTT: 10 * ms}, cur: Sample{Seq: 2, RTT: 13 * ms}, want: 3 * ms, wantOK: true},
		{name: "negative variation", prev: Sample{Seq: 1, RTT: 10 * ms}, cur: Sample{Seq: 2, RTT: 8 * ms}, want: -2 * ms, wantOK: true},
		{
			name:   "one-way when both synchronised",
			prev:   Sample{Seq: 1, RTT: 10 * ms, Synchronized: true, ForwardDelay: 4 * ms},
			cur:    Sample{Seq: 2, RTT: 10 * ms, Synchronized: true, ForwardDelay: 7 * ms},
			want:   3 * ms,
			wantOK: true,
		},
		{
			name:   "round trips when only one is synchronised",
			prev:   Sample{Seq: 1, RTT: 10 * ms, Synchronized: true, ForwardDelay: 4 * ms},
			cur:    Sample{Seq: 2, RTT: 11 * ms},
			want:   ms,
			wantOK: true,
		},
		{name: "across the sequence wrap", prev: Sample{Seq: 0xFFFFFFFF, RTT: ms}, cur: Sample{Seq: 0, RTT: 2 * ms}, want: ms, wantOK: true},
		{name: "not consecutive", prev: Sample{Seq: 1, RTT: ms}, cur: Sample{Seq: 3, RTT: ms}},
		{name: "previous lost", prev: Sample{Seq: 1, Lost: true}, cur: Sample{Seq: 2, RTT: ms}},
		{name: "current lost", prev: Sample{Seq: 1, RTT: ms}, cur: Sample{Seq: 2, Lost: true}},
		{name: "duplicate", prev: Sample{Seq: 1, RTT: ms}, cur: Sample{Seq: 2, RTT: ms, Duplicate: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := IPDV(tc.prev, tc.cur)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("IPDV = %v, %t; want %v, %t", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// BenchmarkSenders1000 runs a thousand sessions at ten packets a second
// against one reflector in this process. Each iteration warms up (socket
// setup, goroutine stacks), then measures a steady window and reports CPU,
// allocations and loss per sample for both ends together.
func BenchmarkSenders1000(b *testing.B) {
	const (
		sessions = 1000
		interval = 100 * time.Millisecond
		warmup   = time.Second
		window   = 3 * time.Second
	)
	rc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	_ = rc.(*net.UDPConn).SetReadBuffer(4 << 20) // 10,000 packets/s into one socket
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go (&Reflector{}).Serve(rctx, rc)
	target := rc.LocalAddr().(*net.UDPAddr).AddrPort()

	var (
		measuring     atomic.Bool
		samples, lost atomic.Int64
		mallocs       uint64
		cpu, wall     time.Duration
		before, after runtime.MemStats
	)
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, sessions)
		for i := range sessions {
			s, err := NewSender(SenderConfig{
				Target:     target,
				Interval:   interval,
				StartDelay: interval * time.Duration(i) / sessions,
				OnSample: func(s Sample) {
					if !measuring.Load() {
						return
					}
					samples.Add(1)
					if s.Lost {
						lost.Add(1)
					}
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			go func() { _ = s.Run(ctx); done <- struct{}{} }()
		}
		time.Sleep(warmup) // the workload is paced by the clock, not by b.N

		runtime.ReadMemStats(&before)
		c0, t0 := cpuTime(), time.Now()
		measuring.Store(true)
		time.Sleep(window)
		measuring.Store(false)
		cpu += cpuTime() - c0
		wall += time.Since(t0)
		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs

		cancel()
		for range sessions {
			<-done
		}
	}
	n := float64(samples.Load())
	b.ReportMetric(n/wall.Seconds(), "samples/s")
	b.ReportMetric(float64(lost.Load())/n, "loss-ratio")
	b.ReportMetric(float64(mallocs)/n, "allocs/sample")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/1e3/n, "cpu-µs/sample")
		b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	}
}

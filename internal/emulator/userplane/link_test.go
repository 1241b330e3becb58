package userplane

import (
	"testing"
	"time"
)

// manualLink is a link on a clock the test moves, without a scheduler
// goroutine: the test collects deliveries itself.
type manualLink struct {
	*link
	clock int64
}

const (
	testRate  = 100_000_000 // 100 Mbps
	testDelay = int64(time.Millisecond)
	// testLimit is 100 ms of the test rate.
	testLimit = 1_250_000
	// probeWire is a STAMP test packet on the link: 44 octets of UDP
	// payload (RFC 8762 §4.2) and the IPv4 and UDP headers.
	probeWire = 44 + ipv4Overhead
)

func newManualLink(seed uint64) *manualLink {
	m := &manualLink{}
	m.link = newLink(Downlink, linkParams{rate: testRate, delay: testDelay, limit: testLimit}, seed, func() int64 { return m.clock }, nil, 0)
	return m
}

func ms(f float64) int64 { return int64(f * float64(time.Millisecond)) }

// send offers a datagram of probeWire bytes at level now.
func (m *manualLink) send(level int, imp *impairment) (*packet, bool) {
	p := getPacket(44)
	p.n, p.wire, p.level = 44, probeWire, uint8(level)
	ok := m.enqueue(p, imp)
	if !ok {
		release(p)
		return nil, false
	}
	return p, true
}

// deliveries moves the clock to until, one step at a time, and returns the
// packets delivered with the time each was delivered at.
func (m *manualLink) deliveries(until, step int64) map[*packet]int64 {
	out := map[*packet]int64{}
	for ; m.clock <= until; m.clock += step {
		due, _ := m.due(nil)
		for _, p := range due {
			out[p] = m.clock
		}
	}
	return out
}

// TestLinkStrictPriority protects the scheduler's core promise: under 95
// Mbps of bursty background load on a 100 Mbps link, a packet of a
// provisioned flow waits for at most the background packet being sent,
// while a best-effort packet waits behind the whole backlog; among flows,
// the lower priority level goes first.
func TestLinkStrictPriority(t *testing.T) {
	m := newManualLink(1)
	m.setBackground(95_000_000, int64(50*time.Millisecond)) // first burst at 0: 625000 bytes, 50 ms of link time

	m.clock = ms(10) // 125000 bytes sent, 500000 (40 ms) left
	be, _ := m.send(BestEffort, nil)
	low, _ := m.send(90, nil) // 5QI 9
	urgent, _ := m.send(19, nil)
	got := m.deliveries(ms(60), int64(10*time.Microsecond))

	tx := m.txTime(probeWire)
	chunk := m.txTime(backgroundChunk)
	// The urgent packet goes at the next chunk boundary after it arrived
	// (not pre-emptive), then the 5QI 9 one; neither waits for the backlog.
	earliest, latest := ms(10)+tx+testDelay, ms(10)+chunk+tx+testDelay+int64(10*time.Microsecond)
	if got[urgent] < earliest || got[urgent] > latest {
		t.Errorf("priority-19 packet delivered at %v, want within [%v, %v]", time.Duration(got[urgent]), time.Duration(earliest), time.Duration(latest))
	}
	if got[low] <= got[urgent] || got[low]-got[urgent] > tx+int64(20*time.Microsecond) {
		t.Errorf("priority-90 packet delivered at %v, want right after the priority-19 one at %v", time.Duration(got[low]), time.Duration(got[urgent]))
	}
	// The best-effort packet waits for the 40 ms of background ahead.
	wantBE := ms(10) + ms(40) + 2*tx + testDelay
	if d := got[be] - wantBE; d < -int64(100*time.Microsecond) || d > int64(200*time.Microsecond) {
		t.Errorf("best-effort packet delivered at %v, want about %v", time.Duration(got[be]), time.Duration(wantBE))
	}
	s := m.stats()
	if n := len(s.Queues); n != 3 || s.Queues[0].Name != "priority-19" || s.Queues[1].Name != "priority-90" || s.Queues[2].Name != "best-effort" {
		t.Errorf("queues = %+v, want priority-19, priority-90, best-effort", s.Queues)
	}
	for _, q := range s.Queues {
		if q.Forwarded != 1 || q.Dropped != 0 {
			t.Errorf("queue %s: forwarded %d dropped %d, want 1 and 0", q.Name, q.Forwarded, q.Dropped)
		}
	}
	if s.Background.SentBytes == 0 || s.Background.DroppedBytes != 0 {
		t.Errorf("background = %+v, want bytes sent and none dropped", s.Background)
	}
}

// TestLinkSerialization protects the rate: packets offered together leave
// one serialization delay apart, and an idle link adds only the base delay
// and one serialization delay.
func TestLinkSerialization(t *testing.T) {
	m := newManualLink(1)
	var ps []*packet
	for range 5 {
		p, _ := m.send(BestEffort, nil)
		ps = append(ps, p)
	}
	got := m.deliveries(ms(2), 1000)
	tx := m.txTime(probeWire) // 5.76 µs at 100 Mbps
	if tx != 5760 {
		t.Fatalf("txTime(%d) = %d ns, want 5760", probeWire, tx)
	}
	for i, p := range ps {
		want := int64(i+1)*tx + testDelay
		if d := got[p] - want; d < 0 || d >= 1000 {
			t.Errorf("packet %d delivered at %d ns, want %d (+ one clock step)", i, got[p], want)
		}
	}
}

// TestLinkImpairment protects the impairment's delay, jitter bounds and
// seeded loss: the same seed loses the same packets.
func TestLinkImpairment(t *testing.T) {
	const n = 20000
	run := func(seed uint64) (lostSeqs []int, minExtra, maxExtra int64) {
		m := newManualLink(seed)
		imp := &impairment{delay: ms(20), jitter: ms(5), loss: 0.1}
		minExtra, maxExtra = neverNs, 0
		for i := range n {
			m.clock += int64(10 * time.Microsecond) // slower than the link: no queueing
			p, ok := m.send(BestEffort, imp)
			if !ok {
				lostSeqs = append(lostSeqs, i)
				continue
			}
			minExtra, maxExtra = min(minExtra, p.extra), max(maxExtra, p.extra)
		}
		m.close()
		return lostSeqs, minExtra, maxExtra
	}
	lost1, lo, hi := run(7)
	lost2, _, _ := run(7)
	if ratio := float64(len(lost1)) / n; ratio < 0.09 || ratio > 0.11 {
		t.Errorf("lost %d of %d (%.4f), want about 0.1", len(lost1), n, ratio)
	}
	if len(lost1) != len(lost2) || lost1[0] != lost2[0] || lost1[len(lost1)-1] != lost2[len(lost2)-1] {
		t.Errorf("the same seed lost different packets: %d vs %d", len(lost1), len(lost2))
	}
	if lo < ms(15) || hi > ms(25) || hi-lo < ms(9) {
		t.Errorf("impairment delay spread over [%v, %v], want about [15ms, 25ms]", time.Duration(lo), time.Duration(hi))
	}
}

// TestLinkDropTail protects the queue limit: background beyond the link
// rate fills the best-effort queue to its limit and no further, drops the
// rest, and a burst of best-effort packets offered then mostly finds no
// room (only what the background packet being sent freed), while a
// provisioned flow still gets through.
func TestLinkDropTail(t *testing.T) {
	m := newManualLink(1)
	m.setBackground(200_000_000, int64(50*time.Millisecond))
	m.deliveries(ms(500), int64(100*time.Microsecond))
	accepted := 0
	for range 100 {
		if _, ok := m.send(BestEffort, nil); ok {
			accepted++
		}
	}
	if maxRoom := backgroundChunk/probeWire + 1; accepted > maxRoom {
		t.Errorf("%d of 100 best-effort packets queued behind a full queue, want at most %d", accepted, maxRoom)
	}
	p, ok := m.send(19, nil)
	if !ok {
		t.Fatal("a provisioned packet was dropped while its queue is empty")
	}
	got := m.deliveries(m.clock+ms(2), 1000)
	if _, ok := got[p]; !ok {
		t.Error("the provisioned packet was not delivered within 2 ms")
	}
	s := m.stats()
	be := s.Queues[len(s.Queues)-1]
	if be.QueuedBytes > testLimit {
		t.Errorf("best-effort queue holds %d bytes, limit %d", be.QueuedBytes, testLimit)
	}
	if be.Dropped != uint64(100-accepted) || s.Background.DroppedBytes == 0 {
		t.Errorf("queue %+v, background %+v: want %d datagrams and some background dropped", be, s.Background, 100-accepted)
	}
}

// TestLinkIdleCatchUp protects the lazy background simulation: an hour of
// load with no packet costs bounded work when the link is next looked at,
// and leaves the backlog where a continuously running link would.
func TestLinkIdleCatchUp(t *testing.T) {
	m := newManualLink(1)
	m.setBackground(95_000_000, int64(50*time.Millisecond))
	m.clock = int64(time.Hour) + m.bg.period/2
	start := time.Now()
	s := m.stats()
	if took := time.Since(start); took > time.Second {
		t.Errorf("catching up an hour of load took %v", took)
	}
	// Half a period after a burst, 26.3 ms of it has been sent: about
	// 330 kB of 625 kB is left.
	if q := s.Queues[len(s.Queues)-1].QueuedBytes; q < 250_000 || q > 350_000 {
		t.Errorf("best-effort backlog = %d bytes, want about 296000", q)
	}
}

// TestLinkPathDoesNotAllocate protects the per-packet cost: queueing,
// scheduling and delivering a reused packet allocates nothing once the
// queues have grown.
func TestLinkPathDoesNotAllocate(t *testing.T) {
	m := newManualLink(1)
	imp := &impairment{delay: ms(1), jitter: ms(1), loss: 0.01}
	var out []*packet
	step := func() {
		p := getPacket(44)
		p.n, p.wire, p.level = 44, probeWire, 19
		if !m.enqueue(p, imp) {
			release(p)
		}
		m.clock += int64(time.Millisecond)
		out, _ = m.due(out[:0])
		for _, p := range out {
			release(p)
		}
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocations per packet, want 0", a)
	}
}

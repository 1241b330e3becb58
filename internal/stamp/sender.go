package stamp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

const (
	// DefaultLossTimeout is the least time a Session-Sender waits for a
	// reply before it reports the packet lost. RFC 8762 leaves the
	// threshold to the operator; a second is far above any delay a surgery
	// flow can tolerate and far below the reporting windows.
	DefaultLossTimeout = time.Second
	// lossTimeoutIntervals is the other lower bound on the loss timeout, in
	// packet intervals, so that slow probing does not declare loss before
	// the next packet is even due.
	lossTimeoutIntervals = 3

	// rxBufferLen is larger than any reply this sender provokes (its
	// packets are 44 octets and the reflector answers with as many) so a
	// padded or odd reply is still read whole; excess is ignored.
	rxBufferLen = 256
	// minRing and maxRing bound the number of packets a session tracks at
	// once. The ring is sized to cover a loss timeout twice over; past
	// maxRing a slot still awaiting a reply is declared lost when it is
	// reused.
	minRing = 16
	maxRing = 1 << 16
)

// Sample is what the Session-Sender learnt about one test packet.
//
// Samples are delivered as they resolve: a reply yields one at once, a loss
// only after the loss timeout, so samples can arrive out of sequence order.
type Sample struct {
	// Seq is the Session-Sender sequence number.
	Seq uint32
	// Sent is when the packet was sent (T1, local clock).
	Sent time.Time
	// Received is when the reply arrived (T4, local clock); zero when Lost.
	Received time.Time
	// RTT is the round trip minus the time the packet spent in the
	// reflector: (T4 - T1) - (T3 - T2).
	RTT time.Duration
	// Residence is T3 - T2 as the reflector reported it. It is zero, and
	// not subtracted from RTT, when the reflector's figure is negative or
	// longer than the whole round trip (a clock step at the reflector).
	Residence time.Duration
	// Synchronized is set when both ends said their clocks are synchronised
	// to UTC (the S bit of both error estimates), which is what makes
	// ForwardDelay and BackwardDelay meaningful.
	Synchronized bool
	// ForwardDelay is T2 - T1 and BackwardDelay is T4 - T3; both zero unless
	// Synchronized.
	ForwardDelay, BackwardDelay time.Duration
	// TTL is the Session-Sender TTL the reflector saw (255 when it could not
	// tell).
	TTL uint8
	// Lost is set when no reply came within the loss timeout.
	Lost bool
	// Duplicate is set for each further reply to a packet already answered.
	// Its timing fields describe the copy; window rollups should count it
	// neither as a delivery nor in delay statistics.
	Duplicate bool
	// Reordered is set when the reply came after the reply to a later
	// packet (RFC 4737 §3: its sequence number is below the next expected).
	Reordered bool
}

// IPDV returns the IP packet delay variation between two consecutive packets
// of a session (RFC 5481, the ipdv of RFC 3393 with adjacent packets
// selected): cur's delay minus prev's. The delay is
// the forward one-way delay when both samples are synchronised, and the
// round trip otherwise. ok is false when the pair has no IPDV: not
// consecutive (cur.Seq != prev.Seq+1), either lost, or either a duplicate.
func IPDV(prev, cur Sample) (ipdv time.Duration, ok bool) {
	if cur.Seq != prev.Seq+1 || prev.Lost || cur.Lost || prev.Duplicate || cur.Duplicate {
		return 0, false
	}
	if prev.Synchronized && cur.Synchronized {
		return cur.ForwardDelay - prev.ForwardDelay, true
	}
	return cur.RTT - prev.RTT, true
}

// SenderConfig describes one STAMP test session.
type SenderConfig struct {
	// Target is the Session-Reflector, usually on port DefaultPort.
	Target netip.AddrPort
	// Local optionally fixes the source address and port, for example to
	// match the packet filter of the QoS flow under test.
	Local netip.AddrPort
	// Interval is the time between test packets (periodic stream,
	// RFC 3432).
	Interval time.Duration
	// StartDelay postpones the first packet, so that many sessions started
	// together spread their packets over an interval instead of bursting.
	StartDelay time.Duration
	// Timeout is how long to wait for a reply before reporting a packet
	// lost. Zero means the larger of DefaultLossTimeout and three
	// intervals. Replies arriving later are counted as Late and ignored.
	Timeout time.Duration
	// Count stops the session after this many packets, once each is
	// answered or lost. Zero runs until the context is done.
	Count uint32
	// DSCP marks test packets (6 bits) so that they ride the same QoS flow
	// as the traffic they measure.
	DSCP uint8
	// ErrorEstimate describes the local clock. Set Synchronized only when
	// it is disciplined to UTC; one-way delays are computed only then. PTP
	// must be false: this sender writes NTP timestamps. The zero value is
	// sent as {S=0, Scale=0, Multiplier=1}, since a zero multiplier is
	// forbidden (RFC 4656 §4.1.2).
	ErrorEstimate ErrorEstimate
	// Now is the clock for T1 and T4 and for loss timing; nil means
	// time.Now. Waiting itself uses runtime timers, for the durations this
	// clock yields.
	Now func() time.Time
	// OnSample receives every sample, one call at a time, from the
	// session's goroutines: it must return quickly (hand off to a channel
	// or aggregate in place), or it delays the next packet.
	OnSample func(Sample)
}

// SenderStats counts what a Sender did. Received excludes duplicates.
type SenderStats struct {
	Sent       uint64
	SendErrors uint64
	Received   uint64
	Lost       uint64
	Duplicates uint64
	Reordered  uint64
	// Late counts replies that came after their packet was reported lost.
	Late uint64
	// Malformed counts datagrams too short to be a reflector packet.
	Malformed uint64
	// Unmatched counts well-formed replies to no packet of this session
	// (unknown sequence number, or a timestamp that is not the one sent).
	Unmatched uint64
	// ReceiveErrors counts socket errors, such as ICMP port unreachable
	// while the reflector is down.
	ReceiveErrors uint64
}

// Sender is a STAMP Session-Sender (RFC 8762 §4.2) for one test session: it
// sends a periodic stream of test packets from its own UDP socket, matches
// replies by sequence number and reports a Sample per packet.
//
// A running session costs one socket, two parked goroutines (a timer-driven
// sender and a blocked reader) and a few kilobytes; sending, matching and
// reporting do not allocate.
type Sender struct {
	cfg SenderConfig

	sent, sendErrors, received, lost, duplicates, reordered atomic.Uint64
	late, malformed, unmatched, receiveErrors               atomic.Uint64
}

// NewSender checks cfg and fills in defaults.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if !cfg.Target.IsValid() || cfg.Target.Port() == 0 {
		return nil, fmt.Errorf("stamp: sender target %q is not an address and port", cfg.Target)
	}
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("stamp: sender interval %v must be positive", cfg.Interval)
	}
	if cfg.Timeout < 0 || cfg.StartDelay < 0 {
		return nil, errors.New("stamp: sender timeout and start delay must not be negative")
	}
	if cfg.DSCP > 63 {
		return nil, fmt.Errorf("stamp: DSCP %d does not fit in 6 bits", cfg.DSCP)
	}
	if cfg.ErrorEstimate.PTP {
		return nil, errors.New("stamp: sender writes NTP timestamps; ErrorEstimate.PTP must be false")
	}
	if cfg.ErrorEstimate == (ErrorEstimate{}) {
		cfg.ErrorEstimate.Multiplier = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = max(DefaultLossTimeout, lossTimeoutIntervals*cfg.Interval)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg}, nil
}

// Stats returns the counters so far, summed over every Run. It is safe to
// call while running.
func (s *Sender) Stats() SenderStats {
	return SenderStats{
		Sent:          s.sent.Load(),
		SendErrors:    s.sendErrors.Load(),
		Received:      s.received.Load(),
		Lost:          s.lost.Load(),
		Duplicates:    s.duplicates.Load(),
		Reordered:     s.reordered.Load(),
		Late:          s.late.Load(),
		Malformed:     s.malformed.Load(),
		Unmatched:     s.unmatched.Load(),
		ReceiveErrors: s.receiveErrors.Load(),
	}
}

// Run opens the session's socket and probes until ctx is done (then it
// returns nil, without reporting packets still awaiting a reply) or, with
// Count set, until the loss timeout of the last packet has passed, by which
// time every packet is answered or lost. Sequence numbers start at zero
// (RFC 8762 §4.2.1) on every Run.
func (s *Sender) Run(ctx context.Context) error {
	var laddr *net.UDPAddr
	if s.cfg.Local.IsValid() {
		laddr = net.UDPAddrFromAddrPort(s.cfg.Local)
	}
	target := netip.AddrPortFrom(s.cfg.Target.Addr().Unmap(), s.cfg.Target.Port())
	// A connected socket makes the kernel drop datagrams from anyone but
	// the reflector, and reports ICMP errors for it.
	conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return fmt.Errorf("stamp: open session to %v: %w", target, err)
	}
	defer conn.Close()
	if s.cfg.DSCP != 0 {
		if err := setDSCP(conn, target.Addr(), s.cfg.DSCP); err != nil {
			return fmt.Errorf("stamp: mark session to %v with DSCP %d: %w", target, s.cfg.DSCP, err)
		}
	}
	return newSession(s, conn).run(ctx)
}

func setDSCP(conn *net.UDPConn, addr netip.Addr, dscp uint8) error {
	if addr.Is4() {
		return ipv4.NewConn(conn).SetTOS(int(dscp) << 2)
	}
	return ipv6.NewConn(conn).SetTrafficClass(int(dscp) << 2)
}

type slotState uint8

const (
	slotEmpty slotState = iota
	slotOutstanding
	slotReceived
	slotLost
)

// slot remembers one sent packet until its ring position is reused.
type slot struct {
	seq     uint32
	state   slotState
	sent    time.Time // T1 with the monotonic reading, for T4 - T1
	sentNTP NTPTime   // T1 as sent, to recognise the reply
}

// session is the state of one Run. Two goroutines share it under mu: the
// Run goroutine, woken by a timer to send and to declare losses, and a
// reader blocked in the socket read. A read deadline would let one goroutine
// do both, but every expiry returns a freshly allocated error, one per
// packet; a timer and a blocking read allocate nothing.
type session struct {
	s    *Sender
	cfg  *SenderConfig
	conn *net.UDPConn

	mu   sync.Mutex
	ring []slot
	mask uint32
	// next is the sequence number to send next; oldest is the lowest one
	// not yet resolved (answered or lost). Slots in [oldest, next) are
	// scanned for loss in order, which works because every packet has the
	// same timeout.
	next, oldest uint32
	// lastSent is when the latest packet went out.
	lastSent time.Time
	// highest is the highest sequence number answered so far.
	highest     uint32
	anyReceived bool

	tx [SenderPacketLen]byte
	rx [rxBufferLen]byte // used by the reader only
}

func newSession(s *Sender, conn *net.UDPConn) *session {
	inFlight := uint64(s.cfg.Timeout/s.cfg.Interval) + 2
	n := min(max(uint64(1)<<bits.Len64(2*inFlight-1), minRing), maxRing)
	return &session{s: s, cfg: &s.cfg, conn: conn, ring: make([]slot, n), mask: uint32(n - 1)}
}

// run sends on schedule and reports losses until ctx is done or, with
// Count, until the last packet's loss timeout has passed. Waiting out that
// timeout, rather than stopping at the last reply, gives every packet the
// same window for duplicates and late replies.
func (ss *session) run(ctx context.Context) error {
	readErr := make(chan error, 1)
	go func() { readErr <- ss.read() }()
	defer func() {
		_ = ss.conn.Close() // ends the reader
		<-readErr
	}()

	cfg := ss.cfg
	due := cfg.Now().Add(cfg.StartDelay)
	timer := time.NewTimer(cfg.StartDelay)
	defer timer.Stop()
	sending := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			readErr <- err // for the deferred wait
			return err
		case <-timer.C:
		}

		ss.mu.Lock()
		t := cfg.Now()
		ss.expire(t)
		if sending && !t.Before(due) {
			ss.send()
			// Periodic schedule without catch-up bursts: a late wake-up
			// shifts the schedule rather than sending several at once.
			due = due.Add(cfg.Interval)
			if !due.After(t) {
				due = t.Add(cfg.Interval)
			}
			sending = cfg.Count == 0 || ss.next < cfg.Count
		}
		var wake time.Time
		if sending {
			wake = due
		} else {
			wake = ss.lastSent.Add(cfg.Timeout)
			if !t.Before(wake) {
				ss.mu.Unlock()
				return nil // the last packet's window has closed; all resolved
			}
		}
		if ss.oldest != ss.next {
			if lossAt := ss.ring[ss.oldest&ss.mask].sent.Add(cfg.Timeout); lossAt.Before(wake) {
				wake = lossAt
			}
		}
		ss.mu.Unlock()
		timer.Reset(wake.Sub(cfg.Now()))
	}
}

// read handles replies until the socket is closed.
func (ss *session) read() error {
	for {
		n, err := ss.conn.Read(ss.rx[:])
		// T4 is taken before waiting for the lock, which the sending side
		// may hold for the length of a write.
		t4 := ss.cfg.Now()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// ICMP errors (port unreachable while the reflector is
			// down) are reported once each on a connected socket.
			ss.s.receiveErrors.Add(1)
			continue
		}
		ss.mu.Lock()
		ss.receive(ss.rx[:n], t4)
		ss.mu.Unlock()
	}
}

// send transmits the next test packet. A packet that cannot be written still
// takes its sequence number and is reported lost in due course: from the
// SLA's point of view a probe that cannot leave is a probe that did not
// arrive.
func (ss *session) send() {
	seq := ss.next
	sl := &ss.ring[seq&ss.mask]
	if sl.state == slotOutstanding {
		ss.resolveLost(sl) // the ring is full: maxRing reached
	}
	p := SenderPacket{Seq: seq, ErrorEstimate: ss.cfg.ErrorEstimate}
	b, _ := p.AppendBinary(ss.tx[:0])
	// T1, the time the packet is sent (RFC 8762 §4.2.1), is taken last and
	// written in place, just before the write.
	t1 := ss.cfg.Now()
	t1NTP := NewNTPTime(t1)
	binary.BigEndian.PutUint64(b[4:12], uint64(t1NTP))
	*sl = slot{seq: seq, state: slotOutstanding, sent: t1, sentNTP: t1NTP}
	ss.next++
	ss.lastSent = t1
	if _, err := ss.conn.Write(b); err != nil {
		ss.s.sendErrors.Add(1)
		return
	}
	ss.s.sent.Add(1)
}

// expire reports every packet whose loss timeout has passed at t.
func (ss *session) expire(t time.Time) {
	for ; ss.oldest != ss.next; ss.oldest++ {
		sl := &ss.ring[ss.oldest&ss.mask]
		if sl.seq != ss.oldest || sl.state != slotOutstanding {
			continue // answered, or already declared lost on reuse
		}
		if t.Sub(sl.sent) < ss.cfg.Timeout {
			return
		}
		ss.resolveLost(sl)
	}
}

func (ss *session) resolveLost(sl *slot) {
	sl.state = slotLost
	ss.s.lost.Add(1)
	ss.emit(Sample{Seq: sl.seq, Sent: sl.sent, Lost: true})
}

func (ss *session) receive(b []byte, t4 time.Time) {
	if len(b) < ReflectorPacketLen {
		ss.s.malformed.Add(1)
		return
	}
	var rp ReflectorPacket
	_ = rp.UnmarshalBinary(b)
	// Match on the copied Session-Sender fields, which a stateful reflector
	// keeps too, rather than on the reflector's own sequence number. The
	// timestamp check rejects stale replies from an earlier Run and stray
	// packets that happen to carry a known sequence number.
	seq := rp.SenderSeq
	sl := &ss.ring[seq&ss.mask]
	if sl.state == slotEmpty || sl.seq != seq || rp.SenderTimestamp != sl.sentNTP {
		ss.s.unmatched.Add(1)
		return
	}
	smp := Sample{Seq: seq, Sent: sl.sent, Received: t4, TTL: rp.SenderTTL}
	switch sl.state {
	case slotLost:
		ss.s.late.Add(1)
		return
	case slotReceived:
		smp.Duplicate = true
		ss.s.duplicates.Add(1)
	case slotOutstanding:
		sl.state = slotReceived
		ss.s.received.Add(1)
		// RFC 4737 §3: reordered when below the next expected number,
		// i.e. not above the highest seen (serial arithmetic for wrap).
		if ss.anyReceived && int32(seq-ss.highest) < 0 {
			smp.Reordered = true
			ss.s.reordered.Add(1)
		} else {
			ss.highest, ss.anyReceived = seq, true
		}
	}

	rtt := t4.Sub(sl.sent)
	if res := rp.Residence(); res >= 0 && res <= rtt {
		smp.Residence = res
		rtt -= res
	}
	smp.RTT = rtt
	// One-way delays need both clocks on UTC, and NTP timestamps: PTP
	// timestamps count TAI, and the leap-second offset is not known here.
	if ss.cfg.ErrorEstimate.Synchronized && rp.ErrorEstimate.Synchronized && !rp.ErrorEstimate.PTP {
		smp.Synchronized = true
		smp.ForwardDelay = rp.ReceiveTimestamp.Sub(sl.sentNTP)
		smp.BackwardDelay = NewNTPTime(t4).Sub(rp.Timestamp)
	}
	ss.emit(smp)
}

func (ss *session) emit(smp Sample) {
	if ss.cfg.OnSample != nil {
		ss.cfg.OnSample(smp)
	}
}

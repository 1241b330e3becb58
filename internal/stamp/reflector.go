package stamp

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// maxDatagram is the largest UDP payload; reading into a buffer this size
// means a long Session-Sender packet is never truncated, so the reply can
// match its size.
const maxDatagram = 65535

// unknownTTL is reported in the Session-Sender TTL field when the socket
// cannot tell the received TTL (a net.PacketConn other than *net.UDPConn, or
// a platform where the control messages are not wired up). RFC 8762 §4.3.1
// has no value for "unknown"; 255 is the largest TTL a sender can use, so a
// sender comparing it with what it sent sees "no hops" rather than an
// invented path length.
const unknownTTL = 255

// Reflector is a stateless STAMP Session-Reflector (RFC 8762 §4.3): every
// valid Session-Sender packet is answered at once with a Session-Reflector
// packet to its source, carrying the sender's sequence number, timestamp,
// error estimate and received TTL, and the reflector's receive (T2) and
// transmit (T3) timestamps. No per-session state is kept, so one Reflector
// serves any number of senders.
//
// The zero value is ready to use. A Reflector may Serve several connections
// at once; its counters add up over all of them.
type Reflector struct {
	// Now is the clock for T2 and T3; nil means time.Now. It is called
	// right after every read (T2) and right before every reply (T3).
	Now func() time.Time
	// ErrorEstimate qualifies the reflector's timestamps. Set Synchronized
	// only when the host clock is disciplined to UTC (NTP or PTP), since
	// senders then trust one-way delays computed from it. The zero value is
	// sent as {S=0, Scale=0, Multiplier=1}, since a zero multiplier is
	// forbidden (RFC 4656 §4.1.2).
	ErrorEstimate ErrorEstimate
	// Logger receives per-packet problems at debug level; nil discards.
	Logger *slog.Logger

	reflected   atomic.Uint64
	malformed   atomic.Uint64
	readErrors  atomic.Uint64
	writeErrors atomic.Uint64
}

// ReflectorStats counts what a Reflector did.
type ReflectorStats struct {
	// Reflected counts replies sent.
	Reflected uint64
	// Malformed counts datagrams dropped because they are shorter than a
	// Session-Sender packet.
	Malformed uint64
	// ReadErrors and WriteErrors count socket errors that did not stop
	// Serve (for example ICMP errors reported on the socket).
	ReadErrors  uint64
	WriteErrors uint64
}

// Stats returns the counters so far. It is safe to call while serving.
func (r *Reflector) Stats() ReflectorStats {
	return ReflectorStats{
		Reflected:   r.reflected.Load(),
		Malformed:   r.malformed.Load(),
		ReadErrors:  r.readErrors.Load(),
		WriteErrors: r.writeErrors.Load(),
	}
}

// Serve reflects the Session-Sender packets that arrive on conn until ctx is
// done, then returns nil. It returns an error only when conn is unusable
// (closed by someone else). Serve does not close conn; on cancellation it
// sets conn's read deadline to wake the pending read.
//
// When conn is a *net.UDPConn on Linux, the received TTL (or Hop Limit) is
// read from control messages and replies leave from the address the request
// was sent to, which matters on a multi-homed device bound to a wildcard
// address: the sender's connected socket drops replies from any other
// source.
func (r *Reflector) Serve(ctx context.Context, conn net.PacketConn) error {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	estimate := r.ErrorEstimate
	if estimate == (ErrorEstimate{}) {
		estimate.Multiplier = 1
	}

	// The reflector writes NTP timestamps whatever the caller set.
	estimate.PTP = false

	// Clear any deadline the caller left, before arming the one that stops
	// the loop, or a stale deadline would make every read fail at once.
	if err := conn.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past makes the blocked read return at once.
		_ = conn.SetReadDeadline(time.Unix(1, 0))
	})
	defer stop()

	rc := newReflectorConn(conn, log)
	buf := make([]byte, maxDatagram)
	var (
		in  SenderPacket
		out ReflectorPacket
	)
	for {
		n, ttl, err := rc.read(buf)
		// T2 is the time the packet was received (RFC 8762 §4.3.1); taking
		// it before anything else keeps the reflector's own processing out
		// of the network delay and inside the residence time.
		t2 := now()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			r.readErrors.Add(1)
			log.Debug("STAMP read failed", "err", err)
			continue
		}
		if n < SenderPacketLen {
			// Checked here rather than by UnmarshalBinary so that a flood
			// of garbage does not allocate error values.
			r.malformed.Add(1)
			continue
		}
		_ = in.UnmarshalBinary(buf[:n])

		out = ReflectorPacket{
			// Stateless mode copies the sender's sequence number
			// (RFC 8762 §4.3).
			Seq:                 in.Seq,
			ErrorEstimate:       estimate,
			ReceiveTimestamp:    NewNTPTime(t2),
			SenderSeq:           in.Seq,
			SenderTimestamp:     in.Timestamp,
			SenderErrorEstimate: in.ErrorEstimate,
			SenderTTL:           ttl,
		}
		// The reply is written over the request in place. It keeps the
		// request's length so test packets stay symmetrical in size
		// (RFC 8762 §4.2); octets past the base packet are zeroed rather
		// than echoed because this reflector does not process RFC 8972
		// extensions and must not look as if it had.
		reply, _ := out.AppendBinary(buf[:0])
		clear(buf[len(reply):n])
		reply = buf[:n]

		// T3, the time the reply is sent (RFC 8762 §4.3.1), goes in last,
		// just before the write, so T3 - T2 covers all the time the packet
		// spent here.
		binary.BigEndian.PutUint64(reply[4:12], uint64(NewNTPTime(now())))
		if err := rc.reply(reply); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			r.writeErrors.Add(1)
			log.Debug("STAMP reply failed", "err", err)
			continue
		}
		r.reflected.Add(1)
	}
}

// reflectorConn reads a datagram with its TTL and replies to where the last
// one came from. The address stays inside the implementation so that the
// UDP path can keep it as a netip.AddrPort and never allocate.
type reflectorConn interface {
	read(b []byte) (n int, ttl uint8, err error)
	reply(b []byte) error
}

// genericConn serves any net.PacketConn. It cannot see the TTL and
// allocates an address per read; it exists for wrapped connections (tests,
// tunnels) and platforms without control-message support.
type genericConn struct {
	conn net.PacketConn
	from net.Addr
}

func (c *genericConn) read(b []byte) (int, uint8, error) {
	n, from, err := c.conn.ReadFrom(b)
	c.from = from
	return n, unknownTTL, err
}

func (c *genericConn) reply(b []byte) error {
	_, err := c.conn.WriteTo(b, c.from)
	return err
}

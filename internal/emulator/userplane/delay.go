package userplane

import (
	"net/netip"
	"time"
)

// PacketDelay is the one-way delay the link imposes on a datagram of one
// flow in one direction if it arrived now: what the emulator reports as
// network-side QoS monitoring (TS 23.501 §5.33.3, packet delay).
type PacketDelay struct {
	// Base is the link's base delay.
	Base time.Duration
	// Impairment is the mean extra delay of the impairment that applies to
	// the UE in this direction: its delay, or, when its jitter exceeds its
	// delay (the draw is then clipped at zero), the mean of the clipped
	// draw.
	Impairment time.Duration
	// Queueing is how long the datagram would wait for the transmitter:
	// the rest of the datagram being sent, then everything queued at its
	// priority level and the more urgent ones, at the link rate. Datagrams
	// of more urgent flows that arrive later and overtake it are not
	// foreseen, nor is its own serialization.
	Queueing time.Duration
}

// Total is the one-way delay.
func (d PacketDelay) Total() time.Duration { return d.Base + d.Impairment + d.Queueing }

// FlowDelay is the one-way delay in dir of the datagrams of a session's
// flows to or from ue: at the priority level of the session's flows, or in
// the best-effort queue when the session has none installed (its packets
// then are best effort).
func (f *Forwarder) FlowDelay(dir Direction, ue netip.Addr, session string) PacketDelay {
	ue = ue.Unmap()
	level := BestEffort
	f.flowMu.RLock()
	if s, ok := f.flowSessions[session]; ok && s.ue == ue && len(s.entry.rules) > 0 {
		level = int(s.entry.level)
	}
	f.flowMu.RUnlock()
	d := PacketDelay{Base: f.cfg.LinkDelay, Queueing: time.Duration(f.links[dir].queueing(level))}
	if imp, ok := f.impairs.Load().lookup(dir, ue); ok {
		d.Impairment = time.Duration(imp.meanDelay())
	}
	return d
}

// meanDelay is the mean of the extra delay the link draws for a packet,
// max(delay + U(-jitter, jitter), 0), in ns.
func (imp impairment) meanDelay() int64 {
	if imp.jitter <= imp.delay {
		return imp.delay
	}
	// Clipped at zero: (1/2j) ∫_{-d}^{j} (d+u) du = (d+j)² / 4j.
	sum := float64(imp.delay + imp.jitter)
	return int64(sum * sum / (4 * float64(imp.jitter)))
}

// queueing is how long a datagram of level arriving now would wait for the
// transmitter, in ns.
func (l *link) queueing(level int) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0
	}
	now := l.now()
	l.advance(now)
	wait := max(l.linkFree-now, 0)
	ahead := 0
	l.levels(level+1, func(lv int) bool {
		ahead += l.queues[lv].bytes
		return true
	})
	return wait + l.txTime(ahead)
}

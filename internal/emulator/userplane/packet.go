package userplane

import (
	"net"
	"net/netip"
	"sync"
)

const (
	// maxDatagram is the largest UDP payload; readers use a buffer this
	// size so that no datagram is truncated on the way through.
	maxDatagram = 65535
	// tinyBuffer holds STAMP test packets (44 octets, RFC 8762 §4.2) and
	// other short datagrams; smallBuffer any datagram up to an Ethernet
	// MTU with room to spare. Larger ones take a maxDatagram buffer.
	tinyBuffer  = 256
	smallBuffer = 2048
	// ipv4Overhead and ipv6Overhead are the IP and UDP headers a datagram
	// carries on the emulated link (RFC 791, RFC 8200, RFC 768), which the
	// serialization delay accounts for.
	ipv4Overhead = 20 + 8
	ipv6Overhead = 40 + 8
)

// packet is one datagram inside a link, or a run of background bytes.
// Packets come from free lists and go back once delivered or dropped, so the
// forwarding path does not allocate.
type packet struct {
	buf []byte // reused storage, cap tinyBuffer, smallBuffer or maxDatagram
	n   int    // payload length, buf[:n]
	// wire is what the packet occupies on the link in bytes: payload plus
	// headers, or for a background run the bytes not yet sent.
	wire      int
	synthetic bool
	level     uint8
	arrival   int64 // link clock, ns
	extra     int64 // impairment delay added after transmission, ns
	deliverAt int64
	seq       uint64 // orders packets with equal deliverAt, first in first out

	// conn and to say where the packet leaves the emulator: to is the
	// destination of an unconnected conn, zero for a connected one.
	conn *net.UDPConn
	to   netip.AddrPort
}

// freeList keeps released packets of one buffer size for reuse. Unlike a
// sync.Pool it is not emptied by each garbage collection, so a steady
// stream of datagrams allocates nothing; it keeps at most max packets, a
// queue limit's worth of small datagrams, beyond which released packets
// are left to the collector.
type freeList struct {
	size, max int
	mu        sync.Mutex
	items     []*packet
}

func (fl *freeList) get() *packet {
	fl.mu.Lock()
	if n := len(fl.items); n > 0 {
		p := fl.items[n-1]
		fl.items[n-1] = nil
		fl.items = fl.items[:n-1]
		fl.mu.Unlock()
		return p
	}
	fl.mu.Unlock()
	p := &packet{}
	if fl.size > 0 {
		p.buf = make([]byte, fl.size)
	}
	return p
}

func (fl *freeList) put(p *packet) {
	fl.mu.Lock()
	if len(fl.items) < fl.max {
		fl.items = append(fl.items, p)
	}
	fl.mu.Unlock()
}

var (
	tinyPackets  = &freeList{size: tinyBuffer, max: 1 << 15}
	smallPackets = &freeList{size: smallBuffer, max: 1 << 12}
	largePackets = &freeList{size: maxDatagram, max: 1 << 5}
	runPackets   = &freeList{max: 1 << 10}
)

// getPacket returns a packet with room for n payload bytes.
func getPacket(n int) *packet {
	switch {
	case n <= tinyBuffer:
		return tinyPackets.get()
	case n <= smallBuffer:
		return smallPackets.get()
	}
	return largePackets.get()
}

// getRun returns a background run of wire bytes.
func getRun(wire int) *packet {
	p := runPackets.get()
	p.synthetic, p.wire, p.level = true, wire, BestEffort
	return p
}

// release returns p to its free list, dropping its references.
func release(p *packet) {
	buf := p.buf
	*p = packet{buf: buf}
	switch cap(buf) {
	case 0:
		runPackets.put(p)
	case tinyBuffer:
		tinyPackets.put(p)
	case smallBuffer:
		smallPackets.put(p)
	default:
		largePackets.put(p)
	}
}

func (p *packet) payload() []byte { return p.buf[:p.n] }

// send writes the packet to its destination.
func (p *packet) send() error {
	var err error
	if p.to.IsValid() {
		_, err = p.conn.WriteToUDPAddrPort(p.payload(), p.to)
	} else {
		_, err = p.conn.Write(p.payload())
	}
	return err
}

// fifo is a growable ring of packets, one per scheduler level.
type fifo struct {
	items []*packet
	head  int
	n     int
	// bytes counts wire bytes queued, background runs included; real counts
	// the datagrams.
	bytes int
	real  int
}

func (q *fifo) push(p *packet) {
	if q.n == len(q.items) {
		grown := make([]*packet, max(16, 2*len(q.items)))
		for i := range q.n {
			grown[i] = q.items[(q.head+i)%len(q.items)]
		}
		q.items, q.head = grown, 0
	}
	q.items[(q.head+q.n)%len(q.items)] = p
	q.n++
	q.bytes += p.wire
	if !p.synthetic {
		q.real++
	}
}

func (q *fifo) front() *packet { return q.items[q.head] }

func (q *fifo) back() *packet { return q.items[(q.head+q.n-1)%len(q.items)] }

func (q *fifo) at(i int) *packet { return q.items[(q.head+i)%len(q.items)] }

// pop removes the front packet; its bytes must already be accounted for.
func (q *fifo) pop() *packet {
	p := q.items[q.head]
	q.items[q.head] = nil
	q.head = (q.head + 1) % len(q.items)
	q.n--
	if !p.synthetic {
		q.real--
	}
	return p
}

// delayLine holds transmitted packets until their delivery time: a binary
// min-heap on (deliverAt, seq).
type delayLine []*packet

func (h delayLine) less(i, j int) bool {
	if h[i].deliverAt != h[j].deliverAt {
		return h[i].deliverAt < h[j].deliverAt
	}
	return h[i].seq < h[j].seq
}

func (h *delayLine) push(p *packet) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s.less(i, parent) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *delayLine) pop() *packet {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = nil
	s = s[:last]
	for i := 0; ; {
		l, r, small := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, small) {
			small = l
		}
		if r < len(s) && s.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
	return top
}

package stamp

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// oobLen fits every control message the reflector asks for: a TTL or Hop
// Limit and an IPv4 or IPv6 packet-info block.
var oobLen = unix.CmsgSpace(4)*2 + unix.CmsgSpace(unix.SizeofInet4Pktinfo) + unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// newReflectorConn uses recvmsg/sendmsg control messages when conn is a UDP
// socket that accepts them, and the generic path otherwise.
func newReflectorConn(conn net.PacketConn, log *slog.Logger) reflectorConn {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return &genericConn{conn: conn}
	}
	raw, err := udp.SyscallConn()
	if err != nil {
		return &genericConn{conn: conn}
	}
	var ttlOK, pktinfoOK bool
	_ = raw.Control(func(fd uintptr) {
		// Each option exists per family; an IPv6 socket also takes the IPv4
		// ones, which then apply to IPv4-mapped traffic. Failures only mean
		// the family does not apply.
		s := int(fd)
		ttlOK = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVTTL, 1) == nil
		pktinfoOK = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_PKTINFO, 1) == nil
		if unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1) == nil {
			ttlOK = true
		}
		if unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1) == nil {
			pktinfoOK = true
		}
	})
	if !ttlOK {
		log.Info("STAMP reflector cannot read the received TTL; reporting 255", "addr", conn.LocalAddr())
	}
	return &udpMsgConn{conn: udp, oob: make([]byte, oobLen), pktinfo: pktinfoOK}
}

// udpMsgConn reads the TTL and the local destination address of each
// request from control messages, and sends the reply from that address.
type udpMsgConn struct {
	conn    *net.UDPConn
	oob     []byte
	pktinfo bool

	from netip.AddrPort
	// to is the local address the last request was sent to, and ifindex its
	// interface (kept for IPv6 link-local replies only).
	to      netip.Addr
	ifindex uint32
	// replyOOB caches the packet-info control message for replyFrom, so
	// that a reflector answering on one address builds it once.
	replyOOB  []byte
	replyFrom netip.Addr
	replyIf   uint32
}

func (c *udpMsgConn) read(b []byte) (int, uint8, error) {
	n, oobn, _, from, err := c.conn.ReadMsgUDPAddrPort(b, c.oob)
	if err != nil {
		return 0, 0, err
	}
	c.from = from
	c.to, c.ifindex = netip.Addr{}, 0
	ttl := uint8(unknownTTL)
	rest := c.oob[:oobn]
	for len(rest) > 0 {
		h, data, next, err := unix.ParseOneSocketControlMessage(rest)
		if err != nil {
			break
		}
		rest = next
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(data) >= 4,
			h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			// An int in host byte order (ip(7), ipv6(7)).
			ttl = uint8(binary.NativeEndian.Uint32(data))
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ipi_ifindex; in_addr ipi_spec_dst;
			// in_addr ipi_addr; }. ipi_spec_dst is the local address the
			// kernel would answer from, which stays right when the request
			// was broadcast.
			c.to = netip.AddrFrom4([4]byte(data[4:8]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr ipi6_addr; unsigned ipi6_ifindex; }.
			c.to = netip.AddrFrom16([16]byte(data[0:16]))
			if c.to.IsLinkLocalUnicast() {
				// A link-local source is only meaningful with its interface.
				c.ifindex = binary.NativeEndian.Uint32(data[16:20])
			}
		}
	}
	return n, ttl, nil
}

func (c *udpMsgConn) reply(b []byte) error {
	var oob []byte
	if c.pktinfo && c.to.IsValid() && !c.to.IsMulticast() {
		oob = c.replyControl()
	}
	_, _, err := c.conn.WriteMsgUDPAddrPort(b, oob, c.from)
	return err
}

// replyControl returns the IP_PKTINFO or IPV6_PKTINFO control message that
// makes the kernel send from c.to.
func (c *udpMsgConn) replyControl() []byte {
	if c.replyOOB != nil && c.replyFrom == c.to && c.replyIf == c.ifindex {
		return c.replyOOB
	}
	if c.to.Is4() {
		// Ifindex 0 lets routing pick the interface; only the source
		// address is pinned.
		c.replyOOB = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: c.to.As4()})
	} else {
		c.replyOOB = unix.PktInfo6(&unix.Inet6Pktinfo{Addr: c.to.As16(), Ifindex: c.ifindex})
	}
	c.replyFrom, c.replyIf = c.to, c.ifindex
	return c.replyOOB
}

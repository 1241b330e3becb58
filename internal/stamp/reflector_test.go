package stamp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

const (
	// testDeadline bounds any single exchange or run in these tests; it is
	// only reached when something is broken.
	testDeadline = 10 * time.Second
	// pollInterval is how often a test re-checks a condition that another
	// goroutine makes true.
	pollInterval = time.Millisecond
	// testTTL is an unusual TTL, so reading it back proves it was copied
	// from the packet rather than assumed.
	testTTL = 42
)

// startReflector serves r on conn (wrapped by wrap, if any) until the test
// ends, and checks that Serve then returns cleanly.
func startReflector(t *testing.T, r *Reflector, conn net.PacketConn, wrap func(net.PacketConn) net.PacketConn) netip.AddrPort {
	t.Helper()
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	served := conn
	if wrap != nil {
		served = wrap(conn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx, served) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after cancellation, want nil", err)
			}
		case <-time.After(testDeadline):
			t.Errorf("Serve did not return within %v of cancellation", testDeadline)
		}
		conn.Close()
	})
	return addr
}

func listenUDP(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	return c.(*net.UDPConn)
}

// dial returns a client socket connected to the reflector; being connected,
// it only accepts replies that come from the address it sent to.
func dial(t *testing.T, to netip.AddrPort) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatalf("dial %v: %v", to, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exchange(t *testing.T, c *net.UDPConn, req []byte) []byte {
	t.Helper()
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write: %v", err)
	}
	return readReply(t, c)
}

func readReply(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(testDeadline)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxDatagram)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return buf[:n]
}

// sequenceClock returns the given times in turn, then keeps returning the
// last one.
func sequenceClock(times ...time.Time) func() time.Time {
	var i atomic.Int64
	return func() time.Time {
		n := int(i.Add(1)) - 1
		return times[min(n, len(times)-1)]
	}
}

func marshalSender(t *testing.T, p SenderPacket) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReflectorReply(t *testing.T) {
	t2 := time.Date(2025, 3, 1, 10, 0, 0, 123_456_789, time.UTC)
	t3 := t2.Add(37 * time.Microsecond)
	r := &Reflector{
		Now:           sequenceClock(t2, t3),
		ErrorEstimate: ErrorEstimate{Synchronized: true, Scale: 12, Multiplier: 3},
	}
	addr := startReflector(t, r, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	c := dial(t, addr)
	if err := ipv4.NewConn(c).SetTTL(testTTL); err != nil {
		t.Fatalf("set TTL: %v", err)
	}

	req := SenderPacket{Seq: 0xDEADBEEF, Timestamp: vecT1NTP, ErrorEstimate: ErrorEstimate{Synchronized: true, Multiplier: 1}}
	wire := exchange(t, c, marshalSender(t, req))

	if len(wire) != ReflectorPacketLen {
		t.Fatalf("reply has %d octets, want %d", len(wire), ReflectorPacketLen)
	}
	for _, i := range reflectorMBZOffsets {
		if wire[i] != 0 {
			t.Errorf("MBZ octet %d = %#x, want 0", i, wire[i])
		}
	}
	var got ReflectorPacket
	if err := got.UnmarshalBinary(wire); err != nil {
		t.Fatal(err)
	}
	wantTTL := uint8(testTTL)
	if runtime.GOOS != "linux" {
		wantTTL = unknownTTL
	}
	want := ReflectorPacket{
		Seq:                 req.Seq, // stateless: copied (RFC 8762 §4.3)
		Timestamp:           NewNTPTime(t3),
		ErrorEstimate:       r.ErrorEstimate,
		ReceiveTimestamp:    NewNTPTime(t2),
		SenderSeq:           req.Seq,
		SenderTimestamp:     req.Timestamp,
		SenderErrorEstimate: req.ErrorEstimate,
		SenderTTL:           wantTTL,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	// The counter moves after the write returns, so it may trail the reply.
	waitForStats(t, r, ReflectorStats{Reflected: 1})
}

func waitForStats(t *testing.T, r *Reflector, want ReflectorStats) {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for r.Stats() != want {
		if time.Now().After(deadline) {
			t.Fatalf("Stats() = %+v, want %+v", r.Stats(), want)
		}
		time.Sleep(pollInterval)
	}
}

func TestReflectorDefaultErrorEstimateIsValid(t *testing.T) {
	addr := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	var got ReflectorPacket
	if err := got.UnmarshalBinary(exchange(t, dial(t, addr), marshalSender(t, SenderPacket{Seq: 1}))); err != nil {
		t.Fatal(err)
	}
	if want := (ErrorEstimate{Multiplier: 1}); got.ErrorEstimate != want {
		t.Errorf("ErrorEstimate = %v, want %v (a zero multiplier is forbidden)", got.ErrorEstimate, want)
	}
}

// Short datagrams are dropped and counted; the next valid packet is still
// answered, and is the first thing the client hears back.
func TestReflectorDropsShortPackets(t *testing.T) {
	r := &Reflector{}
	addr := startReflector(t, r, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	c := dial(t, addr)
	full := marshalSender(t, SenderPacket{Seq: 77})
	for _, n := range []int{0, 1, 10, SenderPacketLen - 1} {
		if _, err := c.Write(full[:n]); err != nil {
			t.Fatal(err)
		}
	}
	var got ReflectorPacket
	if err := got.UnmarshalBinary(exchange(t, c, full)); err != nil {
		t.Fatal(err)
	}
	if got.SenderSeq != 77 {
		t.Errorf("first reply is for sequence %d, want 77", got.SenderSeq)
	}
	waitForStats(t, r, ReflectorStats{Reflected: 1, Malformed: 4})
}

// A longer Session-Sender packet gets a reply of the same length (symmetric
// size), with the extra octets zeroed, and MBZ octets set by the sender do
// not matter.
func TestReflectorLongPacketAndMBZ(t *testing.T) {
	addr := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	c := dial(t, addr)
	req := marshalSender(t, SenderPacket{Seq: 5, Timestamp: vecT1NTP})
	for i := 14; i < SenderPacketLen; i++ {
		req[i] = 0xFF
	}
	req = append(req, bytes.Repeat([]byte{0xAA}, 100)...)

	reply := exchange(t, c, req)
	if len(reply) != len(req) {
		t.Fatalf("reply has %d octets, want %d", len(reply), len(req))
	}
	if !bytes.Equal(reply[ReflectorPacketLen:], make([]byte, 100)) {
		t.Errorf("octets after the base packet = %x, want zeros", reply[ReflectorPacketLen:])
	}
	var got ReflectorPacket
	if err := got.UnmarshalBinary(reply); err != nil {
		t.Fatal(err)
	}
	if got.SenderSeq != 5 || got.SenderTimestamp != vecT1NTP {
		t.Errorf("reply copies seq %d timestamp %#x, want 5 and %#x", got.SenderSeq, uint64(got.SenderTimestamp), uint64(vecT1NTP))
	}
}

// On a wildcard IPv6 socket (the default ":862"), IPv4 senders must still
// get their TTL copied, and replies must come from the address the request
// went to, or the sender's connected socket drops them.
func TestReflectorDualStack(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TTL and source address from control messages are wired up on Linux only")
	}
	pc, err := net.ListenPacket("udp", "[::]:0")
	if err != nil {
		t.Skipf("no IPv6 wildcard socket: %v", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	startReflector(t, &Reflector{}, pc, nil)

	t.Run("IPv4", func(t *testing.T) {
		c := dial(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
		if err := ipv4.NewConn(c).SetTTL(testTTL); err != nil {
			t.Fatal(err)
		}
		var got ReflectorPacket
		if err := got.UnmarshalBinary(exchange(t, c, marshalSender(t, SenderPacket{Seq: 4}))); err != nil {
			t.Fatal(err)
		}
		if got.SenderSeq != 4 || got.SenderTTL != testTTL {
			t.Errorf("reply seq %d TTL %d, want 4 and %d", got.SenderSeq, got.SenderTTL, testTTL)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		c, err := net.DialUDP("udp6", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.IPv6Loopback(), port)))
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		defer c.Close()
		if err := ipv6.NewConn(c).SetHopLimit(testTTL); err != nil {
			t.Fatal(err)
		}
		var got ReflectorPacket
		if err := got.UnmarshalBinary(exchange(t, c, marshalSender(t, SenderPacket{Seq: 6}))); err != nil {
			t.Fatal(err)
		}
		if got.SenderSeq != 6 || got.SenderTTL != testTTL {
			t.Errorf("reply seq %d hop limit %d, want 6 and %d", got.SenderSeq, got.SenderTTL, testTTL)
		}
	})
}

// A wrapped net.PacketConn takes the generic path, which cannot see the TTL.
func TestReflectorGenericConn(t *testing.T) {
	addr := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), func(c net.PacketConn) net.PacketConn {
		return struct{ net.PacketConn }{c}
	})
	var got ReflectorPacket
	if err := got.UnmarshalBinary(exchange(t, dial(t, addr), marshalSender(t, SenderPacket{Seq: 9}))); err != nil {
		t.Fatal(err)
	}
	if got.SenderSeq != 9 || got.SenderTTL != unknownTTL {
		t.Errorf("reply seq %d TTL %d, want 9 and %d", got.SenderSeq, got.SenderTTL, unknownTTL)
	}
}

func TestReflectorServeClosedConn(t *testing.T) {
	c := listenUDP(t, "udp4", "127.0.0.1:0")
	c.Close()
	err := (&Reflector{}).Serve(context.Background(), c)
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve on a closed conn = %v, want net.ErrClosed", err)
	}
}

// Reflecting must not allocate: the exchange below runs the client and the
// reflector, and the process-wide allocation count covers both.
func TestReflectorDoesNotAllocate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the allocation-free path is the Linux one")
	}
	addr := startReflector(t, &Reflector{}, listenUDP(t, "udp4", "127.0.0.1:0"), nil)
	c := dial(t, addr)
	if err := c.SetReadDeadline(time.Now().Add(testDeadline)); err != nil {
		t.Fatal(err)
	}
	req := marshalSender(t, SenderPacket{Seq: 1})
	buf := make([]byte, 128)
	allocs := testing.AllocsPerRun(500, func() {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	// A stray runtime allocation now and then is not ours; one per packet
	// would be.
	if allocs >= 0.1 {
		t.Errorf("%.2f allocations per reflected packet, want 0", allocs)
	}
}

// loopbackTTL is the TTL the kernel puts on packets this test process sends
// without setting one.
func loopbackTTL(t *testing.T) uint8 {
	t.Helper()
	if runtime.GOOS != "linux" {
		return unknownTTL
	}
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_default_ttl")
	if err != nil {
		t.Skipf("cannot read the default TTL: %v", err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return uint8(v)
}

// faultConn wraps the reflector's socket and rewrites what it sends: each
// reply (a private copy) becomes the datagrams fault returns, which lets
// tests drop, duplicate, delay or add to replies.
type faultConn struct {
	net.PacketConn
	mu    sync.Mutex
	fault func(reply []byte) [][]byte
}

func (c *faultConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	out := c.fault(bytes.Clone(b))
	c.mu.Unlock()
	for _, d := range out {
		if _, err := c.PacketConn.WriteTo(d, addr); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func withFault(fault func(reply []byte) [][]byte) func(net.PacketConn) net.PacketConn {
	return func(c net.PacketConn) net.PacketConn { return &faultConn{PacketConn: c, fault: fault} }
}

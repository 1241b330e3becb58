// Package userplane is the core emulator's user plane: a UDP relay per UE
// through an emulated radio link, so that probes (STAMP, RFC 8762) show the
// difference a provisioned QoS flow makes. It is a test double, not a UPF:
// no GTP-U, no PDU sessions, no privileges; everything is userspace UDP.
//
// # Routes and logical addressing
//
// The emulator cannot give a process on the host the UE's address (say
// 10.45.0.11), so each UE gets a route: a network-side UDP port on the
// emulator's host (127.0.0.1:<port>), relayed to the device-side target
// where the UE's reflector really listens (127.0.0.1:8620, say). What a
// sender sends to the network-side port reaches the target from a
// device-side socket the route opens for that sender, and what the target
// answers goes back to the sender from the network-side port, like a NAT.
// A Session-Sender's connected socket therefore sees replies from the
// address it sent to.
//
// Packets are classified by their logical 5-tuple, what the packet would
// carry on a real network, not by the loopback addresses the relay sees:
//
//	downlink (network → UE): UDP from ProbeSource:<sender's port> to <UE>:<target's port>
//	uplink   (UE → network): UDP from <UE>:<target's port> to ProbeSource:<sender's port>
//
// ProbeSource is one configured address (Config.ProbeSource), the
// operator's --probe-source. So a session's flow descriptions match the
// probe when they read, as medslice writes them,
//
//	permit out 17 from <ProbeSource> [<sender port>] to <UE> <reflector port>
//	permit in 17 from <UE> <reflector port> to <ProbeSource> [<sender port>]
//
// where <reflector port> is the port of the route's device-side target:
// run the reflector on the port the slice's probe settings name.
//
// # The link
//
// Each direction of the link (TS 23.501's downlink and uplink) is a queue
// per priority level served by a transmitter of the link rate (one
// serialization delay per datagram, IP and UDP headers included), then a
// delay line (base delay, plus an impairment's delay and jitter). The
// scheduler is strict priority (TS 23.501 §5.7.3.3, lower priority level
// first): a datagram that matches a provisioned flow's packet filters goes
// in the queue of that flow's 5QI's default priority level (TS 23.501
// Table 5.7.4-1), every other datagram in the best-effort queue, served
// last. Background load is synthetic best-effort bursts that only occupy
// the transmitter. Every queue is drop-tail, bounded by Config.QueueLimit
// worth of link time.
//
// Scheduler goroutines (one per direction) sleep until the next delivery and
// write the datagram out at its time; see waker for how they keep to it
// within microseconds. Readers (one per socket) classify and queue; no
// goroutine is started per datagram and the forwarding path does not
// allocate: datagrams travel in reused buffers.
package userplane

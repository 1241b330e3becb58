package userplane

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultLinkRate   = 100_000_000 // bits per second
	DefaultLinkDelay  = time.Millisecond
	DefaultQueueLimit = 100 * time.Millisecond
	// DefaultTimerSpin is how long before a delivery the scheduler stops
	// sleeping and busy-waits. Kernel wake-up latency on a quiet machine is
	// tens of µs; this covers it at the cost of that much CPU per
	// delivery.
	DefaultTimerSpin        = 50 * time.Microsecond
	DefaultMaxPeersPerRoute = 64
	DefaultPeerIdleTimeout  = 30 * time.Second
)

// DefaultProbeSource is the logical address of the network-side senders when
// Config.ProbeSource is not set: an address in the documentation's example
// data network, the emulator's own choice.
var DefaultProbeSource = netip.MustParseAddr("10.100.0.254")

// udpProtocol is UDP's IP protocol number (RFC 768), the only protocol the
// forwarder carries.
const udpProtocol = 17

var (
	// ErrRouteExists is returned when a UE already has a route elsewhere.
	ErrRouteExists = errors.New("userplane: the UE already has a route")
	// ErrNoRoute is returned for a UE without a route.
	ErrNoRoute = errors.New("userplane: no route for the UE")
	// ErrClosed is returned once the forwarder is closed.
	ErrClosed = errors.New("userplane: forwarder closed")
)

// Config configures a Forwarder.
type Config struct {
	// ListenHost is the address network-side sockets are bound to
	// (default 127.0.0.1). Use a specific address rather than a wildcard:
	// replies leave from it, and a sender's connected socket drops
	// replies from any other.
	ListenHost netip.Addr
	// ProbeSource is the logical source address of every datagram that
	// enters on the network side, and the logical destination of every
	// reply, for matching flow descriptions (default DefaultProbeSource).
	// Set it to what the operator carries in its flows (its
	// --probe-source).
	ProbeSource netip.Addr
	// UEPort is the logical port of every UE's endpoint, as the network
	// would see it (the reflector's RFC 8762 port, 862), for matching flow
	// descriptions; 0 takes the device-side target's real port. It lets
	// the reflector run on an unprivileged port while the flows name the
	// port a real device would listen on.
	UEPort uint16
	// LinkRate is the rate of each direction of the link in bits per
	// second (default DefaultLinkRate).
	LinkRate uint64
	// LinkDelay is the base one-way delay (default DefaultLinkDelay;
	// negative for none).
	LinkDelay time.Duration
	// QueueLimit bounds each scheduler queue, as the time the link takes
	// to send it (default DefaultQueueLimit): beyond it, datagrams are
	// dropped (drop-tail).
	QueueLimit time.Duration
	// TimerSpin is the busy-wait before each delivery (default
	// DefaultTimerSpin; negative for none).
	TimerSpin time.Duration
	// Seed seeds the random numbers of impairments (loss, jitter).
	Seed uint64
	// MaxPeersPerRoute bounds the distinct network-side senders a route
	// relays at once; each costs a device-side socket.
	MaxPeersPerRoute int
	// PeerIdleTimeout closes a sender's device-side socket after this long
	// without traffic.
	PeerIdleTimeout time.Duration
	// Logger receives the forwarder's logs; slog.Default when nil.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if !c.ListenHost.IsValid() {
		c.ListenHost = netip.MustParseAddr("127.0.0.1")
	}
	if !c.ProbeSource.IsValid() {
		c.ProbeSource = DefaultProbeSource
	}
	c.ProbeSource = c.ProbeSource.Unmap()
	if c.LinkRate == 0 {
		c.LinkRate = DefaultLinkRate
	}
	switch {
	case c.LinkDelay == 0:
		c.LinkDelay = DefaultLinkDelay
	case c.LinkDelay < 0:
		c.LinkDelay = 0
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = DefaultQueueLimit
	}
	switch {
	case c.TimerSpin == 0:
		c.TimerSpin = DefaultTimerSpin
	case c.TimerSpin < 0:
		c.TimerSpin = 0
	}
	if c.MaxPeersPerRoute <= 0 {
		c.MaxPeersPerRoute = DefaultMaxPeersPerRoute
	}
	if c.PeerIdleTimeout <= 0 {
		c.PeerIdleTimeout = DefaultPeerIdleTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LinkDelay > MaxImpairmentDelay || c.TimerSpin > time.Millisecond {
		return c, fmt.Errorf("userplane: link delay %s (at most %s) or timer spin %s (at most 1ms) too large", c.LinkDelay, MaxImpairmentDelay, c.TimerSpin)
	}
	return c, nil
}

// Forwarder is the emulated user plane: a UDP relay per UE between a
// network-side socket and the UE's device-side target, through an emulated
// radio link. See the package documentation.
type Forwarder struct {
	cfg   Config
	log   *slog.Logger
	epoch time.Time

	links      [2]*link
	wakers     [2]*waker
	schedulers sync.WaitGroup
	readers    sync.WaitGroup

	flowMu       sync.RWMutex
	flowSessions map[string]flowSession
	flowsByUE    map[netip.Addr][]flowEntry

	impairMu sync.Mutex
	impairs  atomic.Pointer[impairTable]

	loadMu sync.Mutex
	load   Load

	mu      sync.Mutex
	routes  map[netip.Addr]*route
	closed  bool
	stopGC  chan struct{}
	gcDone  chan struct{}
	closing sync.Once
}

// New starts a forwarder: the two link schedulers and the idle-peer sweep.
// Routes are added with AddRoute.
func New(cfg Config) (*Forwarder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Forwarder{
		cfg:          cfg,
		log:          cfg.Logger,
		epoch:        time.Now(),
		flowSessions: map[string]flowSession{},
		flowsByUE:    map[netip.Addr][]flowEntry{},
		routes:       map[netip.Addr]*route{},
		stopGC:       make(chan struct{}),
		gcDone:       make(chan struct{}),
	}
	f.impairs.Store(&impairTable{})
	p := f.linkParams()
	for dir := range f.links {
		w, err := newWaker(f.now)
		if err != nil {
			for _, w := range f.wakers[:dir] {
				w.close()
			}
			return nil, fmt.Errorf("userplane: scheduler timer: %w", err)
		}
		f.links[dir] = newLink(Direction(dir), p, cfg.Seed, f.now, w, int64(cfg.TimerSpin))
		f.wakers[dir] = w
	}
	for _, l := range f.links {
		f.schedulers.Add(1)
		go func() {
			defer f.schedulers.Done()
			l.run()
		}()
	}
	go f.sweepPeers()
	return f, nil
}

func (f *Forwarder) linkParams() linkParams {
	limit := int(uint64(f.cfg.QueueLimit) * f.cfg.LinkRate / 8 / 1e9)
	return linkParams{rate: f.cfg.LinkRate, delay: int64(f.cfg.LinkDelay), limit: max(limit, minQueueLimit)}
}

// now is the link clock: monotonic nanoseconds since New.
func (f *Forwarder) now() int64 { return int64(time.Since(f.epoch)) }

// Config is the forwarder's configuration with defaults applied.
func (f *Forwarder) Config() Config { return f.cfg }

// Close stops relaying: it closes every socket and drops what is in the
// link.
func (f *Forwarder) Close() error {
	f.closing.Do(func() {
		f.mu.Lock()
		f.closed = true
		routes := f.routes
		f.routes = map[netip.Addr]*route{}
		f.mu.Unlock()
		close(f.stopGC)
		<-f.gcDone
		for _, r := range routes {
			r.close()
		}
		f.readers.Wait()
		for _, l := range f.links {
			for _, p := range l.close() {
				release(p)
			}
		}
		// Closed links no longer touch their timers; closing a timer
		// ends its scheduler's wait.
		for _, w := range f.wakers {
			w.close()
		}
		f.schedulers.Wait()
	})
	return nil
}

// Route is one UE's path through the emulator.
type Route struct {
	// UE is the UE's address: the logical destination of what enters on
	// Network and the logical source of what comes back from Target.
	UE netip.Addr `json:"ue"`
	// Network is where the network side sends to reach the UE.
	Network netip.AddrPort `json:"network"`
	// Target is the device side: where the UE's endpoint (a STAMP
	// reflector) really listens. Its port is the logical destination port.
	Target netip.AddrPort `json:"target"`
	// Peers counts the network-side senders being relayed.
	Peers int `json:"peers"`
	// Downlink and Uplink count datagrams received from the network side
	// and from the device side; Refused counts datagrams from senders
	// beyond MaxPeersPerRoute.
	Downlink uint64 `json:"downlink"`
	Uplink   uint64 `json:"uplink"`
	Refused  uint64 `json:"refused"`
}

// AddRoute opens a network-side port for ue (an IP address) on the
// configured host, relaying to deviceTarget, and returns its address. Adding
// the same route again returns the same address.
func (f *Forwarder) AddRoute(ue string, deviceTarget netip.AddrPort) (network netip.AddrPort, err error) {
	return f.AddRouteAt(ue, deviceTarget, netip.AddrPortFrom(f.cfg.ListenHost, 0))
}

// AddRouteAt is AddRoute on a given network-side address (port 0: any).
func (f *Forwarder) AddRouteAt(ue string, deviceTarget, listen netip.AddrPort) (network netip.AddrPort, err error) {
	addr, err := parseUE(ue)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if !deviceTarget.IsValid() || deviceTarget.Port() == 0 || deviceTarget.Addr().IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("userplane: device target %q must be an address and a port", deviceTarget)
	}
	if !listen.Addr().IsValid() {
		return netip.AddrPort{}, fmt.Errorf("userplane: listen address %q is not an address", listen)
	}
	deviceTarget = netip.AddrPortFrom(deviceTarget.Addr().Unmap(), deviceTarget.Port())
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return netip.AddrPort{}, ErrClosed
	}
	if r, ok := f.routes[addr]; ok {
		if r.target == deviceTarget && (listen.Port() == 0 || listen == r.network) {
			return r.network, nil
		}
		return netip.AddrPort{}, fmt.Errorf("%w: %s is relayed from %s to %s; remove that route first", ErrRouteExists, addr, r.network, r.target)
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(listen))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("userplane: network side for %s: %w", addr, err)
	}
	la := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	r := &route{
		f:       f,
		ue:      addr,
		target:  deviceTarget,
		conn:    conn,
		network: netip.AddrPortFrom(la.Addr().Unmap(), la.Port()),
		peers:   map[netip.AddrPort]*peer{},
	}
	r.overhead = ipv4Overhead
	if addr.Is6() {
		r.overhead = ipv6Overhead
	}
	f.routes[addr] = r
	f.readers.Add(1)
	go r.readNetwork()
	f.log.Info("user plane route added", "ue", addr, "network", r.network, "target", deviceTarget)
	return r.network, nil
}

// RemoveRoute closes a UE's route. Datagrams of it still in the link are
// dropped when their time comes.
func (f *Forwarder) RemoveRoute(ue string) error {
	addr, err := parseUE(ue)
	if err != nil {
		return err
	}
	f.mu.Lock()
	r, ok := f.routes[addr]
	delete(f.routes, addr)
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w %s", ErrNoRoute, addr)
	}
	r.close()
	f.log.Info("user plane route removed", "ue", addr, "network", r.network)
	return nil
}

// Routes lists the routes by UE address.
func (f *Forwarder) Routes() []Route {
	f.mu.Lock()
	rs := make([]*route, 0, len(f.routes))
	for _, r := range f.routes {
		rs = append(rs, r)
	}
	f.mu.Unlock()
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.info())
	}
	slices.SortFunc(out, func(a, b Route) int { return a.UE.Compare(b.UE) })
	return out
}

// Route returns ue's route; ok is false when it has none.
func (f *Forwarder) Route(ue netip.Addr) (_ Route, ok bool) {
	f.mu.Lock()
	r := f.routes[ue.Unmap()]
	f.mu.Unlock()
	if r == nil {
		return Route{}, false
	}
	return r.info(), true
}

// Stats are the link's counters.
type Stats struct {
	Downlink LinkStats `json:"downlink"`
	Uplink   LinkStats `json:"uplink"`
}

// Stats returns the link's counters now.
func (f *Forwarder) Stats() Stats {
	return Stats{Downlink: f.links[Downlink].stats(), Uplink: f.links[Uplink].stats()}
}

func parseUE(ue string) (netip.Addr, error) {
	a, err := netip.ParseAddr(ue)
	if err != nil || a.Zone() != "" || a.IsUnspecified() {
		return netip.Addr{}, fmt.Errorf("userplane: UE %q is not an IP address", ue)
	}
	return a.Unmap(), nil
}

// route relays one UE: a network-side socket, and a device-side socket per
// network-side sender (a NAT mapping), so that replies go back to the
// sender they answer.
type route struct {
	f        *Forwarder
	ue       netip.Addr
	target   netip.AddrPort
	conn     *net.UDPConn
	network  netip.AddrPort
	overhead int

	mu     sync.RWMutex
	peers  map[netip.AddrPort]*peer
	closed bool

	downlink, uplink, refused atomic.Uint64
}

// peer is one network-side sender's mapping.
type peer struct {
	r        *route
	from     netip.AddrPort
	conn     *net.UDPConn // device side, connected to the target
	lastSeen atomic.Int64
}

func (r *route) info() Route {
	r.mu.RLock()
	n := len(r.peers)
	r.mu.RUnlock()
	return Route{
		UE: r.ue, Network: r.network, Target: r.target, Peers: n,
		Downlink: r.downlink.Load(), Uplink: r.uplink.Load(), Refused: r.refused.Load(),
	}
}

func (r *route) close() {
	r.mu.Lock()
	r.closed = true
	peers := r.peers
	r.peers = map[netip.AddrPort]*peer{}
	r.mu.Unlock()
	_ = r.conn.Close()
	for _, p := range peers {
		_ = p.conn.Close()
	}
}

// peer returns from's mapping, creating it on first use; nil when the
// route is closed or full.
func (r *route) peer(from netip.AddrPort) *peer {
	r.mu.RLock()
	p := r.peers[from]
	r.mu.RUnlock()
	if p != nil {
		return p
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.peers[from]; p != nil || r.closed {
		return p
	}
	if len(r.peers) >= r.f.cfg.MaxPeersPerRoute {
		return nil
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.target))
	if err != nil {
		r.f.log.Warn("user plane: cannot open a device-side socket", "ue", r.ue, "target", r.target, "err", err)
		return nil
	}
	p = &peer{r: r, from: from, conn: conn}
	p.lastSeen.Store(r.f.now())
	r.peers[from] = p
	r.f.readers.Add(1)
	go p.readDevice()
	return p
}

// readNetwork relays what the network side sends, downlink.
func (r *route) readNetwork() {
	defer r.f.readers.Done()
	f := r.f
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.downlink.Add(1)
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		p := r.peer(from)
		if p == nil {
			r.refused.Add(1)
			continue
		}
		p.lastSeen.Store(f.now())
		// Logically the datagram goes from the probe source, with the
		// sender's port, to the UE at the target's port.
		ft := FiveTuple{Protocol: udpProtocol, Src: f.cfg.ProbeSource, SrcPort: from.Port(), Dst: r.ue, DstPort: f.uePort(r)}
		f.forward(Downlink, r, buf[:n], p.conn, netip.AddrPort{}, ft)
	}
}

// readDevice relays what the device side answers, uplink, back to the
// sender.
func (p *peer) readDevice() {
	r := p.r
	f := r.f
	defer f.readers.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable while the target is down, reported
			// once per error on a connected socket.
			continue
		}
		r.uplink.Add(1)
		p.lastSeen.Store(f.now())
		ft := FiveTuple{Protocol: udpProtocol, Src: r.ue, SrcPort: f.uePort(r), Dst: f.cfg.ProbeSource, DstPort: p.from.Port()}
		f.forward(Uplink, r, buf[:n], r.conn, p.from, ft)
	}
}

// forward copies a datagram into a reused packet and hands it to the link.
func (f *Forwarder) forward(dir Direction, r *route, data []byte, conn *net.UDPConn, to netip.AddrPort, ft FiveTuple) {
	pk := getPacket(len(data))
	pk.n = copy(pk.buf, data)
	pk.wire = len(data) + r.overhead
	pk.conn, pk.to = conn, to
	pk.level = f.classify(dir, r.ue, ft)
	imp, impaired := f.impairs.Load().lookup(dir, r.ue)
	var ip *impairment
	if impaired {
		ip = &imp
	}
	if !f.links[dir].enqueue(pk, ip) {
		release(pk)
	}
}

// sweepPeers closes device-side sockets of senders gone quiet.
func (f *Forwarder) sweepPeers() {
	defer close(f.gcDone)
	t := time.NewTicker(max(f.cfg.PeerIdleTimeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-f.stopGC:
			return
		case <-t.C:
		}
		cutoff := f.now() - int64(f.cfg.PeerIdleTimeout)
		f.mu.Lock()
		rs := make([]*route, 0, len(f.routes))
		for _, r := range f.routes {
			rs = append(rs, r)
		}
		f.mu.Unlock()
		for _, r := range rs {
			r.mu.Lock()
			for from, p := range r.peers {
				if p.lastSeen.Load() < cutoff {
					delete(r.peers, from)
					_ = p.conn.Close()
				}
			}
			r.mu.Unlock()
		}
	}
}

// uePort is the logical port of the UE end of route r.
func (f *Forwarder) uePort(r *route) uint16 {
	if f.cfg.UEPort != 0 {
		return f.cfg.UEPort
	}
	return r.target.Port()
}

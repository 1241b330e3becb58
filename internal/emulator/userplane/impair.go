package userplane

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"
)

// Directions selects the directions of the link something applies to.
type Directions uint8

const (
	// DownlinkOnly is network to UE, the direction a probe's request
	// travels.
	DownlinkOnly Directions = 1 << Downlink
	// UplinkOnly is UE to network, the direction a probe's reply travels.
	UplinkOnly Directions = 1 << Uplink
	// BothDirections is both.
	BothDirections = DownlinkOnly | UplinkOnly
)

func (d Directions) has(dir Direction) bool { return d&(1<<dir) != 0 }

func (d Directions) String() string {
	switch d {
	case DownlinkOnly:
		return "downlink"
	case UplinkOnly:
		return "uplink"
	case BothDirections:
		return "both"
	}
	return "none"
}

// ParseDirections reads "downlink", "uplink" or "both".
func ParseDirections(s string) (Directions, error) {
	switch s {
	case "downlink":
		return DownlinkOnly, nil
	case "uplink":
		return UplinkOnly, nil
	case "both":
		return BothDirections, nil
	}
	return 0, fmt.Errorf("direction must be \"downlink\", \"uplink\" or \"both\", got %q", s)
}

// AllUEs is the Impairment target that applies to every UE without an
// impairment of its own.
const AllUEs = "*"

// MaxImpairmentDelay bounds an impairment's delay and jitter, so that a typo
// cannot hold packets for hours.
const MaxImpairmentDelay = 10 * time.Second

// Impairment degrades one UE's traffic (or every UE's, Target "*") on the
// emulated link, on demand: the emulator's equivalent of a radio link
// getting worse.
type Impairment struct {
	// Target is a UE address or AllUEs. A UE's own impairment replaces
	// the AllUEs one for it; they do not add up.
	Target string
	// Delay is added to each packet after it leaves the queue, on top of
	// the link's base delay.
	Delay time.Duration
	// Jitter spreads Delay uniformly over [Delay-Jitter, Delay+Jitter]
	// (never below zero), drawn from the forwarder's seeded generator.
	// Packets may then overtake each other, as they do under netem.
	Jitter time.Duration
	// Loss is the share of packets dropped, in [0, 1].
	Loss float64
	// Directions says which directions it applies to; zero means
	// DownlinkOnly, so that an impairment is counted once per round trip:
	// a probe then sees RTT grow by Delay and loses Loss of its packets.
	Directions Directions
}

// IsZero tells whether the impairment does nothing.
func (im Impairment) IsZero() bool { return im.Delay == 0 && im.Jitter == 0 && im.Loss == 0 }

func (im Impairment) check() error {
	switch {
	case im.Delay < 0 || im.Delay > MaxImpairmentDelay:
		return fmt.Errorf("delay must be between 0 and %s, got %s", MaxImpairmentDelay, im.Delay)
	case im.Jitter < 0 || im.Jitter > MaxImpairmentDelay:
		return fmt.Errorf("jitter must be between 0 and %s, got %s", MaxImpairmentDelay, im.Jitter)
	case math.IsNaN(im.Loss) || im.Loss < 0 || im.Loss > 1:
		return fmt.Errorf("loss must be between 0 and 1, got %v", im.Loss)
	case im.Directions&^BothDirections != 0:
		return fmt.Errorf("bad directions %d", im.Directions)
	}
	return nil
}

// impairTable is published whole, so that the forwarding path reads it
// without a lock.
type impairTable struct {
	byUE map[netip.Addr]Impairment
	all  *Impairment
}

// lookup is what applies to ue's packets in dir; ok is false for nothing.
func (t *impairTable) lookup(dir Direction, ue netip.Addr) (_ impairment, ok bool) {
	im, ok := t.byUE[ue]
	if !ok {
		if t.all == nil {
			return impairment{}, false
		}
		im = *t.all
	}
	if !im.Directions.has(dir) {
		return impairment{}, false
	}
	return impairment{delay: int64(im.Delay), jitter: int64(im.Jitter), loss: im.Loss}, true
}

// SetImpairment sets (or, when im does nothing, clears) the impairment of a
// target.
func (f *Forwarder) SetImpairment(im Impairment) error {
	if im.Directions == 0 {
		im.Directions = DownlinkOnly
	}
	if err := im.check(); err != nil {
		return err
	}
	var ue netip.Addr
	if im.Target != AllUEs {
		a, err := netip.ParseAddr(im.Target)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("target must be a UE's IP address or %q, got %q", AllUEs, im.Target)
		}
		ue = a.Unmap()
		im.Target = ue.String()
	}
	f.impairMu.Lock()
	defer f.impairMu.Unlock()
	old := f.impairs.Load()
	next := &impairTable{byUE: make(map[netip.Addr]Impairment, len(old.byUE)+1), all: old.all}
	for k, v := range old.byUE {
		next.byUE[k] = v
	}
	switch {
	case ue.IsValid() && im.IsZero():
		delete(next.byUE, ue)
	case ue.IsValid():
		next.byUE[ue] = im
	case im.IsZero():
		next.all = nil
	default:
		next.all = &im
	}
	f.impairs.Store(next)
	return nil
}

// ClearImpairments removes every impairment.
func (f *Forwarder) ClearImpairments() {
	f.impairMu.Lock()
	defer f.impairMu.Unlock()
	f.impairs.Store(&impairTable{})
}

// Impairments lists the impairments in force, AllUEs first.
func (f *Forwarder) Impairments() []Impairment {
	t := f.impairs.Load()
	var out []Impairment
	if t.all != nil {
		out = append(out, *t.all)
	}
	ues := make([]netip.Addr, 0, len(t.byUE))
	for ue := range t.byUE {
		ues = append(ues, ue)
	}
	slices.SortFunc(ues, netip.Addr.Compare)
	for _, ue := range ues {
		out = append(out, t.byUE[ue])
	}
	return out
}

// Impaired tells whether an impairment applies to ue's traffic.
func (f *Forwarder) Impaired(ue netip.Addr) bool {
	t := f.impairs.Load()
	if im, ok := t.byUE[ue.Unmap()]; ok {
		return !im.IsZero()
	}
	return t.all != nil
}

// Load is synthetic best-effort background traffic on the link.
type Load struct {
	// Rate is the average rate in bits per second; zero switches the load
	// off.
	Rate uint64
	// Burst is how long one burst takes to send at the link rate: the most
	// a best-effort packet waits behind the load (zero:
	// DefaultLoadBurst). It must not exceed the queue limit.
	Burst time.Duration
	// Directions zero means BothDirections.
	Directions Directions
}

// DefaultLoadBurst is the default burst of a Load, the emulator's own
// choice: long enough that best effort visibly suffers (a probe's p99 RTT
// well above a 20 ms surgery SLA), short enough to fit the default queue.
const DefaultLoadBurst = 50 * time.Millisecond

// maxLoadFactor bounds the load relative to the link rate; beyond it the
// best-effort queue is full all the time anyway.
const maxLoadFactor = 10

// SetLoad switches the background load on or off. The first burst arrives
// at once.
func (f *Forwarder) SetLoad(ld Load) error {
	if ld.Directions == 0 {
		ld.Directions = BothDirections
	}
	if ld.Burst == 0 {
		ld.Burst = DefaultLoadBurst
	}
	switch {
	case ld.Rate > maxLoadFactor*f.cfg.LinkRate:
		return fmt.Errorf("load rate must be at most %d times the link rate (%d bps), got %d bps", maxLoadFactor, f.cfg.LinkRate, ld.Rate)
	case ld.Burst < time.Millisecond || ld.Burst > f.cfg.QueueLimit:
		return fmt.Errorf("burst must be between 1ms and the queue limit %s, got %s", f.cfg.QueueLimit, ld.Burst)
	case ld.Directions&^BothDirections != 0:
		return errors.New("bad directions")
	}
	if ld.Rate == 0 {
		ld = Load{}
	}
	f.loadMu.Lock()
	defer f.loadMu.Unlock()
	for dir, l := range f.links {
		rate := ld.Rate
		if !ld.Directions.has(Direction(dir)) {
			rate = 0
		}
		l.setBackground(rate, int64(ld.Burst))
	}
	f.load = ld
	return nil
}

// Load is the background load in force.
func (f *Forwarder) Load() Load {
	f.loadMu.Lock()
	defer f.loadMu.Unlock()
	return f.load
}

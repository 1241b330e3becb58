package main

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/medslice/medslice/internal/emulator"
	"github.com/medslice/medslice/internal/emulator/userplane"
)

// userPlaneOptions are the flags of the emulated user plane.
type userPlaneOptions struct {
	enabled     bool
	linkRate    string
	linkDelay   time.Duration
	queueLimit  time.Duration
	probeSource string
	uePort      uint
	host        string
	reflector   string
	timerSpin   time.Duration
	routes      routeFlags
}

func userPlaneFlags(fs *flag.FlagSet) *userPlaneOptions {
	o := &userPlaneOptions{}
	fs.BoolVar(&o.enabled, "userplane", false, "emulate the user plane: a UDP relay per UE through a link model with per-flow scheduling (see internal/emulator/userplane)")
	fs.StringVar(&o.linkRate, "link-rate", emulator.DefaultLinkRate.String(), "rate of each direction of the emulated link, a TS 29.571 BitRate")
	fs.DurationVar(&o.linkDelay, "link-delay", userplane.DefaultLinkDelay, "base one-way delay of the emulated link (0: none)")
	fs.DurationVar(&o.queueLimit, "queue-limit", userplane.DefaultQueueLimit, "bound of each scheduler queue, as link time")
	fs.UintVar(&o.uePort, "ue-port", 862, "logical port of every UE's reflector when matching flow descriptions (the port the flows name); 0 = the reflector's real port")
	fs.StringVar(&o.probeSource, "probe-source", userplane.DefaultProbeSource.String(), "logical source address of everything sent to a network-side port, matched against flow descriptions: the operator's --probe-source")
	fs.StringVar(&o.host, "userplane-host", "127.0.0.1", "address network-side ports are opened on")
	fs.StringVar(&o.reflector, "reflector", "", "device-side target (host:port) of any UE that gets a session without a route, e.g. the one reflector of a dev stack")
	fs.DurationVar(&o.timerSpin, "timer-spin", userplane.DefaultTimerSpin, "busy-wait before each delivery, for microsecond timing (0: none)")
	fs.Var(&o.routes, "route", "a UE's route opened at start, ue=host:port[@listen-host:port], e.g. 10.45.0.11=127.0.0.1:8620@127.0.0.1:18620 (repeatable)")
	return o
}

func (o *userPlaneOptions) config() (emulator.UserPlaneConfig, error) {
	var c emulator.UserPlaneConfig
	if !o.enabled {
		if len(o.routes.routes) > 0 || o.reflector != "" {
			return c, fmt.Errorf("--route and --reflector need --userplane")
		}
		return c, nil
	}
	c.Enabled = true
	rate, err := emulator.ParseBitRate(o.linkRate)
	if err != nil || rate == 0 {
		return c, fmt.Errorf("--link-rate must be a non-zero TS 29.571 BitRate such as \"100 Mbps\": %v", err)
	}
	c.LinkRate = rate
	switch {
	case o.linkDelay < 0:
		return c, fmt.Errorf("--link-delay must not be negative")
	case o.linkDelay == 0:
		c.LinkDelay = -1 // none; zero in the config means the default
	default:
		c.LinkDelay = o.linkDelay
	}
	if o.queueLimit <= 0 {
		return c, fmt.Errorf("--queue-limit must be positive")
	}
	c.QueueLimit = o.queueLimit
	switch {
	case o.timerSpin < 0:
		return c, fmt.Errorf("--timer-spin must not be negative")
	case o.timerSpin == 0:
		c.TimerSpin = -1
	default:
		c.TimerSpin = o.timerSpin
	}
	if o.uePort > 65535 {
		return c, fmt.Errorf("--ue-port %d: want 0 to 65535", o.uePort)
	}
	c.UEPort = uint16(o.uePort)
	if c.ProbeSource, err = netip.ParseAddr(o.probeSource); err != nil {
		return c, fmt.Errorf("--probe-source must be an IP address: %w", err)
	}
	if c.ListenHost, err = netip.ParseAddr(o.host); err != nil {
		return c, fmt.Errorf("--userplane-host must be an IP address: %w", err)
	}
	if o.reflector != "" {
		if c.DefaultTarget, err = netip.ParseAddrPort(o.reflector); err != nil || c.DefaultTarget.Port() == 0 {
			return c, fmt.Errorf("--reflector must be an address and port such as 127.0.0.1:8620: %v", err)
		}
	}
	c.Routes = map[netip.Addr]netip.AddrPort{}
	c.Listen = map[netip.Addr]netip.AddrPort{}
	for _, r := range o.routes.routes {
		c.Routes[r.ue] = r.target
		if r.listen.IsValid() {
			c.Listen[r.ue] = r.listen
		}
	}
	return c, nil
}

// routeFlags collects --route values.
type routeFlags struct {
	routes []routeFlag
}

type routeFlag struct {
	ue             netip.Addr
	target, listen netip.AddrPort
}

func (f *routeFlags) String() string {
	var parts []string
	for _, r := range f.routes {
		s := r.ue.String() + "=" + r.target.String()
		if r.listen.IsValid() {
			s += "@" + r.listen.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func (f *routeFlags) Set(v string) error {
	ue, rest, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want ue=host:port[@listen-host:port], got %q", v)
	}
	var r routeFlag
	var err error
	if r.ue, err = netip.ParseAddr(ue); err != nil {
		return fmt.Errorf("UE %q: %w", ue, err)
	}
	target, listen, hasListen := strings.Cut(rest, "@")
	if r.target, err = netip.ParseAddrPort(target); err != nil || r.target.Port() == 0 {
		return fmt.Errorf("target %q must be host:port: %v", target, err)
	}
	if hasListen {
		if r.listen, err = netip.ParseAddrPort(listen); err != nil {
			return fmt.Errorf("listen address %q must be host:port: %w", listen, err)
		}
	}
	for _, other := range f.routes {
		if other.ue == r.ue {
			return fmt.Errorf("UE %s has two routes", r.ue)
		}
	}
	f.routes = append(f.routes, r)
	return nil
}

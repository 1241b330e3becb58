package userplane

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Direction is the direction of an IPFilterRule as TS 29.214 §5.4.2 reads
// it: "out" describes downlink packets (network to UE), "in" uplink ones
// (UE to network). In both, "from" is the packet's source and "to" its
// destination.
type Direction uint8

const (
	// Downlink is "out": from the network to the UE.
	Downlink Direction = iota
	// Uplink is "in": from the UE to the network.
	Uplink
)

func (d Direction) String() string {
	if d == Uplink {
		return "uplink"
	}
	return "downlink"
}

// keyword is the IPFilterRule direction keyword.
func (d Direction) keyword() string {
	if d == Uplink {
		return "in"
	}
	return "out"
}

// AnyProtocol is IPFilterRule's "ip": every protocol matches.
const AnyProtocol = -1

// PortRange is one element of an IPFilterRule port list, Lo ≤ Hi.
type PortRange struct {
	Lo, Hi uint16
}

// FilterEndpoint is the source or destination of an IPFilterRule.
type FilterEndpoint struct {
	// Any is the keyword "any": every address of either family.
	Any bool
	// Prefix is the address or CIDR block when not Any, masked. A single
	// address is a full-length prefix.
	Prefix netip.Prefix
	// Ports is the port list; empty means every port.
	Ports []PortRange
}

// IPFilterRule is a flow description: the IPFilterRule of RFC 6733 §4.3.3
// with the restrictions TS 29.214 §5.4.2 puts on it (TS 29.122 FlowInfo and
// TS 29.514 MediaSubComponent.fDescs refer to that clause): action "permit",
// direction "in" or "out", no options, no "!", no "assigned".
type IPFilterRule struct {
	Direction Direction
	// Protocol is the IP protocol number, or AnyProtocol for "ip".
	Protocol int
	Src, Dst FilterEndpoint
}

// FiveTuple is a packet as the scheduler classifies it, with its logical
// addresses (see the package documentation).
type FiveTuple struct {
	Protocol         int
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// maxPortRanges bounds a port list. Flow descriptions medslice builds carry a
// handful; the bound keeps a hostile one from costing much to match.
const maxPortRanges = 64

// ParseIPFilterRule parses a flow description such as
//
//	permit out 17 from 10.100.0.10 5000-5010 to 10.45.0.11
//	permit in 17 from 10.45.0.11 to 10.100.0.0/24 5000-5010,6000
//
// It accepts what TS 29.214 §5.4.2 allows and refuses the rest with the
// reason, so that a rule the emulator cannot match is an error rather than a
// flow that silently never matches.
func ParseIPFilterRule(s string) (IPFilterRule, error) {
	var r IPFilterRule
	tok := strings.Fields(s)
	next := func() string {
		if len(tok) == 0 {
			return ""
		}
		t := tok[0]
		tok = tok[1:]
		return t
	}
	if a := next(); a != "permit" {
		return r, fmt.Errorf("action must be \"permit\" (TS 29.214 §5.4.2), got %q", a)
	}
	switch d := next(); d {
	case "out":
		r.Direction = Downlink
	case "in":
		r.Direction = Uplink
	default:
		return r, fmt.Errorf("direction must be \"in\" (uplink) or \"out\" (downlink), got %q", d)
	}
	switch p := next(); p {
	case "ip":
		r.Protocol = AnyProtocol
	default:
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return r, fmt.Errorf("protocol must be \"ip\" or a number 0..255 (RFC 6733 §4.3.3), got %q", p)
		}
		r.Protocol = int(n)
	}
	for i, kw := range [2]string{"from", "to"} {
		if t := next(); t != kw {
			return r, fmt.Errorf("expected %q, got %q", kw, t)
		}
		ep, err := parseFilterAddress(next())
		if err != nil {
			return r, err
		}
		if len(tok) > 0 && tok[0] != "to" {
			ports, err := parsePorts(tok[0])
			if err != nil {
				if c := tok[0][0]; i == 1 && (c < '0' || c > '9') {
					// Not a port list, so what follows the destination
					// is an option.
					return r, fmt.Errorf("options are not allowed in a flow description (TS 29.214 §5.4.2), got %q", strings.Join(tok, " "))
				}
				return r, err
			}
			ep.Ports = ports
			next()
		}
		if i == 0 {
			r.Src = ep
		} else {
			r.Dst = ep
		}
	}
	if len(tok) > 0 {
		return r, fmt.Errorf("options are not allowed in a flow description (TS 29.214 §5.4.2), got %q", strings.Join(tok, " "))
	}
	if !r.Src.Any && !r.Dst.Any && r.Src.Prefix.Addr().Is4() != r.Dst.Prefix.Addr().Is4() {
		return r, errors.New("source and destination are of different IP versions")
	}
	return r, nil
}

func parseFilterAddress(a string) (FilterEndpoint, error) {
	switch {
	case a == "":
		return FilterEndpoint{}, errors.New("address missing")
	case a == "any":
		return FilterEndpoint{Any: true}, nil
	case a == "assigned":
		return FilterEndpoint{}, errors.New(`the keyword "assigned" is not allowed (TS 29.214 §5.4.2)`)
	case strings.HasPrefix(a, "!"):
		return FilterEndpoint{}, errors.New(`the invert modifier "!" is not allowed (TS 29.214 §5.4.2)`)
	}
	var p netip.Prefix
	if strings.Contains(a, "/") {
		var err error
		if p, err = netip.ParsePrefix(a); err != nil {
			return FilterEndpoint{}, fmt.Errorf("bad address %q: %v", a, err)
		}
	} else {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return FilterEndpoint{}, fmt.Errorf("bad address %q: %v", a, err)
		}
		if addr.Zone() != "" {
			return FilterEndpoint{}, fmt.Errorf("bad address %q: zones are not allowed", a)
		}
		p = netip.PrefixFrom(addr, addr.BitLen())
	}
	return FilterEndpoint{Prefix: p.Masked()}, nil
}

// parsePorts reads an RFC 6733 §4.3.3 port list: port or low-high, comma
// separated, without spaces.
func parsePorts(s string) ([]PortRange, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxPortRanges {
		return nil, fmt.Errorf("port list %q has more than %d elements", s, maxPortRanges)
	}
	out := make([]PortRange, 0, len(parts))
	for _, part := range parts {
		lo, hi, isRange := strings.Cut(part, "-")
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h := l
		var err2 error
		if isRange {
			h, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || h < l {
			return nil, fmt.Errorf("bad port list %q: want port or low-high, comma separated", s)
		}
		out = append(out, PortRange{Lo: uint16(l), Hi: uint16(h)})
	}
	return out, nil
}

// String is the rule in its canonical form: single addresses without a
// prefix length, prefixes masked, single ports without a range. Parsing it
// gives the same rule back.
func (r IPFilterRule) String() string {
	var b strings.Builder
	b.WriteString("permit ")
	b.WriteString(r.Direction.keyword())
	b.WriteByte(' ')
	if r.Protocol == AnyProtocol {
		b.WriteString("ip")
	} else {
		b.WriteString(strconv.Itoa(r.Protocol))
	}
	b.WriteString(" from ")
	r.Src.write(&b)
	b.WriteString(" to ")
	r.Dst.write(&b)
	return b.String()
}

func (e FilterEndpoint) write(b *strings.Builder) {
	switch {
	case e.Any:
		b.WriteString("any")
	case e.Prefix.IsSingleIP():
		b.WriteString(e.Prefix.Addr().String())
	default:
		b.WriteString(e.Prefix.String())
	}
	for i, p := range e.Ports {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p.Lo)))
		if p.Hi != p.Lo {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(p.Hi)))
		}
	}
}

// Matches tells whether a packet going in direction dir matches the rule.
// An IPv4-mapped IPv6 address in the packet is compared as IPv4.
func (r *IPFilterRule) Matches(dir Direction, t FiveTuple) bool {
	if dir != r.Direction {
		return false
	}
	if r.Protocol != AnyProtocol && r.Protocol != t.Protocol {
		return false
	}
	return r.Src.matches(t.Src, t.SrcPort) && r.Dst.matches(t.Dst, t.DstPort)
}

func (e *FilterEndpoint) matches(a netip.Addr, port uint16) bool {
	if !e.Any && !e.Prefix.Contains(a.Unmap()) {
		return false
	}
	if len(e.Ports) == 0 {
		return true
	}
	for _, p := range e.Ports {
		if port >= p.Lo && port <= p.Hi {
			return true
		}
	}
	return false
}

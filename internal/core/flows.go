package core

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ProbeFlow is the 5-tuple of the operator's active probe (STAMP, RFC 8762):
// UDP from Source, the operator's probe sender, to Target, the reflector on
// the device, and back. Adding it to a session's flow descriptions puts the
// probe's packets in the same QoS flow as the clinical traffic, which is what
// makes its measurements evidence for that flow.
type ProbeFlow struct {
	// Source is the probe sender as the core sees it: "ip" or "ip:port". When
	// empty or not an address of the UE's family, any sender is allowed.
	Source string
	// Target is the reflector, "host:port". When host is not an IP address of
	// the UE's family, the UE's address is used.
	Target string
}

// FlowDescriptions builds the IPFilterRules (TS 29.214 §5.4.2, the syntax of
// RFC 6733 §4.3 IPFilterRule) that describe a device's clinical traffic with
// the given application servers and, when probe is set, the probe's own
// traffic.
//
// For each server it emits a pair, downlink then uplink:
//
//	permit out <proto> from <server> [<ports>] to <ue>
//	permit in <proto> from <ue> to <server> [<ports>]
//
// then the probe's pair. Never "permit inout": free5GC's PCF derives the
// direction from "in"/"out" and mis-parses "inout". Consumers rely on the
// pairing: NEF flowInfo and PCF medSubComps carry at most two descriptions
// each, one per direction.
//
// The UE address is its IPv4 when present, else its IPv6, the same address
// the session is bound to; servers of the other family cannot match that
// PDU session address and are left out, as are entries that are neither an
// IP address nor a CIDR prefix. protocol is "UDP" (17), "TCP" (6), "SCTP"
// (132), a protocol number, or "ANY"/"" for any IP traffic ("ip", where
// ports do not apply and are dropped). ports are "N" or "N-M" on the server
// side, written as one comma-separated list. Output order follows the input
// order, duplicates removed, so equal inputs give equal outputs.
func FlowDescriptions(ue UE, servers []string, ports []string, protocol string, probe *ProbeFlow) []string {
	ueAddr, ok := ueAddress(ue)
	if !ok {
		return nil
	}
	v4 := ueAddr.Is4()
	proto := ipProto(protocol)
	portList := ""
	if proto != "ip" {
		portList = portSpec(ports)
	}

	var out []string
	seen := map[string]bool{}
	add := func(rule string) {
		if !seen[rule] {
			seen[rule] = true
			out = append(out, rule)
		}
	}
	ueStr := ueAddr.String()
	for _, s := range servers {
		server, ok := filterAddress(s, v4)
		if !ok {
			continue
		}
		add(rule("out", proto, server, portList, ueStr, ""))
		add(rule("in", proto, ueStr, "", server, portList))
	}

	if probe != nil {
		if target, targetPort, ok := probeTarget(probe.Target, ueAddr); ok {
			source, sourcePort := probeSource(probe.Source, v4)
			add(rule("out", "17", source, sourcePort, target, targetPort))
			add(rule("in", "17", target, targetPort, source, sourcePort))
		}
	}
	return out
}

func rule(dir, proto, from, fromPorts, to, toPorts string) string {
	var b strings.Builder
	b.WriteString("permit ")
	b.WriteString(dir)
	b.WriteString(" ")
	b.WriteString(proto)
	b.WriteString(" from ")
	b.WriteString(from)
	if fromPorts != "" {
		b.WriteString(" ")
		b.WriteString(fromPorts)
	}
	b.WriteString(" to ")
	b.WriteString(to)
	if toPorts != "" {
		b.WriteString(" ")
		b.WriteString(toPorts)
	}
	return b.String()
}

// ueAddress is the address a session for ue is bound to: IPv4 first.
func ueAddress(ue UE) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(strings.TrimSpace(ue.IPv4)); err == nil && a.Unmap().Is4() {
		return a.Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSpace(ue.IPv6)); err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" {
		return a, true
	}
	return netip.Addr{}, false
}

// ipProto maps a protocol name to the IPFilterRule proto field.
func ipProto(protocol string) string {
	switch p := strings.ToUpper(strings.TrimSpace(protocol)); p {
	case "UDP":
		return "17"
	case "TCP":
		return "6"
	case "SCTP":
		return "132"
	case "", "ANY", "IP":
		return "ip"
	default:
		if n, err := strconv.ParseUint(p, 10, 8); err == nil {
			return strconv.FormatUint(n, 10)
		}
		// An unknown name cannot be expressed; matching any protocol keeps the
		// clinical traffic inside the flow rather than outside it.
		return "ip"
	}
}

// filterAddress normalises a server address or CIDR prefix of the wanted
// family.
func filterAddress(s string, v4 bool) (string, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		if p.Addr().Zone() != "" || p.Addr().Is4() != v4 {
			return "", false
		}
		p = p.Masked()
		if p.IsSingleIP() {
			return p.Addr().String(), true
		}
		return p.String(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", false
	}
	a = a.Unmap()
	if a.Is4() != v4 {
		return "", false
	}
	return a.String(), true
}

// portSpec joins valid "N" and "N-M" entries into one comma-separated list.
func portSpec(ports []string) string {
	var out []string
	seen := map[string]bool{}
	for _, entry := range ports {
		for _, p := range strings.Split(entry, ",") {
			p = strings.TrimSpace(p)
			if !validPortRange(p) || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

func validPortRange(p string) bool {
	lo, hi, isRange := strings.Cut(p, "-")
	l, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return false
	}
	if !isRange {
		return true
	}
	h, err := strconv.ParseUint(hi, 10, 16)
	return err == nil && l <= h
}

func validPort(p string) bool {
	_, err := strconv.ParseUint(p, 10, 16)
	return err == nil
}

// probeTarget is the reflector's address and port; the address falls back to
// the UE's when the target host is not an IP of the UE's family.
func probeTarget(target string, ue netip.Addr) (string, string, bool) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(target))
	if err != nil || !validPort(port) {
		return "", "", false
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" && a.Unmap().Is4() == ue.Is4() {
		return a.Unmap().String(), port, true
	}
	return ue.String(), port, true
}

// probeSource is the probe sender's address and optional port; any address
// of the family when it is not given.
func probeSource(source string, v4 bool) (string, string) {
	source = strings.TrimSpace(source)
	host, port := source, ""
	if h, p, err := net.SplitHostPort(source); err == nil && validPort(p) {
		host, port = h, p
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" && a.Unmap().Is4() == v4 {
		return a.Unmap().String(), port
	}
	// "any" is valid IPFilterRule syntax, but free5GC's UPF parses it as the
	// IPv6 prefix ::/0; the family's own wildcard means the same everywhere.
	if v4 {
		return "0.0.0.0/0", ""
	}
	return "::/0", ""
}

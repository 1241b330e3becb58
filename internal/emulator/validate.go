package emulator

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/free5gc/openapi/models"
)

var (
	// TS 29.571 MacAddr48, SupportedFeatures and Snssai.sd patterns.
	macAddrPattern   = regexp.MustCompile(`^([0-9a-fA-F]{2})((-[0-9a-fA-F]{2}){5})$`)
	suppFeatPattern  = regexp.MustCompile(`^[A-Fa-f0-9]*$`)
	sdPattern        = regexp.MustCompile(`^[A-Fa-f0-9]{6}$`)
	dnnLabelPattern  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	errNotCanonical6 = errors.New("must be an IPv6 address in the RFC 5952 §4 form (lower case, zeros compressed, no IPv4 notation)")
)

// checkIPv4 checks a TS 29.571 Ipv4Addr (dotted decimal, no leading zeros).
func checkIPv4(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not a dotted-decimal IPv4 address", s)
	}
	return nil
}

// checkIPv6 checks a TS 29.571 Ipv6Addr, which its pattern restricts to the
// RFC 5952 §4 text form.
func checkIPv6(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || a.String() != s {
		return fmt.Errorf("%q %w", s, errNotCanonical6)
	}
	return nil
}

// checkMAC checks a TS 29.571 MacAddr48.
func checkMAC(s string) error {
	if !macAddrPattern.MatchString(s) {
		return fmt.Errorf("%q is not a MAC address of the form 00-11-22-33-44-55", s)
	}
	return nil
}

// checkCallbackURI checks a URI the emulator will send notifications to.
func checkCallbackURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URI: %v", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http or https URI", s)
	}
	return nil
}

// checkDNN checks a DNN as TS 23.003 §9.1 builds it: dot-separated labels of
// letters, digits and hyphens, at most 100 octets.
func checkDNN(s string) error {
	if len(s) > 100 {
		return fmt.Errorf("DNN %q is longer than 100 octets (TS 23.003 §9.1)", s)
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) > 63 || !dnnLabelPattern.MatchString(label) {
			return fmt.Errorf("DNN %q has an invalid label %q (TS 23.003 §9.1)", s, label)
		}
	}
	return nil
}

// checkSNSSAI checks a TS 29.571 Snssai. sst 0 is valid in the schema but the
// free5gc model drops it on encoding (omitempty), so the emulator could not
// answer it back; it is refused with that reason.
func checkSNSSAI(v *violations, cause, path string, s *models.Snssai) {
	if s.Sst < 1 || s.Sst > 255 {
		v.add(cause, path+"/sst", "must be 1..255 (0 cannot be carried by the models this emulator encodes with), got %d", s.Sst)
	}
	if s.Sd != "" && !sdPattern.MatchString(s.Sd) {
		v.add(cause, path+"/sd", "must be 6 hexadecimal digits (TS 29.571 Snssai), got %q", s.Sd)
	}
}

// checkBitRate records a violation when s is set and not a TS 29.571 BitRate.
func checkBitRate(v *violations, cause, path, s string) BitRate {
	if s == "" {
		return 0
	}
	b, err := ParseBitRate(s)
	if err != nil {
		v.add(cause, path, "%v", err)
	}
	return b
}

// checkFlowDescription checks an IPFilterRule (RFC 6733 §4.3.3) against the
// restrictions TS 29.214 §5.4.2 puts on flow descriptions, which TS 29.122
// FlowInfo and TS 29.514 MediaSubComponent.fDescs both refer to: action
// "permit", direction "in" (uplink) or "out" (downlink), no options, no "!",
// no "assigned".
func checkFlowDescription(fd string) error {
	tok := strings.Fields(fd)
	next := func() string {
		if len(tok) == 0 {
			return ""
		}
		t := tok[0]
		tok = tok[1:]
		return t
	}
	if a := next(); a != "permit" {
		return fmt.Errorf("action must be \"permit\" (TS 29.214 §5.4.2), got %q", a)
	}
	switch d := next(); d {
	case "in", "out":
	case "inout":
		return errors.New(`direction "inout" is not an IPFilterRule direction; give one description per direction, "in" (uplink) and "out" (downlink)`)
	default:
		return fmt.Errorf("direction must be \"in\" or \"out\", got %q", d)
	}
	if p := next(); p != "ip" {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 {
			return fmt.Errorf("protocol must be \"ip\" or a number 0..255 (RFC 6733 §4.3.3), got %q", p)
		}
	}
	var families [2]string
	for i, kw := range []string{"from", "to"} {
		if t := next(); t != kw {
			return fmt.Errorf("expected %q, got %q", kw, t)
		}
		fam, err := checkFilterAddress(next())
		if err != nil {
			return err
		}
		families[i] = fam
		if len(tok) > 0 && tok[0] != "to" {
			if err := checkFilterPorts(tok[0]); err != nil {
				if i == 1 {
					return fmt.Errorf("options are not allowed in a flow description (TS 29.214 §5.4.2), got %q", strings.Join(tok, " "))
				}
				return err
			}
			next()
		}
	}
	if len(tok) > 0 {
		return fmt.Errorf("options are not allowed in a flow description (TS 29.214 §5.4.2), got %q", strings.Join(tok, " "))
	}
	if families[0] != "" && families[1] != "" && families[0] != families[1] {
		return errors.New("source and destination are of different IP versions")
	}
	return nil
}

// checkFilterAddress checks one IPFilterRule address and returns its family
// ("" for any).
func checkFilterAddress(a string) (string, error) {
	switch {
	case a == "":
		return "", errors.New("address missing")
	case a == "any":
		return "", nil
	case a == "assigned":
		return "", errors.New(`the keyword "assigned" is not allowed (TS 29.214 §5.4.2)`)
	case strings.HasPrefix(a, "!"):
		return "", errors.New(`the invert modifier "!" is not allowed (TS 29.214 §5.4.2)`)
	}
	var addr netip.Addr
	if strings.Contains(a, "/") {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return "", fmt.Errorf("bad address %q: %v", a, err)
		}
		addr = p.Addr()
	} else {
		var err error
		if addr, err = netip.ParseAddr(a); err != nil {
			return "", fmt.Errorf("bad address %q: %v", a, err)
		}
	}
	if addr.Zone() != "" {
		return "", fmt.Errorf("bad address %q: zones are not allowed", a)
	}
	if addr.Is4() {
		return "4", nil
	}
	return "6", nil
}

// checkFilterPorts checks an IPFilterRule port list: port or low-high, comma
// separated.
func checkFilterPorts(s string) error {
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		l, err1 := strconv.ParseUint(lo, 10, 16)
		h := l
		var err2 error
		if isRange {
			h, err2 = strconv.ParseUint(hi, 10, 16)
		}
		if err1 != nil || err2 != nil || h < l {
			return fmt.Errorf("bad port list %q", s)
		}
	}
	return nil
}

// correlationOf parses medslice's notification URI shape,
// {base}/notify/v1/{namespace}/{name}/{sliceUID}/{device}/{token}, into
// "{sliceUID}/{device}"; any other shape gives "".
func correlationOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	seg := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	const tail = 5 // namespace, name, sliceUID, device, token
	if len(seg) < tail+2 || seg[len(seg)-tail-2] != "notify" || seg[len(seg)-tail-1] != "v1" {
		return ""
	}
	slice, device := seg[len(seg)-3], seg[len(seg)-2]
	for _, s := range seg[len(seg)-tail:] {
		if s == "" {
			return ""
		}
	}
	return slice + "/" + device
}

// fiveQIFromReference reads a 5QI out of a qosReference of the form
// "5qi-<n>", "5qi<n>" or "<n>" (case-insensitive). qosReference is operator
// defined (TS 29.122 §5.14); this is the emulator's own convention.
var qosReferencePattern = regexp.MustCompile(`^(?i:5qi[-_]?)?([0-9]{1,3})$`)

func fiveQIFromReference(ref string) int32 {
	m := qosReferencePattern.FindStringSubmatch(ref)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 || n > 255 {
		return 0
	}
	return int32(n)
}

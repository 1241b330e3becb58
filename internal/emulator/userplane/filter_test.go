package userplane

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestParseIPFilterRule protects the parser against the flow descriptions
// medslice and 3GPP examples write, and pins the canonical form.
func TestParseIPFilterRule(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      IPFilterRule
		wantCanon string
	}{
		{
			name: "medslice downlink with a server port range",
			in:   "permit out 17 from 10.100.0.10 5000-5010 to 10.45.0.11",
			want: IPFilterRule{
				Direction: Downlink, Protocol: 17,
				Src: FilterEndpoint{Prefix: pfx("10.100.0.10/32"), Ports: []PortRange{{5000, 5010}}},
				Dst: FilterEndpoint{Prefix: pfx("10.45.0.11/32")},
			},
			wantCanon: "permit out 17 from 10.100.0.10 5000-5010 to 10.45.0.11",
		},
		{
			name: "medslice uplink",
			in:   "permit in 17 from 10.45.0.11 to 10.100.0.10 5000-5010",
			want: IPFilterRule{
				Direction: Uplink, Protocol: 17,
				Src: FilterEndpoint{Prefix: pfx("10.45.0.11/32")},
				Dst: FilterEndpoint{Prefix: pfx("10.100.0.10/32"), Ports: []PortRange{{5000, 5010}}},
			},
			wantCanon: "permit in 17 from 10.45.0.11 to 10.100.0.10 5000-5010",
		},
		{
			name: "any protocol, any source, comma list with a single port",
			in:   "permit out ip from any to 10.45.0.11 862,5000-5001",
			want: IPFilterRule{
				Direction: Downlink, Protocol: AnyProtocol,
				Src: FilterEndpoint{Any: true},
				Dst: FilterEndpoint{Prefix: pfx("10.45.0.11/32"), Ports: []PortRange{{862, 862}, {5000, 5001}}},
			},
			wantCanon: "permit out ip from any to 10.45.0.11 862,5000-5001",
		},
		{
			name: "CIDR with host bits is masked",
			in:   "permit out 6 from 10.100.0.77/24 to 10.45.0.0/16",
			want: IPFilterRule{
				Direction: Downlink, Protocol: 6,
				Src: FilterEndpoint{Prefix: pfx("10.100.0.0/24")},
				Dst: FilterEndpoint{Prefix: pfx("10.45.0.0/16")},
			},
			wantCanon: "permit out 6 from 10.100.0.0/24 to 10.45.0.0/16",
		},
		{
			name: "IPv6, full-length prefix written as an address",
			in:   "permit in 17 from 2001:db8::11/128 862 to 2001:db8:100::/48",
			want: IPFilterRule{
				Direction: Uplink, Protocol: 17,
				Src: FilterEndpoint{Prefix: pfx("2001:db8::11/128"), Ports: []PortRange{{862, 862}}},
				Dst: FilterEndpoint{Prefix: pfx("2001:db8:100::/48")},
			},
			wantCanon: "permit in 17 from 2001:db8::11 862 to 2001:db8:100::/48",
		},
		{
			name: "0.0.0.0/0 as free5GC-friendly wildcard, extra spaces",
			in:   "  permit   out 17 from 0.0.0.0/0 to 10.45.0.11 862 ",
			want: IPFilterRule{
				Direction: Downlink, Protocol: 17,
				Src: FilterEndpoint{Prefix: pfx("0.0.0.0/0")},
				Dst: FilterEndpoint{Prefix: pfx("10.45.0.11/32"), Ports: []PortRange{{862, 862}}},
			},
			wantCanon: "permit out 17 from 0.0.0.0/0 to 10.45.0.11 862",
		},
		{
			name: "any on one side of an IPv6 rule, port 0 and 65535",
			in:   "permit out 17 from any 0-65535 to ::1",
			want: IPFilterRule{
				Direction: Downlink, Protocol: 17,
				Src: FilterEndpoint{Any: true, Ports: []PortRange{{0, 65535}}},
				Dst: FilterEndpoint{Prefix: pfx("::1/128")},
			},
			wantCanon: "permit out 17 from any 0-65535 to ::1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIPFilterRule(tt.in)
			if err != nil {
				t.Fatalf("ParseIPFilterRule(%q): %v", tt.in, err)
			}
			if d := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
				t.Errorf("rule (-want +got):\n%s", d)
			}
			if s := got.String(); s != tt.wantCanon {
				t.Errorf("String() = %q, want %q", s, tt.wantCanon)
			}
		})
	}
}

// TestParseIPFilterRuleRefuses protects the TS 29.214 §5.4.2 restrictions
// and the error a person reads.
func TestParseIPFilterRuleRefuses(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"empty", "", `action must be "permit"`},
		{"deny", "deny out 17 from any to any", `action must be "permit"`},
		{"inout", "permit inout 17 from any to any", `direction must be "in" (uplink) or "out" (downlink)`},
		{"protocol name", "permit out udp from any to any", `protocol must be "ip" or a number 0..255`},
		{"protocol too large", "permit out 256 from any to any", `protocol must be "ip" or a number`},
		{"missing from", "permit out 17 to any", `expected "from", got "to"`},
		{"missing to", "permit out 17 from any", `expected "to", got ""`},
		{"missing address", "permit out 17 from", "address missing"},
		{"assigned", "permit out 17 from assigned to any", `"assigned" is not allowed`},
		{"invert", "permit out 17 from !10.0.0.1 to any", `"!" is not allowed`},
		{"bad address", "permit out 17 from 10.0.0.256 to any", `bad address "10.0.0.256"`},
		{"bad prefix", "permit out 17 from 10.0.0.0/33 to any", `bad address "10.0.0.0/33"`},
		{"zone", "permit out 17 from fe80::1%eth0 to any", "zones are not allowed"},
		{"bad source ports", "permit out 17 from any 5000-4000 to any", `bad port list "5000-4000"`},
		{"port too large", "permit out 17 from any 65536 to any", `bad port list "65536"`},
		{"empty list element", "permit out 17 from any 1,,2 to any", `bad port list "1,,2"`},
		{"options", "permit out 17 from any to any 862 frag", "options are not allowed"},
		{"option instead of ports", "permit out 17 from any to any established", "options are not allowed"},
		{"mixed families", "permit out 17 from 10.0.0.1 to 2001:db8::1", "different IP versions"},
		{"too many ranges", "permit out 17 from any to any " + strings.Repeat("1,", maxPortRanges) + "1", "more than 64 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseIPFilterRule(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseIPFilterRule(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

// TestIPFilterRuleMatches protects the matching of the logical 5-tuple: the
// direction, the protocol, addresses and port lists.
func TestIPFilterRuleMatches(t *testing.T) {
	a := netip.MustParseAddr
	down := FiveTuple{Protocol: 17, Src: a("10.100.0.254"), SrcPort: 40000, Dst: a("10.45.0.11"), DstPort: 862}
	up := FiveTuple{Protocol: 17, Src: a("10.45.0.11"), SrcPort: 862, Dst: a("10.100.0.254"), DstPort: 40000}
	tests := []struct {
		name string
		rule string
		dir  Direction
		ft   FiveTuple
		want bool
	}{
		{"probe downlink", "permit out 17 from 10.100.0.254 to 10.45.0.11 862", Downlink, down, true},
		{"probe uplink", "permit in 17 from 10.45.0.11 862 to 10.100.0.254", Uplink, up, true},
		{"downlink rule does not match uplink", "permit out 17 from 10.100.0.254 to 10.45.0.11 862", Uplink, up, false},
		{"uplink rule does not match downlink", "permit in 17 from 10.45.0.11 862 to 10.100.0.254", Downlink, down, false},
		{"other protocol", "permit out 6 from 10.100.0.254 to 10.45.0.11 862", Downlink, down, false},
		{"any protocol", "permit out ip from 10.100.0.254 to 10.45.0.11", Downlink, down, true},
		{"source prefix", "permit out 17 from 10.100.0.0/24 to 10.45.0.11", Downlink, down, true},
		{"source outside prefix", "permit out 17 from 10.100.1.0/24 to 10.45.0.11", Downlink, down, false},
		{"family wildcard", "permit out 17 from 0.0.0.0/0 to 10.45.0.11 862", Downlink, down, true},
		{"any", "permit out 17 from any to any", Downlink, down, true},
		{"other UE", "permit out 17 from any to 10.45.0.12", Downlink, down, false},
		{"destination port not listed", "permit out 17 from any to 10.45.0.11 863,5000-5010", Downlink, down, false},
		{"destination port in a list", "permit out 17 from any to 10.45.0.11 5000-5010,862", Downlink, down, true},
		{"source port range", "permit out 17 from any 40000-40010 to 10.45.0.11", Downlink, down, true},
		{"source port outside range", "permit out 17 from any 5000-5010 to 10.45.0.11", Downlink, down, false},
		{"IPv6 rule, IPv4 packet", "permit out 17 from ::/0 to ::/0", Downlink, down, false},
		{"IPv4-mapped packet address", "permit out 17 from any to 10.45.0.11", Downlink,
			FiveTuple{Protocol: 17, Src: a("::ffff:10.100.0.254"), Dst: a("::ffff:10.45.0.11")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseIPFilterRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Matches(tt.dir, tt.ft); got != tt.want {
				t.Errorf("%q matches %v %+v = %v, want %v", tt.rule, tt.dir, tt.ft, got, tt.want)
			}
		})
	}
}

// TestDefaultPriorityLevel protects the TS 23.501 Table 5.7.4-1 values the
// scheduler orders flows by.
func TestDefaultPriorityLevel(t *testing.T) {
	for fiveQI, want := range map[int]int{82: 19, 2: 40, 4: 50, 6: 60, 9: 90, 1: 20, 5: 10, 69: 5, 86: 18, 85: 21} {
		if got, ok := DefaultPriorityLevel(fiveQI); !ok || got != want {
			t.Errorf("DefaultPriorityLevel(%d) = %d, %v; want %d", fiveQI, got, ok, want)
		}
	}
	for _, fiveQI := range []int{0, 11, 128, 255} {
		if _, ok := DefaultPriorityLevel(fiveQI); ok {
			t.Errorf("DefaultPriorityLevel(%d) is known; it is not standardized", fiveQI)
		}
		if got := levelFor(fiveQI); got != UnknownFiveQILevel {
			t.Errorf("levelFor(%d) = %d, want %d", fiveQI, got, UnknownFiveQILevel)
		}
	}
	for _, l := range defaultPriorityLevels {
		if l < MinPriorityLevel || l > MaxPriorityLevel {
			t.Errorf("priority level %d outside %d..%d", l, MinPriorityLevel, MaxPriorityLevel)
		}
	}
}

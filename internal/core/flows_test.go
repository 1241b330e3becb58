package core

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFlowDescriptions(t *testing.T) {
	ue4 := UE{IPv4: "10.45.0.2"}
	ue6 := UE{IPv6: "2001:db8:45::2"}
	dual := UE{IPv4: "10.45.0.2", IPv6: "2001:db8:45::2"}

	tests := []struct {
		name     string
		ue       UE
		servers  []string
		ports    []string
		protocol string
		probe    *ProbeFlow
		want     []string
	}{
		{
			name: "UDP to one server and port", ue: ue4,
			servers: []string{"192.0.2.10"}, ports: []string{"5000"}, protocol: "UDP",
			want: []string{
				"permit out 17 from 192.0.2.10 5000 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 192.0.2.10 5000",
			},
		},
		{
			name: "TCP, two servers, a port list with a range", ue: ue4,
			servers: []string{"192.0.2.10", "192.0.2.11"}, ports: []string{"443", "6000-6010"}, protocol: "tcp",
			want: []string{
				"permit out 6 from 192.0.2.10 443,6000-6010 to 10.45.0.2",
				"permit in 6 from 10.45.0.2 to 192.0.2.10 443,6000-6010",
				"permit out 6 from 192.0.2.11 443,6000-6010 to 10.45.0.2",
				"permit in 6 from 10.45.0.2 to 192.0.2.11 443,6000-6010",
			},
		},
		{
			name: "any protocol drops ports", ue: ue4,
			servers: []string{"192.0.2.10"}, ports: []string{"5000"}, protocol: "ANY",
			want: []string{
				"permit out ip from 192.0.2.10 to 10.45.0.2",
				"permit in ip from 10.45.0.2 to 192.0.2.10",
			},
		},
		{
			name: "no protocol means any", ue: ue4, servers: []string{"192.0.2.10"},
			want: []string{
				"permit out ip from 192.0.2.10 to 10.45.0.2",
				"permit in ip from 10.45.0.2 to 192.0.2.10",
			},
		},
		{
			name: "CIDR servers are masked, a /32 is an address", ue: ue4,
			servers: []string{"192.0.2.77/24", "198.51.100.7/32"}, protocol: "UDP",
			want: []string{
				"permit out 17 from 192.0.2.0/24 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 192.0.2.0/24",
				"permit out 17 from 198.51.100.7 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 198.51.100.7",
			},
		},
		{
			name: "IPv6 UE keeps only IPv6 servers", ue: ue6,
			servers: []string{"192.0.2.10", "2001:DB8::10", "2001:db8:1::/48"}, ports: []string{"5000"}, protocol: "UDP",
			want: []string{
				"permit out 17 from 2001:db8::10 5000 to 2001:db8:45::2",
				"permit in 17 from 2001:db8:45::2 to 2001:db8::10 5000",
				"permit out 17 from 2001:db8:1::/48 5000 to 2001:db8:45::2",
				"permit in 17 from 2001:db8:45::2 to 2001:db8:1::/48 5000",
			},
		},
		{
			name: "dual-stack UE uses its IPv4", ue: dual,
			servers: []string{"2001:db8::10", "192.0.2.10"}, protocol: "UDP",
			want: []string{
				"permit out 17 from 192.0.2.10 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 192.0.2.10",
			},
		},
		{
			name: "IPv4-mapped IPv6 server is IPv4", ue: ue4,
			servers: []string{"::ffff:192.0.2.10"}, protocol: "UDP",
			want: []string{
				"permit out 17 from 192.0.2.10 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 192.0.2.10",
			},
		},
		{
			name: "duplicates and invalid entries dropped", ue: ue4,
			servers:  []string{"192.0.2.10", " 192.0.2.10 ", "app.example", ""},
			ports:    []string{"5000", "5000", "abc", "70000", "10-5", "5001,5002"},
			protocol: "UDP",
			want: []string{
				"permit out 17 from 192.0.2.10 5000,5001,5002 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 192.0.2.10 5000,5001,5002",
			},
		},
		{
			name: "probe rides along after the clinical flows", ue: ue4,
			servers: []string{"192.0.2.10"}, ports: []string{"5000"}, protocol: "TCP",
			probe: &ProbeFlow{Source: "198.51.100.5:40000", Target: "10.45.0.2:862"},
			want: []string{
				"permit out 6 from 192.0.2.10 5000 to 10.45.0.2",
				"permit in 6 from 10.45.0.2 to 192.0.2.10 5000",
				"permit out 17 from 198.51.100.5 40000 to 10.45.0.2 862",
				"permit in 17 from 10.45.0.2 862 to 198.51.100.5 40000",
			},
		},
		{
			name: "probe source without port", ue: ue4,
			probe: &ProbeFlow{Source: "198.51.100.5", Target: "10.45.0.2:862"},
			want: []string{
				"permit out 17 from 198.51.100.5 to 10.45.0.2 862",
				"permit in 17 from 10.45.0.2 862 to 198.51.100.5",
			},
		},
		{
			name: "unknown probe source allows any sender of the family", ue: ue4,
			probe: &ProbeFlow{Target: "10.45.0.2:862"},
			want: []string{
				"permit out 17 from 0.0.0.0/0 to 10.45.0.2 862",
				"permit in 17 from 10.45.0.2 862 to 0.0.0.0/0",
			},
		},
		{
			name: "probe target by name uses the UE address", ue: ue6,
			probe: &ProbeFlow{Source: "[2001:db8::5]:40000", Target: "reflector.device:862"},
			want: []string{
				"permit out 17 from 2001:db8::5 40000 to 2001:db8:45::2 862",
				"permit in 17 from 2001:db8:45::2 862 to 2001:db8::5 40000",
			},
		},
		{
			name: "probe without a usable target port is left out", ue: ue4,
			servers: []string{"192.0.2.10"}, protocol: "UDP",
			probe: &ProbeFlow{Source: "198.51.100.5", Target: "10.45.0.2"},
			want: []string{
				"permit out 17 from 192.0.2.10 to 10.45.0.2",
				"permit in 17 from 10.45.0.2 to 192.0.2.10",
			},
		},
		{
			name: "no UE address, nothing to describe", ue: UE{GPSI: "msisdn-4915112345678"},
			servers: []string{"192.0.2.10"}, protocol: "UDP",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FlowDescriptions(tt.ue, tt.servers, tt.ports, tt.protocol, tt.probe)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FlowDescriptions() mismatch (-want +got):\n%s", diff)
			}
			for _, rule := range got {
				if strings.Contains(rule, "inout") {
					t.Errorf("rule %q uses inout, which free5GC mis-parses", rule)
				}
			}
		})
	}
}

func TestBitRate(t *testing.T) {
	tests := []struct {
		kbps int64
		want string
	}{
		{0, "0 Kbps"},
		{-5, "0 Kbps"},
		{1, "1 Kbps"},
		{512, "512 Kbps"},
		{1500, "1500 Kbps"},
		{20000, "20 Mbps"},
		{2_500_000, "2500 Mbps"},
		{3_000_000, "3 Gbps"},
		{4_000_000_000, "4 Tbps"},
	}
	for _, tt := range tests {
		if got := BitRate(tt.kbps); got != tt.want {
			t.Errorf("BitRate(%d) = %q, want %q", tt.kbps, got, tt.want)
		}
		if !bitRatePattern.MatchString(BitRate(tt.kbps)) {
			t.Errorf("BitRate(%d) = %q does not match the TS 29.571 pattern", tt.kbps, BitRate(tt.kbps))
		}
	}
}

func TestParseBitRate(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{in: "20 Mbps", want: 20000},
		{in: "512 Kbps", want: 512},
		{in: "1.5 Gbps", want: 1_500_000},
		{in: "0.1 Mbps", want: 100},
		{in: "64000 bps", want: 64},
		{in: "1499 bps", want: 1},
		{in: "2 Tbps", want: 2_000_000_000},
		{in: "20Mbps", wantErr: true},
		{in: "20 mbps", wantErr: true},
		{in: "-1 Kbps", wantErr: true},
		{in: "", wantErr: true},
		{in: "99999999999 Tbps", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseBitRate(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseBitRate(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseBitRate(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	// What BitRate writes, ParseBitRate reads back exactly.
	for _, kbps := range []int64{1, 7, 999, 1000, 1001, 20000, 123456789, 5_000_000_000} {
		if got, err := ParseBitRate(BitRate(kbps)); err != nil || got != kbps {
			t.Errorf("ParseBitRate(BitRate(%d)) = %d, %v", kbps, got, err)
		}
	}
}

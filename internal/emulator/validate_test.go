package emulator

import (
	"strings"
	"testing"
)

// TestCheckFlowDescription protects the TS 29.214 §5.4.2 restrictions the
// emulator enforces, in particular "inout", which free5GC mis-parses.
func TestCheckFlowDescription(t *testing.T) {
	for name, tc := range map[string]struct {
		fd      string
		wantErr string // substring; "" means valid
	}{
		"downlink udp with ports": {fd: "permit out 17 from 192.0.2.10 5000-5001 to 10.45.0.2"},
		"uplink to port list":     {fd: "permit in 17 from 10.45.0.2 to 192.0.2.10 5000,5002-5003"},
		"any protocol":            {fd: "permit out ip from 192.0.2.0/24 to 10.45.0.2"},
		"any address":             {fd: "permit out 6 from any to 10.45.0.2 443"},
		"ipv6":                    {fd: "permit out 17 from 2001:db8::10 5000 to 2001:db8:1::2"},
		"inout":                   {fd: "permit inout 17 from any to any", wantErr: `"inout"`},
		"deny":                    {fd: "deny out 17 from any to any", wantErr: `"permit"`},
		"protocol name":           {fd: "permit out udp from any to 10.45.0.2", wantErr: "protocol"},
		"assigned":                {fd: "permit out 17 from any to assigned", wantErr: "assigned"},
		"invert":                  {fd: "permit out 17 from !192.0.2.1 to 10.45.0.2", wantErr: "invert"},
		"options":                 {fd: "permit out 17 from any to 10.45.0.2 5000 frag", wantErr: "options"},
		"bad port range":          {fd: "permit out 17 from any 5001-5000 to 10.45.0.2", wantErr: "port"},
		"port out of range":       {fd: "permit out 17 from any 70000 to 10.45.0.2", wantErr: "port"},
		"mixed families":          {fd: "permit out 17 from 2001:db8::1 to 10.45.0.2", wantErr: "IP versions"},
		"missing to":              {fd: "permit out 17 from any", wantErr: `"to"`},
		"bad address":             {fd: "permit out 17 from 300.1.1.1 to 10.45.0.2", wantErr: "bad address"},
		"empty":                   {fd: "", wantErr: "permit"},
	} {
		t.Run(name, func(t *testing.T) {
			err := checkFlowDescription(tc.fd)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("checkFlowDescription(%q) = %v, want valid", tc.fd, err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("checkFlowDescription(%q) = %v, want an error mentioning %s", tc.fd, err, tc.wantErr)
			}
		})
	}
}

// TestCorrelationOf protects adoption after a crash: the admin API's
// correlation must name the slice and device of medslice's notification
// URIs, and nothing for other shapes.
func TestCorrelationOf(t *testing.T) {
	for name, tc := range map[string]struct{ uri, want string }{
		"medslice shape":        {"http://op:9443/notify/v1/or-3/surgery/uid-1/robot/tok", "uid-1/robot"},
		"behind a path prefix":  {"https://op.example/medslice/notify/v1/ns/name/uid-2/dev/tok", "uid-2/dev"},
		"pcf leaf not included": {"http://op/notify/v1/ns/name/uid/dev/tok/notify", ""},
		"too short":             {"http://op/notify/v1/ns/name/uid/dev", ""},
		"other version":         {"http://op/notify/v2/ns/name/uid/dev/tok", ""},
		"empty segment":         {"http://op/notify/v1/ns/name//dev/tok", ""},
		"another shape":         {"http://af.example/callbacks/123", ""},
		"not a URI":             {"::", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := correlationOf(tc.uri); got != tc.want {
				t.Errorf("correlationOf(%q) = %q, want %q", tc.uri, got, tc.want)
			}
		})
	}
}

// TestFiveQIFromReference protects the emulator's qosReference convention.
func TestFiveQIFromReference(t *testing.T) {
	for ref, want := range map[string]int32{
		"5qi-82": 82, "5QI82": 82, "82": 82, "5qi_1": 1, "5qi-0": 0, "5qi-256": 0, "gold": 0, "": 0,
	} {
		if got := fiveQIFromReference(ref); got != want {
			t.Errorf("fiveQIFromReference(%q) = %d, want %d", ref, got, want)
		}
	}
}

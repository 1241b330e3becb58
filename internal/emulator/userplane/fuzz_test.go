package userplane

import (
	"net/netip"
	"reflect"
	"testing"
)

// FuzzParseIPFilterRule checks that no input panics the parser, that what
// it accepts prints in a canonical form that parses back to the same rule,
// and that matching never panics. The seed corpus is in
// testdata/fuzz/FuzzParseIPFilterRule.
func FuzzParseIPFilterRule(f *testing.F) {
	f.Add("permit out 17 from 10.100.0.10 5000-5010 to 10.45.0.11")
	f.Add("permit in 17 from 10.45.0.11 to 10.100.0.10 5000-5010")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseIPFilterRule(s)
		if err != nil {
			return
		}
		canon := r.String()
		again, err := ParseIPFilterRule(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("%q parsed as %+v, its canonical form %q as %+v", s, r, canon, again)
		}
		if again.String() != canon {
			t.Fatalf("canonical form is not stable: %q then %q", canon, again.String())
		}
		for _, ft := range []FiveTuple{
			{Protocol: 17, Src: netip.MustParseAddr("10.100.0.10"), SrcPort: 5000, Dst: netip.MustParseAddr("10.45.0.11"), DstPort: 862},
			{Protocol: 6, Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("::ffff:10.0.0.1")},
			{},
		} {
			r.Matches(Downlink, ft)
			r.Matches(Uplink, ft)
		}
	})
}

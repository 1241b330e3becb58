package plugin

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The fuzz targets protect two promises: parsing never panics whatever is
// typed, and whatever the plugin accepts the CRD schema accepts too (the
// patterns below are copied from api/v1alpha1), so that a booking that
// passed the plugin's checks is not refused later for a reason it could
// have told. Seed corpora are in testdata/fuzz.

var (
	schemaPort      = regexp.MustCompile(`^[0-9]{1,5}(-[0-9]{1,5})?$`)
	schemaDevice    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	schemaReference = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	schemaLeadTime  = regexp.MustCompile(`^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$`)
)

// FuzzParseFlags feeds whole command lines, one argument per line.
func FuzzParseFlags(f *testing.F) {
	f.Add(strings.Join(bookArgs(), "\n"))
	f.Add("list\n-A\n-o\njson")
	f.Add("extend\nor3\n--until\n2027-10-31 02:30")
	f.Add("cancel\nor3\n--force=true")
	f.Add("capacity\ncampus-core\n--from\nnow\n--to\n23:59")
	f.Add("report\nor3\n--period\n2026-11-22 08:00/2026-11-22T12:00:00+01:00\n-o\npdf\n--output-file\nor3.pdf")
	f.Add("report\nor3\n--latest\n-o\ncsv")
	f.Add("report\nverify\nor3.json\n--public-keys\nkeys.json")
	f.Add("-n\nor-3\nreport\n--key-secret\nmedslice-system/medslice-report-key\nverify\nor3-20261122")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\n")
		for _, tz := range []string{"", "Europe/Berlin", "Bogus/Zone"} {
			d := defaults()
			d.TZ = tz
			inv, err := Parse(args, d)
			if err != nil {
				if msg := err.Error(); strings.ContainsAny(msg, "\n\r") || msg == "" {
					t.Fatalf("Parse(%q): error not one line: %q", args, msg)
				}
				continue
			}
			if inv.Book != nil {
				checkBookAgainstSchema(t, inv.Book)
			}
		}
	})
}

// checkBookAgainstSchema checks an accepted booking with the schema's own
// rules for the fields the plugin fills.
func checkBookAgainstSchema(t *testing.T, o *BookOptions) {
	t.Helper()
	s := o.Slice("ns")
	if !schemaReference.MatchString(s.Spec.Profile) || !schemaReference.MatchString(s.Spec.CoreRef) {
		t.Fatalf("accepted profile %q / core %q", s.Spec.Profile, s.Spec.CoreRef)
	}
	if n := len(s.Spec.Devices); n < 1 || n > maxDevices {
		t.Fatalf("accepted %d devices", n)
	}
	for _, d := range s.Spec.Devices {
		checkDeviceAgainstSchema(t, d.Name)
		if d.IPv4 == "" && d.IPv6 == "" {
			t.Fatalf("accepted device %q without an address", d.Name)
		}
		if d.IPv4 != "" && (!netip.MustParseAddr(d.IPv4).Is4() || len(d.IPv4) > 15) {
			t.Fatalf("accepted ipv4 %q", d.IPv4)
		}
		if d.IPv6 != "" && (!netip.MustParseAddr(d.IPv6).Is6() || len(d.IPv6) > 45) {
			t.Fatalf("accepted ipv6 %q", d.IPv6)
		}
	}
	if n := len(s.Spec.Application.Servers); n < 1 || n > maxServers {
		t.Fatalf("accepted %d servers", n)
	}
	for _, srv := range s.Spec.Application.Servers {
		checkServerAgainstSchema(t, srv)
	}
	for _, p := range s.Spec.Application.Ports {
		checkPortAgainstSchema(t, p)
	}
	sc := s.Spec.Schedule
	// The API stores times to the second: compare what it will compare.
	if !sc.End.Truncate(time.Second).After(sc.Start.Truncate(time.Second)) {
		t.Fatalf("accepted end %v not after start %v", sc.End, sc.Start)
	}
	if lt := sc.LeadTime; lt != nil && (!schemaLeadTime.MatchString(lt.Duration.String()) || lt.Duration < 0 || lt.Duration > 24*time.Hour) {
		t.Fatalf("accepted lead time %v", lt.Duration)
	}
	if strings.ContainsAny(s.Spec.Purpose, "<>") {
		t.Fatalf("accepted purpose %q", s.Spec.Purpose)
	}
}

func checkDeviceAgainstSchema(t *testing.T, name string) {
	t.Helper()
	if len(name) > 63 || !schemaDevice.MatchString(name) {
		t.Fatalf("accepted device name %q", name)
	}
}

func checkServerAgainstSchema(t *testing.T, srv string) {
	t.Helper()
	if len(srv) > 49 {
		t.Fatalf("accepted server %q longer than 49", srv)
	}
	if p, err := netip.ParsePrefix(srv); err == nil {
		if p.Addr().Is4In6() {
			t.Fatalf("accepted mapped prefix %q", srv)
		}
		return
	}
	a, err := netip.ParseAddr(srv)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		t.Fatalf("accepted server %q the API's isIP/isCIDR refuses", srv)
	}
}

func checkPortAgainstSchema(t *testing.T, p string) {
	t.Helper()
	if len(p) > 11 || !schemaPort.MatchString(p) {
		t.Fatalf("accepted port %q", p)
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, _ := strconv.Atoi(lo)
	b := a
	if isRange {
		b, _ = strconv.Atoi(hi)
	}
	if a < 1 || b > 65535 || a > b {
		t.Fatalf("accepted port %q", p)
	}
}

// FuzzParseTime checks that an accepted time reads back as itself: shown
// in RFC 3339 in the zone, it parses to the same instant, and a local form
// names a wall clock time that exists exactly once.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-22 08:00", "2026-11-22T08:00:00+01:00", "08:00", "now", "2027-03-28 02:30", "2027-10-31 02:30", "2026-11-22T08:00:00.5Z", "9999-12-31 23:59", "0000-01-01 00:00"} {
		f.Add(s, "Europe/Berlin")
	}
	f.Add("2027-11-07 01:30", "America/New_York")
	f.Add("2026-11-22 08:00", "Asia/Kathmandu")
	f.Fuzz(func(t *testing.T, s, zone string) {
		loc, err := loadLocation(zone)
		if err != nil {
			loc = berlin
		}
		got, err := ParseTime(s, loc, testNow)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("ParseTime(%q): error not one line: %q", s, err)
			}
			return
		}
		if got.Nanosecond() != 0 {
			t.Fatalf("ParseTime(%q) = %v: not truncated to the second", s, got)
		}
		if _, offset := got.In(loc).Zone(); offset%60 != 0 {
			return // local mean time before standard zones: RFC 3339 offsets have no seconds
		}
		back, err := ParseTime(got.In(loc).Format(time.RFC3339), loc, testNow)
		if err != nil || !back.Equal(got) {
			t.Fatalf("ParseTime(%q) = %v, which reads back as %v, %v", s, got, back, err)
		}
	})
}

// FuzzParseDevice checks that an accepted device fits the schema.
func FuzzParseDevice(f *testing.F) {
	for _, s := range []string{"robot-arm=10.45.0.7", "cam=2001:db8::7", "a=::ffff:1.2.3.4", "x=fe80::1%eth0", "=1.2.3.4", "arm=", "Arm=1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, addr, err := ParseDevice(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("ParseDevice(%q): error not one line: %q", s, err)
			}
			return
		}
		checkDeviceAgainstSchema(t, name)
		if !addr.IsValid() || addr.Zone() != "" || addr.Is4In6() {
			t.Fatalf("ParseDevice(%q) accepted address %v", s, addr)
		}
	})
}

// FuzzParsePort checks that an accepted port fits the schema and that its
// canonical form is stable.
func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"443", "5000-5010", "0", "65536", "5010-5000", "-", "1-", "00001", "99999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			return
		}
		checkPortAgainstSchema(t, p)
		if again, err := ParsePort(p); err != nil || again != p {
			t.Fatalf("ParsePort(%q) = %q, which reads back as %q, %v", s, p, again, err)
		}
	})
}

// FuzzParseServer checks that an accepted server fits the schema and that
// its canonical form is stable.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"10.0.0.5", "10.0.0.0/24", "2001:db8::/48", "::ffff:10.0.0.5", "fe80::1%eth0", "10.0.0.5/33"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		srv, err := ParseServer(s)
		if err != nil {
			return
		}
		checkServerAgainstSchema(t, srv)
		if again, err := ParseServer(srv); err != nil || again != srv {
			t.Fatalf("ParseServer(%q) = %q, which reads back as %q, %v", s, srv, again, err)
		}
	})
}

package console

import (
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/medslice/medslice/api/v1alpha1"
)

// FuzzParseBookingForm feeds whole form bodies, as a browser (or anyone)
// may POST them. It protects two promises: parsing never panics, and it
// returns either a slice the CRD schema accepts or messages for named
// fields, never both and never neither. The schema's patterns are copied
// from api/v1alpha1; TestAcceptedSeedsPassTheAPIServer checks the accepted
// seeds against the real API server as well. Seeds are in
// testdata/fuzz/FuzzParseBookingForm.
func FuzzParseBookingForm(f *testing.F) {
	f.Add(validForm().encode())
	f.Fuzz(func(t *testing.T, body string) {
		values, _ := url.ParseQuery(body) // a malformed body still yields what it can
		form := BookingFormFrom(values)
		for _, cat := range []Catalog{testCatalog(), {}} {
			s, errs := ParseBookingForm(form, cat, formNow, berlin)
			switch {
			case s == nil && len(errs) == 0:
				t.Fatalf("neither a slice nor errors for %q", body)
			case s != nil && len(errs) > 0:
				t.Fatalf("both a slice and errors %v for %q", errs, body)
			case s == nil:
				checkFieldErrors(t, errs)
			default:
				checkSliceAgainstSchema(t, s)
			}
		}
	})
}

// encode writes the form as a browser posts it.
func (f BookingForm) encode() string {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set(fieldName, f.Name)
	set(fieldNamespace, f.Namespace)
	set(fieldProfile, f.Profile)
	set(fieldCore, f.Core)
	set(fieldDevices, f.Devices)
	set(fieldServers, f.Servers)
	set(fieldPorts, f.Ports)
	set(fieldProtocol, f.Protocol)
	set(fieldStart, f.Start)
	set(fieldEnd, f.End)
	set(fieldDuration, f.Duration)
	set(fieldLeadTime, f.LeadTime)
	set(fieldPurpose, f.Purpose)
	return v.Encode()
}

var knownFields = []string{fieldForm, fieldName, fieldNamespace, fieldProfile, fieldCore, fieldDevices, fieldServers, fieldPorts, fieldProtocol, fieldStart, fieldEnd, fieldDuration, fieldLeadTime, fieldPurpose}

func checkFieldErrors(t *testing.T, errs FieldErrors) {
	t.Helper()
	for field, msg := range errs {
		if !slices.Contains(knownFields, field) {
			t.Fatalf("error for unknown field %q: %s", field, msg)
		}
		if strings.TrimSpace(msg) == "" {
			t.Fatalf("empty message for field %q", field)
		}
	}
}

// Patterns and rules of the MedicalSlice schema (api/v1alpha1).
var (
	schemaPort      = regexp.MustCompile(`^[0-9]{1,5}(-[0-9]{1,5})?$`)
	schemaDevice    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	schemaReference = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	schemaDuration  = regexp.MustCompile(`^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$`)
)

func checkSliceAgainstSchema(t *testing.T, s *v1alpha1.MedicalSlice) {
	t.Helper()
	if len(validation.IsDNS1123Subdomain(s.Name)) > 0 || len(validation.IsDNS1123Label(s.Namespace)) > 0 {
		t.Fatalf("accepted name %q in namespace %q", s.Name, s.Namespace)
	}
	spec := s.Spec
	for _, ref := range []string{spec.Profile, spec.CoreRef} {
		if len(ref) > 253 || !schemaReference.MatchString(ref) {
			t.Fatalf("accepted reference %q", ref)
		}
	}
	if n := len(spec.Devices); n < 1 || n > maxDevices {
		t.Fatalf("accepted %d devices", n)
	}
	names := map[string]bool{}
	for _, d := range spec.Devices {
		if len(d.Name) > 63 || !schemaDevice.MatchString(d.Name) || names[d.Name] {
			t.Fatalf("accepted device name %q (or twice)", d.Name)
		}
		names[d.Name] = true
		if d.IPv4 == "" && d.IPv6 == "" {
			t.Fatalf("accepted device %q without an address", d.Name)
		}
		if d.IPv4 != "" {
			if a, err := netip.ParseAddr(d.IPv4); err != nil || !a.Is4() || len(d.IPv4) > 15 {
				t.Fatalf("accepted ipv4 %q", d.IPv4)
			}
		}
		if d.IPv6 != "" {
			if a, err := netip.ParseAddr(d.IPv6); err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || len(d.IPv6) > 45 {
				t.Fatalf("accepted ipv6 %q", d.IPv6)
			}
		}
	}
	app := spec.Application
	if n := len(app.Servers); n < 1 || n > maxServers {
		t.Fatalf("accepted %d servers", n)
	}
	for _, srv := range app.Servers {
		_, errA := netip.ParseAddr(srv)
		_, errP := netip.ParsePrefix(srv)
		if (errA != nil && errP != nil) || len(srv) > 49 {
			t.Fatalf("accepted server %q", srv)
		}
	}
	if len(app.Ports) > maxPorts || len(slices.Compact(slices.Sorted(slices.Values(app.Ports)))) != len(app.Ports) {
		t.Fatalf("accepted ports %q", app.Ports)
	}
	for _, p := range app.Ports {
		if !schemaPort.MatchString(p) || len(p) > 11 {
			t.Fatalf("accepted port %q", p)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(app.Servers)))) != len(app.Servers) {
		t.Fatalf("accepted repeated servers %q", app.Servers)
	}
	switch app.Protocol {
	case "", v1alpha1.ProtocolUDP, v1alpha1.ProtocolTCP, v1alpha1.ProtocolANY:
	default:
		t.Fatalf("accepted protocol %q", app.Protocol)
	}
	sc := spec.Schedule
	if sc == nil || !sc.End.After(sc.Start.Time) {
		t.Fatalf("accepted schedule %+v", sc)
	}
	if sc.Start.Year() < 1970 || sc.End.Year() > 9999 {
		t.Fatalf("accepted a window outside RFC 3339's years: %v", sc)
	}
	if _, err := sc.Start.MarshalJSON(); err != nil {
		t.Fatalf("start does not marshal: %v", err)
	}
	if _, err := sc.End.MarshalJSON(); err != nil {
		t.Fatalf("end does not marshal: %v", err)
	}
	if lt := sc.LeadTime; lt != nil {
		if lt.Duration < 0 || lt.Duration > 24*time.Hour || !schemaDuration.MatchString(lt.Duration.String()) {
			t.Fatalf("accepted lead time %s", lt.Duration)
		}
	}
	if utf8.RuneCountInString(spec.Purpose) > maxPurpose || strings.ContainsAny(spec.Purpose, "<>") || !utf8.ValidString(spec.Purpose) {
		t.Fatalf("accepted purpose %q", spec.Purpose)
	}
}

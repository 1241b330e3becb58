package console

import (
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin without the system's zone database

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
)

// The booking form is what a surgery team types; these tests protect that
// every mistake is named next to its field, in words a person can act on,
// and that a valid form becomes exactly the slice that was asked for.

var berlin = mustLocation("Europe/Berlin")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// formNow is the clock of the form tests: Friday 20 November 2026, 10:07:30 in Berlin.
var formNow = time.Date(2026, 11, 20, 10, 7, 30, 0, berlin)

func profile(name string, st v1alpha1.ServiceType, maxDuration time.Duration, vuln v1alpha1.PreemptionVulnerability) v1alpha1.SliceProfile {
	p := v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Spec.ServiceType = st
	p.Spec.QoS.ARP = &v1alpha1.ARP{PriorityLevel: 1, PreemptVuln: vuln}
	if maxDuration > 0 {
		p.Spec.MaxDuration = &metav1.Duration{Duration: maxDuration}
	}
	return p
}

func testCatalog() Catalog {
	return Catalog{
		Profiles: []v1alpha1.SliceProfile{
			profile("iot-mmtc", v1alpha1.ServiceTypeMMTC, 168*time.Hour, v1alpha1.PreemptionPreemptable),
			profile("surgery-urllc", v1alpha1.ServiceTypeURLLC, 8*time.Hour, v1alpha1.PreemptionNotPreemptable),
		},
		Cores: []v1alpha1.CoreNetwork{
			{ObjectMeta: metav1.ObjectMeta{Name: "campus-core"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "emulator-pcf"}},
		},
	}
}

// validForm is a booking every test starts from.
func validForm() BookingForm {
	return BookingForm{
		Name:      "or3-prostatectomy",
		Namespace: "or-3",
		Profile:   "surgery-urllc",
		Core:      "campus-core",
		Devices:   "robot-arm=10.45.0.7\r\nconsole=10.45.0.8\n",
		Servers:   "10.100.0.5, 10.100.1.0/24",
		Ports:     "5000-5010, 443",
		Protocol:  "UDP",
		Start:     "2026-11-22T08:00",
		Duration:  "4h",
		LeadTime:  "15m",
		Purpose:   "robotic prostatectomy, OR-3",
	}
}

func at(s string) metav1.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
	if err != nil {
		panic(err)
	}
	return metav1.NewTime(t)
}

func TestParseBookingFormValid(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*BookingForm)
		cat       *Catalog
		wantSpec  func(*v1alpha1.MedicalSliceSpec)
		wantName  string
		wantSpace string
	}{
		{
			name: "every field",
		},
		{
			name: "end instead of duration",
			edit: func(f *BookingForm) { f.Duration, f.End = "", "2026-11-22T12:00" },
		},
		{
			name: "spaces around values are ignored",
			edit: func(f *BookingForm) {
				f.Name, f.Namespace, f.Start = "  or3-prostatectomy ", " or-3", " 2026-11-22T08:00 "
			},
			wantName: "or3-prostatectomy",
		},
		{
			name: "a device named twice with both address families is one dual-stack device",
			edit: func(f *BookingForm) { f.Devices = "robot-arm=10.45.0.7\nrobot-arm=2001:db8::7\nconsole=10.45.0.8" },
			wantSpec: func(s *v1alpha1.MedicalSliceSpec) {
				s.Devices[0].IPv6 = "2001:db8::7"
			},
		},
		{
			name: "repeated servers and ports are kept once, in canonical form",
			edit: func(f *BookingForm) {
				f.Servers = "10.100.0.5\n10.100.0.5 10.100.1.0/24"
				f.Ports = "5000-5010 0443 443"
			},
		},
		{
			name: "no ports means any port; no protocol means the API's default",
			edit: func(f *BookingForm) { f.Ports, f.Protocol = "", "" },
			wantSpec: func(s *v1alpha1.MedicalSliceSpec) {
				s.Application.Ports, s.Application.Protocol = nil, ""
			},
		},
		{
			name: "no lead time",
			edit: func(f *BookingForm) { f.LeadTime = "" },
			wantSpec: func(s *v1alpha1.MedicalSliceSpec) {
				s.Schedule.LeadTime = nil
			},
		},
		{
			name: "a start typed as the current minute survives the minute turning",
			edit: func(f *BookingForm) { f.Start = "2026-11-20T10:03" },
			wantSpec: func(s *v1alpha1.MedicalSliceSpec) {
				s.Schedule.Start, s.Schedule.End = at("2026-11-20 10:03"), at("2026-11-20 14:03")
			},
		},
		{
			name: "a profile and core the user may not list are checked for syntax only",
			edit: func(f *BookingForm) { f.Profile, f.Core = "surgery-video", "other-core" },
			cat:  &Catalog{},
			wantSpec: func(s *v1alpha1.MedicalSliceSpec) {
				s.Profile, s.CoreRef = "surgery-video", "other-core"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validForm()
			if tt.edit != nil {
				tt.edit(&f)
			}
			cat := testCatalog()
			if tt.cat != nil {
				cat = *tt.cat
			}
			got, errs := ParseBookingForm(f, cat, formNow, berlin)
			if errs != nil {
				t.Fatalf("refused a valid form: %v", errs)
			}
			want := v1alpha1.MedicalSliceSpec{
				Profile: "surgery-urllc",
				CoreRef: "campus-core",
				Purpose: "robotic prostatectomy, OR-3",
				Devices: []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}, {Name: "console", IPv4: "10.45.0.8"}},
				Application: v1alpha1.Application{
					Servers:  []string{"10.100.0.5", "10.100.1.0/24"},
					Ports:    []string{"5000-5010", "443"},
					Protocol: v1alpha1.ProtocolUDP,
				},
				Schedule: &v1alpha1.Schedule{
					Start:    at("2026-11-22 08:00"),
					End:      at("2026-11-22 12:00"),
					LeadTime: &metav1.Duration{Duration: 15 * time.Minute},
				},
			}
			if tt.wantSpec != nil {
				tt.wantSpec(&want)
			}
			if diff := cmp.Diff(want, got.Spec); diff != "" {
				t.Errorf("spec (-want +got):\n%s", diff)
			}
			if got.Name != "or3-prostatectomy" || got.Namespace != "or-3" {
				t.Errorf("object %s/%s, want or-3/or3-prostatectomy", got.Namespace, got.Name)
			}
		})
	}
}

func TestParseBookingFormErrors(t *testing.T) {
	long := strings.Repeat("x", 257)
	var many []string
	for i := range 33 {
		many = append(many, fmt.Sprintf("d%d=10.45.1.%d", i, i+1))
	}
	tests := []struct {
		name string
		edit func(*BookingForm)
		want FieldErrors
	}{
		{
			name: "empty form",
			edit: func(f *BookingForm) { *f = BookingForm{} },
			want: FieldErrors{
				fieldName:      "Give the slice a name, such as or3-prostatectomy.",
				fieldNamespace: "Choose the namespace (operating room or department) to book in.",
				fieldProfile:   "Choose a profile.",
				fieldCore:      "Choose a core.",
				fieldDevices:   "Give at least one device as NAME=ADDRESS, one per line, such as robot-arm=10.45.0.7.",
				fieldServers:   "Give at least one application server: an IP address or a CIDR, such as 10.100.0.5.",
				fieldStart:     "Choose when the slice is needed.",
				fieldDuration:  "Give a duration, such as 4h, or an end time.",
			},
		},
		{
			name: "name with capitals",
			edit: func(f *BookingForm) { f.Name = "OR3_Surgery" },
			want: FieldErrors{fieldName: `"OR3_Surgery" is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters, such as or3-prostatectomy.`},
		},
		{
			name: "namespace with a dot",
			edit: func(f *BookingForm) { f.Namespace = "or.3" },
			want: FieldErrors{fieldNamespace: `"or.3" is not a namespace name.`},
		},
		{
			name: "unknown profile",
			edit: func(f *BookingForm) { f.Profile = "surgery" },
			want: FieldErrors{fieldProfile: `Unknown profile "surgery": choose one of iot-mmtc, surgery-urllc.`},
		},
		{
			name: "unknown core",
			edit: func(f *BookingForm) { f.Core = "campus" },
			want: FieldErrors{fieldCore: `Unknown core "campus": choose one of campus-core, emulator-pcf.`},
		},
		{
			name: "a device line without an address",
			edit: func(f *BookingForm) { f.Devices = "robot-arm=10.45.0.7\nconsole" },
			want: FieldErrors{fieldDevices: "Line 2: want NAME=ADDRESS, such as robot-arm=10.45.0.7."},
		},
		{
			name: "a device name with capitals",
			edit: func(f *BookingForm) { f.Devices = "Robot=10.45.0.7" },
			want: FieldErrors{fieldDevices: `Line 1: device name "Robot" must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters.`},
		},
		{
			name: "a device address that is not one",
			edit: func(f *BookingForm) { f.Devices = "robot-arm=10.45.0" },
			want: FieldErrors{fieldDevices: `Line 1: device robot-arm: "10.45.0" is not an IP address: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7.`},
		},
		{
			name: "a device given the same address family twice",
			edit: func(f *BookingForm) { f.Devices = "robot-arm=10.45.0.7\nrobot-arm=10.45.0.9" },
			want: FieldErrors{fieldDevices: "Line 2: device robot-arm already has the IPv4 address 10.45.0.7."},
		},
		{
			name: "33 devices",
			edit: func(f *BookingForm) { f.Devices = strings.Join(many, "\n") },
			want: FieldErrors{fieldDevices: "At most 32 devices per slice; this has 33."},
		},
		{
			name: "a server that is neither an address nor a CIDR",
			edit: func(f *BookingForm) { f.Servers = "10.100.0.5, server.local" },
			want: FieldErrors{fieldServers: `"server.local": want an IP address (10.0.0.5) or a CIDR (10.0.0.0/24).`},
		},
		{
			name: "a reversed port range",
			edit: func(f *BookingForm) { f.Ports = "5010-5000" },
			want: FieldErrors{fieldPorts: `"5010-5000": a range N-M needs N <= M: did you mean 5000-5010?`},
		},
		{
			name: "a port out of range",
			edit: func(f *BookingForm) { f.Ports = "70000" },
			want: FieldErrors{fieldPorts: `"70000": ports are 1 to 65535.`},
		},
		{
			name: "an unknown protocol",
			edit: func(f *BookingForm) { f.Protocol = "SCTP" },
			want: FieldErrors{fieldProtocol: "Choose UDP, TCP or ANY."},
		},
		{
			name: "a start in the past",
			edit: func(f *BookingForm) { f.Start = "2026-11-20T09:00" },
			want: FieldErrors{fieldStart: "Fri 20 Nov 09:00 is in the past (it is now Fri 20 Nov 10:07): choose a later start."},
		},
		{
			name: "a start that is not a time",
			edit: func(f *BookingForm) { f.Start = "tomorrow 8am" },
			want: FieldErrors{fieldStart: `"tomorrow 8am": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00".`},
		},
		{
			name: "a start the clocks skip",
			edit: func(f *BookingForm) { f.Start = "2027-03-28T02:30" },
			want: FieldErrors{fieldStart: `"2027-03-28T02:30": 2027-03-28 02:30 does not exist in Europe/Berlin (the clocks jump forward then); choose another time.`},
		},
		{
			name: "a start more than a year ahead",
			edit: func(f *BookingForm) { f.Start = "2062-11-22T08:00" },
			want: FieldErrors{fieldStart: "Wed 22 Nov 2062 08:00 is more than a year ahead: check the year."},
		},
		{
			name: "both a duration and an end",
			edit: func(f *BookingForm) { f.End = "2026-11-22T12:00" },
			want: FieldErrors{fieldEnd: "Give a duration or an end time, not both."},
		},
		{
			name: "an end before the start",
			edit: func(f *BookingForm) { f.Duration, f.End = "", "2026-11-22T07:00" },
			want: FieldErrors{fieldEnd: "The end Sun 22 Nov 07:00 is not after the start Sun 22 Nov 08:00."},
		},
		{
			name: "a window of 30 seconds",
			edit: func(f *BookingForm) { f.Duration = "30s" },
			want: FieldErrors{fieldDuration: `"30s": must be at least 1m.`},
		},
		{
			name: "a duration that is not one",
			edit: func(f *BookingForm) { f.Duration = "4 hours" },
			want: FieldErrors{fieldDuration: `"4 hours": want a duration such as 90m, 4h or 1h30m.`},
		},
		{
			name: "longer than the profile allows",
			edit: func(f *BookingForm) { f.Duration = "9h" },
			want: FieldErrors{fieldDuration: "Profile surgery-urllc allows at most 8h; this window lasts 9h."},
		},
		{
			name: "an end longer than the profile allows",
			edit: func(f *BookingForm) { f.Duration, f.End = "", "2026-11-23T08:00" },
			want: FieldErrors{fieldEnd: "Profile surgery-urllc allows at most 8h; this window lasts 24h."},
		},
		{
			name: "a lead time over a day",
			edit: func(f *BookingForm) { f.LeadTime = "25h" },
			want: FieldErrors{fieldLeadTime: `"25h": must be at most 24h.`},
		},
		{
			name: "a negative lead time",
			edit: func(f *BookingForm) { f.LeadTime = "-5m" },
			want: FieldErrors{fieldLeadTime: `"-5m": must not be negative.`},
		},
		{
			name: "a purpose with markup",
			edit: func(f *BookingForm) { f.Purpose = "<script>alert(1)</script>" },
			want: FieldErrors{fieldPurpose: "Purpose is plain text: remove < and >."},
		},
		{
			name: "a purpose too long",
			edit: func(f *BookingForm) { f.Purpose = long },
			want: FieldErrors{fieldPurpose: "Purpose: at most 256 characters; this has 257."},
		},
		{
			name: "a purpose over two lines",
			edit: func(f *BookingForm) { f.Purpose = "robotic\nsurgery" },
			want: FieldErrors{fieldPurpose: "Purpose is one line of plain text."},
		},
		{
			name: "several fields wrong at once are all named",
			edit: func(f *BookingForm) { f.Name, f.Ports, f.LeadTime = "", "x", "1d" },
			want: FieldErrors{
				fieldName:     "Give the slice a name, such as or3-prostatectomy.",
				fieldPorts:    `"x": want a port number N or a range N-M, such as 443 or 5000-5010.`,
				fieldLeadTime: `"1d": want a duration such as 90m, 4h or 1h30m.`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := validForm()
			tt.edit(&f)
			got, errs := ParseBookingForm(f, testCatalog(), formNow, berlin)
			if got != nil {
				t.Errorf("accepted: %+v", got.Spec)
			}
			if diff := cmp.Diff(tt.want, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseExtension(t *testing.T) {
	sl := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "or3"}}
	sl.Spec.Schedule = &v1alpha1.Schedule{Start: at("2026-11-20 08:00"), End: at("2026-11-20 12:00")}
	urllc := profile("surgery-urllc", v1alpha1.ServiceTypeURLLC, 8*time.Hour, v1alpha1.PreemptionNotPreemptable)
	tests := []struct {
		name      string
		by, until string
		slice     func(*v1alpha1.MedicalSlice)
		wantEnd   string
		wantErrs  FieldErrors
	}{
		{name: "by a duration", by: "30m", wantEnd: "2026-11-20 12:30"},
		{name: "until a local time", until: "2026-11-20T13:15", wantEnd: "2026-11-20 13:15"},
		{name: "neither", wantErrs: FieldErrors{fieldBy: "Give how long to extend by, such as 30m, or a new end."}},
		{name: "both", by: "30m", until: "2026-11-20T13:15", wantErrs: FieldErrors{fieldUntil: "Give a duration or a new end, not both."}},
		{name: "an earlier end", until: "2026-11-20T11:00", wantErrs: FieldErrors{fieldUntil: "The new end Fri 20 Nov 11:00 is not after the current end Fri 20 Nov 12:00: extending only moves the end later."}},
		{name: "past the profile's maximum", by: "5h", wantErrs: FieldErrors{fieldBy: "Profile surgery-urllc allows at most 8h; the window would last 9h. Extend to Fri 20 Nov 16:00 at the latest."}},
		{name: "a duration that is not one", by: "half an hour", wantErrs: FieldErrors{fieldBy: `"half an hour": want a duration such as 90m, 4h or 1h30m.`}},
		{
			name: "an open-ended slice", by: "30m",
			slice:    func(s *v1alpha1.MedicalSlice) { s.Spec.Schedule = nil },
			wantErrs: FieldErrors{fieldForm: "This slice is open-ended (it has no schedule): there is no end to extend."},
		},
		{
			name: "an ended slice", by: "30m",
			slice:    func(s *v1alpha1.MedicalSlice) { s.Spec.Schedule.End = at("2026-11-20 10:00") },
			wantErrs: FieldErrors{fieldForm: "This slice ended Fri 20 Nov 10:00: book a new one instead."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sl.DeepCopy()
			if tt.slice != nil {
				tt.slice(s)
			}
			end, errs := parseExtension(s, tt.by, tt.until, &urllc, formNow, berlin)
			if diff := cmp.Diff(tt.wantErrs, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if tt.wantEnd != "" && !end.Equal(at(tt.wantEnd).Time) {
				t.Errorf("new end %s, want %s", end.In(berlin), tt.wantEnd)
			}
		})
	}
}

func TestActiveSurgical(t *testing.T) {
	urllc := profile("surgery-urllc", v1alpha1.ServiceTypeURLLC, 0, v1alpha1.PreemptionNotPreemptable)
	iot := profile("iot-mmtc", v1alpha1.ServiceTypeMMTC, 0, v1alpha1.PreemptionPreemptable)
	video := profile("surgery-video", v1alpha1.ServiceTypeEMBB, 0, v1alpha1.PreemptionNotPreemptable)
	scheduled := func(start, end string, lead time.Duration) *v1alpha1.MedicalSlice {
		s := &v1alpha1.MedicalSlice{}
		s.Spec.Schedule = &v1alpha1.Schedule{Start: at(start), End: at(end)}
		if lead > 0 {
			s.Spec.Schedule.LeadTime = &metav1.Duration{Duration: lead}
		}
		return s
	}
	withSessions := func(s *v1alpha1.MedicalSlice) *v1alpha1.MedicalSlice {
		s.Status.Sessions = []v1alpha1.CoreSession{{Device: "robot-arm", Core: "c", ID: "1"}}
		return s
	}
	declined := func(s *v1alpha1.MedicalSlice) *v1alpha1.MedicalSlice {
		s.Status.Admission = &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionDeclined}
		return s
	}
	tests := []struct {
		name    string
		slice   *v1alpha1.MedicalSlice
		profile *v1alpha1.SliceProfile
		want    bool
	}{
		{"URLLC inside its window", scheduled("2026-11-20 08:00", "2026-11-20 12:00", 0), &urllc, true},
		{"not pre-emptable eMBB inside its window", scheduled("2026-11-20 08:00", "2026-11-20 12:00", 0), &video, true},
		{"pre-emptable IoT inside its window", scheduled("2026-11-20 08:00", "2026-11-20 12:00", 0), &iot, false},
		{"URLLC before its window", scheduled("2026-11-20 11:00", "2026-11-20 12:00", 0), &urllc, false},
		{"URLLC within its lead time", scheduled("2026-11-20 10:15", "2026-11-20 12:00", 15*time.Minute), &urllc, true},
		{"URLLC before its window, already holding sessions", withSessions(scheduled("2026-11-20 11:00", "2026-11-20 12:00", 0)), &urllc, true},
		{"URLLC after its window", scheduled("2026-11-20 08:00", "2026-11-20 10:00", 0), &urllc, false},
		{"declined URLLC holds nothing", declined(scheduled("2026-11-20 08:00", "2026-11-20 12:00", 0)), &urllc, false},
		{"unreadable profile counts as surgical", scheduled("2026-11-20 08:00", "2026-11-20 12:00", 0), nil, true},
		{"open-ended slice", &v1alpha1.MedicalSlice{}, &urllc, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := activeSurgical(tt.slice, tt.profile, formNow); got != tt.want {
				t.Errorf("activeSurgical = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUsedOf(t *testing.T) {
	tests := []struct {
		v, capacity int64
		unit        func(int64) string
		want        string
	}{
		{40_000, 100_000, rate, "40 of 100 Mbps"},
		{0, 1_000_000, rate, "0 of 1000 Mbps"},
		{500, 100_000, rate, "0.5 of 100 Mbps"},
		{500, 800, rate, "500 of 800 kbps"},
		{12_500, 0, rate, "12.5 Mbps (no limit)"},
		{3, 10, count, "3 of 10"},
	}
	for _, tt := range tests {
		if got := usedOf(tt.v, tt.capacity, tt.unit); got != tt.want {
			t.Errorf("usedOf(%d, %d) = %q, want %q", tt.v, tt.capacity, got, tt.want)
		}
	}
}

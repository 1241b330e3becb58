package console

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/plugin"
)

// Names of the booking form's fields; each is also its input's id.
const (
	fieldName      = "name"
	fieldNamespace = "namespace"
	fieldProfile   = "profile"
	fieldCore      = "core"
	fieldDevices   = "devices"
	fieldServers   = "servers"
	fieldPorts     = "ports"
	fieldProtocol  = "protocol"
	fieldStart     = "start"
	fieldEnd       = "end"
	fieldDuration  = "duration"
	fieldLeadTime  = "leadtime"
	fieldPurpose   = "purpose"
	// fieldForm holds what is about the whole form, shown above it.
	fieldForm = "form"
)

// Limits of the MedicalSlice schema (api/v1alpha1) and of the form.
const (
	maxDevices  = 32
	maxServers  = 16
	maxPorts    = 16
	maxPurpose  = 256
	maxLeadTime = 24 * time.Hour
	// minWindow is the shortest booking: shorter is a typo (30s for 30m).
	minWindow = time.Minute
	// maxWindow bounds a booking without a profile limit; a year is a typo.
	maxWindow = 366 * 24 * time.Hour
	// maxAhead is how far ahead a booking may start: further is a typo in
	// the year, not a surgery.
	maxAhead = 366 * 24 * time.Hour
	// startGrace lets a start typed as the current minute survive the
	// minute turning while the form is filled in.
	startGrace = 5 * time.Minute
)

// BookingForm is the booking form as typed, one string per field.
type BookingForm struct {
	Name, Namespace, Profile, Core string
	// Devices are NAME=ADDRESS lines.
	Devices string
	// Servers and Ports are lists separated by commas, spaces or lines.
	Servers, Ports string
	Protocol       string
	// Start and End are local times in the console's location, as
	// <input type=datetime-local> sends them ("2026-11-22T08:00").
	Start, End string
	// Duration is the window's length, instead of End ("4h", "1h30m").
	Duration string
	LeadTime string
	Purpose  string
}

// BookingFormFrom reads the form's fields from a request's values.
func BookingFormFrom(v url.Values) BookingForm {
	return BookingForm{
		Name: v.Get(fieldName), Namespace: v.Get(fieldNamespace),
		Profile: v.Get(fieldProfile), Core: v.Get(fieldCore),
		Devices: v.Get(fieldDevices), Servers: v.Get(fieldServers), Ports: v.Get(fieldPorts),
		Protocol: v.Get(fieldProtocol),
		Start:    v.Get(fieldStart), End: v.Get(fieldEnd), Duration: v.Get(fieldDuration),
		LeadTime: v.Get(fieldLeadTime), Purpose: v.Get(fieldPurpose),
	}
}

// FieldErrors maps a field name to what is wrong with it, one message per
// field, written for the person who filled it in.
type FieldErrors map[string]string

func (e FieldErrors) add(field, format string, args ...any) {
	if _, ok := e[field]; !ok {
		e[field] = fmt.Sprintf(format, args...)
	}
}

// Catalog is what the form offers to choose from. A nil list was not
// readable by the user: names are then checked for syntax only, and the
// operator reports an unknown one in the slice's status.
type Catalog struct {
	Profiles []v1alpha1.SliceProfile
	Cores    []v1alpha1.CoreNetwork
}

func (c Catalog) profile(name string) *v1alpha1.SliceProfile {
	for i := range c.Profiles {
		if c.Profiles[i].Name == name {
			return &c.Profiles[i]
		}
	}
	return nil
}

// ParseBookingForm checks every field of f as the API server's schema
// would, and what only a clock and the catalog can tell (a start in the
// past, an unknown profile, a window longer than the profile allows). It
// returns either the MedicalSlice to create or, for each field in error,
// what to fix; never both, never neither. The namespace is checked for
// syntax only: whether the user may book there is Kubernetes RBAC's
// answer, which the create gets.
func ParseBookingForm(f BookingForm, cat Catalog, now time.Time, loc *time.Location) (*v1alpha1.MedicalSlice, FieldErrors) {
	errs := FieldErrors{}
	s := &v1alpha1.MedicalSlice{}

	s.Name = strings.TrimSpace(f.Name)
	switch {
	case s.Name == "":
		errs.add(fieldName, "Give the slice a name, such as or3-prostatectomy.")
	case len(validation.IsDNS1123Subdomain(s.Name)) > 0:
		errs.add(fieldName, "%q is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters, such as or3-prostatectomy.", s.Name)
	}

	s.Namespace = strings.TrimSpace(f.Namespace)
	switch {
	case s.Namespace == "":
		errs.add(fieldNamespace, "Choose the namespace (operating room or department) to book in.")
	case len(validation.IsDNS1123Label(s.Namespace)) > 0:
		errs.add(fieldNamespace, "%q is not a namespace name.", s.Namespace)
	}

	s.Spec.Profile = strings.TrimSpace(f.Profile)
	profile := checkReference(errs, fieldProfile, "profile", s.Spec.Profile, profileNames(cat.Profiles), cat.Profiles != nil)
	var p *v1alpha1.SliceProfile
	if profile {
		p = cat.profile(s.Spec.Profile)
	}
	s.Spec.CoreRef = strings.TrimSpace(f.Core)
	checkReference(errs, fieldCore, "core", s.Spec.CoreRef, coreNames(cat.Cores), cat.Cores != nil)

	s.Spec.Devices = parseDevices(errs, f.Devices)
	s.Spec.Application.Servers = parseList(errs, fieldServers, f.Servers, maxServers, "server", plugin.ParseServer)
	if len(s.Spec.Application.Servers) == 0 {
		errs.add(fieldServers, "Give at least one application server: an IP address or a CIDR, such as 10.100.0.5.")
	}
	s.Spec.Application.Ports = parseList(errs, fieldPorts, f.Ports, maxPorts, "port", plugin.ParsePort)
	switch proto := v1alpha1.Protocol(strings.ToUpper(strings.TrimSpace(f.Protocol))); proto {
	case "":
	case v1alpha1.ProtocolUDP, v1alpha1.ProtocolTCP, v1alpha1.ProtocolANY:
		s.Spec.Application.Protocol = proto
	default:
		errs.add(fieldProtocol, "Choose UDP, TCP or ANY.")
	}

	s.Spec.Schedule = parseSchedule(errs, f, p, now, loc)

	purpose := strings.TrimSpace(f.Purpose)
	switch n := utf8.RuneCountInString(purpose); {
	case n > maxPurpose:
		errs.add(fieldPurpose, "Purpose: at most %d characters; this has %d.", maxPurpose, n)
	case !utf8.ValidString(purpose) || strings.ContainsFunc(purpose, unicode.IsControl):
		errs.add(fieldPurpose, "Purpose is one line of plain text.")
	case strings.ContainsAny(purpose, "<>"):
		errs.add(fieldPurpose, "Purpose is plain text: remove < and >.")
	}
	s.Spec.Purpose = purpose

	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// checkReference checks the name of a cluster-scoped object the slice
// refers to, against the names the user may choose from when known. It
// tells whether the name is one of them.
func checkReference(errs FieldErrors, field, what, name string, known []string, isKnown bool) bool {
	switch {
	case name == "":
		errs.add(field, "Choose a %s.", what)
	case isKnown && slices.Contains(known, name):
		return true
	case isKnown && len(known) == 0:
		errs.add(field, "Unknown %s %q: there are none yet; ask the network engineers.", what, name)
	case isKnown:
		errs.add(field, "Unknown %s %q: choose one of %s.", what, name, strings.Join(known, ", "))
	case len(validation.IsDNS1123Subdomain(name)) > 0:
		errs.add(field, "%q is not a %s name.", name, what)
	}
	return false
}

func profileNames(ps []v1alpha1.SliceProfile) []string {
	out := make([]string, len(ps))
	for i := range ps {
		out[i] = ps[i].Name
	}
	slices.Sort(out)
	return out
}

func coreNames(cs []v1alpha1.CoreNetwork) []string {
	out := make([]string, len(cs))
	for i := range cs {
		out[i] = cs[i].Name
	}
	slices.Sort(out)
	return out
}

// parseDevices reads NAME=ADDRESS lines. One name given twice, once with
// an IPv4 and once with an IPv6 address, is one dual-stack device.
func parseDevices(errs FieldErrors, text string) []v1alpha1.Device {
	var (
		out   []v1alpha1.Device
		where = map[string]int{} // device name → index in out
	)
	for i, line := range lines(text) {
		if line == "" {
			continue
		}
		name, addr, err := plugin.ParseDevice(line)
		if err != nil {
			errs.add(fieldDevices, "Line %d: %s", i+1, sentence(err))
			return nil
		}
		at, seen := where[name]
		if !seen {
			at = len(out)
			where[name] = at
			out = append(out, v1alpha1.Device{Name: name})
		}
		d := &out[at]
		switch {
		case addr.Is4() && d.IPv4 != "":
			errs.add(fieldDevices, "Line %d: device %s already has the IPv4 address %s.", i+1, name, d.IPv4)
			return nil
		case addr.Is6() && d.IPv6 != "":
			errs.add(fieldDevices, "Line %d: device %s already has the IPv6 address %s.", i+1, name, d.IPv6)
			return nil
		case addr.Is4():
			d.IPv4 = addr.String()
		default:
			d.IPv6 = addr.String()
		}
	}
	switch {
	case len(out) == 0:
		errs.add(fieldDevices, "Give at least one device as NAME=ADDRESS, one per line, such as robot-arm=10.45.0.7.")
	case len(out) > maxDevices:
		errs.add(fieldDevices, "At most %d devices per slice; this has %d.", maxDevices, len(out))
		return nil
	}
	return out
}

// lines splits text into trimmed lines, whatever the line ending.
func lines(text string) []string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	out := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// parseList reads items separated by commas, spaces or lines, each through
// parse, and drops repeats of the same canonical item (the schema keeps
// them as a set).
func parseList(errs FieldErrors, field, text string, limit int, what string, parse func(string) (string, error)) []string {
	var out []string
	for _, item := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		v, err := parse(item)
		if err != nil {
			errs.add(field, "%q: %s", item, sentence(err))
			return nil
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(out) > limit {
		errs.add(field, "At most %d %ss per slice; this has %d.", limit, what, len(out))
		return nil
	}
	return out
}

// parseSchedule reads the window: start, then end or duration, and lead
// time, with the profile's maximum duration when the profile is known.
func parseSchedule(errs FieldErrors, f BookingForm, p *v1alpha1.SliceProfile, now time.Time, loc *time.Location) *v1alpha1.Schedule {
	var (
		start, end time.Time
		endField   = fieldEnd
		ok         = true
	)
	startText, endText, durText := strings.TrimSpace(f.Start), strings.TrimSpace(f.End), strings.TrimSpace(f.Duration)
	if startText == "" {
		errs.add(fieldStart, "Choose when the slice is needed.")
		ok = false
	} else if t, err := plugin.ParseTime(startText, loc, now); err != nil {
		errs.add(fieldStart, "%q: %s", startText, sentence(err))
		ok = false
	} else {
		start = t
		switch {
		case start.Before(now.Truncate(time.Minute).Add(-startGrace)):
			errs.add(fieldStart, "%s is in the past (it is now %s): choose a later start.", moment(start, now, loc), moment(now, now, loc))
			ok = false
		case start.After(now.Add(maxAhead)):
			errs.add(fieldStart, "%s is more than a year ahead: check the year.", moment(start, now, loc))
			ok = false
		}
	}

	switch {
	case endText == "" && durText == "":
		errs.add(fieldDuration, "Give a duration, such as 4h, or an end time.")
		ok = false
	case endText != "" && durText != "":
		errs.add(fieldEnd, "Give a duration or an end time, not both.")
		ok = false
	case durText != "":
		endField = fieldDuration
		d, err := plugin.ParseDuration(durText, minWindow, 0)
		if err != nil {
			errs.add(fieldDuration, "%q: %s", durText, sentence(err))
			ok = false
		} else if ok {
			end = start.Add(d).Truncate(time.Second)
		}
	default:
		t, err := plugin.ParseTime(endText, loc, now)
		if err != nil {
			errs.add(fieldEnd, "%q: %s", endText, sentence(err))
			ok = false
		} else {
			end = t
		}
	}
	if ok {
		switch d := end.Sub(start); {
		case !end.After(start):
			errs.add(endField, "The end %s is not after the start %s.", moment(end, now, loc), moment(start, now, loc))
			ok = false
		case d < minWindow:
			errs.add(endField, "The window lasts %s; a booking lasts at least %s.", plugin.FormatDuration(d), plugin.FormatDuration(minWindow))
			ok = false
		case d > maxWindow:
			errs.add(endField, "The window lasts %s; a booking lasts at most a year.", plugin.FormatDuration(d))
			ok = false
		case p != nil && p.Spec.MaxDuration != nil && d > p.Spec.MaxDuration.Duration:
			errs.add(endField, "Profile %s allows at most %s; this window lasts %s.", p.Name, plugin.FormatDuration(p.Spec.MaxDuration.Duration), plugin.FormatDuration(d))
			ok = false
		}
	}

	var lead *metav1.Duration
	if text := strings.TrimSpace(f.LeadTime); text != "" {
		d, err := plugin.ParseDuration(text, 0, maxLeadTime)
		if err != nil {
			errs.add(fieldLeadTime, "%q: %s", text, sentence(err))
			ok = false
		} else {
			lead = &metav1.Duration{Duration: d}
		}
	}
	if !ok {
		return nil
	}
	return &v1alpha1.Schedule{Start: metav1.NewTime(start), End: metav1.NewTime(end), LeadTime: lead}
}

// sentence is err's message ending as a sentence does.
func sentence(err error) string {
	msg := err.Error()
	if strings.HasSuffix(msg, ".") || strings.HasSuffix(msg, "?") {
		return msg
	}
	return msg + "."
}

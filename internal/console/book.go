package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/plugin"
)

// bookView is the booking form, blank or as the user filled it in.
type bookView struct {
	Fields map[string]formField
	// Order is the order of the error summary.
	Errors []errorLink
	// FormError is about the whole form, e.g. what the API server said
	// that belongs to no field.
	FormError string
	Problems  []string
	Zone      string
}

// fieldOrder is the order fields appear in, for the error summary.
var fieldOrder = []string{fieldForm, fieldName, fieldNamespace, fieldProfile, fieldCore, fieldDevices, fieldServers, fieldPorts, fieldProtocol, fieldStart, fieldDuration, fieldEnd, fieldLeadTime, fieldPurpose}

var fieldLabels = map[string]string{
	fieldName: "Name", fieldNamespace: "Namespace (room or department)", fieldProfile: "Profile", fieldCore: "5G core",
	fieldDevices: "Devices", fieldServers: "Application servers", fieldPorts: "Server ports", fieldProtocol: "Protocol",
	fieldStart: "Start", fieldDuration: "Duration", fieldEnd: "or end", fieldLeadTime: "Lead time", fieldPurpose: "Purpose",
}

func (s *Server) bookPage(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	now := s.now().In(s.loc)
	// Start defaults to the next quarter hour: a booking is for later.
	next := now.Truncate(15 * time.Minute).Add(15 * time.Minute)
	f := BookingForm{Start: next.Format(inputLayout), Protocol: string(v1alpha1.ProtocolUDP)}
	if ns := r.URL.Query().Get(fieldNamespace); ns != "" {
		f.Namespace = ns
	}
	cat, problems := s.catalog(ctx, sess)
	view := s.bookingView(ctx, sess, f, nil, cat, problems)
	s.render(w, r, sess, http.StatusOK, "book", "Book a slice", view)
}

func (s *Server) book(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	u, c := sess.identity()
	f := BookingFormFrom(r.PostForm)
	cat, problems := s.catalog(ctx, sess)
	slice, errs := ParseBookingForm(f, cat, s.now(), s.loc)
	status := http.StatusUnprocessableEntity
	if errs == nil {
		err := c.Create(ctx, slice)
		if err == nil {
			s.log.Info("booked", "user", u.Name, "namespace", slice.Namespace, "name", slice.Name,
				"profile", slice.Spec.Profile, "core", slice.Spec.CoreRef,
				"start", slice.Spec.Schedule.Start.Time, "end", slice.Spec.Schedule.End.Time)
			sess.setFlash(fmt.Sprintf("Booked %s in %s for %s. The operator now decides whether core %s can guarantee it; the decision appears below.",
				slice.Name, slice.Namespace, window(slice.Spec.Schedule.Start.Time, slice.Spec.Schedule.End.Time, s.now(), s.loc), slice.Spec.CoreRef))
			http.Redirect(w, r, sliceURL(slice.Namespace, slice.Name), http.StatusSeeOther)
			return
		}
		s.log.Info("booking refused by the API server", "user", u.Name, "namespace", slice.Namespace, "name", slice.Name, "error", err.Error())
		errs, status = createErrors(err, slice)
	}
	view := s.bookingView(ctx, sess, f, errs, cat, problems)
	s.render(w, r, sess, status, "book", "Book a slice", view)
}

// createErrors turns the API server's refusal of a create into messages
// next to the fields they are about. Validation messages (the schema and
// its CEL rules) are shown verbatim: they are written for the person who
// filled in the form.
func createErrors(err error, s *v1alpha1.MedicalSlice) (FieldErrors, int) {
	errs := FieldErrors{}
	switch {
	case apierrors.IsAlreadyExists(err):
		errs.add(fieldName, "A slice named %s already exists in %s: choose another name, or extend that one from its page.", s.Name, s.Namespace)
		return errs, http.StatusConflict
	case impersonationRefused(err):
		errs.add(fieldForm, "The console is not allowed to act for you; ask your administrators to let it impersonate users. Kubernetes said: %s", statusMessage(err))
		return errs, http.StatusForbidden
	case apierrors.IsForbidden(err):
		errs.add(fieldNamespace, "You may not book slices in namespace %s. Kubernetes said: %s", s.Namespace, statusMessage(err))
		return errs, http.StatusForbidden
	case apierrors.IsNotFound(err):
		errs.add(fieldNamespace, "Namespace %s does not exist. Kubernetes said: %s", s.Namespace, statusMessage(err))
		return errs, http.StatusNotFound
	case apierrors.IsInvalid(err):
		var se apierrors.APIStatus
		if errors.As(err, &se) && se.Status().Details != nil && len(se.Status().Details.Causes) > 0 {
			for _, cause := range se.Status().Details.Causes {
				errs.add(formFieldOf(cause.Field), "%s", causeText(cause))
			}
			return errs, http.StatusUnprocessableEntity
		}
	}
	errs.add(fieldForm, "Kubernetes refused the booking: %s", statusMessage(err))
	return errs, http.StatusBadGateway
}

// causeText is one validation cause as the API server wrote it, with the
// field it names.
func causeText(c metav1.StatusCause) string {
	if c.Field == "" {
		return c.Message
	}
	return c.Field + ": " + c.Message
}

func statusMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return se.Status().Message
	}
	return err.Error()
}

// formFieldOf maps a field path of the API server's answer to the form
// field it comes from.
func formFieldOf(path string) string {
	prefixes := []struct{ prefix, field string }{
		{"metadata.name", fieldName},
		{"metadata.namespace", fieldNamespace},
		{"spec.profile", fieldProfile},
		{"spec.coreRef", fieldCore},
		{"spec.devices", fieldDevices},
		{"spec.application.servers", fieldServers},
		{"spec.application.ports", fieldPorts},
		{"spec.application.protocol", fieldProtocol},
		{"spec.schedule.leadTime", fieldLeadTime},
		{"spec.schedule.start", fieldStart},
		{"spec.schedule.end", fieldEnd},
		{"spec.schedule", fieldEnd},
		{"spec.purpose", fieldPurpose},
	}
	for _, p := range prefixes {
		if path == p.prefix || strings.HasPrefix(path, p.prefix+".") || strings.HasPrefix(path, p.prefix+"[") {
			return p.field
		}
	}
	return fieldForm
}

// bookingView builds the form with f's values and errs next to their
// fields. Choices come from what the user may read; a list that cannot
// be read becomes a text input.
func (s *Server) bookingView(ctx context.Context, sess *session, f BookingForm, errs FieldErrors, cat Catalog, problems []string) bookView {
	namespaces, err := s.bookable(ctx, sess)
	if err != nil {
		problems = append(problems, "The namespaces you may book in could not be found: "+err.Error())
	}
	if err == nil && len(namespaces) == 0 {
		problems = append(problems, "You may not book slices in any namespace. Ask your network engineers for the requester role in your room's namespace.")
	}
	zone, _ := s.now().In(s.loc).Zone()
	view := bookView{Fields: map[string]formField{}, Problems: problems, Zone: fmt.Sprintf("%s (%s)", s.loc, zone)}
	// No placeholders: the hints give the examples, and a grey example in
	// an empty field reads as a value.
	field := func(name, typ, value, hint string, required bool) formField {
		return formField{Name: name, Label: fieldLabels[name], Type: typ, Value: value, Hint: hint, Required: required, Error: errs[name]}
	}
	view.Fields[fieldName] = field(fieldName, "text", f.Name, "Lowercase letters, digits and '-', e.g. or3-prostatectomy.", true)

	nsField := field(fieldNamespace, "text", f.Namespace, "Where the slice is kept; your team's room or department.", true)
	if namespaces != nil {
		nsField.Type, nsField.Options = "select", options(namespaces, f.Namespace, func(n string) string { return n })
	}
	view.Fields[fieldNamespace] = nsField

	prField := field(fieldProfile, "text", f.Profile, "What the slice guarantees: QoS, SLA targets and the longest booking.", true)
	if cat.Profiles != nil {
		labels := map[string]string{}
		names := make([]string, len(cat.Profiles))
		for i, p := range cat.Profiles {
			names[i] = p.Name
			labels[p.Name] = profileLabel(&p)
		}
		prField.Type, prField.Options = "select", options(names, f.Profile, func(n string) string { return labels[n] })
	}
	view.Fields[fieldProfile] = prField

	coreField := field(fieldCore, "text", f.Core, "The 5G core the slice is provisioned on.", true)
	if cat.Cores != nil {
		coreField.Type, coreField.Options = "select", options(coreNames(cat.Cores), f.Core, func(n string) string { return n })
	}
	view.Fields[fieldCore] = coreField

	dev := field(fieldDevices, "textarea", f.Devices, "One device per line as NAME=ADDRESS, the UE's IPv4 or IPv6 address, e.g. robot-arm=10.45.0.7; a name twice for both.", true)
	dev.Rows = 4
	view.Fields[fieldDevices] = dev
	srv := field(fieldServers, "textarea", f.Servers, "IP addresses or CIDRs of the application servers, separated by commas or lines, e.g. 10.100.0.5.", true)
	srv.Rows = 2
	view.Fields[fieldServers] = srv
	view.Fields[fieldPorts] = field(fieldPorts, "text", f.Ports, "Ports N or ranges N-M, separated by commas, e.g. 5000-5010; empty means any port.", false)
	proto := field(fieldProtocol, "select", f.Protocol, "", false)
	proto.Options = options([]string{"UDP", "TCP", "ANY"}, strings.ToUpper(f.Protocol), func(n string) string { return n })
	view.Fields[fieldProtocol] = proto
	view.Fields[fieldStart] = field(fieldStart, "datetime-local", f.Start, "Local time, "+view.Zone+".", true)
	view.Fields[fieldDuration] = field(fieldDuration, "text", f.Duration, "How long, e.g. 4h or 3h30m. Give this or an end time.", false)
	view.Fields[fieldEnd] = field(fieldEnd, "datetime-local", f.End, "Local time, instead of a duration.", false)
	view.Fields[fieldLeadTime] = field(fieldLeadTime, "text", f.LeadTime, "How long before the start to provision and verify, 0s to 24h, e.g. 15m.", false)
	view.Fields[fieldPurpose] = field(fieldPurpose, "text", f.Purpose, "What the slice is for, e.g. robotic prostatectomy, OR-3. Plain text; never a patient's name.", false)

	for _, name := range fieldOrder {
		if msg, ok := errs[name]; ok {
			if name == fieldForm {
				view.FormError = msg
				continue
			}
			view.Errors = append(view.Errors, errorLink{Field: name, Label: fieldLabels[name], Message: msg})
		}
	}
	return view
}

// options builds a select's options. A value the user sent that is not
// among them is kept as an option, so that the form shows what was sent.
func options(values []string, selected string, label func(string) string) []option {
	out := []option{{Value: "", Label: "Choose…", Selected: selected == ""}}
	for _, v := range values {
		out = append(out, option{Value: v, Label: label(v), Selected: v == selected})
	}
	if selected != "" && !slices.Contains(values, selected) {
		out = append(out, option{Value: selected, Label: selected, Selected: true})
	}
	return out
}

func profileLabel(p *v1alpha1.SliceProfile) string {
	l := p.Name + " — " + string(p.Spec.ServiceType)
	if p.Spec.MaxDuration != nil {
		l += ", at most " + plugin.FormatDuration(p.Spec.MaxDuration.Duration)
	}
	return l
}

package plugin

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/plan"
)

// BookOptions is a booking as the surgery team asked for it.
type BookOptions struct {
	Name    string
	Profile string
	Core    string
	Devices []v1alpha1.Device
	// Servers are IP addresses or CIDRs; Ports are "N" or "N-M".
	Servers  []string
	Ports    []string
	Protocol v1alpha1.Protocol
	// Start and End are the clinical window, [Start, End).
	Start, End time.Time
	// LeadTime, when set, is how long before Start the slice is provisioned.
	LeadTime *time.Duration
	Purpose  string
	DryRun   DryRun
	// Wait is how long to wait for the admission decision; 0 does not wait.
	Wait time.Duration
}

// referenceName is the schema's pattern for profile and coreRef.
var referenceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Validate checks the booking as the API server would, and what only a
// clock can tell (a start in the past), with messages that say what to do.
func (o *BookOptions) Validate(now time.Time, loc *time.Location) error {
	if err := checkObjectName("slice name", o.Name, 253); err != nil {
		return err
	}
	if o.Profile == "" {
		return errors.New("--profile is required: the SliceProfile to follow, e.g. surgery-urllc")
	}
	if len(o.Profile) > 253 || !referenceName.MatchString(o.Profile) {
		return fmt.Errorf("--profile %q: not a SliceProfile name (lowercase letters, digits, '-' and '.')", o.Profile)
	}
	if o.Core == "" {
		return errors.New("--core is required: the CoreNetwork to provision on")
	}
	if len(o.Core) > 253 || !referenceName.MatchString(o.Core) {
		return fmt.Errorf("--core %q: not a CoreNetwork name (lowercase letters, digits, '-' and '.')", o.Core)
	}
	if len(o.Devices) == 0 {
		return errors.New("at least one --device NAME=ADDRESS is required, e.g. --device robot-arm=10.45.0.7")
	}
	if len(o.Servers) == 0 {
		return errors.New("at least one --server is required: the application server's IP address or CIDR, e.g. --server 10.100.0.5")
	}
	if n := utf8.RuneCountInString(o.Purpose); n > maxPurpose {
		return fmt.Errorf("--purpose: at most %d characters, got %d", maxPurpose, n)
	}
	if strings.ContainsAny(o.Purpose, "<>") {
		return errors.New("--purpose: plain text only, remove < and >")
	}
	if o.LeadTime != nil && (*o.LeadTime < 0 || *o.LeadTime > maxLeadTime) {
		return fmt.Errorf("--lead-time %s: must be from 0s to %s", FormatDuration(*o.LeadTime), FormatDuration(maxLeadTime))
	}
	if o.Start.IsZero() {
		return errors.New(`--start is required: when the slice is needed, e.g. --start "2026-11-22 08:00"`)
	}
	if !o.End.After(o.Start) {
		return fmt.Errorf("--end %s is not after --start %s", longMoment(o.End, loc), longMoment(o.Start, loc))
	}
	if d := o.End.Sub(o.Start); d < minWindow {
		return fmt.Errorf("the window %s lasts %s: a booking lasts at least %s", longWindow(o.Start, o.End, loc), FormatDuration(d), FormatDuration(minWindow))
	}
	if o.Start.Before(now.Truncate(time.Minute)) {
		return fmt.Errorf("--start %s is in the past (now is %s): book from now on, e.g. --start now", longMoment(o.Start, loc), longMoment(now, loc))
	}
	return nil
}

// Slice is the MedicalSlice the booking creates.
func (o *BookOptions) Slice(namespace string) *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: namespace},
		Spec: v1alpha1.MedicalSliceSpec{
			Profile: o.Profile,
			CoreRef: o.Core,
			Purpose: o.Purpose,
			Devices: slices.Clone(o.Devices),
			Application: v1alpha1.Application{
				Servers:  slices.Clone(o.Servers),
				Ports:    slices.Clone(o.Ports),
				Protocol: o.Protocol,
			},
			Schedule: &v1alpha1.Schedule{
				Start: metav1.NewTime(o.Start.Truncate(time.Second)),
				End:   metav1.NewTime(o.End.Truncate(time.Second)),
			},
		},
	}
	if o.LeadTime != nil {
		s.Spec.Schedule.LeadTime = &metav1.Duration{Duration: *o.LeadTime}
	}
	return s
}

// Book creates a scheduled MedicalSlice, waits briefly for the operator's
// admission decision and reports it. The profile and the core are looked up
// first, so that a typo or a window longer than the profile allows is told
// before anything is created; when the user may not read them, the
// operator reports the same in status.
func Book(ctx context.Context, env Env, o BookOptions) error {
	now := env.Now()
	if err := o.Validate(now, env.Location); err != nil {
		return err
	}
	s := o.Slice(env.Namespace)
	profile, err := lookupProfile(ctx, env, o.Profile)
	if err != nil {
		return err
	}
	if profile != nil && profile.Spec.MaxDuration != nil {
		if d, max := o.End.Sub(o.Start), profile.Spec.MaxDuration.Duration; d > max {
			return fmt.Errorf("the window %s lasts %s; profile %s allows at most %s: shorten it", longWindow(o.Start, o.End, env.Location), FormatDuration(d), o.Profile, FormatDuration(max))
		}
	}
	core, err := lookupCore(ctx, env, o.Core)
	if err != nil {
		return err
	}
	var demand *admission.Resources
	if profile != nil {
		d := admission.NewBooking(s, plan.Resolve(s, profile).QoS).Demand
		demand = &d
		if core != nil {
			if err := fitsAtAll(d, core); err != nil {
				return err
			}
		}
	}

	switch o.DryRun {
	case DryRunClient:
		return reportDryRun(env, s, demand, "checked here only")
	case DryRunServer:
		if err := env.Client.Create(ctx, s, client.DryRunAll); err != nil {
			return bookError(err, env, o.Name)
		}
		return reportDryRun(env, s, demand, "validated by the API server")
	}
	if err := env.Client.Create(ctx, s); err != nil {
		return bookError(err, env, o.Name)
	}
	got, decided, err := waitForSlice(ctx, env, client.ObjectKeyFromObject(s), o.Wait, func(s *v1alpha1.MedicalSlice) bool {
		return s.Status.Admission != nil
	})
	if err != nil {
		return err
	}
	if env.Output != FormatTable {
		if err := printObject(env.Out, env.Output, got); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Out, "Booked %s in namespace %s: %s on core %s, profile %s.\n",
			got.Name, got.Namespace, longWindow(o.Start, o.End, env.Location), o.Core, o.Profile)
		reportAdmission(env, got, decided, o.Wait)
	}
	if a := got.Status.Admission; decided && a.Decision != v1alpha1.AdmissionAdmitted {
		return &NotAdmittedError{Name: got.Name, Decision: a.Decision, loc: env.Location}
	}
	return nil
}

func bookError(err error, env Env, name string) error {
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("slice %q already exists in namespace %s: choose another name, or extend it with kubectl medslice extend %s", name, env.Namespace, name)
	}
	return apiError(err, fmt.Sprintf("create slice %q in namespace %s", name, env.Namespace))
}

// reportAdmission writes the decision the operator persisted, or that it
// has not decided yet.
func reportAdmission(env Env, s *v1alpha1.MedicalSlice, decided bool, waited time.Duration) {
	a := s.Status.Admission
	switch {
	case !decided && waited <= 0:
		fmt.Fprintf(env.Out, "Pending: not waited for the admission decision; see kubectl medslice describe %s\n", s.Name)
	case !decided:
		fmt.Fprintf(env.Out, "Pending: no admission decision within %s; see kubectl medslice describe %s\n", FormatDuration(waited), s.Name)
	case a.Decision == v1alpha1.AdmissionAdmitted:
		fmt.Fprintf(env.Out, "Admitted: %s held %s.\n", reservation(a.Reserved), heldWindow(a, env.Location))
	default:
		fmt.Fprintf(env.Out, "%s: %s\n", a.Decision, oneLine(a.Message))
	}
}

func reservation(r v1alpha1.Reservation) string {
	return admission.Resources{GBRUplinkKbps: r.GBRUplinkKbps, GBRDownlinkKbps: r.GBRDownlinkKbps, Sessions: r.Sessions}.String()
}

// heldWindow writes when an admission holds its capacity.
func heldWindow(a *v1alpha1.AdmissionStatus, loc *time.Location) string {
	switch {
	case a.From == nil:
		return "while the slice exists"
	case a.Until == nil:
		return "from " + longMoment(a.From.Time, loc) + " on"
	}
	return longWindow(a.From.Time, a.Until.Time, loc)
}

func reportDryRun(env Env, s *v1alpha1.MedicalSlice, demand *admission.Resources, how string) error {
	if env.Output != FormatTable {
		return printObject(env.Out, env.Output, s)
	}
	sc := s.Spec.Schedule
	fmt.Fprintf(env.Out, "Dry run: slice %s is valid (%s); nothing was created.\n", s.Name, how)
	fmt.Fprintf(env.Out, "Window: %s%s\n", longWindow(sc.Start.Time, sc.End.Time, env.Location), leadNote(sc, env.Location))
	if demand != nil {
		fmt.Fprintf(env.Out, "Asks core %s for: %s\n", s.Spec.CoreRef, *demand)
	}
	return nil
}

// leadNote says when provisioning starts, when it is before start.
func leadNote(sc *v1alpha1.Schedule, loc *time.Location) string {
	if sc.LeadTime == nil || sc.LeadTime.Duration == 0 {
		return ""
	}
	return fmt.Sprintf(", provisioned from %s (lead time %s)", provisionFrom(sc).In(loc).Format(clockLayout), FormatDuration(sc.LeadTime.Duration))
}

// fitsAtAll refuses a demand larger than the core's whole capacity in some
// dimension: such a booking could never be admitted.
func fitsAtAll(d admission.Resources, core *v1alpha1.CoreNetwork) error {
	c := core.Spec.Capacity
	switch {
	case c.GBRUplinkKbps > 0 && d.GBRUplinkKbps > c.GBRUplinkKbps:
		return fmt.Errorf("this booking needs uplink GBR %s, more than core %s can ever hold (%s): fewer devices or another core", rate(d.GBRUplinkKbps), core.Name, rate(c.GBRUplinkKbps))
	case c.GBRDownlinkKbps > 0 && d.GBRDownlinkKbps > c.GBRDownlinkKbps:
		return fmt.Errorf("this booking needs downlink GBR %s, more than core %s can ever hold (%s): fewer devices or another core", rate(d.GBRDownlinkKbps), core.Name, rate(c.GBRDownlinkKbps))
	case c.MaxSessions > 0 && d.Sessions > int64(c.MaxSessions):
		return fmt.Errorf("this booking needs %d sessions (one per device), more than core %s can ever hold (%d): fewer devices or another core", d.Sessions, core.Name, c.MaxSessions)
	}
	return nil
}

// lookupProfile reads a SliceProfile. Not found is an error naming the
// profiles there are; not being allowed to read it is not (nil, nil).
func lookupProfile(ctx context.Context, env Env, name string) (*v1alpha1.SliceProfile, error) {
	var p v1alpha1.SliceProfile
	err := env.Client.Get(ctx, types.NamespacedName{Name: name}, &p)
	switch {
	case err == nil:
		return &p, nil
	case apierrors.IsForbidden(err):
		return nil, nil
	case !apierrors.IsNotFound(err):
		return nil, apiError(err, fmt.Sprintf("read profile %q", name))
	}
	var list v1alpha1.SliceProfileList
	if env.Client.List(ctx, &list) != nil {
		return nil, fmt.Errorf("unknown profile %q", name)
	}
	names := make([]string, len(list.Items))
	for i := range list.Items {
		names[i] = list.Items[i].Name
	}
	return nil, unknown("profile", name, names)
}

// lookupCore reads a CoreNetwork as lookupProfile reads a profile.
func lookupCore(ctx context.Context, env Env, name string) (*v1alpha1.CoreNetwork, error) {
	var c v1alpha1.CoreNetwork
	err := env.Client.Get(ctx, types.NamespacedName{Name: name}, &c)
	switch {
	case err == nil:
		return &c, nil
	case apierrors.IsForbidden(err):
		return nil, nil
	case !apierrors.IsNotFound(err):
		return nil, apiError(err, fmt.Sprintf("read core %q", name))
	}
	var list v1alpha1.CoreNetworkList
	if env.Client.List(ctx, &list) != nil {
		return nil, fmt.Errorf("unknown core %q", name)
	}
	names := make([]string, len(list.Items))
	for i := range list.Items {
		names[i] = list.Items[i].Name
	}
	return nil, unknown("core", name, names)
}

func unknown(what, name string, known []string) error {
	switch {
	case len(known) == 0:
		return fmt.Errorf("unknown %s %q: there are none yet; ask the network engineers", what, name)
	case closest(name, known) != "":
		return fmt.Errorf("unknown %s %q: did you mean %s?", what, name, closest(name, known))
	}
	slices.Sort(known)
	return fmt.Errorf("unknown %s %q: want one of %s", what, name, strings.Join(known, ", "))
}

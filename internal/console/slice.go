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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/plan"
	"github.com/medslice/medslice/internal/plugin"
)

// Fields of the extend and cancel forms.
const (
	fieldBy      = "by"
	fieldUntil   = "until"
	fieldUID     = "uid"
	fieldRelease = "release"
)

// sliceView is one slice's page: everything the board shows and more,
// with the extend form and the way to cancel.
type sliceView struct {
	Row        sliceRow
	UID        string
	Scheduled  bool
	Start, End string
	LeadTime   string
	Ended      bool
	Deleting   bool
	Devices    []string
	Servers    string
	Ports      string
	Protocol   string
	Sessions   int
	Conditions []conditionRow
	SLA        *slaView
	Reserved   string
	Held       string
	// By and Until are the extend form's fields.
	By, Until  formField
	ExtendNote string
	// Reports are the slice's SLA reports, on its page only.
	Reports *reportsView
}

type conditionRow struct{ Type, Status, Reason, Message, Since string }

type slaView struct {
	RTTP50, RTTP99, JitterP99, Loss, Compliance string
	Windows, GoodWindows                        int32
	LastViolation                               string
	Network                                     string
	Evaluated                                   string
}

// readSlice reads a slice as the user. A refusal or an absence becomes a
// page saying so, and false.
func (s *Server) readSlice(ctx context.Context, w http.ResponseWriter, r *http.Request, sess *session) (*v1alpha1.MedicalSlice, bool) {
	_, c := sess.identity()
	ns, name := r.PathValue("ns"), r.PathValue("name")
	var sl v1alpha1.MedicalSlice
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sl)
	switch {
	case err == nil:
		return &sl, true
	case apierrors.IsNotFound(err):
		s.renderError(w, r, sess, http.StatusNotFound, "Not found", fmt.Sprintf("There is no slice %s in namespace %s (any more).", name, ns))
	case apierrors.IsForbidden(err):
		s.renderError(w, r, sess, http.StatusForbidden, "Not allowed", fmt.Sprintf("You may not see slices in namespace %s.", ns))
	default:
		s.renderError(w, r, sess, http.StatusBadGateway, "Kubernetes error", "The slice could not be read: "+err.Error())
	}
	return nil, false
}

func (s *Server) slicePage(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	sl, ok := s.readSlice(ctx, w, r, sess)
	if !ok {
		return
	}
	v := s.sliceView(sl, nil, "", "")
	reports := s.sliceReports(ctx, sess, sl)
	v.Reports = &reports
	s.render(w, r, sess, http.StatusOK, "slice", sl.Name, v)
}

func (s *Server) sliceView(sl *v1alpha1.MedicalSlice, errs FieldErrors, by, until string) sliceView {
	now := s.now()
	v := sliceView{
		Row:      s.row(sl, now),
		UID:      string(sl.UID),
		Deleting: !sl.DeletionTimestamp.IsZero(),
		Servers:  strings.Join(sl.Spec.Application.Servers, ", "),
		Ports:    strings.Join(sl.Spec.Application.Ports, ", "),
		Protocol: string(sl.Spec.Application.Protocol),
		Sessions: len(sl.Status.Sessions),
	}
	if v.Ports == "" {
		v.Ports = "any"
	}
	if v.Protocol == "" {
		v.Protocol = string(v1alpha1.ProtocolUDP)
	}
	for _, d := range sl.Spec.Devices {
		addrs := slices.DeleteFunc([]string{d.IPv4, d.IPv6}, func(a string) bool { return a == "" })
		v.Devices = append(v.Devices, d.Name+" = "+strings.Join(addrs, ", "))
	}
	if sc := sl.Spec.Schedule; sc != nil {
		v.Scheduled = true
		v.Start, v.End = moment(sc.Start.Time, now, s.loc), moment(sc.End.Time, now, s.loc)
		v.Ended = !now.Before(sc.End.Time)
		if sc.LeadTime != nil {
			v.LeadTime = plugin.FormatDuration(sc.LeadTime.Duration)
		}
	}
	for _, c := range sl.Status.Conditions {
		v.Conditions = append(v.Conditions, conditionRow{
			Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message,
			Since: moment(c.LastTransitionTime.Time, now, s.loc),
		})
	}
	if sla := sl.Status.SLA; sla != nil {
		sv := &slaView{
			RTTP50: latency(sla.RTTP50), RTTP99: latency(sla.RTTP99), JitterP99: latency(sla.JitterP99),
			Loss: lossPercent(sla.LossRatio), Compliance: sla.Compliance,
			Windows: sla.Windows, GoodWindows: sla.GoodWindows, Network: sla.Network,
		}
		if lv := sla.LastViolation; lv != nil {
			sv.LastViolation = fmt.Sprintf("%s: observed %s, target %s, %s from %s", lv.Metric, lv.Observed, lv.Target, plural(int64(lv.Windows), "window", "windows"), moment(lv.Start.Time, now, s.loc))
			if lv.End == nil {
				sv.LastViolation += ", ongoing"
			}
		}
		if sla.LastEvaluated != nil {
			sv.Evaluated = sla.LastEvaluated.In(s.loc).Format("15:04:05")
		}
		v.SLA = sv
	}
	if a := sl.Status.Admission; a != nil && a.Decision == v1alpha1.AdmissionAdmitted {
		v.Reserved = reservationText(a.Reserved)
		switch {
		case a.From != nil && a.Until != nil:
			v.Held = window(a.From.Time, a.Until.Time, now, s.loc)
		case a.From != nil:
			v.Held = "from " + moment(a.From.Time, now, s.loc) + " on"
		default:
			v.Held = "while the slice exists"
		}
	}
	v.By = formField{Name: fieldBy, Label: "Extend by", Type: "text", Value: by, Hint: "A duration such as 30m or 1h.", Error: errs[fieldBy]}
	v.Until = formField{Name: fieldUntil, Label: "or until", Type: "datetime-local", Value: until, Hint: "A new end, local time.", Error: errs[fieldUntil]}
	v.ExtendNote = errs[fieldForm]
	return v
}

func reservationText(r v1alpha1.Reservation) string {
	var parts []string
	if r.GBRUplinkKbps > 0 {
		parts = append(parts, "uplink GBR "+rate(r.GBRUplinkKbps))
	}
	if r.GBRDownlinkKbps > 0 {
		parts = append(parts, "downlink GBR "+rate(r.GBRDownlinkKbps))
	}
	parts = append(parts, plural(r.Sessions, "session", "sessions"))
	return strings.Join(parts, ", ")
}

// extend moves the slice's end later: to a new end, or by a duration. The
// update carries the resourceVersion it read and is retried on a
// conflict with the same new end, so it never extends twice; it applies
// only to the slice the user saw (its UID).
func (s *Server) extend(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	sl, ok := s.readSlice(ctx, w, r, sess)
	if !ok {
		return
	}
	u, c := sess.identity()
	by, until := strings.TrimSpace(r.PostForm.Get(fieldBy)), strings.TrimSpace(r.PostForm.Get(fieldUntil))
	fail := func(status int, errs FieldErrors) {
		s.render(w, r, sess, status, "slice", sl.Name, s.sliceView(sl, errs, by, until))
	}
	if r.PostForm.Get(fieldUID) != string(sl.UID) {
		fail(http.StatusConflict, FieldErrors{fieldForm: "This slice was deleted and booked again since the page was loaded: look at it again before extending it."})
		return
	}
	now := s.now()
	newEnd, errs := parseExtension(sl, by, until, s.profileFor(ctx, c, sl), now, s.loc)
	if errs != nil {
		fail(http.StatusUnprocessableEntity, errs)
		return
	}
	oldEnd := sl.Spec.Schedule.End.Time
	already := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur v1alpha1.MedicalSlice
		if err := c.Get(ctx, client.ObjectKeyFromObject(sl), &cur); err != nil {
			return err
		}
		if cur.UID != sl.UID || cur.Spec.Schedule == nil {
			return errChanged
		}
		if !cur.Spec.Schedule.End.Time.Before(newEnd) {
			already = true
			return nil
		}
		cur.Spec.Schedule.End = metav1.NewTime(newEnd)
		return c.Update(ctx, &cur)
	})
	switch {
	case errors.Is(err, errChanged) || apierrors.IsNotFound(err):
		fail(http.StatusConflict, FieldErrors{fieldForm: "This slice was deleted or changed since the page was loaded: look at it again before extending it."})
		return
	case apierrors.IsForbidden(err):
		fail(http.StatusForbidden, FieldErrors{fieldForm: fmt.Sprintf("You may not change slices in namespace %s. Kubernetes said: %s", sl.Namespace, statusMessage(err))})
		return
	case err != nil:
		fail(statusOf(err), FieldErrors{fieldForm: "Kubernetes refused the extension: " + refusal(err)})
		return
	}
	if already {
		sess.setFlash(fmt.Sprintf("%s already ends at %s; nothing changed.", sl.Name, moment(newEnd, now, s.loc)))
	} else {
		s.log.Info("extended", "user", u.Name, "namespace", sl.Namespace, "name", sl.Name, "from", oldEnd, "to", newEnd)
		sess.setFlash(fmt.Sprintf("Extended %s: it now ends %s instead of %s. The operator admits the extension like a booking; its decision appears below.",
			sl.Name, moment(newEnd, now, s.loc), moment(oldEnd, now, s.loc)))
	}
	http.Redirect(w, r, sliceURL(sl.Namespace, sl.Name), http.StatusSeeOther)
}

var errChanged = errors.New("slice changed")

// parseExtension reads the extend form: by a duration or until a time,
// one of them, to a later end within the profile's maximum duration.
func parseExtension(sl *v1alpha1.MedicalSlice, by, until string, p *v1alpha1.SliceProfile, now time.Time, loc *time.Location) (time.Time, FieldErrors) {
	errs := FieldErrors{}
	sc := sl.Spec.Schedule
	switch {
	case sc == nil:
		errs.add(fieldForm, "This slice is open-ended (it has no schedule): there is no end to extend.")
		return time.Time{}, errs
	case !now.Before(sc.End.Time):
		errs.add(fieldForm, "This slice ended %s: book a new one instead.", moment(sc.End.Time, now, loc))
		return time.Time{}, errs
	case by == "" && until == "":
		errs.add(fieldBy, "Give how long to extend by, such as 30m, or a new end.")
		return time.Time{}, errs
	case by != "" && until != "":
		errs.add(fieldUntil, "Give a duration or a new end, not both.")
		return time.Time{}, errs
	}
	oldEnd := sc.End.Time
	var newEnd time.Time
	field := fieldBy
	if by != "" {
		d, err := plugin.ParseDuration(by, time.Minute, maxWindow)
		if err != nil {
			errs.add(fieldBy, "%q: %s", by, sentence(err))
			return time.Time{}, errs
		}
		newEnd = oldEnd.Add(d)
	} else {
		field = fieldUntil
		t, err := plugin.ParseTime(until, loc, now)
		if err != nil {
			errs.add(fieldUntil, "%q: %s", until, sentence(err))
			return time.Time{}, errs
		}
		newEnd = t
	}
	newEnd = newEnd.Truncate(time.Second)
	switch d := newEnd.Sub(sc.Start.Time); {
	case !newEnd.After(oldEnd):
		errs.add(field, "The new end %s is not after the current end %s: extending only moves the end later.", moment(newEnd, now, loc), moment(oldEnd, now, loc))
	case d > maxWindow:
		errs.add(field, "The window would last %s; a booking lasts at most a year.", plugin.FormatDuration(d))
	case p != nil && p.Spec.MaxDuration != nil && d > p.Spec.MaxDuration.Duration:
		max := p.Spec.MaxDuration.Duration
		errs.add(field, "Profile %s allows at most %s; the window would last %s. Extend to %s at the latest.", p.Name, plugin.FormatDuration(max), plugin.FormatDuration(d), moment(sc.Start.Add(max), now, loc))
	}
	if len(errs) > 0 {
		return time.Time{}, errs
	}
	return newEnd, nil
}

// profileFor reads the slice's profile as the user; nil when it cannot be
// read, which the callers treat as the safe case.
func (s *Server) profileFor(ctx context.Context, c client.Client, sl *v1alpha1.MedicalSlice) *v1alpha1.SliceProfile {
	var p v1alpha1.SliceProfile
	if err := c.Get(ctx, types.NamespacedName{Name: sl.Spec.Profile}, &p); err != nil {
		return nil
	}
	return &p
}

// activeSurgical tells whether cancelling the slice would tear down a
// running surgery's guarantee before its end: a scheduled slice inside its
// provisioned window (or holding sessions) that has not ended, of a
// profile that may never be pre-empted. An unreadable profile counts as
// surgical: safety first, as the operator does.
func activeSurgical(sl *v1alpha1.MedicalSlice, p *v1alpha1.SliceProfile, now time.Time) bool {
	sc := sl.Spec.Schedule
	if sc == nil || !now.Before(sc.End.Time) {
		return false
	}
	from := sc.Start.Time
	if sc.LeadTime != nil {
		from = from.Add(-sc.LeadTime.Duration)
	}
	holding := len(sl.Status.Sessions) > 0
	if now.Before(from) && !holding {
		return false
	}
	if a := sl.Status.Admission; a != nil && a.Decision != v1alpha1.AdmissionAdmitted && !holding {
		return false // declined or pre-empted: nothing to tear down
	}
	if p == nil || p.Spec.ServiceType == v1alpha1.ServiceTypeURLLC {
		return true
	}
	arp := plan.Resolve(sl, p).QoS.ARP
	return arp == nil || arp.PreemptVuln != v1alpha1.PreemptionPreemptable
}

// cancelView is the confirmation step before a slice is cancelled.
type cancelView struct {
	Row    sliceRow
	UID    string
	Active bool
	// Until is the booked end an active slice would be released before.
	Until string
	Error string
}

func (s *Server) cancelPage(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	sl, ok := s.readSlice(ctx, w, r, sess)
	if !ok {
		return
	}
	_, c := sess.identity()
	s.render(w, r, sess, http.StatusOK, "cancel", "Cancel "+sl.Name, s.cancelView(sl, s.profileFor(ctx, c, sl), ""))
}

func (s *Server) cancelView(sl *v1alpha1.MedicalSlice, p *v1alpha1.SliceProfile, msg string) cancelView {
	now := s.now()
	v := cancelView{Row: s.row(sl, now), UID: string(sl.UID), Active: activeSurgical(sl, p, now), Error: msg}
	if v.Active {
		v.Until = moment(sl.Spec.Schedule.End.Time, now, s.loc)
	}
	return v
}

// cancel deletes the slice. An active surgical slice needs the explicit
// "release now" box, which sets medslice.io/force-release=true first: the
// operator releases such a slice early only when asked so. The delete is
// bound to the UID the user saw.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	sl, ok := s.readSlice(ctx, w, r, sess)
	if !ok {
		return
	}
	u, c := sess.identity()
	p := s.profileFor(ctx, c, sl)
	fail := func(status int, msg string) {
		s.render(w, r, sess, status, "cancel", "Cancel "+sl.Name, s.cancelView(sl, p, msg))
	}
	if r.PostForm.Get(fieldUID) != string(sl.UID) {
		fail(http.StatusConflict, "This slice was deleted and booked again since the page was loaded: look at it again before cancelling it.")
		return
	}
	now := s.now()
	active := activeSurgical(sl, p, now)
	release := r.PostForm.Get(fieldRelease) == "yes"
	if active && !release {
		fail(http.StatusUnprocessableEntity, fmt.Sprintf("%s is guaranteeing a surgery until %s. To tear its guarantee down now, tick “Release now”.", sl.Name, moment(sl.Spec.Schedule.End.Time, now, s.loc)))
		return
	}
	if release && sl.Annotations[v1alpha1.ForceReleaseAnnotation] != "true" {
		patch := client.MergeFrom(sl.DeepCopy())
		if sl.Annotations == nil {
			sl.Annotations = map[string]string{}
		}
		sl.Annotations[v1alpha1.ForceReleaseAnnotation] = "true"
		if err := c.Patch(ctx, sl, patch); err != nil {
			fail(statusOf(err), "The release could not be requested: "+actionError(err, sl.Namespace))
			return
		}
	}
	uid := sl.UID
	if err := c.Delete(ctx, sl, client.Preconditions{UID: &uid}); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			sess.setFlash(fmt.Sprintf("%s was already cancelled.", sl.Name))
			http.Redirect(w, r, "/", http.StatusSeeOther)
		case apierrors.IsConflict(err):
			fail(http.StatusConflict, "This slice was deleted and booked again meanwhile: nothing was cancelled. Look at it again first.")
		default:
			fail(statusOf(err), "The slice could not be cancelled: "+actionError(err, sl.Namespace))
		}
		return
	}
	s.log.Info("cancelled", "user", u.Name, "namespace", sl.Namespace, "name", sl.Name, "forceRelease", release, "active", active)
	switch {
	case active:
		sess.setFlash(fmt.Sprintf("Cancelled %s and asked for its release now: the operator tears its core sessions down before the booked end %s.", sl.Name, moment(sl.Spec.Schedule.End.Time, now, s.loc)))
	default:
		sess.setFlash(fmt.Sprintf("Cancelled %s in %s: the capacity it held is free again.", sl.Name, sl.Namespace))
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// actionError says why the API server refused a change.
func actionError(err error, ns string) string {
	if apierrors.IsForbidden(err) {
		return fmt.Sprintf("you may not change slices in namespace %s. Kubernetes said: %s", ns, statusMessage(err))
	}
	return statusMessage(err)
}

func statusOf(err error) int {
	switch {
	case apierrors.IsForbidden(err):
		return http.StatusForbidden
	case apierrors.IsInvalid(err):
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadGateway
}

// refusal is what the API server said, with every validation cause
// verbatim.
func refusal(err error) string {
	var se apierrors.APIStatus
	if apierrors.IsInvalid(err) && errors.As(err, &se) && se.Status().Details != nil && len(se.Status().Details.Causes) > 0 {
		var parts []string
		for _, c := range se.Status().Details.Causes {
			parts = append(parts, causeText(c))
		}
		return strings.Join(parts, "; ")
	}
	return statusMessage(err)
}

package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// DescribeOptions are describe's arguments.
type DescribeOptions struct {
	Name string
}

// maxEvents is how many of the slice's most recent Events describe shows.
const maxEvents = 10

// Describe writes everything a surgery team asks about one slice: what it
// is for, its window, the admission decision, GO / NO-GO and why, the
// conditions, the measured SLA, the core sessions and recent Events.
func Describe(ctx context.Context, env Env, o DescribeOptions) error {
	s, err := getSlice(ctx, env, o.Name)
	if err != nil {
		return err
	}
	if env.Output != FormatTable {
		return printObject(env.Out, env.Output, s)
	}
	profile, _ := lookupProfile(ctx, env, s.Spec.Profile) // best effort: only adds the service type
	events, evErr := sliceEvents(ctx, env, s)
	return renderDescribe(env.Out, s, profile, events, evErr, env.Now(), env.Location)
}

// sliceEvents lists the Events about s, oldest first, at most maxEvents of
// the most recent. Events written through events.k8s.io/v1 are listed too:
// both APIs serve the same objects, and core/v1 lets the API server select
// them by the object they regard.
func sliceEvents(ctx context.Context, env Env, s *v1alpha1.MedicalSlice) ([]corev1.Event, error) {
	var list corev1.EventList
	err := env.Client.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingFields{
		"involvedObject.kind": "MedicalSlice",
		"involvedObject.name": s.Name,
	})
	if err != nil {
		return nil, err
	}
	var out []corev1.Event
	for _, ev := range list.Items {
		if ev.InvolvedObject.UID != "" && ev.InvolvedObject.UID != s.UID {
			continue // about an earlier slice of the same name
		}
		out = append(out, ev)
	}
	slices.SortStableFunc(out, func(a, b corev1.Event) int { return eventTime(a).Compare(eventTime(b)) })
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out, nil
}

// eventTime is when an Event was last seen, whichever API wrote it.
func eventTime(ev corev1.Event) time.Time {
	t := ev.CreationTimestamp.Time
	for _, c := range []time.Time{ev.FirstTimestamp.Time, ev.LastTimestamp.Time, ev.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if ev.Series != nil && ev.Series.LastObservedTime.After(t) {
		t = ev.Series.LastObservedTime.Time
	}
	return t
}

func age(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t))
}

// renderDescribe writes describe's text.
func renderDescribe(w io.Writer, s *v1alpha1.MedicalSlice, profile *v1alpha1.SliceProfile, events []corev1.Event, eventsErr error, now time.Time, loc *time.Location) error {
	tw := newTable(w)
	field := func(key, value string) { fmt.Fprintf(tw, "%s:\t%s\n", key, value) }
	more := func(value string) { fmt.Fprintf(tw, "\t%s\n", value) }

	field("Name", s.Name)
	field("Namespace", s.Namespace)
	field("Purpose", orDash(s.Spec.Purpose))
	if profile != nil {
		field("Profile", fmt.Sprintf("%s (%s)", s.Spec.Profile, profile.Spec.ServiceType))
	} else {
		field("Profile", s.Spec.Profile)
	}
	field("Core", s.Spec.CoreRef)
	for i, d := range s.Spec.Devices {
		line := d.Name + " " + strings.Join(nonEmpty(d.IPv4, d.IPv6, d.GPSI, d.SUPI), ", ")
		if i == 0 {
			field("Devices", line)
		} else {
			more(line)
		}
	}
	field("Traffic", traffic(s.Spec.Application))
	if sc := s.Spec.Schedule; sc != nil {
		field("Window", longWindow(sc.Start.Time, sc.End.Time, loc)+leadNote(sc, loc))
	} else {
		field("Window", "open-ended (no schedule)")
	}
	if s.DeletionTimestamp != nil {
		field("Deleting", "since "+longMoment(s.DeletionTimestamp.Time, loc)+"; the operator releases its sessions first")
	}

	v := VerdictOf(s)
	field("GO", strings.Join(nonEmpty(v.String(), v.Reason, oneLine(v.Why)), ": "))

	switch a := s.Status.Admission; {
	case a == nil:
		field("Admission", "Pending: the operator has not decided yet")
	case a.Decision == v1alpha1.AdmissionAdmitted:
		field("Admission", fmt.Sprintf("Admitted: %s held %s", reservation(a.Reserved), heldWindow(a, loc)))
		if a.ExtensionDeclined {
			more("the latest extension was declined; the slice keeps the window above")
		}
		if a.Message != "" {
			more(oneLine(a.Message))
		}
	default:
		field("Admission", fmt.Sprintf("%s: %s", a.Decision, oneLine(a.Message)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "Conditions:")
	if len(s.Status.Conditions) == 0 {
		fmt.Fprintln(w, "  <none>")
	} else {
		tw = newTable(w)
		fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tAGE\tMESSAGE")
		for _, c := range s.Status.Conditions {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, orDash(c.Reason), age(c.LastTransitionTime.Time, now), oneLine(c.Message))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "SLA:")
	writeSLA(w, s.Status.SLA, now, loc)

	fmt.Fprintln(w, "Sessions:")
	if len(s.Status.Sessions) == 0 {
		fmt.Fprintln(w, "  <none>")
	} else {
		tw = newTable(w)
		fmt.Fprintln(tw, "  DEVICE\tCORE\tID\tEXPIRES")
		for _, cs := range s.Status.Sessions {
			expires := "-"
			if cs.ExpiresAt != nil {
				expires = moment(cs.ExpiresAt.Time, now, loc)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", cs.Device, cs.Core, cs.ID, expires)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "Events:")
	switch {
	case eventsErr != nil && apierrors.IsForbidden(eventsErr):
		fmt.Fprintln(w, "  <not allowed to list events in this namespace>")
	case eventsErr != nil:
		fmt.Fprintf(w, "  <cannot list events: %s>\n", oneLine(eventsErr.Error()))
	case len(events) == 0:
		fmt.Fprintln(w, "  <none>")
	default:
		tw = newTable(w)
		fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tFROM\tMESSAGE")
		for _, ev := range events {
			from := ev.ReportingController
			if from == "" {
				from = ev.Source.Component
			}
			when := age(eventTime(ev), now)
			if n := eventCount(ev); n > 1 {
				when += fmt.Sprintf(" (x%d)", n)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", ev.Type, ev.Reason, when, orDash(from), oneLine(ev.Message))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func eventCount(ev corev1.Event) int32 {
	if ev.Series != nil && ev.Series.Count > ev.Count {
		return ev.Series.Count
	}
	return ev.Count
}

// writeSLA writes the SLA summary: what the probes measured.
func writeSLA(w io.Writer, sla *v1alpha1.SLAStatus, now time.Time, loc *time.Location) {
	if sla == nil {
		fmt.Fprintln(w, "  <not measured yet>")
		return
	}
	fmt.Fprintf(w, "  RTT p50 %s, p99 %s; jitter p99 %s; loss %s\n", latency(sla.RTTP50), latency(sla.RTTP99), latency(sla.JitterP99), orDash(sla.LossRatio))
	fmt.Fprintf(w, "  compliance %s (%d of %d windows met every target)\n", orDash(sla.Compliance), sla.GoodWindows, sla.Windows)
	if v := sla.LastViolation; v != nil {
		span := moment(v.Start.Time, now, loc) + " until now"
		if v.End != nil {
			span = shortWindow(v.Start.Time, v.End.Time, now, loc)
		}
		fmt.Fprintf(w, "  last violation: %s %s against %s, %s (%d windows)\n", v.Metric, orDash(v.Observed), orDash(v.Target), span, v.Windows)
	} else {
		fmt.Fprintln(w, "  last violation: none")
	}
	if sla.Network != "" {
		fmt.Fprintf(w, "  network: %s\n", oneLine(sla.Network))
	}
	if sla.LastEvaluated != nil {
		fmt.Fprintf(w, "  evaluated %s ago\n", age(sla.LastEvaluated.Time, now))
	}
}

// traffic writes the application flows: "UDP to 10.100.0.5, ports 443".
func traffic(a v1alpha1.Application) string {
	proto := string(a.Protocol)
	if proto == "" {
		proto = string(v1alpha1.ProtocolUDP)
	}
	out := proto + " to " + strings.Join(a.Servers, ", ")
	if len(a.Ports) == 0 {
		return out + ", any port"
	}
	return out + ", ports " + strings.Join(a.Ports, ", ")
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

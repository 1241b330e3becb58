package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
)

// CapacityOptions say which core and which stretch of time to show. A
// zero From is now; a zero To is DefaultCapacityRange after From.
type CapacityOptions struct {
	Core     string
	From, To time.Time
}

// CoreTimeline is what one core holds over a stretch of time: the -o
// yaml|json form of capacity.
type CoreTimeline struct {
	Core     string                `json:"core"`
	Capacity v1alpha1.CoreCapacity `json:"capacity"`
	From     time.Time             `json:"from"`
	To       time.Time             `json:"to"`
	Segments []TimelineSegment     `json:"segments"`
}

// TimelineSegment is a stretch over which the reservation does not change.
type TimelineSegment struct {
	From     time.Time            `json:"from"`
	To       time.Time            `json:"to"`
	Reserved v1alpha1.Reservation `json:"reserved"`
	// Bookings hold the reservation, as namespace/name.
	Bookings []string `json:"bookings,omitempty"`
	// Over names the dimensions reserved beyond the capacity, which only a
	// capacity lowered under running bookings can cause.
	Over []string `json:"over,omitempty"`
}

// Capacity writes, per core, its capacity and what admitted slices reserve
// over [From, To), from their persisted decisions (status.admission). All
// namespaces count; a user who may list only their own is told that the
// picture is partial.
func Capacity(ctx context.Context, env Env, o CapacityOptions) error {
	now := env.Now()
	from, to := o.From, o.To
	if from.IsZero() {
		from = now
	}
	if to.IsZero() {
		to = from.Add(DefaultCapacityRange)
	}
	if !to.After(from) {
		return fmt.Errorf("--to %s is not after --from %s", longMoment(to, env.Location), longMoment(from, env.Location))
	}

	var cores []v1alpha1.CoreNetwork
	if o.Core != "" {
		var c v1alpha1.CoreNetwork
		err := env.Client.Get(ctx, types.NamespacedName{Name: o.Core}, &c)
		if apierrors.IsNotFound(err) {
			_, err = lookupCore(ctx, env, o.Core)
			return err
		}
		if err != nil {
			return apiError(err, fmt.Sprintf("read core %q", o.Core))
		}
		cores = []v1alpha1.CoreNetwork{c}
	} else {
		var list v1alpha1.CoreNetworkList
		if err := env.Client.List(ctx, &list); err != nil {
			return apiError(err, "list cores")
		}
		cores = list.Items
		slices.SortFunc(cores, func(a, b v1alpha1.CoreNetwork) int { return strings.Compare(a.Name, b.Name) })
	}

	var sl v1alpha1.MedicalSliceList
	partial := false
	if err := env.Client.List(ctx, &sl); apierrors.IsForbidden(err) {
		partial = true
		if err := env.Client.List(ctx, &sl, client.InNamespace(env.Namespace)); err != nil {
			return apiError(err, "list slices in namespace "+env.Namespace)
		}
	} else if err != nil {
		return apiError(err, "list slices")
	}

	timelines := make([]CoreTimeline, len(cores))
	for i, c := range cores {
		timelines[i] = Timeline(c, sl.Items, from, to, env.Location)
	}
	if env.Output != FormatTable {
		return printData(env.Out, env.Output, timelines)
	}
	if len(cores) == 0 {
		_, err := fmt.Fprintln(env.Out, "No cores.")
		return err
	}
	if partial {
		fmt.Fprintf(env.Out, "Only slices in namespace %s are visible to you: bookings in other namespaces hold capacity too and are not shown.\n\n", env.Namespace)
	}
	return renderCapacity(env.Out, timelines, now, env.Location)
}

// Timeline is what the admitted slices among items reserve on core over
// [from, to), with times in loc.
func Timeline(core v1alpha1.CoreNetwork, items []v1alpha1.MedicalSlice, from, to time.Time, loc *time.Location) CoreTimeline {
	ct := CoreTimeline{Core: core.Name, Capacity: core.Spec.Capacity, From: from.In(loc), To: to.In(loc), Segments: []TimelineSegment{}}
	for _, seg := range admission.Timeline(admission.CapacityOf(core.Spec.Capacity), Bookings(items, core.Name), from, to) {
		ts := TimelineSegment{
			From: seg.Interval.Start.In(loc),
			To:   seg.Interval.End.In(loc),
			Reserved: v1alpha1.Reservation{
				GBRUplinkKbps:   seg.Reserved.GBRUplinkKbps,
				GBRDownlinkKbps: seg.Reserved.GBRDownlinkKbps,
				Sessions:        seg.Reserved.Sessions,
			},
		}
		for _, k := range seg.Bookings {
			ts.Bookings = append(ts.Bookings, k.String())
		}
		for _, d := range seg.Over {
			ts.Over = append(ts.Over, string(d))
		}
		ct.Segments = append(ct.Segments, ts)
	}
	return ct
}

// renderCapacity writes one block per core: its capacity, then a row per
// segment.
func renderCapacity(w io.Writer, timelines []CoreTimeline, now time.Time, loc *time.Location) error {
	for i, ct := range timelines {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Core %s: %s; %s\n", ct.Core, capacityText(ct.Capacity), longWindow(ct.From, ct.To, loc))
		tw := newTable(w)
		fmt.Fprintln(tw, "FROM–TO\tUL GBR\tDL GBR\tSESSIONS\tBOOKINGS")
		for _, seg := range ct.Segments {
			over := func(d admission.Dimension, cell string) string {
				if slices.Contains(seg.Over, string(d)) {
					return cell + " OVER"
				}
				return cell
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n",
				shortWindow(seg.From, seg.To, now, loc),
				over(admission.GBRUplink, usedOfRate(seg.Reserved.GBRUplinkKbps, ct.Capacity.GBRUplinkKbps)),
				over(admission.GBRDownlink, usedOfRate(seg.Reserved.GBRDownlinkKbps, ct.Capacity.GBRDownlinkKbps)),
				over(admission.Sessions, usedOfCount(seg.Reserved.Sessions, int64(ct.Capacity.MaxSessions))),
				orDash(strings.Join(seg.Bookings, ", ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func capacityText(c v1alpha1.CoreCapacity) string {
	var parts []string
	if c.GBRUplinkKbps > 0 {
		parts = append(parts, "uplink GBR "+rate(c.GBRUplinkKbps))
	}
	if c.GBRDownlinkKbps > 0 {
		parts = append(parts, "downlink GBR "+rate(c.GBRDownlinkKbps))
	}
	if c.MaxSessions > 0 {
		parts = append(parts, plural(int64(c.MaxSessions), "session", "sessions"))
	}
	if len(parts) == 0 {
		return "no capacity limits declared"
	}
	return "capacity " + strings.Join(parts, ", ")
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

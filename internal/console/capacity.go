package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/plugin"
)

// capacityRange is how far the capacity timeline looks ahead.
const capacityRange = 24 * time.Hour

type coresView struct {
	Cores    []coreRow
	Problems []string
}

type coreRow struct{ Name, API, Capacity, URL string }

func (s *Server) capacityIndex(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	_, c := sess.identity()
	var view coresView
	var list v1alpha1.CoreNetworkList
	switch err := c.List(ctx, &list); {
	case apierrors.IsForbidden(err):
		view.Problems = append(view.Problems, "You may not list the 5G cores. Ask your network engineers for read access to CoreNetworks.")
	case err != nil:
		view.Problems = append(view.Problems, "The cores could not be read: "+err.Error())
	}
	for _, cn := range list.Items {
		view.Cores = append(view.Cores, coreRow{Name: cn.Name, API: string(cn.Spec.API), Capacity: capacityText(cn.Spec.Capacity), URL: "/capacity/" + cn.Name})
	}
	s.render(w, r, sess, http.StatusOK, "cores", "Capacity", view)
}

// capacityView is one core's timeline over the next 24 hours: per hour the
// peak reserved against the capacity, and the stretches as they are.
type capacityView struct {
	Core     string
	API      string
	Capacity string
	From, To string
	Hours    []hourRow
	Segments []segmentRow
	// Partial is true when the user sees only some namespaces: bookings
	// elsewhere hold capacity too and are not counted here.
	Partial    bool
	Namespaces string
	Problems   []string
}

type hourRow struct {
	Label            string
	Uplink, Downlink meterView
	Sessions         meterView
	Bookings         int
	Over             bool
}

type segmentRow struct {
	Window                     string
	Uplink, Downlink, Sessions string
	Bookings                   string
	Over                       bool
}

// meterView is one <meter>: a value against a capacity, with its text.
type meterView struct {
	Value, Max, High int64
	Text             string
	Unlimited, Over  bool
}

func (s *Server) capacity(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	_, c := sess.identity()
	name := r.PathValue("core")
	var core v1alpha1.CoreNetwork
	switch err := c.Get(ctx, types.NamespacedName{Name: name}, &core); {
	case apierrors.IsNotFound(err):
		s.renderError(w, r, sess, http.StatusNotFound, "Not found", fmt.Sprintf("There is no 5G core %s.", name))
		return
	case apierrors.IsForbidden(err):
		s.renderError(w, r, sess, http.StatusForbidden, "Not allowed", "You may not read the 5G cores. Ask your network engineers for read access to CoreNetworks.")
		return
	case err != nil:
		s.renderError(w, r, sess, http.StatusBadGateway, "Kubernetes error", "The core could not be read: "+err.Error())
		return
	}
	vis, err := s.visibleSlices(ctx, sess)
	view := capacityView{Core: core.Name, API: string(core.Spec.API), Capacity: capacityText(core.Spec.Capacity), Problems: vis.errs}
	if err != nil {
		view.Problems = append(view.Problems, "The slices could not be read: "+err.Error())
	}
	var items []v1alpha1.MedicalSlice
	var nss []string
	for ns, list := range vis.byNamespace {
		items = append(items, list...)
		nss = append(nss, ns)
	}
	view.Partial = !vis.everywhere
	slices.Sort(nss)
	view.Namespaces = strings.Join(nss, ", ")

	now := s.now()
	from, to := now, now.Add(capacityRange)
	view.From, view.To = moment(from, now, s.loc), moment(to, now, s.loc)
	capy := admission.CapacityOf(core.Spec.Capacity)
	segs := admission.Timeline(capy, plugin.Bookings(items, core.Name), from, to)
	for _, seg := range segs {
		names := make([]string, len(seg.Bookings))
		for i, k := range seg.Bookings {
			names[i] = k.String()
		}
		view.Segments = append(view.Segments, segmentRow{
			Window:   window(seg.Interval.Start, seg.Interval.End, now, s.loc),
			Uplink:   usedOf(seg.Reserved.GBRUplinkKbps, capy.GBRUplinkKbps, rate),
			Downlink: usedOf(seg.Reserved.GBRDownlinkKbps, capy.GBRDownlinkKbps, rate),
			Sessions: usedOf(seg.Reserved.Sessions, capy.MaxSessions, count),
			Bookings: strings.Join(names, ", "),
			Over:     len(seg.Over) > 0,
		})
	}
	view.Hours = hours(segs, capy, from, to, s.loc)
	s.render(w, r, sess, http.StatusOK, "capacity", "Capacity of "+core.Name, view)
}

// hours folds the segments into one row per local hour from from's hour
// on: the peak of each dimension within the hour.
func hours(segs []admission.Segment, c admission.Capacity, from, to time.Time, loc *time.Location) []hourRow {
	f := from.In(loc)
	start := time.Date(f.Year(), f.Month(), f.Day(), f.Hour(), 0, 0, 0, loc)
	var out []hourRow
	for h := start; h.Before(to); h = h.Add(time.Hour) {
		end := h.Add(time.Hour)
		var peak admission.Resources
		held := map[admission.Key]bool{}
		over := false
		for _, seg := range segs {
			if !seg.Interval.Start.Before(end) || !h.Before(seg.Interval.End) {
				continue
			}
			peak.GBRUplinkKbps = max(peak.GBRUplinkKbps, seg.Reserved.GBRUplinkKbps)
			peak.GBRDownlinkKbps = max(peak.GBRDownlinkKbps, seg.Reserved.GBRDownlinkKbps)
			peak.Sessions = max(peak.Sessions, seg.Reserved.Sessions)
			for _, k := range seg.Bookings {
				held[k] = true
			}
			over = over || len(seg.Over) > 0
		}
		out = append(out, hourRow{
			Label:    h.In(loc).Format("Mon 15:04"),
			Uplink:   meter(peak.GBRUplinkKbps, c.GBRUplinkKbps, rate),
			Downlink: meter(peak.GBRDownlinkKbps, c.GBRDownlinkKbps, rate),
			Sessions: meter(peak.Sessions, c.MaxSessions, count),
			Bookings: len(held),
			Over:     over,
		})
	}
	return out
}

func meter(v, capacity int64, unit func(int64) string) meterView {
	m := meterView{Value: v, Max: capacity, High: capacity * 8 / 10, Text: usedOf(v, capacity, unit)}
	if capacity <= 0 {
		m.Unlimited = true
		return m
	}
	if v > capacity {
		m.Over = true
		m.Value = capacity
	}
	return m
}

func count(n int64) string { return strconv.FormatInt(n, 10) }

// usedOf writes "80 of 100 Mbps", both in the capacity's unit, "3 of 10",
// or "80 Mbps (no limit)".
func usedOf(v, capacity int64, unit func(int64) string) string {
	if capacity <= 0 {
		return unit(v) + " (no limit)"
	}
	c := unit(capacity)
	if strings.HasSuffix(c, " Mbps") && !strings.HasSuffix(unit(v), " Mbps") {
		return strconv.FormatFloat(float64(v)/1000, 'f', -1, 64) + " of " + c
	}
	if num, u, ok := strings.Cut(unit(v), " "); ok && strings.HasSuffix(c, " "+u) {
		return num + " of " + c
	}
	return unit(v) + " of " + c
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
	return strings.Join(parts, ", ")
}

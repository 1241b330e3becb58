package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/plugin"
)

// boardView is the operating-room board: per namespace (a room or a
// department), each slice's GO / NO-GO and why.
type boardView struct {
	Groups []namespaceGroup
	// Everywhere is true when the user sees every namespace.
	Everywhere bool
	Go, NoGo   int
	Problems   []string
	User       string
}

type namespaceGroup struct {
	Namespace string
	Slices    []sliceRow
}

// sliceRow is what the board shows of one slice.
type sliceRow struct {
	Namespace, Name string
	Purpose         string
	Profile, Core   string
	Go              bool
	Verdict         string
	// Reason and Why are the Ready condition's reason and message, or why
	// the status is not trusted (plugin.VerdictOf).
	Reason, Why string
	Window      string
	// Lead is when provisioning starts, when a lead time is set.
	Lead      string
	RTTP99    string
	Loss      string
	Admission string
	// AdmissionMessage is the operator's explanation of the decision.
	AdmissionMessage string
	URL, CancelURL   string
}

func (s *Server) board(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	u, _ := sess.identity()
	view := boardView{User: u.Name}
	vis, err := s.visibleSlices(ctx, sess)
	if err != nil {
		s.log.Error(err, "board", "user", u.Name)
		view.Problems = append(view.Problems, "The slices could not be read: "+err.Error())
	}
	view.Everywhere = vis.everywhere
	view.Problems = append(view.Problems, vis.errs...)
	now := s.now()
	for ns, items := range vis.byNamespace {
		g := namespaceGroup{Namespace: ns}
		sortSlices(items)
		for i := range items {
			row := s.row(&items[i], now)
			if row.Go {
				view.Go++
			} else {
				view.NoGo++
			}
			g.Slices = append(g.Slices, row)
		}
		view.Groups = append(view.Groups, g)
	}
	slices.SortFunc(view.Groups, func(a, b namespaceGroup) int { return cmp.Compare(a.Namespace, b.Namespace) })
	s.render(w, r, sess, http.StatusOK, "board", "Operating-room board", view)
}

// sortSlices orders a namespace's slices by window start, open-ended ones
// last, then by name.
func sortSlices(items []v1alpha1.MedicalSlice) {
	start := func(s *v1alpha1.MedicalSlice) (time.Time, bool) {
		if s.Spec.Schedule == nil {
			return time.Time{}, false
		}
		return s.Spec.Schedule.Start.Time, true
	}
	slices.SortFunc(items, func(a, b v1alpha1.MedicalSlice) int {
		as, aok := start(&a)
		bs, bok := start(&b)
		switch {
		case aok && !bok:
			return -1
		case !aok && bok:
			return 1
		case aok && !as.Equal(bs):
			return as.Compare(bs)
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

func (s *Server) row(sl *v1alpha1.MedicalSlice, now time.Time) sliceRow {
	v := plugin.VerdictOf(sl)
	row := sliceRow{
		Namespace: sl.Namespace, Name: sl.Name, Purpose: sl.Spec.Purpose,
		Profile: sl.Spec.Profile, Core: sl.Spec.CoreRef,
		Go: v.Go, Verdict: v.String(), Reason: v.Reason, Why: v.Why,
		Window: "open-ended (no schedule)",
		RTTP99: "–", Loss: "–",
		URL:       sliceURL(sl.Namespace, sl.Name),
		CancelURL: sliceURL(sl.Namespace, sl.Name) + "/cancel",
	}
	if sc := sl.Spec.Schedule; sc != nil {
		row.Window = window(sc.Start.Time, sc.End.Time, now, s.loc)
		if sc.LeadTime != nil && sc.LeadTime.Duration > 0 {
			row.Lead = "provisioned from " + sc.Start.Add(-sc.LeadTime.Duration).In(s.loc).Format(clockLayout) + " (lead time " + plugin.FormatDuration(sc.LeadTime.Duration) + ")"
		}
	}
	if sla := sl.Status.SLA; sla != nil {
		row.RTTP99 = latency(sla.RTTP99)
		row.Loss = lossPercent(sla.LossRatio)
	}
	row.Admission, row.AdmissionMessage = admissionText(sl)
	if !sl.DeletionTimestamp.IsZero() {
		row.Admission, row.AdmissionMessage = "Cancelled", "being released"
	}
	return row
}

// admissionText is the persisted admission decision and its message, or
// Pending while the operator has not decided.
func admissionText(sl *v1alpha1.MedicalSlice) (string, string) {
	a := sl.Status.Admission
	switch {
	case a == nil:
		return "Pending", "waiting for the operator's decision"
	case a.Decision == v1alpha1.AdmissionAdmitted && a.ExtensionDeclined:
		return "Admitted (extension declined)", a.Message
	}
	return string(a.Decision), a.Message
}

// sliceURL is the path of a slice's page, with both parts escaped.
func sliceURL(ns, name string) string {
	return "/slices/" + url.PathEscape(ns) + "/" + url.PathEscape(name)
}

package console

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/evidence"
	"github.com/medslice/medslice/internal/report"
)

// A slice's page lists its SLAReports (DESIGN §7) and offers each as JSON
// (the signed evidence, which `kubectl medslice report verify` checks),
// CSV and PDF. Everything is read as the user: a user who may read the
// slice but not its reports sees why, and the auditor persona, who reads
// reports everywhere, downloads them.

// maxReportRows bounds the reports a slice's page lists, newest first.
const maxReportRows = 50

// reportFormats are the downloads, by the last part of their path.
var reportFormats = map[string]struct {
	contentType string
	write       func(io.Writer, *v1alpha1.SLAReport) error
}{
	"json": {"application/json", report.WriteJSON},
	"csv":  {"text/csv; charset=utf-8", report.WriteCSV},
	"pdf":  {"application/pdf", report.WritePDF},
}

// reportsView is the reports part of a slice's page.
type reportsView struct {
	Rows []reportRow
	// Older counts the reports not listed.
	Older int
	// Note says why nothing can be listed, when so.
	Note string
}

type reportRow struct {
	Name, Period, Compliance string
	JSON, CSV, PDF           string
}

// sliceReports lists the slice's reports from their metadata (a report
// is hundreds of kilobytes; the page refreshes every few seconds), by the
// label the operator puts on them.
func (s *Server) sliceReports(ctx context.Context, sess *session, sl *v1alpha1.MedicalSlice) reportsView {
	_, c := sess.identity()
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SLAReportList"))
	err := c.List(ctx, list, client.InNamespace(sl.Namespace), client.MatchingLabels{evidence.LabelSliceUID: string(sl.UID)})
	switch {
	case apierrors.IsForbidden(err):
		return reportsView{Note: fmt.Sprintf("You may not read the SLA reports in namespace %s.", sl.Namespace)}
	case err != nil:
		return reportsView{Note: "The reports could not be read: " + statusMessage(err)}
	}
	items := list.Items
	slices.SortFunc(items, func(a, b metav1.PartialObjectMetadata) int {
		return strings.Compare(b.Annotations[evidence.AnnotationPeriodStart], a.Annotations[evidence.AnnotationPeriodStart])
	})
	v := reportsView{}
	if len(items) > maxReportRows {
		v.Older, items = len(items)-maxReportRows, items[:maxReportRows]
	}
	now := s.now()
	for _, it := range items {
		row := reportRow{Name: it.Name, Period: "see the report", Compliance: it.Annotations[evidence.AnnotationCompliance]}
		from, err1 := time.Parse(time.RFC3339Nano, it.Annotations[evidence.AnnotationPeriodStart])
		to, err2 := time.Parse(time.RFC3339Nano, it.Annotations[evidence.AnnotationPeriodEnd])
		if err1 == nil && err2 == nil {
			row.Period = window(from, to, now, s.loc)
		}
		if row.Compliance == "" {
			row.Compliance = "no windows"
		}
		base := reportURL(sl.Namespace, sl.Name, it.Name)
		row.JSON, row.CSV, row.PDF = base+"/json", base+"/csv", base+"/pdf"
		v.Rows = append(v.Rows, row)
	}
	return v
}

// reportURL is the path of a report's downloads, without the format.
func reportURL(ns, slice, name string) string {
	return sliceURL(ns, slice) + "/reports/" + url.PathEscape(name)
}

// downloadReport sends one of the slice's reports as a file. The slice
// must be readable by the user (its page is how the report is reached)
// and the report must be that slice's; both are read as the user.
func (s *Server) downloadReport(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, cancel := apiContext(r)
	defer cancel()
	format, ok := reportFormats[r.PathValue("format")]
	if !ok {
		s.renderError(w, r, sess, http.StatusNotFound, "Not found", "Reports are offered as json, csv or pdf.")
		return
	}
	sl, ok := s.readSlice(ctx, w, r, sess)
	if !ok {
		return
	}
	_, c := sess.identity()
	name := r.PathValue("report")
	var rep v1alpha1.SLAReport
	err := c.Get(ctx, types.NamespacedName{Namespace: sl.Namespace, Name: name}, &rep)
	switch {
	case err == nil && rep.Spec.Slice.UID == string(sl.UID):
	case err == nil, apierrors.IsNotFound(err):
		s.renderError(w, r, sess, http.StatusNotFound, "Not found", fmt.Sprintf("Slice %s has no report %s.", sl.Name, name))
		return
	case apierrors.IsForbidden(err):
		s.renderError(w, r, sess, http.StatusForbidden, "Not allowed", fmt.Sprintf("You may not read the SLA reports in namespace %s.", sl.Namespace))
		return
	default:
		s.renderError(w, r, sess, http.StatusBadGateway, "Kubernetes error", "The report could not be read: "+statusMessage(err))
		return
	}
	var buf bytes.Buffer
	if err := format.write(&buf, &rep); err != nil {
		s.log.Error(err, "writing a report", "report", sl.Namespace+"/"+name, "format", r.PathValue("format"))
		s.renderError(w, r, sess, http.StatusInternalServerError, "Internal error", "The report could not be written in this format.")
		return
	}
	u, _ := sess.identity()
	s.log.Info("report downloaded", "user", u.Name, "report", sl.Namespace+"/"+name, "format", r.PathValue("format"))
	h := w.Header()
	h.Set("Content-Type", format.contentType)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+"."+r.PathValue("format")))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

package report

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/medslice/medslice/api/v1alpha1"
)

// pdfMaxViolations bounds the violations listed in the PDF; the JSON and
// CSV exports have them all.
const pdfMaxViolations = 25

// WritePDF writes a report for people: a header (slice, purpose, profile,
// core, period), targets against measured values, compliance, the
// violations and gaps, an RTT-over-time plot (p50 and p99 per interval
// against the target), and the chain head, key id and signature that
// `kubectl medslice report verify` checks. The PDF is a reading aid; the
// signed evidence is the JSON.
func WritePDF(w io.Writer, r *v1alpha1.SLAReport) error {
	s := &r.Spec
	var sliceSpec v1alpha1.MedicalSliceSpec
	_ = json.Unmarshal([]byte(s.SliceSpec), &sliceSpec) // a malformed copy leaves the header fields empty

	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("") // cp1252 for the core fonts
	pdf.SetMargins(15, 15, 15)
	pdf.SetAutoPageBreak(true, 15)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("medslice SLA report %s/%s, key %s - page %d of {nb}", r.Namespace, r.Name, s.Signature.KeyID, pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 9, tr("SLA report: "+s.Slice.Name), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	kv := func(k, v string) {
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(32, 5.5, tr(k), "", 0, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		pdf.MultiCell(0, 5.5, tr(v), "", "L", false)
	}
	kv("Slice", fmt.Sprintf("%s/%s (uid %s)", r.Namespace, s.Slice.Name, s.Slice.UID))
	kv("Purpose", orNone(sliceSpec.Purpose))
	kv("Profile", orNone(sliceSpec.Profile))
	kv("Core", orNone(sliceSpec.CoreRef))
	kv("Period", fmt.Sprintf("%s to %s (%s)", human(s.Period.Start.Time), human(s.Period.End.Time), s.Period.End.Sub(s.Period.Start.Time)))
	kv("Intervals", fmt.Sprintf("%d of %s (SLA window %s)", len(s.Rollups), s.Interval, orNone(s.Targets.Window)))
	pdf.Ln(3)

	// Targets against measured.
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 7, "Targets and measured values", "", 1, "L", false, 0, "")
	cols := []float64{55, 45, 45, 35}
	row := func(bold bool, fill bool, cells ...string) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("Helvetica", style, 10)
		for i, c := range cells {
			pdf.CellFormat(cols[i], 6.5, tr(c), "1", 0, "L", fill, 0, "")
		}
		pdf.Ln(-1)
	}
	t, m := s.Targets, s.Measured
	pdf.SetFillColor(230, 236, 245)
	row(true, true, "Metric", "Target", "Measured", "Result")
	row(false, false, "RTT p99 (worst interval)", orNone(t.RTTP99), orNone(m.RTTP99), judgeMax(m.RTTP99, t.RTTP99))
	row(false, false, "Jitter p99 (worst interval)", orNone(t.JitterP99), orNone(m.JitterP99), judgeMax(m.JitterP99, t.JitterP99))
	row(false, false, "Loss ratio (period)", orNone(t.LossRatio), orNone(m.LossRatio), judgeFloat(m.LossRatio, t.LossRatio, false))
	row(false, false, "Availability (% windows)", percentOrNone(t.AvailabilityPercent), complianceText(m), judgeAvailability(m.Compliance, t.AvailabilityPercent))
	row(false, false, "RTT p50 / max", "", orNone(m.RTTP50)+" / "+orNone(m.RTTMax), "")
	pdf.Ln(3)

	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 7, tr(fmt.Sprintf("Compliance: %s  (%d of %d windows met every target)", complianceText(m), m.GoodWindows, m.Windows)), "", 1, "L", false, 0, "")
	pdf.Ln(2)

	plotRTT(pdf, tr, s)

	// Violations and gaps.
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 7, tr(fmt.Sprintf("Violations (%d)", len(s.Violations)+int(s.ViolationsOmitted))), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	if len(s.Violations) == 0 {
		pdf.CellFormat(0, 5, "None: every window met every target.", "", 1, "L", false, 0, "")
	}
	for i, v := range s.Violations {
		if i == pdfMaxViolations {
			pdf.CellFormat(0, 5, tr(fmt.Sprintf("... and %d more in the JSON and CSV exports.", len(s.Violations)-i+int(s.ViolationsOmitted))), "", 1, "L", false, 0, "")
			break
		}
		end := "still open at the end of the period"
		if v.End != nil {
			end = human(v.End.Time)
		}
		pdf.MultiCell(0, 5, tr(fmt.Sprintf("%s to %s: %s %s against target %s (%d bad windows)", human(v.Start.Time), end, v.Metric, v.Observed, v.Target, v.Windows)), "", "L", false)
	}
	if s.ViolationsOmitted > 0 && len(s.Violations) <= pdfMaxViolations {
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("%d shorter violations are left out of the report for size.", s.ViolationsOmitted)), "", 1, "L", false, 0, "")
	}
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 7, tr(fmt.Sprintf("Gaps in the evidence (%d)", len(s.Gaps))), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 9)
	if len(s.Gaps) == 0 {
		pdf.CellFormat(0, 5, "None: the whole period was measured.", "", 1, "L", false, 0, "")
	}
	for _, g := range s.Gaps {
		pdf.MultiCell(0, 5, tr(fmt.Sprintf("%s to %s (%s): %s", human(g.Start.Time), human(g.End.Time), g.End.Sub(g.Start.Time), g.Reason)), "", "L", false)
	}
	pdf.Ln(3)

	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 7, "Integrity", "", 1, "L", false, 0, "")
	pdf.SetFont("Courier", "", 8)
	pdf.MultiCell(0, 4.2, tr(fmt.Sprintf("Hash chain (%s) head: %s\nSignature (%s), key id %s:\n%s",
		s.Chain.Algorithm, s.Chain.Head, s.Signature.Algorithm, s.Signature.KeyID, s.Signature.Value)), "", "L", false)
	pdf.SetFont("Helvetica", "", 8)
	pdf.MultiCell(0, 4.2, tr("Verify the JSON export offline with `kubectl medslice report verify <file>` and the operator's public keys. This PDF is a reading aid, not the evidence."), "", "L", false)
	return pdf.Output(w)
}

// plotRTT draws p50 and p99 RTT per interval against the RTT target.
func plotRTT(pdf *fpdf.Fpdf, tr func(string) string, s *v1alpha1.SLAReportSpec) {
	const x0, w, h = 30.0, 160.0, 65.0
	pdf.SetFont("Helvetica", "B", 12)
	pdf.CellFormat(0, 7, "Round-trip time per interval", "", 1, "L", false, 0, "")
	if pdf.GetY()+h+20 > 280 {
		pdf.AddPage()
	}
	y0 := pdf.GetY() + 3
	target := parseDuration(s.Targets.RTTP99)
	top := target + target/2
	for _, r := range s.Rollups {
		top = max(top, parseDuration(r.RTTP99)+parseDuration(r.RTTP99)/10)
	}
	if top <= 0 {
		top = 10 * time.Millisecond
	}
	start, end := s.Period.Start.Time, s.Period.End.Time
	span := max(end.Sub(start), time.Nanosecond)
	xOf := func(t time.Time) float64 { return x0 + w*float64(t.Sub(start))/float64(span) }
	yOf := func(d time.Duration) float64 { return y0 + h - h*float64(min(d, top))/float64(top) }

	// Gaps as grey bands, bad intervals as light red ones.
	pdf.SetFillColor(225, 225, 225)
	for _, g := range s.Gaps {
		pdf.Rect(xOf(g.Start.Time), y0, max(xOf(g.End.Time)-xOf(g.Start.Time), 0.3), h, "F")
	}
	pdf.SetFillColor(250, 215, 215)
	for _, r := range s.Rollups {
		if !r.Met {
			pdf.Rect(xOf(r.Start.Time), y0, max(xOf(r.End.Time)-xOf(r.Start.Time), 0.3), h, "F")
		}
	}
	// Axes and grid.
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetLineWidth(0.2)
	pdf.Rect(x0, y0, w, h, "D")
	pdf.SetFont("Helvetica", "", 7)
	pdf.SetDrawColor(210, 210, 210)
	for i := 0; i <= 5; i++ {
		d := top * time.Duration(i) / 5
		y := yOf(d)
		if i > 0 && i < 5 {
			pdf.Line(x0, y, x0+w, y)
		}
		pdf.Text(x0-14, y+1, fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)))
	}
	for i := 0; i <= 4; i++ {
		t := start.Add(span * time.Duration(i) / 4)
		pdf.Text(xOf(t)-9, y0+h+4, t.UTC().Format("01-02 15:04:05"))
	}
	pdf.Text(x0+w/2-8, y0+h+8, "time (UTC)")

	series := func(val func(v1alpha1.SLAReportRollup) time.Duration, r, g, b int) {
		pdf.SetDrawColor(r, g, b)
		pdf.SetLineWidth(0.35)
		havePrev := false
		var px, py float64
		var prevEnd time.Time
		for _, ro := range s.Rollups {
			if ro.Received == 0 || ro.Start.Sub(prevEnd) > parseDuration(s.Interval) { // nothing measured: break the line
				havePrev = false
			}
			prevEnd = ro.End.Time
			if ro.Received == 0 {
				continue
			}
			x := xOf(ro.Start.Time.Add(ro.End.Sub(ro.Start.Time) / 2))
			y := yOf(val(ro))
			if havePrev {
				pdf.Line(px, py, x, y)
			} else {
				pdf.Line(x-0.2, y, x+0.2, y)
			}
			px, py, havePrev = x, y, true
		}
	}
	series(func(r v1alpha1.SLAReportRollup) time.Duration { return parseDuration(r.RTTP50) }, 40, 90, 200)
	series(func(r v1alpha1.SLAReportRollup) time.Duration { return parseDuration(r.RTTP99) }, 230, 120, 20)
	if target > 0 {
		pdf.SetDrawColor(200, 0, 0)
		pdf.SetLineWidth(0.4)
		pdf.SetDashPattern([]float64{2, 1.5}, 0)
		pdf.Line(x0, yOf(target), x0+w, yOf(target))
		pdf.SetDashPattern(nil, 0)
	}
	// Legend.
	ly := y0 + h + 12
	legend := func(x float64, r, g, b int, label string) {
		pdf.SetDrawColor(r, g, b)
		pdf.SetLineWidth(0.6)
		pdf.Line(x, ly-1, x+8, ly-1)
		pdf.SetFont("Helvetica", "", 8)
		pdf.Text(x+10, ly, tr(label))
	}
	legend(x0, 40, 90, 200, "RTT p50")
	legend(x0+35, 230, 120, 20, "RTT p99")
	legend(x0+70, 200, 0, 0, "target "+orNone(s.Targets.RTTP99))
	pdf.SetFont("Helvetica", "", 8)
	pdf.Text(x0+115, ly, "red: missed, grey: gap")
	pdf.SetDrawColor(0, 0, 0)
	pdf.SetLineWidth(0.2)
	pdf.SetY(ly + 5)
}

func human(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000 UTC") }

func complianceText(m v1alpha1.SLAReportMeasured) string {
	if m.Compliance == "" {
		return "none"
	}
	var c float64
	if _, err := fmt.Sscanf(m.Compliance, "%g", &c); err != nil {
		return m.Compliance
	}
	return fmt.Sprintf("%.4f %%", c*100)
}

func percentOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s + " %"
}

func judgeMax(measured, target string) string {
	if target == "" {
		return "no target"
	}
	if measured == "" {
		return "NOT MEASURED"
	}
	if parseDuration(measured) <= parseDuration(target) {
		return "met"
	}
	return "MISSED"
}

func judgeFloat(measured, target string, atLeast bool) string {
	if target == "" {
		return "no target"
	}
	var mv, tv float64
	if _, err := fmt.Sscanf(measured, "%g", &mv); err != nil {
		return "NOT MEASURED"
	}
	if _, err := fmt.Sscanf(target, "%g", &tv); err != nil {
		return "?"
	}
	if (atLeast && mv >= tv) || (!atLeast && mv <= tv) {
		return "met"
	}
	return "MISSED"
}

func judgeAvailability(compliance, targetPercent string) string {
	if targetPercent == "" {
		return "no target"
	}
	var c float64
	if _, err := fmt.Sscanf(compliance, "%g", &c); err != nil {
		return "NOT MEASURED"
	}
	return judgeFloat(fmt.Sprintf("%g", c*100), targetPercent, true)
}

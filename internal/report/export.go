package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
)

// WriteJSON writes the report as an indented SLAReport object (apiVersion,
// kind, name, namespace, uid, creation time and spec): what ReadJSON and
// `kubectl apply` read back. Server-managed metadata is left out.
func WriteJSON(w io.Writer, r *v1alpha1.SLAReport) error {
	out := v1alpha1.SLAReport{Spec: r.Spec}
	out.APIVersion, out.Kind = v1alpha1.GroupVersion.String(), "SLAReport"
	out.Name, out.Namespace, out.UID, out.CreationTimestamp = r.Name, r.Namespace, r.UID, r.CreationTimestamp
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}

// ReadJSON reads an SLAReport written by WriteJSON or `kubectl get -o json`.
// Unknown fields are refused: what verification does not cover must not
// ride along in evidence.
func ReadJSON(r io.Reader) (*v1alpha1.SLAReport, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out v1alpha1.SLAReport
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("report: reading an SLAReport: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("report: the file holds more than one SLAReport object, or data after it")
	}
	if out.Kind != "" && out.Kind != "SLAReport" {
		return nil, fmt.Errorf("report: the file holds a %s, not an SLAReport", out.Kind)
	}
	if out.Spec.Chain.Head == "" && out.Spec.Signature.Value == "" {
		return nil, errors.New("report: the file holds no sealed report (no chain head, no signature)")
	}
	return &out, nil
}

// csvHeader names the columns of WriteCSV: one row per rollup. Durations
// are in milliseconds with microsecond decimals, for spreadsheets.
var csvHeader = []string{"start", "end", "windows", "good_windows", "sent", "received", "lost",
	"rtt_p50_ms", "rtt_p99_ms", "rtt_max_ms", "jitter_p99_ms", "loss_ratio", "met", "hash"}

// WriteCSV writes the report as CSV: first "#" comment lines with the
// slice, period, targets, summary, violations, gaps, chain head and
// signature (csv readers skip them with Comment '#'), then a header row
// and one row per rollup. Times are RFC 3339 UTC.
func WriteCSV(w io.Writer, r *v1alpha1.SLAReport) error {
	s := &r.Spec
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, "# "+format+"\n", args...) }
	line("medslice SLA report %s/%s", r.Namespace, r.Name)
	line("slice: %s (uid %s)", s.Slice.Name, s.Slice.UID)
	line("period: %s to %s", ts(s.Period.Start.Time), ts(s.Period.End.Time))
	line("interval: %s", s.Interval)
	t := s.Targets
	line("targets: rtt_p99=%s jitter_p99=%s loss_ratio=%s availability_percent=%s window=%s",
		orNone(t.RTTP99), orNone(t.JitterP99), orNone(t.LossRatio), orNone(t.AvailabilityPercent), orNone(t.Window))
	m := s.Measured
	line("measured: rtt_p50=%s rtt_p99=%s rtt_max=%s jitter_p99=%s loss_ratio=%s compliance=%s windows=%d good_windows=%d",
		orNone(m.RTTP50), orNone(m.RTTP99), orNone(m.RTTMax), orNone(m.JitterP99), orNone(m.LossRatio), orNone(m.Compliance), m.Windows, m.GoodWindows)
	for _, v := range s.Violations {
		end := "open"
		if v.End != nil {
			end = ts(v.End.Time)
		}
		line("violation: %s to %s metric=%s observed=%s target=%s windows=%d", ts(v.Start.Time), end, v.Metric, v.Observed, v.Target, v.Windows)
	}
	if s.ViolationsOmitted > 0 {
		line("violations omitted: %d", s.ViolationsOmitted)
	}
	for _, g := range s.Gaps {
		line("gap: %s to %s reason=%s", ts(g.Start.Time), ts(g.End.Time), g.Reason)
	}
	line("chain: %s head=%s", s.Chain.Algorithm, s.Chain.Head)
	line("signature: %s key_id=%s value=%s", s.Signature.Algorithm, s.Signature.KeyID, s.Signature.Value)

	cw := csv.NewWriter(&b)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, ro := range s.Rollups {
		row := []string{ts(ro.Start.Time), ts(ro.End.Time),
			strconv.FormatInt(ro.Windows, 10), strconv.FormatInt(ro.GoodWindows, 10),
			strconv.FormatInt(ro.Sent, 10), strconv.FormatInt(ro.Received, 10), strconv.FormatInt(ro.Lost, 10),
			ms(ro.RTTP50), ms(ro.RTTP99), ms(ro.RTTMax), ms(ro.JitterP99), ro.LossRatio, strconv.FormatBool(ro.Met), ro.Hash}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// ms writes a duration in milliseconds with three decimals.
func ms(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(float64(d.Round(time.Microsecond))/float64(time.Millisecond), 'f', 3, 64)
}

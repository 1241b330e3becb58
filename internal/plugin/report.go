package plugin

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
)

// ReportOptions are report's arguments.
type ReportOptions struct {
	// Slice is the MedicalSlice whose report is exported.
	Slice string
	// Start and End, when set, pick the report of exactly this period (to
	// the second); zero means the latest report.
	Start, End time.Time
	// Format is json, csv or pdf.
	Format Format
	// OutputFile, when set, is written instead of Env.Out.
	OutputFile string
}

// VerifyOptions are report verify's arguments.
type VerifyOptions struct {
	// Target is a file written by report -o json (or kubectl get -o json),
	// or the name of an SLAReport in the namespace.
	Target string
	// PublicKeys is a file holding the public-keys JSON of the signing
	// Secret.
	PublicKeys string
	// KeySecret is the signing Secret to read the public keys from.
	KeySecret types.NamespacedName
}

// exampleKeySecret is the Secret named in messages about --key-secret.
const exampleKeySecret = "medslice-system/medslice-report-key"

func (p *parser) report(args []string, f Format) (*ReportOptions, error) {
	name, err := p.oneName(args)
	if err != nil {
		return nil, err
	}
	o := &ReportOptions{Slice: name, Format: f, OutputFile: p.outputFile}
	latestSet := p.fs != nil && p.fs.Changed("latest")
	switch {
	case latestSet && p.latest && p.period != "":
		return nil, errors.New("give --period or --latest, not both")
	case latestSet && !p.latest && p.period == "":
		return nil, errors.New("--latest=false needs --period START/END: which report, if not the latest?")
	}
	if p.period != "" {
		if o.Start, o.End, err = p.readPeriod(p.period); err != nil {
			return nil, err
		}
	}
	if p.fs != nil && p.fs.Changed("output-file") && p.outputFile == "" {
		return nil, errors.New("--output-file: an empty path; give a FILE, or leave the flag out for standard output")
	}
	return o, nil
}

// readPeriod reads --period START/END.
func (p *parser) readPeriod(v string) (time.Time, time.Time, error) {
	startText, endText, ok := strings.Cut(v, "/")
	if !ok || strings.TrimSpace(startText) == "" || strings.TrimSpace(endText) == "" || strings.Contains(endText, "/") {
		return time.Time{}, time.Time{}, fmt.Errorf("--period %q: want START/END, e.g. 2026-11-22T08:00:00+01:00/2026-11-22T12:00:00+01:00", v)
	}
	start, err := ParseTime(startText, p.defaults.Location, p.defaults.Now)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--period %q: START: %w", v, err)
	}
	end, err := ParseTime(endText, p.defaults.Location, p.defaults.Now)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--period %q: END: %w", v, err)
	}
	if !end.After(start) {
		return time.Time{}, time.Time{}, fmt.Errorf("--period: END %s is not after START %s", longMoment(end, p.defaults.Location), longMoment(start, p.defaults.Location))
	}
	return start, end, nil
}

func (p *parser) verify(args []string) (*VerifyOptions, error) {
	switch len(args) {
	case 0:
		return nil, errors.New("report verify needs a report: kubectl medslice report verify FILE|REPORT --public-keys KEYS")
	case 1:
	default:
		return nil, fmt.Errorf("report verify takes one file or report name, got %d: %s", len(args), quoteAll(args))
	}
	if args[0] == "" {
		return nil, errors.New("report verify: an empty file or report name")
	}
	o := &VerifyOptions{Target: args[0], PublicKeys: p.publicKeys}
	keysSet := p.fs != nil && p.fs.Changed("public-keys")
	secretSet := p.fs != nil && p.fs.Changed("key-secret")
	switch {
	case keysSet && secretSet:
		return nil, errors.New("give --public-keys or --key-secret, not both")
	case !keysSet && !secretSet:
		return nil, errors.New("report verify needs the public keys: --public-keys FILE (offline) or --key-secret NAMESPACE/NAME")
	case keysSet && p.publicKeys == "":
		return nil, errors.New("--public-keys: an empty path; give the FILE of the public keys")
	case secretSet:
		ns, name, ok := strings.Cut(p.keySecret, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("--key-secret %q: want NAMESPACE/NAME, e.g. %s", p.keySecret, exampleKeySecret)
		}
		if err := checkObjectName("namespace", ns, 63); err != nil {
			return nil, fmt.Errorf("--key-secret: %w", err)
		}
		if err := checkObjectName("Secret name", name, 253); err != nil {
			return nil, fmt.Errorf("--key-secret: %w", err)
		}
		o.KeySecret = types.NamespacedName{Namespace: ns, Name: name}
	}
	return o, nil
}

// fromFile says whether Target is a file: one that exists, or a name that
// can only be a path (a slash, or .json at the end). Anything else is the
// name of an SLAReport.
func (o VerifyOptions) fromFile() bool {
	if st, err := os.Stat(o.Target); err == nil && !st.IsDir() {
		return true
	}
	return strings.ContainsAny(o.Target, `/\`) || strings.HasSuffix(strings.ToLower(o.Target), ".json")
}

// Offline says whether the command runs without the API server: report
// verify of a file with --public-keys.
func (inv *Invocation) Offline() bool {
	return inv.Help != "" || inv.Verify != nil && inv.Verify.PublicKeys != "" && inv.Verify.fromFile()
}

// Report writes the report of a slice, the latest or the one of a period,
// as JSON (the signed evidence, which report verify reads), CSV or PDF.
// Reports are found by spec.slice.name in the namespace rather than by
// their medslice.io/slice-uid label, so that the reports of a slice that
// was deleted, or deleted and created again under the same name, are found
// too. A PDF is not written to a terminal.
func Report(ctx context.Context, env Env, o ReportOptions) error {
	if o.Format == FormatPDF && o.OutputFile == "" && env.OutIsTerminal {
		return errors.New("-o pdf is binary and standard output is a terminal: give --output-file FILE, or redirect standard output to a file")
	}
	var list v1alpha1.SLAReportList
	if err := env.Client.List(ctx, &list, client.InNamespace(env.Namespace)); err != nil {
		return apiError(err, fmt.Sprintf("list the SLAReports in namespace %s", env.Namespace))
	}
	var reports []*v1alpha1.SLAReport
	for i := range list.Items {
		if list.Items[i].Spec.Slice.Name == o.Slice {
			reports = append(reports, &list.Items[i])
		}
	}
	if len(reports) == 0 {
		return fmt.Errorf("no SLAReport of slice %q in namespace %s: the operator writes one when a slice's window ends (-n picks another namespace)", o.Slice, env.Namespace)
	}
	// Oldest period end first; the latest is the last.
	slices.SortFunc(reports, func(a, b *v1alpha1.SLAReport) int {
		return cmp.Or(a.Spec.Period.End.Compare(b.Spec.Period.End.Time), a.Spec.Period.Start.Compare(b.Spec.Period.Start.Time), cmp.Compare(a.Name, b.Name))
	})
	r := reports[len(reports)-1]
	if !o.Start.IsZero() {
		i := slices.IndexFunc(reports, func(r *v1alpha1.SLAReport) bool {
			return r.Spec.Period.Start.Truncate(time.Second).Equal(o.Start) && r.Spec.Period.End.Truncate(time.Second).Equal(o.End)
		})
		if i < 0 {
			return fmt.Errorf("slice %q has no report for the period %s in namespace %s; its reports cover %s", o.Slice, periodText(o.Start, o.End), env.Namespace, periodList(reports))
		}
		r = reports[i]
	}

	var b bytes.Buffer
	var err error
	switch o.Format {
	case FormatCSV:
		err = report.WriteCSV(&b, r)
	case FormatPDF:
		err = report.WritePDF(&b, r)
	default:
		err = report.WriteJSON(&b, r)
	}
	if err != nil {
		return fmt.Errorf("writing report %s as %s: %v", r.Name, o.Format, err)
	}
	if o.OutputFile == "" {
		_, err := env.Out.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(o.OutputFile, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("--output-file: %s", oneLine(err.Error()))
	}
	fmt.Fprintf(env.Out, "Wrote report %s of slice %s, period %s, as %s to %s.\n", r.Name, o.Slice, periodText(r.Spec.Period.Start.Time, r.Spec.Period.End.Time), o.Format, o.OutputFile)
	return nil
}

// periodText writes a period as --period takes it, in UTC.
func periodText(start, end time.Time) string {
	return start.UTC().Format(time.RFC3339Nano) + "/" + end.UTC().Format(time.RFC3339Nano)
}

// periodList lists the periods of reports (sorted), at most five of them.
func periodList(reports []*v1alpha1.SLAReport) string {
	const most = 5
	var out []string
	for i, r := range reports {
		if i == most {
			out = append(out, fmt.Sprintf("and %d more", len(reports)-most))
			break
		}
		out = append(out, periodText(r.Spec.Period.Start.Truncate(time.Second), r.Spec.Period.End.Truncate(time.Second)))
	}
	return strings.Join(out, ", ")
}

// VerificationError says that a report does not verify; the problems were
// printed.
type VerificationError struct {
	Report   string
	Problems []report.Problem
}

func (e *VerificationError) Error() string {
	s := "s"
	if len(e.Problems) == 1 {
		s = ""
	}
	return fmt.Sprintf("report %s does not verify: %d problem%s", e.Report, len(e.Problems), s)
}

// Verify checks a report, from a file or from the API server, with the
// public keys of a file or of the signing Secret. It prints one line
// saying what verified, or every problem as "field: message" and returns a
// *VerificationError.
func Verify(ctx context.Context, env Env, o VerifyOptions) error {
	keys, err := verifyKeys(ctx, env, o)
	if err != nil {
		return err
	}
	var r *v1alpha1.SLAReport
	if o.fromFile() {
		f, err := os.Open(o.Target)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("report file %s: no such file", printable(o.Target))
			}
			return fmt.Errorf("report file: %s", oneLine(err.Error()))
		}
		r, err = report.ReadJSON(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("report file %s: %s", printable(o.Target), oneLine(strings.TrimPrefix(err.Error(), "report: ")))
		}
	} else {
		if err := checkObjectName("report name", o.Target, 253); err != nil {
			return fmt.Errorf("report verify %q: no such file, and not a report name", o.Target)
		}
		if env.Client == nil {
			return errors.New("not connected to an API server")
		}
		r = &v1alpha1.SLAReport{}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: o.Target}, r); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("no file %s here, and no SLAReport %s in namespace %s (kubectl get slareports lists them; -n picks another namespace)", o.Target, o.Target, env.Namespace)
			}
			return apiError(err, fmt.Sprintf("read SLAReport %q", o.Target))
		}
	}
	name := r.Name
	if name == "" {
		name = printable(o.Target)
	}
	s := &r.Spec
	what := fmt.Sprintf("report %s for slice %s period %s", name, s.Slice.Name, periodText(s.Period.Start.Time, s.Period.End.Time))
	problems := report.Verify(s, keys)
	if len(problems) == 0 {
		fmt.Fprintf(env.Out, "verified: %s, chain head %s, signed by key %s\n", what, s.Chain.Head, s.Signature.KeyID)
		return nil
	}
	fmt.Fprintf(env.Out, "NOT verified: %s:\n", what)
	for _, p := range problems {
		fmt.Fprintf(env.Out, "  %s\n", oneLine(p.String()))
	}
	return &VerificationError{Report: name, Problems: problems}
}

// verifyKeys reads the key ring of --public-keys or --key-secret.
func verifyKeys(ctx context.Context, env Env, o VerifyOptions) (report.KeyRing, error) {
	var (
		keys report.KeyRing
		err  error
		from string
	)
	if o.PublicKeys != "" {
		from = "--public-keys " + printable(o.PublicKeys)
		data, rerr := os.ReadFile(o.PublicKeys)
		if rerr != nil {
			if errors.Is(rerr, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s: no such file", from)
			}
			return nil, fmt.Errorf("--public-keys: %s", oneLine(rerr.Error()))
		}
		keys, err = report.ParseKeyRing(data)
	} else {
		from = "Secret " + o.KeySecret.String()
		if env.Client == nil {
			return nil, errors.New("not connected to an API server")
		}
		var secret corev1.Secret
		if gerr := env.Client.Get(ctx, o.KeySecret, &secret); gerr != nil {
			if apierrors.IsNotFound(gerr) {
				return nil, fmt.Errorf("--key-secret: Secret %s not found", o.KeySecret)
			}
			return nil, apiError(gerr, "read Secret "+o.KeySecret.String())
		}
		if _, ok := secret.Data[report.SecretKeyPublicKeys]; !ok {
			return nil, fmt.Errorf("%s has no %s: is it the report signing Secret?", from, report.SecretKeyPublicKeys)
		}
		keys, err = report.KeyRingFromSecret(&secret)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s", from, oneLine(strings.TrimPrefix(err.Error(), "report: ")))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: holds no public keys", from)
	}
	return keys, nil
}

package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/evidence"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
)

// The auditor persona (DESIGN §1: a carrier or the quality office) reads
// a slice's SLA reports from its page and downloads each as JSON (which
// verifies), CSV and PDF; a surgery team that may read its slices but not
// their reports is told so and refused the files; a report of another
// slice is not served under this one. All of it as the signed-in user.
func TestSliceReportsDownloadAsTheUser(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	c := env.Client
	sl := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "or-a-reported", Namespace: nsA}}
	sl.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "surgery-urllc", CoreRef: testCore, Purpose: "robotic prostatectomy, reported",
		Devices:     []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.70"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.5"}},
	}
	other := sl.DeepCopy()
	other.Name = "or-a-other"
	for _, s := range []*v1alpha1.MedicalSlice{sl, other} {
		if err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := report.GenerateEd25519Signer(nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	mine := sealedReportOf(t, sl, signer, start)
	theirs := sealedReportOf(t, other, signer, start)
	for _, r := range []*v1alpha1.SLAReport{mine, theirs} {
		if err := c.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := createAuditor(ctx, c, nsB, "auditor"); err != nil {
		t.Fatal(err)
	}
	page := sliceURL(nsA, sl.Name)
	files := reportURL(nsA, sl.Name, mine.Name)

	auditor := f.browser(t)
	auditor.signIn(f.token(t, nsB, "auditor"))
	auditor.wantStatus(auditor.get(page), http.StatusOK, "SLA reports", mine.Name, "0.990000", `href="`+files+`/pdf"`)
	if p := auditor.get(page); strings.Contains(p.body, theirs.Name) {
		t.Errorf("the page of %s lists %s, a report of another slice", sl.Name, theirs.Name)
	}
	ring := report.KeyRing{}
	ring.Add(signer.Public())
	for format, want := range map[string]struct{ contentType, starts string }{
		"json": {"application/json", "{"},
		"csv":  {"text/csv; charset=utf-8", "# medslice SLA report " + nsA + "/" + mine.Name},
		"pdf":  {"application/pdf", "%PDF-"},
	} {
		p, resp := auditor.do("GET", files+"/"+format, nil, true)
		if p.status != http.StatusOK || resp.Header.Get("Content-Type") != want.contentType || !strings.HasPrefix(p.body, want.starts) {
			t.Errorf("%s: status %d, %s, starts %.40q", format, p.status, resp.Header.Get("Content-Type"), p.body)
		}
		if got, wantCD := resp.Header.Get("Content-Disposition"), `attachment; filename="`+mine.Name+`.`+format+`"`; got != wantCD {
			t.Errorf("%s: Content-Disposition %q, want %q", format, got, wantCD)
		}
		if format == "json" {
			r, err := report.ReadJSON(strings.NewReader(p.body))
			if err != nil {
				t.Fatalf("the JSON download does not read back: %v", err)
			}
			if ps := report.Verify(&r.Spec, ring); len(ps) > 0 {
				t.Errorf("the JSON download does not verify: %v", ps)
			}
		}
	}
	auditor.wantStatus(auditor.get(reportURL(nsA, sl.Name, theirs.Name)+"/json"), http.StatusNotFound, "has no report "+theirs.Name)
	auditor.wantStatus(auditor.get(files+"/xml"), http.StatusNotFound, "json, csv or pdf")

	team := f.browser(t)
	team.signIn(f.token(t, nsA, "user-a"))
	team.wantStatus(team.get(page), http.StatusOK, "You may not read the SLA reports in namespace or-a.")
	team.wantStatus(team.get(files+"/json"), http.StatusForbidden, "You may not read the SLA reports in namespace or-a.")

	outsider := f.browser(t)
	outsider.signIn(f.token(t, nsB, "user-b"))
	outsider.wantStatus(outsider.get(files+"/json"), http.StatusForbidden, "You may not see slices in namespace or-a.")
}

// sealedReportOf is a report of 100 one-second windows of s, one bad, as
// the operator writes it: sealed, labelled with the slice's UID and
// annotated with its period and compliance.
func sealedReportOf(t *testing.T, s *v1alpha1.MedicalSlice, signer report.Signer, start time.Time) *v1alpha1.SLAReport {
	t.Helper()
	tg := sla.Targets{RTTP99: 20 * time.Millisecond, LossRatio: -1, AvailabilityPercent: -1, Window: time.Second, VerificationPeriod: 30 * time.Second}
	var ws []sla.WindowRollup
	for i := range 100 {
		at := start.Add(time.Duration(i) * time.Second)
		ws = append(ws, sla.WindowRollup{Start: at, End: at.Add(time.Second), Sent: 10, Received: 10,
			RTTP50: 3 * time.Millisecond, RTTP99: 4 * time.Millisecond, RTTMax: 5 * time.Millisecond, Met: i != 42})
	}
	end := start.Add(100 * time.Second)
	spec, err := report.Build(s, ws, nil, tg, report.Period{Start: start, End: end}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Seal(spec, signer); err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.SLAReport{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace, Name: evidence.ReportName(s.Name, start),
			Labels: map[string]string{evidence.LabelSliceUID: string(s.UID)},
			Annotations: map[string]string{
				evidence.AnnotationPeriodStart: start.UTC().Format(time.RFC3339Nano), evidence.AnnotationPeriodEnd: end.UTC().Format(time.RFC3339Nano),
				evidence.AnnotationCompliance: spec.Measured.Compliance,
			},
		},
		Spec: *spec,
	}
}

// createAuditor creates a service account with the chart's auditor
// persona: read slices, profiles, cores and reports everywhere.
func createAuditor(ctx context.Context, c client.Client, ns, name string) error {
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "test-auditor"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"medslice.io"},
				Resources: []string{"medicalslices", "medicalslices/status", "sliceprofiles", "corenetworks", "slareports"},
				Verbs:     []string{"get", "list", "watch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "test-auditor-" + ns + "-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "test-auditor"},
			Subjects:   []rbacv1.Subject{subject},
		},
	} {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	return nil
}

package plugin

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
)

// reportT0 is the start of the tests' report periods.
var reportT0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

// testReportSigner is an in-memory Ed25519 key, the same in every run.
func testReportSigner(t *testing.T, b byte) *report.Ed25519Signer {
	t.Helper()
	s, err := report.NewEd25519Signer(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sealedReport is a sealed report of slice over n one-second windows from
// start, built and signed with internal/report; window 3 misses the RTT
// target.
func sealedReport(t *testing.T, signer report.Signer, namespace, name, slice string, start time.Time, n int) *v1alpha1.SLAReport {
	t.Helper()
	ms := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: slice, Namespace: namespace, UID: "5b0d8a9e-3c1f-4f7a-8e52-1d2c3b4a5f60"},
		Spec: v1alpha1.MedicalSliceSpec{Profile: "surgery-urllc", CoreRef: "campus-core", Purpose: "robotic prostatectomy, OR-3",
			Devices:     []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}},
			Application: v1alpha1.Application{Servers: []string{"10.100.0.5"}, Protocol: v1alpha1.ProtocolUDP}}}
	rs := make([]sla.WindowRollup, n)
	for i := range rs {
		rtt := time.Duration(8000+i*100) * time.Microsecond
		rs[i] = sla.WindowRollup{Start: start.Add(time.Duration(i) * time.Second), End: start.Add(time.Duration(i+1) * time.Second),
			Sent: 10, Received: 10, RTTP50: rtt, RTTP99: rtt + 2*time.Millisecond, RTTMax: rtt + 3*time.Millisecond,
			JitterP99: 700 * time.Microsecond, Met: true}
	}
	var vs []sla.Violation
	if n > 3 {
		rs[3].RTTP99, rs[3].RTTMax, rs[3].Met = 31200*time.Microsecond, 35*time.Millisecond, false
		vs = []sla.Violation{{Start: rs[3].Start, End: rs[3].End, Metric: sla.MetricRTTP99, Observed: "31.2ms", Target: "20ms", Windows: 1}}
	}
	targets := sla.Targets{RTTP99: 20 * time.Millisecond, JitterP99: 5 * time.Millisecond, LossRatio: 0.001, AvailabilityPercent: 99.9, Window: time.Second, VerificationPeriod: 30 * time.Second}
	spec, err := report.Build(ms, rs, vs, targets, report.Period{Start: start, End: start.Add(time.Duration(n) * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Seal(spec, signer); err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.SLAReport{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: *spec}
}

// writeReportFiles writes r as report -o json does and the public keys of
// signers as the signing Secret holds them, and returns both paths.
func writeReportFiles(t *testing.T, r *v1alpha1.SLAReport, signers ...report.Signer) (string, string) {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, r.Name+".json")
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ring := report.KeyRing{}
	for _, s := range signers {
		ring.Add(s.Public())
	}
	keys, err := json.Marshal(ring)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "public-keys.json")
	if err := os.WriteFile(keyFile, keys, 0o644); err != nil {
		t.Fatal(err)
	}
	return file, keyFile
}

// runOffline parses a command line and runs it as the plugin does when it
// needs no API server: no client at all.
func runOffline(t *testing.T, args ...string) (string, error) {
	t.Helper()
	inv := mustParse(t, args...)
	if !inv.Offline() {
		t.Fatalf("%q would connect to the API server", args)
	}
	var out bytes.Buffer
	err := inv.Run(context.Background(), Env{Out: &out, Now: func() time.Time { return testNow }, Location: berlin})
	return out.String(), err
}

// TestVerifyFileOffline protects report verify's promise: a sealed report
// written to a file verifies offline with the public keys, and one byte
// changed in the file makes it fail, naming what failed.
func TestVerifyFileOffline(t *testing.T) {
	signer := testReportSigner(t, 7)
	r := sealedReport(t, signer, "or-3", "or3-20260504", "or3", reportT0, 10)
	file, keys := writeReportFiles(t, r, signer)

	out, err := runOffline(t, "report", "verify", file, "--public-keys", keys)
	if err != nil {
		t.Fatalf("verify of the sealed report: %v\n%s", err, out)
	}
	want := "verified: report or3-20260504 for slice or3 period 2026-05-04T08:00:00Z/2026-05-04T08:00:10Z, chain head " +
		r.Spec.Chain.Head + ", signed by key " + signer.KeyID() + "\n"
	if out != want {
		t.Errorf("verify output\n got: %q\nwant: %q", out, want)
	}

	// One byte: rollup 0's received count 10 becomes 11.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte(`"received": 10`))
	if at < 0 {
		t.Fatalf("no received count in %s", data)
	}
	data[at+len(`"received": 1`)] = '1'
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runOffline(t, "report", "verify", file, "--public-keys", keys)
	var verr *VerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("verify of the changed file: err %v, want a VerificationError\n%s", err, out)
	}
	if !strings.HasPrefix(out, "NOT verified: report or3-20260504 for slice or3 period 2026-05-04T08:00:00Z/2026-05-04T08:00:10Z:\n") {
		t.Errorf("verify output does not say what was checked:\n%s", out)
	}
	for _, field := range []string{"rollups[0]", "signature"} {
		if !strings.Contains(out, "\n  "+field+": ") {
			t.Errorf("verify output does not name %s:\n%s", field, out)
		}
	}
	if n := strings.Count(out, "\n") - 1; n != len(verr.Problems) {
		t.Errorf("%d problem lines for %d problems:\n%s", n, len(verr.Problems), out)
	}
	t.Logf("the changed file:\n%s", out)
	if want := "report or3-20260504 does not verify: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}

	// The right report, the wrong key.
	other := testReportSigner(t, 8)
	file, keys = writeReportFiles(t, r, other)
	out, err = runOffline(t, "report", "verify", file, "--public-keys", keys)
	if !errors.As(err, &verr) || !strings.Contains(out, "\n  signature.keyID: unknown key id \""+signer.KeyID()+"\"") {
		t.Errorf("verify with another key: err %v\n%s", err, out)
	}
}

// TestVerifyRefusesBadInputFiles protects the one-line errors for files
// that are not what report verify needs.
func TestVerifyRefusesBadInputFiles(t *testing.T) {
	signer := testReportSigner(t, 7)
	r := sealedReport(t, signer, "or-3", "or3-20260504", "or3", reportT0, 5)
	file, keys := writeReportFiles(t, r, signer)
	dir := filepath.Dir(file)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notKeys := write("not-keys.json", `["a"]`)
	emptyKeys := write("empty-keys.json", `{}`)
	slice := write("slice.json", `{"apiVersion":"medslice.io/v1alpha1","kind":"MedicalSlice"}`)
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no report file", []string{"report", "verify", filepath.Join(dir, "missing.json"), "--public-keys", keys}, "report file " + filepath.Join(dir, "missing.json") + ": no such file"},
		{"no keys file", []string{"report", "verify", file, "--public-keys", filepath.Join(dir, "nokeys.json")}, "--public-keys " + filepath.Join(dir, "nokeys.json") + ": no such file"},
		{"keys not a map", []string{"report", "verify", file, "--public-keys", notKeys}, "--public-keys " + notKeys + ": public keys: json: cannot unmarshal array into Go value of type map[string]string"},
		{"no keys", []string{"report", "verify", file, "--public-keys", emptyKeys}, "--public-keys " + emptyKeys + ": holds no public keys"},
		{"not a report", []string{"report", "verify", slice, "--public-keys", keys}, "report file " + slice + ": the file holds a MedicalSlice, not an SLAReport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runOffline(t, tt.args...)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: err %v\nwant %s", tt.args, err, tt.wantErr)
			}
			if out != "" {
				t.Errorf("output %q, want none", out)
			}
		})
	}
}

// TestReportRefusesPDFOnTerminal protects against binary output to a
// terminal: refused before anything is read.
func TestReportRefusesPDFOnTerminal(t *testing.T) {
	inv := mustParse(t, "report", "or3", "-o", "pdf")
	if inv.Offline() {
		t.Fatal("report SLICE counts as offline")
	}
	var out bytes.Buffer
	err := inv.Run(context.Background(), Env{Out: &out, OutIsTerminal: true, Location: berlin})
	want := "-o pdf is binary and standard output is a terminal: give --output-file FILE, or redirect standard output to a file"
	if err == nil || err.Error() != want {
		t.Errorf("err %v, want %s", err, want)
	}
}

// TestReportOnAPIServer protects report and report verify against the real
// API server: the latest report or the one of a period, in each format,
// exactly as internal/report writes it, and verification by report name
// with the keys of the signing Secret.
func TestReportOnAPIServer(t *testing.T) {
	ctx, env, out := testEnv(t, "reports")
	c := env.Client
	signer := testReportSigner(t, 9)
	first := sealedReport(t, signer, "reports", "or3-first", "or3", reportT0, 10)
	second := sealedReport(t, signer, "reports", "or3-second", "or3", reportT0.Add(time.Hour), 10)
	otherSlice := sealedReport(t, signer, "reports", "or4-later", "or4", reportT0.Add(2*time.Hour), 10)
	// Created newest first: the latest is found by period, not by age.
	for _, r := range []*v1alpha1.SLAReport{otherSlice, second, first} {
		if err := c.Create(ctx, r); err != nil {
			t.Fatalf("creating report %s: %v", r.Name, err)
		}
	}
	ring := report.KeyRing{}
	ring.Add(signer.Public())
	pubs, err := json.Marshal(ring)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "reports", Name: "report-key"},
		Data: map[string][]byte{report.SecretKeyPublicKeys: pubs}}); err != nil {
		t.Fatal(err)
	}
	stored := func(name string) *v1alpha1.SLAReport {
		var r v1alpha1.SLAReport
		if err := c.Get(ctx, types.NamespacedName{Namespace: "reports", Name: name}, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	export := func(name string, write func(io.Writer, *v1alpha1.SLAReport) error) string {
		var b bytes.Buffer
		if err := write(&b, stored(name)); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	run := func(args ...string) error {
		t.Helper()
		out.Reset()
		return mustParse(t, args...).Run(ctx, env)
	}

	t.Run("latest as json", func(t *testing.T) {
		if err := run("report", "or3"); err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(export("or3-second", report.WriteJSON), out.String()); diff != "" {
			t.Errorf("report or3 (-want +got):\n%s", diff)
		}
	})
	t.Run("a period as csv", func(t *testing.T) {
		if err := run("report", "or3", "--period", "2026-05-04 10:00/2026-05-04T08:00:10Z", "-o", "csv"); err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(export("or3-first", report.WriteCSV), out.String()); diff != "" {
			t.Errorf("report or3 --period (-want +got):\n%s", diff)
		}
	})
	t.Run("pdf to a pipe", func(t *testing.T) {
		if err := run("report", "or3", "-o", "pdf", "--latest"); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(out.String(), "%PDF-") || !strings.Contains(out.String(), "%%EOF") {
			t.Errorf("report -o pdf wrote %d bytes that are not a PDF: %.40q", out.Len(), out.String())
		}
	})
	t.Run("pdf to a file, on a terminal", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "or3.pdf")
		termEnv := env
		termEnv.OutIsTerminal = true
		out.Reset()
		if err := mustParse(t, "report", "or3", "-o", "pdf", "--output-file", file).Run(ctx, termEnv); err != nil {
			t.Fatal(err)
		}
		want := "Wrote report or3-second of slice or3, period 2026-05-04T09:00:00Z/2026-05-04T09:00:10Z, as pdf to " + file + ".\n"
		if out.String() != want {
			t.Errorf("output %q, want %q", out.String(), want)
		}
		data, err := os.ReadFile(file)
		if err != nil || !bytes.HasPrefix(data, []byte("%PDF-")) {
			t.Errorf("%s: %v, %.20q", file, err, data)
		}
	})
	t.Run("no report for the period", func(t *testing.T) {
		err := run("report", "or3", "--period", "2026-05-04T08:00:00Z/2026-05-04T08:00:11Z")
		want := `slice "or3" has no report for the period 2026-05-04T08:00:00Z/2026-05-04T08:00:11Z in namespace reports; its reports cover 2026-05-04T08:00:00Z/2026-05-04T08:00:10Z, 2026-05-04T09:00:00Z/2026-05-04T09:00:10Z`
		if err == nil || err.Error() != want {
			t.Errorf("err %v\nwant %s", err, want)
		}
	})
	t.Run("no report for the slice", func(t *testing.T) {
		err := run("report", "or5")
		want := `no SLAReport of slice "or5" in namespace reports: the operator writes one when a slice's window ends (-n picks another namespace)`
		if err == nil || err.Error() != want {
			t.Errorf("err %v\nwant %s", err, want)
		}
	})
	t.Run("verify by name with the Secret", func(t *testing.T) {
		inv := mustParse(t, "report", "verify", "or4-later", "--key-secret", "reports/report-key")
		if inv.Offline() {
			t.Fatal("verify of a report name counts as offline")
		}
		out.Reset()
		if err := inv.Run(ctx, env); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := "verified: report or4-later for slice or4 period 2026-05-04T10:00:00Z/2026-05-04T10:00:10Z, chain head " +
			otherSlice.Spec.Chain.Head + ", signed by key " + signer.KeyID() + "\n"
		if out.String() != want {
			t.Errorf("output %q\nwant %q", out.String(), want)
		}
	})
	t.Run("verify the export offline", func(t *testing.T) {
		dir := t.TempDir()
		file, keys := filepath.Join(dir, "or3.json"), filepath.Join(dir, "keys.json")
		if err := run("report", "or3", "--output-file", file); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keys, pubs, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := runOffline(t, "report", "verify", file, "--public-keys", keys)
		if err != nil || !strings.HasPrefix(got, "verified: report or3-second for slice or3 ") {
			t.Errorf("verify of the export: %v\n%s", err, got)
		}
	})
	t.Run("verify errors", func(t *testing.T) {
		for args, want := range map[string]string{
			"report verify or3-third --key-secret reports/report-key": "no file or3-third here, and no SLAReport or3-third in namespace reports (kubectl get slareports lists them; -n picks another namespace)",
			"report verify or3-first --key-secret reports/nokey":      "--key-secret: Secret reports/nokey not found",
			"report verify Or3_First --key-secret reports/report-key": `report verify "Or3_First": no such file, and not a report name`,
		} {
			err := run(strings.Fields(args)...)
			if err == nil || err.Error() != want {
				t.Errorf("%s: err %v\nwant %s", args, err, want)
			}
		}
	})
}

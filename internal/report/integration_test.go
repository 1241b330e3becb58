package report

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/testenv"
)

// requestTimeout bounds one test's calls to the API server.
const requestTimeout = 60 * time.Second

// controlPlane is started by the first integration test, so that unit
// tests do not start one.
var controlPlane testenv.Lazy

func TestMain(m *testing.M) { controlPlane.Run(m) }

func apiServer(t *testing.T) client.Client {
	t.Helper()
	return controlPlane.Env(t).Client
}

// TestSLAReportImmutableOnAPIServer protects DESIGN §7 "reports are
// immutable": the largest report is accepted, reads back verifying, and
// every change to its spec is refused by the API server with the CEL
// message, while metadata (labels) may still change.
func TestSLAReportImmutableOnAPIServer(t *testing.T) {
	c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "or-3"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t, 1)

	// The largest report there is: a day at one-second windows, rolled up.
	rs := sampleRollups(t0, 86400, time.Second, map[int]bool{10: true})
	spec, err := Build(sampleSlice(), rs, sampleViolations(), sampleTargets(), Period{Start: t0, End: t0.Add(24 * time.Hour)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Seal(spec, signer); err != nil {
		t.Fatal(err)
	}
	big := &v1alpha1.SLAReport{ObjectMeta: metav1.ObjectMeta{Name: "day", Namespace: "or-3"}, Spec: *spec}
	if err := c.Create(ctx, big); err != nil {
		t.Fatalf("creating a 24 h report: %v", err)
	}

	r := sampleReport(t, signer)
	if err := c.Create(ctx, r); err != nil {
		t.Fatalf("creating a report: %v", err)
	}
	for _, name := range []string{"day", r.Name} {
		var got v1alpha1.SLAReport
		if err := c.Get(ctx, types.NamespacedName{Namespace: "or-3", Name: name}, &got); err != nil {
			t.Fatal(err)
		}
		if ps := Verify(&got.Spec, ring(signer)); len(ps) != 0 {
			t.Errorf("report %s read back from the API server does not verify: %v", name, ps)
		}
	}

	changes := map[string]func(*v1alpha1.SLAReportSpec){
		"compliance":     func(s *v1alpha1.SLAReportSpec) { s.Measured.Compliance = "1.000000" },
		"a rollup":       func(s *v1alpha1.SLAReportSpec) { s.Rollups[3].Lost++ },
		"drop a rollup":  func(s *v1alpha1.SLAReportSpec) { s.Rollups = s.Rollups[1:] },
		"violations":     func(s *v1alpha1.SLAReportSpec) { s.Violations = nil },
		"signature":      func(s *v1alpha1.SLAReportSpec) { s.Signature.KeyID = "0000000000000000" },
		"period":         func(s *v1alpha1.SLAReportSpec) { s.Period.End = metav1.NewMicroTime(s.Period.End.Add(time.Second)) },
		"add a gap":      func(s *v1alpha1.SLAReportSpec) { s.Gaps = append(s.Gaps, s.Gaps[0]) },
		"the slice spec": func(s *v1alpha1.SLAReportSpec) { s.SliceSpec = "{}" },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			var got v1alpha1.SLAReport
			if err := c.Get(ctx, types.NamespacedName{Namespace: "or-3", Name: r.Name}, &got); err != nil {
				t.Fatal(err)
			}
			change(&got.Spec)
			err := c.Update(ctx, &got)
			if err == nil || !strings.Contains(err.Error(), v1alpha1.SLAReportImmutableMessage) {
				t.Errorf("update of %s: %v, want refused with %q", name, err, v1alpha1.SLAReportImmutableMessage)
			}
		})
	}

	var got v1alpha1.SLAReport
	if err := c.Get(ctx, types.NamespacedName{Namespace: "or-3", Name: r.Name}, &got); err != nil {
		t.Fatal(err)
	}
	got.Labels = map[string]string{"medslice.io/slice": "or3-prostatectomy"}
	if err := c.Update(ctx, &got); err != nil {
		t.Errorf("labelling a report (spec unchanged) was refused: %v", err)
	}
}

// TestKeySecretOnAPIServer: the key Secret is created once, read back the
// same, and a rotation keeps the old public key so that old reports verify.
func TestKeySecretOnAPIServer(t *testing.T) {
	c := apiServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	const ns, name = "default", "medslice-report-key"
	s1, ring1, err := LoadOrCreateKey(ctx, c, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := LoadOrCreateKey(ctx, c, ns, name)
	if err != nil || again.KeyID() != s1.KeyID() {
		t.Fatalf("second load: %v, key %v, want the same key %s", err, again, s1.KeyID())
	}
	if len(ring1) != 1 {
		t.Errorf("ring of a new Secret has %d keys, want 1", len(ring1))
	}
	old := sampleReport(t, s1)

	s2, ring2, err := RotateKey(ctx, c, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() == s1.KeyID() {
		t.Fatal("rotation kept the same key")
	}
	loaded, ring3, err := LoadOrCreateKey(ctx, c, ns, name)
	if err != nil || loaded.KeyID() != s2.KeyID() || len(ring2) != 2 || len(ring3) != 2 {
		t.Fatalf("after rotation: %v, current %s (want %s), rings of %d and %d keys (want 2)", err, loaded.KeyID(), s2.KeyID(), len(ring2), len(ring3))
	}
	if ps := Verify(&old.Spec, ring3); len(ps) != 0 {
		t.Errorf("a report signed before the rotation no longer verifies: %v", ps)
	}
	if ps := Verify(&sampleReport(t, loaded).Spec, ring3); len(ps) != 0 {
		t.Errorf("a report signed after the rotation does not verify: %v", ps)
	}
	var sec corev1.Secret
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{SecretKeySeed, SecretKeyID, SecretKeyPublicKeys} {
		if len(sec.Data[k]) == 0 {
			t.Errorf("Secret lacks %s", k)
		}
	}
}

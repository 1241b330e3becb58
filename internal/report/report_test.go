package report

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/sla"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

func sampleSlice() *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "or3-prostatectomy", Namespace: "or-3", UID: "7d1c9a52-0c3e-4b8e-9d0a-2f6c1e3b5a77"}}
	s.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "telesurgery", CoreRef: "campus-core", Purpose: "robotic prostatectomy, OR-3 (µs-grade haptics)",
		Devices:     []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}},
		Application: v1alpha1.Application{Servers: []string{"10.0.0.5"}, Ports: []string{"5000-5010"}, Protocol: v1alpha1.ProtocolUDP},
	}
	return s
}

func sampleTargets() sla.Targets {
	return sla.Targets{RTTP99: 20 * time.Millisecond, JitterP99: 5 * time.Millisecond, LossRatio: 0.001,
		AvailabilityPercent: 99.9, Window: time.Second, VerificationPeriod: 30 * time.Second}
}

// sampleRollups makes n one-second windows from start at 10 Hz; windows
// listed in bad miss the RTT target, and window 5 loses a probe.
func sampleRollups(start time.Time, n int, window time.Duration, bad map[int]bool) []sla.WindowRollup {
	out := make([]sla.WindowRollup, n)
	for i := range out {
		rtt := time.Duration(8000+(i*37)%4000) * time.Microsecond
		r := sla.WindowRollup{
			Start: start.Add(time.Duration(i) * window), End: start.Add(time.Duration(i+1) * window),
			Sent: 10, Received: 10, RTTP50: rtt, RTTP99: rtt + 3*time.Millisecond, RTTMax: rtt + 4*time.Millisecond,
			JitterP99: time.Duration(500+(i*13)%900) * time.Microsecond, Met: true,
		}
		if i%500 == 5 {
			r.Received, r.Lost, r.LossRatio = 9, 1, 0.1
			r.Met = false
		}
		if bad[i] {
			r.RTTP99, r.RTTMax, r.Met = 31200*time.Microsecond, 35*time.Millisecond, false
		}
		out[i] = r
	}
	return out
}

func sampleViolations() []sla.Violation {
	return []sla.Violation{
		{Start: t0.Add(5 * time.Second), End: t0.Add(6 * time.Second), Metric: sla.MetricLoss, Observed: "0.1", Target: "0.001", Windows: 1},
		{Start: t0.Add(40 * time.Second), End: t0.Add(43 * time.Second), Metric: sla.MetricRTTP99, Observed: "31.2ms", Target: "20ms", Windows: 3},
	}
}

func testSigner(t *testing.T, b byte) *Ed25519Signer {
	t.Helper()
	s, err := NewEd25519Signer(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sampleReport is a sealed two-minute report with a gap from an operator
// restart between 60 s and 70 s.
func sampleReport(t *testing.T, signer Signer) *v1alpha1.SLAReport {
	return sampleReportOf(t, signer, 120*time.Second)
}

// sampleReportOf is sampleReport cut to length (at least 71 s).
func sampleReportOf(t *testing.T, signer Signer, length time.Duration) *v1alpha1.SLAReport {
	t.Helper()
	rs := sampleRollups(t0, int(length/time.Second), time.Second, map[int]bool{40: true, 41: true, 42: true})
	rs = append(rs[:60], rs[70:]...)
	gaps := []Gap{{Start: t0.Add(60 * time.Second), End: t0.Add(70 * time.Second), Reason: "operator restarted: windows since the last checkpoint were lost"}}
	spec, err := Build(sampleSlice(), rs, sampleViolations(), sampleTargets(), Period{Start: t0, End: t0.Add(length)}, gaps)
	if err != nil {
		t.Fatal(err)
	}
	if err := Seal(spec, signer); err != nil {
		t.Fatal(err)
	}
	return &v1alpha1.SLAReport{ObjectMeta: metav1.ObjectMeta{Name: "or3-prostatectomy-20260504", Namespace: "or-3"}, Spec: *spec}
}

func ring(signers ...Signer) KeyRing {
	r := KeyRing{}
	for _, s := range signers {
		r.Add(s.Public())
	}
	return r
}

// roundTrip is the report as stored and read back (JSON, as the API server
// and a carrier's file hold it).
func roundTrip(t *testing.T, r *v1alpha1.SLAReport) *v1alpha1.SLAReport {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	out, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSealVerifyRoundTrip protects the basic promise: a sealed report
// verifies, before and after a JSON round trip, and says what it measured.
func TestSealVerifyRoundTrip(t *testing.T) {
	signer := testSigner(t, 1)
	r := sampleReport(t, signer)
	if ps := Verify(&r.Spec, ring(signer)); len(ps) != 0 {
		t.Fatalf("fresh report: %v", ps)
	}
	back := roundTrip(t, r)
	if ps := Verify(&back.Spec, ring(signer)); len(ps) != 0 {
		t.Fatalf("after a JSON round trip: %v", ps)
	}
	s := back.Spec
	if got, want := len(s.Rollups), 110; got != want {
		t.Errorf("rollups = %d, want %d (120 windows less the 10 lost)", got, want)
	}
	if s.Interval != "1s" {
		t.Errorf("interval = %q, want 1s (no coarsening)", s.Interval)
	}
	if s.Measured.Windows != 110 || s.Measured.GoodWindows != 106 {
		t.Errorf("windows %d good %d, want 110 and 106 (3 over RTT, 1 with a loss)", s.Measured.Windows, s.Measured.GoodWindows)
	}
	if s.Measured.RTTP99 != "31.2ms" {
		t.Errorf("measured rttP99 = %q, want the worst window's 31.2ms", s.Measured.RTTP99)
	}
	if s.Measured.Compliance != "0.963636" {
		t.Errorf("compliance = %q, want 0.963636", s.Measured.Compliance)
	}
	if len(s.Gaps) != 1 || !strings.Contains(s.Gaps[0].Reason, "operator restarted") {
		t.Errorf("gaps = %+v, want only the given restart gap (the missing windows are inside it)", s.Gaps)
	}
	if s.Chain.Head != s.Rollups[len(s.Rollups)-1].Hash {
		t.Errorf("chain head %s is not the last rollup's hash", s.Chain.Head)
	}
	if s.Signature.KeyID != signer.KeyID() || len(s.Signature.KeyID) != 16 {
		t.Errorf("key id %q, want the signer's 16 hex digits %q", s.Signature.KeyID, signer.KeyID())
	}
}

// TestBuildFindsUnexplainedGaps: missing windows that no given gap
// explains are stated, so a report cannot hide silence.
func TestBuildFindsUnexplainedGaps(t *testing.T) {
	rs := sampleRollups(t0, 60, time.Second, nil)
	rs = append(rs[:10], rs[13:]...)
	spec, err := Build(sampleSlice(), rs, nil, sampleTargets(), Period{Start: t0, End: t0.Add(65 * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]time.Time{{t0.Add(10 * time.Second), t0.Add(13 * time.Second)}, {t0.Add(60 * time.Second), t0.Add(65 * time.Second)}}
	if len(spec.Gaps) != len(want) {
		t.Fatalf("gaps = %+v, want %v", spec.Gaps, want)
	}
	for i, g := range spec.Gaps {
		if !g.Start.Time.Equal(want[i][0]) || !g.End.Time.Equal(want[i][1]) || g.Reason != ReasonNoWindows {
			t.Errorf("gap %d = %v..%v %q, want %v..%v %q", i, g.Start, g.End, g.Reason, want[i][0], want[i][1], ReasonNoWindows)
		}
	}
}

// mutate changes one JSON leaf to another valid value of its kind: a number
// +1, a bool negated, a string with the lowest bit of its first byte
// flipped ("2026-…" becomes "3026-…", "12ms" "02ms", hex stays hex). The
// signature value is changed in its decoded bytes so it stays base64.
func mutate(path string, v any) any {
	switch x := v.(type) {
	case json.Number:
		n, _ := x.Int64()
		return json.Number(fmt.Sprint(n + 1))
	case bool:
		return !x
	case string:
		if path == "signature.value" {
			b, _ := base64.StdEncoding.DecodeString(x)
			b[10] ^= 1
			return base64.StdEncoding.EncodeToString(b)
		}
		if x == "" {
			return "x"
		}
		b := []byte(x)
		b[0] ^= 1
		return string(b)
	}
	panic(fmt.Sprintf("%s: unexpected %T", path, v))
}

// leaves calls f with the path of every scalar in a decoded JSON document.
func leaves(prefix string, v any, f func(path string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			leaves(p, c, f)
		}
	case []any:
		for i, c := range x {
			leaves(fmt.Sprintf("%s[%d]", prefix, i), c, f)
		}
	default:
		f(prefix)
	}
}

// set replaces the leaf at path (as leaves writes it) with mutate's value.
func set(doc any, path string) {
	parts := strings.Split(strings.ReplaceAll(path, "[", ".["), ".")
	cur := doc
	for i, p := range parts {
		last := i == len(parts)-1
		if strings.HasPrefix(p, "[") {
			var idx int
			fmt.Sscanf(p, "[%d]", &idx)
			arr := cur.([]any)
			if last {
				arr[idx] = mutate(path, arr[idx])
				return
			}
			cur = arr[idx]
			continue
		}
		m := cur.(map[string]any)
		if last {
			m[p] = mutate(path, m[p])
			return
		}
		cur = m[p]
	}
}

// TestTamperEveryField is the evidence promise: changing any single leaf of
// a sealed report, every rollup field and every violation field included,
// fails verification, and the problems name the field (or the rollup whose
// chain link breaks, or the signature).
func TestTamperEveryField(t *testing.T) {
	signer := testSigner(t, 1)
	keys := ring(signer)
	r := sampleReportOf(t, signer, 75*time.Second) // 65 rollups: every field of each is tried
	raw, err := json.Marshal(r.Spec)
	if err != nil {
		t.Fatal(err)
	}
	decode := func() any {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var doc any
		if err := d.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	var paths []string
	leaves("", decode(), func(p string) { paths = append(paths, p) })
	if len(paths) < 65*14 {
		t.Fatalf("only %d leaves: the walk misses fields", len(paths))
	}
	seen := map[string]bool{}
	for _, path := range paths {
		doc := decode()
		set(doc, path)
		b, _ := json.Marshal(doc)
		var spec v1alpha1.SLAReportSpec
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			t.Errorf("%s: the changed report does not decode (the mutation is not a fair test): %v", path, err)
			continue
		}
		ps := Verify(&spec, keys)
		if len(ps) == 0 {
			t.Errorf("%s changed, yet the report verifies", path)
			continue
		}
		named := false
		for _, p := range ps {
			if p.Field == path || strings.HasPrefix(path, p.Field+".") || strings.HasPrefix(path, p.Field+"[") ||
				(p.Field == "signature" && !strings.HasPrefix(path, "signature.")) {
				named = true
			}
		}
		if !named {
			t.Errorf("%s changed: problems %v do not name it", path, ps)
		}
		if strings.HasPrefix(path, "rollups[") {
			idx := path[:strings.Index(path, "]")+1]
			found := false
			for _, p := range ps {
				found = found || p.Field == idx
			}
			if !found {
				t.Errorf("%s changed: no problem names %s as breaking the chain: %v", path, idx, ps)
			}
		}
		seen[strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' })[0]] = true
		seen[path[strings.LastIndex(path, ".")+1:]] = true
	}
	// Every kind of field was tried, not just some.
	for _, f := range []string{"rollups", "violations", "gaps", "measured", "sent", "rttP99", "met", "hash", "metric", "observed", "windows", "reason", "uid", "sliceSpec", "interval", "head", "keyID", "value", "availabilityPercent", "end"} {
		if !seen[f] {
			t.Errorf("no leaf %q was tampered with", f)
		}
	}
	t.Logf("%d leaves tampered with, each detected", len(paths))
}

// TestRotation: after a rotation the ring still verifies reports signed by
// the old key, and a ring without the signer's key says so by key id.
func TestRotation(t *testing.T) {
	old, next := testSigner(t, 1), testSigner(t, 2)
	before := sampleReport(t, old)
	after := sampleReport(t, next)
	both := ring(old, next)
	for name, r := range map[string]*v1alpha1.SLAReport{"before": before, "after": after} {
		if ps := Verify(&r.Spec, both); len(ps) != 0 {
			t.Errorf("report signed %s the rotation: %v", name, ps)
		}
	}
	ps := Verify(&before.Spec, ring(next))
	if len(ps) != 1 || ps[0].Field != "signature.keyID" || !strings.Contains(ps[0].Message, old.KeyID()) || !strings.Contains(ps[0].Message, "unknown key id") {
		t.Errorf("old report with only the new key: %v, want one unknown key id %s problem", ps, old.KeyID())
	}
	// A report re-signed under another known key id does not verify.
	forged := sampleReport(t, old)
	forged.Spec.Signature.KeyID = next.KeyID()
	if ps := Verify(&forged.Spec, both); len(ps) != 1 || ps[0].Field != "signature" {
		t.Errorf("key id swapped: %v, want one signature problem", ps)
	}
	// The ring survives its JSON form (the Secret's public-keys).
	b, _ := json.Marshal(both)
	back, err := ParseKeyRing(b)
	if err != nil || len(back) != 2 || Verify(&before.Spec, back) != nil {
		t.Errorf("ring round trip: %v, %d keys", err, len(back))
	}
	if _, err := ParseKeyRing([]byte(`{"0000000000000000":"` + base64.StdEncoding.EncodeToString(old.Public()) + `"}`)); err == nil {
		t.Error("a key listed under another key's id was accepted")
	}
}

// TestSize24hAt1s: a whole day at one-second windows (and at 100 ms) is
// rolled up to fit, conservatively, and stays far below etcd's limit.
func TestSize24hAt1s(t *testing.T) {
	for _, tc := range []struct {
		name         string
		window       time.Duration
		wantInterval string
	}{
		{"1s windows", time.Second, "44s"},
		{"100ms windows", 100 * time.Millisecond, "43.2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := int(24 * time.Hour / tc.window)
			rs := sampleRollups(t0, n, tc.window, map[int]bool{1000: true})
			tg := sampleTargets()
			tg.Window = tc.window
			signer := testSigner(t, 3)
			start := time.Now()
			spec, err := Build(sampleSlice(), rs, sampleViolations(), tg, Period{Start: t0, End: t0.Add(24 * time.Hour)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := Seal(spec, signer); err != nil {
				t.Fatal(err)
			}
			built := time.Since(start)
			b, _ := json.Marshal(v1alpha1.SLAReport{Spec: *spec})
			start = time.Now()
			ps := Verify(spec, ring(signer))
			t.Logf("%d windows -> %d rollups of %s, %d bytes JSON, build+seal %v, verify %v", n, len(spec.Rollups), spec.Interval, len(b), built, time.Since(start))
			if len(ps) != 0 {
				t.Fatalf("verify: %v", ps)
			}
			if len(spec.Rollups) > v1alpha1.MaxReportRollups || spec.Interval != tc.wantInterval {
				t.Errorf("%d rollups of %s, want at most %d of %s", len(spec.Rollups), spec.Interval, v1alpha1.MaxReportRollups, tc.wantInterval)
			}
			if len(b) >= 1<<20 {
				t.Errorf("report is %d bytes, want under 1 MiB", len(b))
			}
			if spec.Measured.Windows != int64(n) || spec.Measured.RTTP99 != "31.2ms" {
				t.Errorf("measured %d windows, rttP99 %s; want every window counted and the worst window's p99 kept (31.2ms)", spec.Measured.Windows, spec.Measured.RTTP99)
			}
			var sent int64
			for _, r := range spec.Rollups {
				sent += r.Sent
			}
			if sent != int64(n)*10 {
				t.Errorf("sent %d after merging, want %d", sent, n*10)
			}
		})
	}
}

// TestCSVGolden pins the CSV layout carriers load into spreadsheets.
func TestCSVGolden(t *testing.T) {
	r := sampleReport(t, testSigner(t, 1))
	r.Spec.Rollups = r.Spec.Rollups[:5] // the layout, not the length, is what is pinned
	var b bytes.Buffer
	if err := WriteCSV(&b, r); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.csv")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestCSVGolden -update)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("CSV differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

// TestBuildRefusesBadInput: what cannot make a meaningful report is an error.
func TestBuildRefusesBadInput(t *testing.T) {
	noUID := sampleSlice()
	noUID.UID = ""
	for name, tc := range map[string]struct {
		slice  *v1alpha1.MedicalSlice
		period Period
	}{
		"no slice":      {nil, Period{t0, t0.Add(time.Hour)}},
		"no uid":        {noUID, Period{t0, t0.Add(time.Hour)}},
		"empty period":  {sampleSlice(), Period{t0, t0}},
		"period behind": {sampleSlice(), Period{t0, t0.Add(-time.Hour)}},
	} {
		if _, err := Build(tc.slice, nil, nil, sampleTargets(), tc.period, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

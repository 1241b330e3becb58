package v1alpha1_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/testenv"
)

// The manifests a person applies first (the built-in profiles and the
// samples) must be accepted by the API server as they are, must be what
// DESIGN §2 says they are, and must agree with each other.

// manifest is one YAML document of a shipped file.
type manifest struct {
	file string
	doc  []byte
}

// readManifests returns the documents of every YAML file in dir except the
// kustomization.
func readManifests(t *testing.T, dir string) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []manifest
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) > 0 {
				out = append(out, manifest{file: filepath.Join(dir, filepath.Base(f)), doc: doc})
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no manifests in %s", dir)
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// decodeStrict decodes one document into a typed object, failing on fields
// the Go type does not have.
func decodeStrict[T any](t *testing.T, m manifest) *T {
	t.Helper()
	var obj T
	if err := yaml.UnmarshalStrict(m.doc, &obj); err != nil {
		t.Fatalf("%s: %v", m.file, err)
	}
	return &obj
}

func TestShippedManifestsAreAccepted(t *testing.T) {
	var all []manifest
	for _, dir := range []string{"config/profiles", "config/samples"} {
		all = append(all, readManifests(t, dir)...)
	}
	objs := make([]*unstructured.Unstructured, 0, len(all))
	for _, m := range all {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(m.doc, &u.Object); err != nil {
			t.Fatalf("%s: %v", m.file, err)
		}
		u.SetAnnotations(mergeAnnotations(u.GetAnnotations(), map[string]string{"test.medslice.io/file": m.file}))
		objs = append(objs, u)
	}
	// Namespaces first, as kubectl applies them.
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetKind() == "Namespace" && objs[j].GetKind() != "Namespace" })

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for _, u := range objs {
		file := u.GetAnnotations()["test.medslice.io/file"]
		sent := u.DeepCopy()
		if err := env.Client.Create(ctx, u, strict); err != nil {
			t.Errorf("%s: %s %s rejected: %v", file, u.GetKind(), u.GetName(), err)
			continue
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), u) })

		// The stored object must read back into the Go type the operator
		// uses (durations parse, enums hold), and keep every field as written.
		typed, err := env.Scheme.New(u.GroupVersionKind())
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(u), typed.(client.Object)); err != nil {
			t.Errorf("%s: reading %s back as %T: %v", file, u.GetName(), typed, err)
		}
		if u.GetKind() == "Namespace" {
			continue
		}
		if diff := cmp.Diff(jsonValue(t, sent.Object["spec"]), jsonValue(t, u.Object["spec"])); diff != "" {
			t.Errorf("%s: stored spec differs from the file, so a field was defaulted or dropped (-file +stored):\n%s", file, diff)
		}
	}
}

// jsonValue is v as encoding/json decodes it, so that a number read from YAML
// (float64) and one read from the API server (int64) compare equal.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mergeAnnotations(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestKustomizationsListEveryManifest: a file missing from its
// kustomization is never installed; a listed file that does not exist
// breaks `kubectl apply -k`.
func TestKustomizationsListEveryManifest(t *testing.T) {
	for _, dir := range []string{"config/profiles", "config/samples"} {
		t.Run(dir, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(repoRoot(t), dir, "kustomization.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var k struct {
				APIVersion string   `json:"apiVersion"`
				Kind       string   `json:"kind"`
				Resources  []string `json:"resources"`
			}
			if err := yaml.UnmarshalStrict(b, &k); err != nil {
				t.Fatal(err)
			}
			if k.Kind != "Kustomization" {
				t.Errorf("kind %q, want Kustomization", k.Kind)
			}
			var files []string
			for _, m := range readManifests(t, dir) {
				files = append(files, filepath.Base(m.file))
			}
			files = slices.Compact(files)
			listed := slices.Clone(k.Resources)
			slices.Sort(files)
			slices.Sort(listed)
			if diff := cmp.Diff(files, listed); diff != "" {
				t.Errorf("kustomization resources differ from the YAML files in %s (-files +listed):\n%s", dir, diff)
			}
		})
	}
}

// fiveQICharacteristics are the standardised characteristics of the 5QIs
// the built-in profiles use, from TS 23.501 Table 5.7.4-1.
var fiveQICharacteristics = map[int32]struct {
	gbr   bool
	pdbMs int32
	per   string
	mdbv  int32 // delay-critical GBR only
}{
	2:  {gbr: true, pdbMs: 150, per: "1E-3"},
	4:  {gbr: true, pdbMs: 300, per: "1E-6"},
	9:  {gbr: false, pdbMs: 300, per: "1E-6"},
	67: {gbr: true, pdbMs: 100, per: "1E-3"},
	82: {gbr: true, pdbMs: 10, per: "1E-4", mdbv: 255},
	85: {gbr: true, pdbMs: 5, per: "1E-5", mdbv: 255},
}

// pcfFiveQIFromMediaType is what a PCF that derives the 5QI from the media
// type alone picks (DESIGN §3); it applies bit rates only when the 5QI is
// at most 4.
func pcfFiveQIFromMediaType(m v1alpha1.MediaType) int32 {
	switch m {
	case "AUDIO":
		return 1
	case "VIDEO", "APPLICATION":
		return 2
	default:
		return 9
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func TestBuiltInProfiles(t *testing.T) {
	want := map[string]struct {
		serviceType v1alpha1.ServiceType
		sst         int32
		fiveQI      int32
		preemptable bool
	}{
		"surgery-urllc": {v1alpha1.ServiceTypeURLLC, 2, 82, false},
		"surgery-video": {v1alpha1.ServiceTypeEMBB, 1, 2, false},
		"imaging-embb":  {v1alpha1.ServiceTypeEMBB, 1, 4, true},
		"iot-mmtc":      {v1alpha1.ServiceTypeMMTC, 3, 9, true},
	}
	seen := map[string]bool{}
	for _, m := range readManifests(t, "config/profiles") {
		p := decodeStrict[v1alpha1.SliceProfile](t, m)
		t.Run(p.Name, func(t *testing.T) {
			seen[p.Name] = true
			w, ok := want[p.Name]
			if !ok {
				t.Fatalf("%s: unexpected built-in profile %q", m.file, p.Name)
			}
			if filepath.Base(m.file) != p.Name+".yaml" {
				t.Errorf("profile %s is in %s, want %s.yaml", p.Name, m.file, p.Name)
			}
			for _, a := range []string{"medslice.io/source-qos", "medslice.io/source-sla", "medslice.io/project-choice"} {
				if strings.TrimSpace(p.Annotations[a]) == "" {
					t.Errorf("annotation %s missing: every number cites its clause or says it is the project's choice (DESIGN §2)", a)
				}
			}
			s := p.Spec
			if s.ServiceType != w.serviceType || s.SNSSAI.SST != w.sst || s.QoS.FiveQI == nil || *s.QoS.FiveQI != w.fiveQI {
				t.Errorf("type %s, SST %d, 5QI %v; DESIGN §2 says %s, SST %d, 5QI %d", s.ServiceType, s.SNSSAI.SST, s.QoS.FiveQI, w.serviceType, w.sst, w.fiveQI)
			}
			if s.QoS.ARP == nil {
				t.Fatal("no ARP")
			}
			if got := s.QoS.ARP.PreemptVuln == v1alpha1.PreemptionPreemptable; got != w.preemptable {
				t.Errorf("preemptVuln %s, want preemptable=%v", s.QoS.ARP.PreemptVuln, w.preemptable)
			}
			if p.Name == "surgery-urllc" && s.QoS.ARP.PriorityLevel != 1 {
				t.Errorf("surgery-urllc ARP priority %d, want 1", s.QoS.ARP.PriorityLevel)
			}
			checkQoS := func(what string, q *v1alpha1.QoS) {
				c, ok := fiveQICharacteristics[*q.FiveQI]
				if !ok {
					t.Errorf("%s: 5QI %d has no characteristics in this test; add them from TS 23.501 Table 5.7.4-1", what, *q.FiveQI)
					return
				}
				if pdb := deref(q.PacketDelayBudgetMs); pdb != c.pdbMs || q.PacketErrorRate != c.per {
					t.Errorf("%s: PDB %d ms, PER %q; 5QI %d has PDB %d ms, PER %s", what, pdb, q.PacketErrorRate, *q.FiveQI, c.pdbMs, c.per)
				}
				if mdbv := deref(q.MaxDataBurstVolumeBytes); c.mdbv != 0 && mdbv != c.mdbv {
					t.Errorf("%s: MDBV %d bytes; 5QI %d has %d bytes", what, mdbv, *q.FiveQI, c.mdbv)
				}
				hasGBR := q.GBRUplinkKbps != nil && *q.GBRUplinkKbps > 0 || q.GBRDownlinkKbps != nil && *q.GBRDownlinkKbps > 0
				if hasGBR != c.gbr {
					t.Errorf("%s: has GBR %v, but 5QI %d is GBR=%v", what, hasGBR, *q.FiveQI, c.gbr)
				}
				// A PCF that derives the 5QI from the media type must land on a
				// GBR 5QI (and so apply the bit rates) exactly when we ask for one.
				if derived := pcfFiveQIFromMediaType(q.MediaType); (derived <= 4) != c.gbr {
					t.Errorf("%s: mediaType %q makes such a PCF pick 5QI %d, which does not match a GBR=%v request", what, q.MediaType, derived, c.gbr)
				}
			}
			checkQoS("qos", &s.QoS)
			if s.AlternativeQoS != nil {
				checkQoS("alternativeQoS", s.AlternativeQoS)
			}
			if s.SLA.Window == nil || s.SLA.VerificationPeriod == nil || s.Probe.Interval == nil || s.Probe.Port == nil {
				t.Fatal("window, verificationPeriod, probe interval and port must all be set")
			}
			if perWindow := s.SLA.Window.Duration / s.Probe.Interval.Duration; perWindow < 10 {
				t.Errorf("%d probes per %s window; fewer than 10 cannot give a p99", perWindow, s.SLA.Window.Duration)
			}
			if s.SLA.VerificationPeriod.Duration < s.SLA.Window.Duration {
				t.Errorf("verificationPeriod %s is shorter than one window %s", s.SLA.VerificationPeriod.Duration, s.SLA.Window.Duration)
			}
		})
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("built-in profile %s missing from config/profiles", name)
		}
	}
}

// TestSamples: the samples are exactly the four slices the demo expects,
// each on a shipped profile and one of the dev stack's cores, with UE
// addresses from the UE pool and servers from the server network, no
// address used twice.
func TestSamples(t *testing.T) {
	type sample struct {
		profile, core string
		devices       int
	}
	want := map[string]sample{
		"robotic-surgery":    {"surgery-urllc", "emulator-pcf", 2},
		"surgery-video":      {"surgery-video", "emulator-nef", 1},
		"ultrasound-imaging": {"imaging-embb", "emulator-nef", 1},
		"vitals-iot":         {"iot-mmtc", "emulator-pcf", 2},
	}
	profiles := map[string]bool{}
	for _, m := range readManifests(t, "config/profiles") {
		profiles[decodeStrict[v1alpha1.SliceProfile](t, m).Name] = true
	}
	uePool := netip.MustParsePrefix("10.45.0.0/16")
	serverNet := netip.MustParsePrefix("10.100.0.0/24")
	namespaces := map[string]bool{}
	got := map[string]sample{}
	usedIPs := map[string]string{}
	var slicesNS []string
	for _, m := range readManifests(t, "config/samples") {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(m.doc, &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Namespace":
			var ns struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(m.doc, &ns); err != nil {
				t.Fatal(err)
			}
			namespaces[ns.Metadata.Name] = true
		case "MedicalSlice":
			s := decodeStrict[v1alpha1.MedicalSlice](t, m)
			got[s.Name] = sample{s.Spec.Profile, s.Spec.CoreRef, len(s.Spec.Devices)}
			slicesNS = append(slicesNS, s.Namespace)
			if !profiles[s.Spec.Profile] {
				t.Errorf("%s: profile %q is not in config/profiles", m.file, s.Spec.Profile)
			}
			if s.Spec.Purpose == "" {
				t.Errorf("%s: no purpose", m.file)
			}
			for _, d := range s.Spec.Devices {
				ip, err := netip.ParseAddr(d.IPv4)
				if err != nil || !uePool.Contains(ip) {
					t.Errorf("%s: device %s ipv4 %q is not in the UE pool %s", m.file, d.Name, d.IPv4, uePool)
				}
				if other, dup := usedIPs[d.IPv4]; dup {
					t.Errorf("%s: device %s has %s, already used by %s", m.file, d.Name, d.IPv4, other)
				}
				usedIPs[d.IPv4] = s.Name + "/" + d.Name
			}
			for _, srv := range s.Spec.Application.Servers {
				ip, err := netip.ParseAddr(srv)
				if err != nil || !serverNet.Contains(ip) {
					t.Errorf("%s: server %q is not in %s", m.file, srv, serverNet)
				}
			}
		default:
			t.Errorf("%s: unexpected kind %q in the samples (the dev stack creates the CoreNetworks)", m.file, meta.Kind)
		}
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(sample{})); diff != "" {
		t.Errorf("samples differ (-want +got):\n%s", diff)
	}
	for _, ns := range slicesNS {
		if !namespaces[ns] {
			t.Errorf("samples use namespace %q but do not create it", ns)
		}
	}
}

// TestCRDsInstalled guards the other tests of this package: they mean
// something only if the API server serves the CRDs of config/crd/bases.
func TestCRDsInstalled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for _, l := range []client.ObjectList{&v1alpha1.SliceProfileList{}, &v1alpha1.CoreNetworkList{}, &v1alpha1.MedicalSliceList{}} {
		if err := env.Client.List(ctx, l); err != nil {
			if apierrors.IsNotFound(err) {
				t.Fatalf("%T: CRD not served: %v", l, err)
			}
			t.Fatalf("%T: %v", l, err)
		}
	}
}

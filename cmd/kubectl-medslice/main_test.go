package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/testenv"
)

// These tests run the plugin as a user does, through its command line and
// a kubeconfig, against the real API server: what the wiring adds to
// internal/plugin (kubeconfig, --context, -n, exit codes, one line on
// stderr) is what they protect.

const requestTimeout = 60 * time.Second

var (
	env        *testenv.Env
	kubeconfig string
)

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) {
		env = e
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "setup:", err)
			os.Exit(1)
		}
	})
}

// setup writes a kubeconfig with two contexts (the current one in
// namespace "default", "team-a" in namespace "team-a") and installs a
// profile and a core to book on.
func setup() error {
	dir, err := os.MkdirTemp("", "kubectl-medslice-test")
	if err != nil {
		return err
	}
	env.OnStop(func() { _ = os.RemoveAll(dir) })
	kubeconfig = filepath.Join(dir, "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: env.Config.CertData, ClientKeyData: env.Config.KeyData, Token: env.Config.BearerToken}
	cfg.Contexts["admin@envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: "default"}
	cfg.Contexts["team-a"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin", Namespace: "team-a"}
	cfg.CurrentContext = "admin@envtest"
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	i64 := func(v int64) *int64 { return &v }
	i32 := func(v int32) *int32 { return &v }
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		return err
	}
	if err := env.Client.Create(ctx, &v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: "surgery-urllc"}, Spec: v1alpha1.SliceProfileSpec{
		ServiceType: v1alpha1.ServiceTypeURLLC,
		QoS: v1alpha1.QoS{FiveQI: i32(82), ARP: &v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
			GBRUplinkKbps: i64(20000), GBRDownlinkKbps: i64(20000)},
		SNSSAI: v1alpha1.SNSSAI{SST: 2}, DNN: "hospital",
	}}); err != nil {
		return err
	}
	return env.Client.Create(ctx, &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: "campus-core"}, Spec: v1alpha1.CoreNetworkSpec{
		API: v1alpha1.CoreAPIPCF, Endpoint: "http://pcf.example:8080", NotificationBaseURL: "http://notify.example:8082",
		Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 100000, GBRDownlinkKbps: 100000, MaxSessions: 10},
	}})
}

// runPlugin runs the plugin's command line as main does and returns its exit
// code, stdout and stderr.
func runPlugin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr, time.Now, "Europe/Berlin")
	return code, stdout.String(), stderr.String()
}

// TestCommandLine protects exit codes, the namespace and context
// resolution of kubectl, and that every failure is one line on stderr.
func TestCommandLine(t *testing.T) {
	kc := "--kubeconfig=" + kubeconfig
	start := time.Now().Add(48*time.Hour).Format("2006-01-02") + " 08:00"
	book := []string{"book", "or3", kc, "--profile", "surgery-urllc", "--core", "campus-core",
		"--device", "robot-arm=10.45.0.7", "--server", "10.100.0.5", "--start", start, "--duration", "4h", "--wait", "0"}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // a prefix; empty means none
		wantStderr string // exact
	}{
		{"help", []string{"--help"}, 0, "kubectl medslice: book and watch guaranteed 5G slices for surgery.\n", ""},
		{"bad flag", []string{"list", kc, "--namespce", "x"}, 1, "", "error: unknown flag --namespce for list: did you mean --namespace?\n"},
		{"bad time", append(append([]string{}, book[:len(book)-6]...), "--start", "tomorrow 8am", "--duration", "4h"), 1, "",
			"error: --start \"tomorrow 8am\": want RFC 3339 (2026-11-22T08:00:00+01:00) or local \"2026-11-22 08:00\"\n"},
		{"unknown context", []string{"list", kc, "--context", "nowhere"}, 1, "", "error: kubeconfig: context \"nowhere\" does not exist\n"},
		{"missing kubeconfig", []string{"list", "--kubeconfig", "/nonexistent/kubeconfig"}, 1, "", "error: kubeconfig: stat /nonexistent/kubeconfig: no such file or directory\n"},
		{"empty default namespace", []string{"list", kc}, 0, "No slices in namespace default.\n", ""},
		{"namespace from the context", []string{"list", kc, "--context", "team-a"}, 0, "No slices in namespace team-a.\n", ""},
		{"-n over the context", []string{"-n", "default", "list", kc, "--context", "team-a"}, 0, "No slices in namespace default.\n", ""},
		{"book without waiting", append(book, "-n", "team-a"), 0, "Booked or3 in namespace team-a: ", ""},
		{"book twice", append(book, "-n", "team-a"), 1, "", "error: slice \"or3\" already exists in namespace team-a: choose another name, or extend it with kubectl medslice extend or3\n"},
		{"list shows it", []string{"list", kc, "--context", "team-a"}, 0, "NAME ", ""},
		{"describe a typo", []string{"describe", "or4", kc, "--context", "team-a"}, 1, "", "error: slice \"or4\" not found in namespace team-a: did you mean or3?\n"},
		{"extend earlier", []string{"extend", "or3", kc, "--context", "team-a", "--until", start}, 1, "",
			"error: the new end " + berlinWall(t, start, 0) + " is not after the current end " + berlinWall(t, start, 4*time.Hour) + ": extend only moves the end later\n"},
		{"capacity", []string{"capacity", "campus-core", kc}, 0, "Core campus-core: capacity uplink GBR 100 Mbps, downlink GBR 100 Mbps, 10 sessions;", ""},
		{"cancel", []string{"cancel", "or3", kc, "-n", "team-a"}, 0, "Deleted or3: the booking ", ""},
		{"cancel again", []string{"cancel", "or3", kc, "-n", "team-a"}, 1, "", "error: slice \"or3\" not found in namespace team-a (kubectl medslice list shows its slices; -n picks another namespace)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runPlugin(t, tt.args...)
			if code != tt.wantCode || stderr != tt.wantStderr || !strings.HasPrefix(stdout, tt.wantStdout) || (tt.wantStdout == "" && stdout != "") {
				t.Errorf("kubectl medslice %q\n code %d, want %d\n stdout %q, want prefix %q\n stderr %q\n want   %q", tt.args, code, tt.wantCode, stdout, tt.wantStdout, stderr, tt.wantStderr)
			}
			if strings.Count(stderr, "\n") > 1 {
				t.Errorf("stderr is more than one line: %q", stderr)
			}
		})
	}
}

// berlinWall is how the plugin shows a Berlin wall clock time plus d.
func berlinWall(t *testing.T, wall string, d time.Duration) string {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.ParseInLocation("2006-01-02 15:04", wall, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Add(d).Format("Mon 2006-01-02 15:04 MST")
}

// TestKubectlFindsThePlugin protects the binary's name: with it on the
// PATH, `kubectl medslice` runs it.
func TestKubectlFindsThePlugin(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(root, "bin", "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl not found in bin/: %v", err)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "kubectl-medslice"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(kubectl, "medslice", "list", "--kubeconfig", kubeconfig, "--context", "team-a")
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "TZ=Europe/Berlin")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl medslice list: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "No slices in namespace team-a.") && !strings.HasPrefix(string(out), "NAME ") {
		t.Errorf("kubectl medslice list:\n%s", out)
	}
}

// TestReportVerifyOffline protects that report verify of a file with
// --public-keys needs no API server (even an unreadable kubeconfig does not
// matter), exits 0 when the report verifies and 1, with the problems on
// stdout and one line on stderr, when a byte of it was changed.
func TestReportVerifyOffline(t *testing.T) {
	signer, err := report.NewEd25519Signer(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)
	slice := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "or3", Namespace: "team-a", UID: "0f6b4c1e-2d3a-4b5c-8d9e-1a2b3c4d5e6f"},
		Spec: v1alpha1.MedicalSliceSpec{Profile: "surgery-urllc", CoreRef: "campus-core"}}
	var rollups []sla.WindowRollup
	for i := range 5 {
		rollups = append(rollups, sla.WindowRollup{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i+1) * time.Second),
			Sent: 10, Received: 10, RTTP50: 8 * time.Millisecond, RTTP99: 11 * time.Millisecond, RTTMax: 12 * time.Millisecond, JitterP99: time.Millisecond, Met: true})
	}
	targets := sla.Targets{RTTP99: 20 * time.Millisecond, LossRatio: 0.001, AvailabilityPercent: 99.9, Window: time.Second, VerificationPeriod: 30 * time.Second}
	spec, err := report.Build(slice, rollups, nil, targets, report.Period{Start: t0, End: t0.Add(5 * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Seal(spec, signer); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, &v1alpha1.SLAReport{ObjectMeta: metav1.ObjectMeta{Name: "or3-20260504", Namespace: "team-a"}, Spec: *spec}); err != nil {
		t.Fatal(err)
	}
	file, keys := filepath.Join(dir, "or3.json"), filepath.Join(dir, "keys.json")
	ring := report.KeyRing{}
	ring.Add(signer.Public())
	pubs, err := ring.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, pubs, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"report", "verify", file, "--public-keys", keys, "--kubeconfig", "/nonexistent/kubeconfig"}

	code, stdout, stderr := runPlugin(t, args...)
	want := "verified: report or3-20260504 for slice or3 period 2026-05-04T08:00:00Z/2026-05-04T08:00:05Z, chain head " + spec.Chain.Head + ", signed by key " + signer.KeyID() + "\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("verify: code %d\n stdout %q\n want   %q\n stderr %q", code, stdout, want, stderr)
	}

	// One byte of the period's end: 08:00:05 becomes 08:00:06.
	data := bytes.Replace(b.Bytes(), []byte(`"end": "2026-05-04T08:00:05.000000Z"`), []byte(`"end": "2026-05-04T08:00:06.000000Z"`), 1)
	if bytes.Equal(data, b.Bytes()) {
		t.Fatalf("no period end in %s", b.Bytes())
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runPlugin(t, args...)
	if code != 1 || !strings.HasPrefix(stdout, "NOT verified: report or3-20260504 for slice or3 period 2026-05-04T08:00:00Z/2026-05-04T08:00:06Z:\n") ||
		!strings.Contains(stdout, "\n  signature: ") || !strings.HasPrefix(stderr, "error: report or3-20260504 does not verify: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("verify of the changed file: code %d\n stdout %q\n stderr %q", code, stdout, stderr)
	}
}

// TestReportCommandLine protects report through the command line: a slice
// without reports is one line on stderr and exit code 1.
func TestReportCommandLine(t *testing.T) {
	code, stdout, stderr := runPlugin(t, "report", "or3", "--kubeconfig="+kubeconfig, "--context", "team-a", "-o", "csv")
	want := "error: no SLAReport of slice \"or3\" in namespace team-a: the operator writes one when a slice's window ends (-n picks another namespace)\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("report: code %d\n stdout %q\n stderr %q\n want   %q", code, stdout, stderr, want)
	}
}

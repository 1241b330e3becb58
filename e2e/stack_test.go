//go:build e2e

// Package e2e tests the built binaries together on the embedded default:
// the real control plane, the core emulator and the operator as processes.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/testenv"
)

const (
	settleTimeout = 60 * time.Second
	poll          = 100 * time.Millisecond
	testNamespace = "e2e"
)

var stack *devstack.Stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := testenv.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin := filepath.Join(root, "bin")
	// Build the binaries under test, so the suite never runs stale ones.
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/medslice-operator", "./cmd/medslice-core-emulator")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building binaries:", err)
		return 1
	}
	state, err := os.MkdirTemp("", "medslice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	stack, err = devstack.Start(ctx, devstack.Options{Root: root, BinDir: bin, StateDir: state, Samples: true, Log: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting stack:", err)
		return 1
	}
	defer stack.Stop()
	if err := stack.Client.Create(ctx, nsObject(testNamespace)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Printf("e2e: logs kept in %s\n", state)
	} else {
		os.RemoveAll(state)
	}
	return code
}

// emulatorSession is one row of the emulator's GET /admin/v1/sessions.
type emulatorSession struct {
	ID               string    `json:"id"`
	API              string    `json:"api"`
	UEAddress        string    `json:"ueAddress"`
	FlowDescriptions []string  `json:"flowDescriptions"`
	NotificationURI  string    `json:"notificationUri"`
	Correlation      string    `json:"correlation"`
	CreatedAt        time.Time `json:"createdAt"`
	ExpiresAt        time.Time `json:"expiresAt"`
}

func emulatorSessions(t *testing.T) []emulatorSession {
	t.Helper()
	out, err := sessionsAt(stack.EmulatorURL)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func emulatorPost(t *testing.T, path, body string) {
	t.Helper()
	if err := postAt(stack.EmulatorURL, path, body); err != nil {
		t.Fatal(err)
	}
}

// sessionsAt reads the sessions of the emulator at emulatorURL.
func sessionsAt(emulatorURL string) ([]emulatorSession, error) {
	resp, err := http.Get(emulatorURL + "/admin/v1/sessions")
	if err != nil {
		return nil, fmt.Errorf("GET sessions: %w", err)
	}
	defer resp.Body.Close()
	var out []emulatorSession
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding sessions: %w", err)
	}
	return out, nil
}

// postAt posts a JSON body to an emulator's admin API.
func postAt(emulatorURL, path, body string) error {
	resp, err := http.Post(emulatorURL+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s", path, resp.Status)
	}
	return nil
}

// byCorrelation counts the emulator's sessions per correlation key.
func byCorrelation(ss []emulatorSession) map[string]int {
	m := map[string]int{}
	for _, s := range ss {
		m[s.Correlation]++
	}
	return m
}

func listSlices(t *testing.T) []v1alpha1.MedicalSlice {
	t.Helper()
	var list v1alpha1.MedicalSliceList
	if err := stack.Client.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// wantsSessions tells whether a slice should hold core sessions now: an
// open-ended one always, a booking once admitted and within its window
// (start minus lead time to end); a slice being deleted never.
func wantsSessions(s *v1alpha1.MedicalSlice, now time.Time) bool {
	if !s.DeletionTimestamp.IsZero() {
		return false
	}
	sc := s.Spec.Schedule
	if sc == nil {
		return true
	}
	from := sc.Start.Time
	if sc.LeadTime != nil {
		from = from.Add(-sc.LeadTime.Duration)
	}
	a := s.Status.Admission
	return a != nil && a.Decision == v1alpha1.AdmissionAdmitted && !now.Before(from) && now.Before(sc.End.Time)
}

// desiredCorrelations are the sessions the slices want: one per device of
// each slice that wants sessions now.
func desiredCorrelations(t *testing.T) map[string]bool {
	want := map[string]bool{}
	now := time.Now()
	for _, s := range listSlices(t) {
		if !wantsSessions(&s, now) {
			continue
		}
		for _, d := range s.Spec.Devices {
			want[string(s.UID)+"/"+d.Name] = true
		}
	}
	return want
}

// exactlyOnePerDevice reports how the emulator's sessions differ from one
// per desired device: orphans, missing and duplicates.
func exactlyOnePerDevice(t *testing.T) (orphans, missing, duplicates int) {
	want := desiredCorrelations(t)
	got := byCorrelation(emulatorSessions(t))
	for k, n := range got {
		if !want[k] {
			orphans += n
			continue
		}
		duplicates += n - 1
	}
	for k := range want {
		if got[k] == 0 {
			missing++
		}
	}
	return
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < timeout {
		ok, why := cond()
		if ok {
			return time.Since(start)
		}
		last = why
		time.Sleep(poll)
	}
	t.Fatalf("%s: not within %s: %s", what, timeout, last)
	return 0
}

// allProvisioned tells whether every slice that wants sessions now (other
// tests' bookings may be in the future or over) is Provisioned.
func allProvisioned(t *testing.T) (bool, string) {
	var pending []string
	now := time.Now()
	for _, s := range listSlices(t) {
		if wantsSessions(&s, now) && !meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionProvisioned) {
			c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionProvisioned)
			msg := "no condition"
			if c != nil {
				msg = c.Reason + ": " + c.Message
			}
			pending = append(pending, s.Namespace+"/"+s.Name+" ("+msg+")")
		}
	}
	sort.Strings(pending)
	return len(pending) == 0, fmt.Sprint(pending)
}

func converged(t *testing.T) (bool, string) {
	if ok, why := allProvisioned(t); !ok {
		return false, why
	}
	o, m, d := exactlyOnePerDevice(t)
	return o == 0 && m == 0 && d == 0, fmt.Sprintf("orphans=%d missing=%d duplicates=%d", o, m, d)
}

// newSlice builds a slice for these tests on a core, with n devices whose
// addresses are derived from seed so that slices never share a UE.
func newSlice(name, coreName, profile string, seed, n int) *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}}
	s.Spec.Profile = profile
	s.Spec.CoreRef = coreName
	s.Spec.Purpose = "end-to-end test"
	for i := range n {
		s.Spec.Devices = append(s.Spec.Devices, v1alpha1.Device{
			Name: fmt.Sprintf("dev-%d", i),
			IPv4: fmt.Sprintf("10.46.%d.%d", seed/250, seed%250+i+1),
		})
	}
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000-5010"}}
	return s
}

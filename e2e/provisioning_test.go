//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/devstack"
)

// The samples are provisioned and the emulator holds exactly one session per
// sample device, each carrying its slice's correlation key.
func TestSamplesProvisioned(t *testing.T) {
	took := eventually(t, settleTimeout, "samples provisioned, one session per device", func() (bool, string) { return converged(t) })
	n := 0
	for _, s := range listSlices(t) {
		if !wantsSessions(&s, time.Now()) {
			continue // another test's booking, over or to come
		}
		n += len(s.Spec.Devices)
		if len(s.Status.Sessions) != len(s.Spec.Devices) {
			t.Errorf("%s/%s records %d sessions for %d devices", s.Namespace, s.Name, len(s.Status.Sessions), len(s.Spec.Devices))
		}
		if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.Status == "True" && (s.Status.SLA == nil || s.Status.SLA.Windows == 0) {
			t.Errorf("%s/%s: GO without a measured window: %+v", s.Namespace, s.Name, s.Status.SLA)
		}
	}
	sessions := emulatorSessions(t)
	for _, s := range sessions {
		if s.ExpiresAt.IsZero() || len(s.FlowDescriptions) == 0 {
			t.Errorf("session %s has no time bound or no flows: %+v", s.ID, s)
		}
	}
	t.Logf("samples: %d slices, %d devices, %d emulator sessions, converged after %s", len(listSlices(t)), n, len(sessions), took.Round(time.Millisecond))
}

// A new slice on each core is provisioned, and its sessions are released
// within 5 s of its deletion.
func TestCreateAndDeleteOnEachCore(t *testing.T) {
	ctx := context.Background()
	for i, coreName := range []string{devstack.CoreNEF, devstack.CorePCF} {
		t.Run(coreName, func(t *testing.T) {
			s := newSlice("lifecycle-"+coreName, coreName, "surgery-urllc", 10+i*5, 2)
			if err := stack.Client.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			took := eventually(t, settleTimeout, "provisioned", func() (bool, string) {
				var got v1alpha1.MedicalSlice
				if err := stack.Client.Get(ctx, client.ObjectKeyFromObject(s), &got); err != nil {
					return false, err.Error()
				}
				s = &got
				return meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionProvisioned), "not provisioned"
			})
			if got := byCorrelation(emulatorSessions(t)); got[string(s.UID)+"/dev-0"] != 1 || got[string(s.UID)+"/dev-1"] != 1 {
				t.Fatalf("emulator sessions for the slice: %v", got)
			}
			if err := stack.Client.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
			gone := eventually(t, 5*time.Second, "sessions released after delete", func() (bool, string) {
				got := byCorrelation(emulatorSessions(t))
				return got[string(s.UID)+"/dev-0"] == 0 && got[string(s.UID)+"/dev-1"] == 0, "sessions still held"
			})
			eventually(t, 5*time.Second, "slice gone", func() (bool, string) {
				err := stack.Client.Get(ctx, client.ObjectKeyFromObject(s), &v1alpha1.MedicalSlice{})
				return apierrors.IsNotFound(err), "still there"
			})
			t.Logf("%s: provisioned in %s, sessions released %s after delete", coreName, took.Round(time.Millisecond), gone.Round(time.Millisecond))
		})
	}
}

// The operator is SIGKILLed after the core accepted a create and before the
// status recorded it; once restarted there is exactly one session per device.
func TestCrashAfterCoreCreate(t *testing.T) {
	ctx := context.Background()
	for i, coreName := range []string{devstack.CoreNEF, devstack.CorePCF} {
		t.Run(coreName, func(t *testing.T) {
			stack.Operator().Stop()
			op, err := stack.StartOperator(ctx, "--testing-crash-point", "after-core-create")
			if err != nil {
				t.Fatal(err)
			}
			s := newSlice("crash-"+coreName, coreName, "surgery-urllc", 40+i*5, 1)
			if err := stack.Client.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			select {
			case <-op.Done():
			case <-time.After(settleTimeout):
				t.Fatal("operator did not reach the crash point")
			}
			if err := stack.Client.Get(ctx, client.ObjectKeyFromObject(s), s); err != nil {
				t.Fatal(err)
			}
			if len(s.Status.Sessions) != 0 {
				t.Fatalf("status recorded %v before the crash; the test must crash before the status write", s.Status.Sessions)
			}
			before := byCorrelation(emulatorSessions(t))[string(s.UID)+"/dev-0"]
			if _, err := stack.StartOperator(ctx); err != nil {
				t.Fatal(err)
			}
			eventually(t, settleTimeout, "converged after restart", func() (bool, string) { return converged(t) })
			after := byCorrelation(emulatorSessions(t))[string(s.UID)+"/dev-0"]
			t.Logf("%s: sessions for the device at the crash: %d, after restart and convergence: %d", coreName, before, after)
			if before != 1 || after != 1 {
				t.Fatalf("want exactly one session before and after, got %d and %d", before, after)
			}
			if err := stack.Client.Delete(ctx, s); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A core that forgets everything is re-provisioned within 10 s; with 30 %
// of core calls failing, slices still converge and nothing is duplicated.
func TestCoreRestartAndErrors(t *testing.T) {
	ctx := context.Background()
	eventually(t, settleTimeout, "converged before reset", func() (bool, string) { return converged(t) })
	emulatorPost(t, "/admin/v1/reset", "")
	took := eventually(t, 10*time.Second, "re-provisioned after core reset", func() (bool, string) {
		o, m, d := exactlyOnePerDevice(t)
		return m == 0 && o == 0 && d == 0, "sessions missing"
	})
	t.Logf("after POST /admin/v1/reset: every session re-created in %s", took.Round(time.Millisecond))

	emulatorPost(t, "/admin/v1/faults", `{"errorRate": 0.3}`)
	defer emulatorPost(t, "/admin/v1/faults", `{}`)
	var created []*v1alpha1.MedicalSlice
	for i := range 10 {
		coreName := devstack.CoreNEF
		if i%2 == 1 {
			coreName = devstack.CorePCF
		}
		s := newSlice("faulty-"+string(rune('a'+i)), coreName, "iot-mmtc", 60+i*3, 2)
		if err := stack.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		created = append(created, s)
	}
	for _, s := range created[:3] {
		if err := stack.Client.Delete(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	took = eventually(t, 2*settleTimeout, "converged with errorRate 0.3", func() (bool, string) { return converged(t) })
	o, m, d := exactlyOnePerDevice(t)
	t.Logf("errorRate 0.3: converged in %s; orphans=%d missing=%d duplicates=%d", took.Round(time.Millisecond), o, m, d)
	for _, s := range created[3:] {
		_ = stack.Client.Delete(ctx, s)
	}
}

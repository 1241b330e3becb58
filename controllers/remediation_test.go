package controllers

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/stamp"
)

// slowConn delays every packet the reflector reads, as a congested path would.
type slowConn struct {
	net.PacketConn
	delay atomic.Int64
}

func (c *slowConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if d := time.Duration(c.delay.Load()); err == nil && d > 0 {
		time.Sleep(d)
	}
	return n, addr, err
}

func slowReflector(t *testing.T) (string, *slowConn) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conn := &slowConn{PacketConn: pc}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = (&stamp.Reflector{}).Serve(ctx, conn) }()
	t.Cleanup(func() { cancel(); pc.Close() })
	return pc.LocalAddr().String(), conn
}

// A violated SLA is remediated step by step, each action an Event: the
// sessions are re-sent, the slice escalates to the alternative QoS, then
// pre-emptable lower-priority slices on the core are released. A surgical
// slice is never such a victim.
func TestRemediationLadder(t *testing.T) {
	surgery := fastProfile("remedy")
	surgery.Spec.AlternativeQoS = surgery.Spec.QoS.DeepCopy()
	surgery.Spec.AlternativeQoS.FiveQI = ptr[int32](85)
	surgery.Spec.AlternativeQoS.PacketDelayBudgetMs = ptr[int32](5)
	surgery.Spec.Remediation = &v1alpha1.Remediation{
		Actions:  []v1alpha1.RemediationAction{v1alpha1.RemediationReprovision, v1alpha1.RemediationEscalate, v1alpha1.RemediationPreempt},
		Patience: &metav1.Duration{Duration: 300 * time.Millisecond},
	}
	imaging := profile("imaging-victim")
	imaging.Spec.ServiceType = v1alpha1.ServiceTypeEMBB
	imaging.Spec.QoS.FiveQI = ptr[int32](4)
	imaging.Spec.QoS.ARP = &v1alpha1.ARP{PriorityLevel: 8, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionPreemptable}
	for _, p := range []*v1alpha1.SliceProfile{surgery, imaging} {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	victim := newSlice("or-1", "imaging-victim", "nef").profile("imaging-victim").device("probe", "10.45.10.1").obj()
	bystander := newSlice("or-1", "other-surgery", "nef").profile("urllc").device("arm", "10.45.10.2").obj()
	for _, s := range []*v1alpha1.MedicalSlice{victim, bystander} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		waitCondition(t, s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, "")
	}

	refl, conn := slowReflector(t)
	s := newSlice("or-1", "remedied", "nef").profile("remedy").device("arm", "10.45.10.3").obj()
	s.Spec.Probe = &v1alpha1.ProbeTarget{Target: refl}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	waitGo(t, s)

	conn.delay.Store(int64(30 * time.Millisecond)) // RTT target is 20ms
	start := time.Now()
	eventually(t, "remediation reached Preempt", func() error {
		got := get(t, s)
		if rem := got.Status.Remediation; rem == nil || rem.LastAction != v1alpha1.RemediationPreempt || !rem.Escalated {
			return fmt.Errorf("remediation %+v", got.Status.Remediation)
		}
		return nil
	})
	t.Logf("Reprovision, Escalate, Preempt taken within %s of the impairment", time.Since(start).Round(time.Millisecond))
	got := waitCondition(t, victim, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, v1alpha1.ReasonPreempted)
	if got.Annotations[v1alpha1.PreemptedByAnnotation] != "or-1/remedied" {
		t.Errorf("victim annotated %v", got.Annotations)
	}
	eventually(t, "victim's sessions released", func() error {
		if n := len(sessionsFor(t, victim)); n != 0 {
			return fmt.Errorf("%d sessions left", n)
		}
		return nil
	})
	if b := get(t, bystander); b.Annotations[v1alpha1.PreemptedByAnnotation] != "" || len(sessionsFor(t, bystander)) != 1 {
		t.Errorf("a non-pre-emptable slice was pre-empted: %v", b.Annotations)
	}

	conn.delay.Store(0)
	eventually(t, "SLA restored", func() error {
		got := get(t, s)
		if c := condition(got, v1alpha1.ConditionSLAMet); c.Status != metav1.ConditionTrue {
			return fmt.Errorf("SLAMet %s/%s", c.Status, c.Reason)
		}
		if got.Status.Remediation.LastAction != "" {
			return fmt.Errorf("remediation still open: %+v", got.Status.Remediation)
		}
		return nil
	})
}

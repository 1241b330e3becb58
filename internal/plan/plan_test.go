package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/notify"
)

func ptr[T any](v T) *T { return &v }

func testProfile() *v1alpha1.SliceProfile {
	p := &v1alpha1.SliceProfile{}
	p.Spec = v1alpha1.SliceProfileSpec{
		ServiceType: v1alpha1.ServiceTypeURLLC,
		QoS: v1alpha1.QoS{FiveQI: ptr[int32](82), ARP: &v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
			GBRUplinkKbps: ptr[int64](20000), MBRUplinkKbps: ptr[int64](40000), MediaType: "APPLICATION"},
		SNSSAI: v1alpha1.SNSSAI{SST: 2, SD: "000001"},
		DNN:    "hospital",
		SLA:    v1alpha1.SLATargets{RTTP99: &metav1.Duration{Duration: 20 * time.Millisecond}, LossRatio: "1e-4"},
	}
	return p
}

func testSlice() *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{}
	s.Namespace, s.Name, s.UID = "or-3", "surgery", "uid-1"
	s.Spec.Devices = []v1alpha1.Device{{Name: "arm", IPv4: "10.45.0.11"}, {Name: "cam", IPv4: "10.45.0.12"}}
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}, Protocol: v1alpha1.ProtocolUDP}
	return s
}

func TestResolveOverridesOnlyWhatTheSliceSets(t *testing.T) {
	s := testSlice()
	s.Spec.DNN = "or3"
	s.Spec.QoS = &v1alpha1.QoS{GBRUplinkKbps: ptr[int64](30000)}
	s.Spec.SLA = &v1alpha1.SLATargets{RTTP99: &metav1.Duration{Duration: 15 * time.Millisecond}}
	e := Resolve(s, testProfile())
	if e.DNN != "or3" || *e.QoS.GBRUplinkKbps != 30000 || *e.QoS.MBRUplinkKbps != 40000 || *e.QoS.FiveQI != 82 {
		t.Errorf("QoS/DNN not merged field by field: %+v", e)
	}
	if e.SLA.RTTP99.Duration != 15*time.Millisecond || e.SLA.LossRatio != "1e-4" {
		t.Errorf("SLA not merged field by field: %+v", e.SLA)
	}
	if p := testProfile(); *p.Spec.QoS.GBRUplinkKbps != 20000 {
		t.Error("Resolve changed the profile")
	}
	Escalate(&e, &v1alpha1.QoS{FiveQI: ptr[int32](85)})
	if *e.QoS.FiveQI != 85 || *e.QoS.GBRUplinkKbps != 30000 {
		t.Errorf("Escalate: %+v", e.QoS)
	}
}

func TestSessionsOnePerDeviceWithSignedURIs(t *testing.T) {
	signer, _ := notify.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	s := testSlice()
	cn := &v1alpha1.CoreNetwork{Spec: v1alpha1.CoreNetworkSpec{NotificationBaseURL: "http://op:8082"}}
	in := Input{Effective: Resolve(s, testProfile()), Core: cn, Signer: signer, ProbeSource: "10.100.0.254"}
	got, err := Sessions(s, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Device != "arm" || got[1].Device != "cam" {
		t.Fatalf("sessions %+v", got)
	}
	ref, err := signer.VerifyURI(got[0].Spec.NotificationURI)
	if err != nil || ref.Correlation() != "uid-1/arm" {
		t.Errorf("notification URI %q: %v %v", got[0].Spec.NotificationURI, ref, err)
	}
	if !strings.Contains(strings.Join(got[0].Spec.FlowDescriptions, "\n"), "10.100.0.254") {
		t.Errorf("the probe does not ride in the flow: %v", got[0].Spec.FlowDescriptions)
	}
	again, _ := Sessions(s, in)
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("not deterministic (-first +second):\n%s", diff)
	}
	s.Spec.Application.Ports = []string{"6000"}
	changed, _ := Sessions(s, in)
	if changed[0].Hash == got[0].Hash {
		t.Error("a new port did not change the hash: the core would never be updated")
	}
}

func TestDeviceWithoutIPIsRefused(t *testing.T) {
	signer, _ := notify.NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	s := testSlice()
	s.Spec.Devices = []v1alpha1.Device{{Name: "pager", GPSI: "msisdn-4912345678"}}
	_, err := Sessions(s, Input{Effective: Resolve(s, testProfile()), Core: &v1alpha1.CoreNetwork{}, Signer: signer})
	if err == nil || !strings.Contains(err.Error(), "add ipv4 or ipv6") {
		t.Fatalf("err = %v", err)
	}
}

func TestExpiry(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	x := Expiry{Lease: 10 * time.Minute}
	open := testSlice()
	if got := x.Bound(open, now); !got.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("open-ended bound %s", got)
	}
	at := &metav1.Time{Time: now.Add(10 * time.Minute)}
	if x.NeedsRenewal(open, at, now.Add(4*time.Minute)) || !x.NeedsRenewal(open, at, now.Add(6*time.Minute)) {
		t.Error("an open-ended lease must be renewed at half-life, not before")
	}
	booked := testSlice()
	booked.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.Time{Time: now}, End: metav1.Time{Time: now.Add(4 * time.Hour)}}
	bound := x.Bound(booked, now)
	if !bound.Equal(now.Add(4*time.Hour + ScheduleMargin)) {
		t.Errorf("scheduled bound %s", bound)
	}
	if x.NeedsRenewal(booked, &metav1.Time{Time: bound}, now.Add(3*time.Hour)) {
		t.Error("a scheduled session was renewed although its end did not move")
	}
	booked.Spec.Schedule.End = metav1.Time{Time: now.Add(5 * time.Hour)}
	if !x.NeedsRenewal(booked, &metav1.Time{Time: bound}, now) {
		t.Error("an extended schedule did not move the bound")
	}
}

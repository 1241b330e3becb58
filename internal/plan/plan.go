// Package plan turns a MedicalSlice and its SliceProfile into what the core
// must hold: the effective QoS and SLA (profile defaults with the slice's
// overrides) and one core session per device.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/notify"
)

// Defaults for what neither profile nor slice sets.
const (
	DefaultProbePort = 862 // RFC 8762 §4
	// ScheduleMargin keeps a scheduled session a little past its end, so an
	// overrunning operation is not cut before someone can extend it. The
	// operator releases the session at end; the margin only bounds a leak.
	ScheduleMargin = 15 * time.Minute
)

// Effective is a slice's profile with the slice's overrides applied.
type Effective struct {
	ServiceType v1alpha1.ServiceType
	QoS         v1alpha1.QoS
	SNSSAI      v1alpha1.SNSSAI
	DNN         string
	SLA         v1alpha1.SLATargets
	Probe       v1alpha1.ProbeSettings
}

// Resolve merges the slice's overrides over the profile.
func Resolve(s *v1alpha1.MedicalSlice, p *v1alpha1.SliceProfile) Effective {
	e := Effective{
		ServiceType: p.Spec.ServiceType,
		QoS:         *p.Spec.QoS.DeepCopy(),
		SNSSAI:      p.Spec.SNSSAI,
		DNN:         p.Spec.DNN,
		SLA:         *p.Spec.SLA.DeepCopy(),
		Probe:       *p.Spec.Probe.DeepCopy(),
	}
	if s.Spec.SNSSAI != nil {
		e.SNSSAI = *s.Spec.SNSSAI
	}
	if s.Spec.DNN != "" {
		e.DNN = s.Spec.DNN
	}
	if o := s.Spec.QoS; o != nil {
		mergeQoS(&e.QoS, o)
	}
	if o := s.Spec.SLA; o != nil {
		mergeSLA(&e.SLA, o)
	}
	return e
}

// Escalate switches e to the profile's alternative QoS: the remediation
// that asks the core for a stronger flow (DESIGN §5).
func Escalate(e *Effective, alternative *v1alpha1.QoS) {
	if alternative != nil {
		mergeQoS(&e.QoS, alternative)
	}
}

func mergeQoS(dst *v1alpha1.QoS, o *v1alpha1.QoS) {
	setPtr(&dst.FiveQI, o.FiveQI)
	if o.ARP != nil {
		dst.ARP = o.ARP.DeepCopy()
	}
	setPtr(&dst.GBRUplinkKbps, o.GBRUplinkKbps)
	setPtr(&dst.GBRDownlinkKbps, o.GBRDownlinkKbps)
	setPtr(&dst.MBRUplinkKbps, o.MBRUplinkKbps)
	setPtr(&dst.MBRDownlinkKbps, o.MBRDownlinkKbps)
	setPtr(&dst.PacketDelayBudgetMs, o.PacketDelayBudgetMs)
	setPtr(&dst.MaxDataBurstVolumeBytes, o.MaxDataBurstVolumeBytes)
	setStr(&dst.PacketErrorRate, o.PacketErrorRate)
	setStr(&dst.QoSReference, o.QoSReference)
	setStr(&dst.MediaType, o.MediaType)
}

func mergeSLA(dst *v1alpha1.SLATargets, o *v1alpha1.SLATargets) {
	setPtr(&dst.RTTP99, o.RTTP99)
	setPtr(&dst.JitterP99, o.JitterP99)
	setPtr(&dst.Window, o.Window)
	setPtr(&dst.VerificationPeriod, o.VerificationPeriod)
	setStr(&dst.LossRatio, o.LossRatio)
	setStr(&dst.AvailabilityPercent, o.AvailabilityPercent)
}

func setPtr[T any](dst **T, v *T) {
	if v != nil {
		c := *v
		*dst = &c
	}
}

func setStr[T ~string](dst *T, v T) {
	if v != "" {
		*dst = v
	}
}

// Session is the core session one device needs.
type Session struct {
	Device string
	Spec   core.SessionSpec
	// Hash digests Spec without its time bound: when it differs from the
	// recorded one, the core session must be updated.
	Hash string
}

// Input is everything Sessions needs besides the slice.
type Input struct {
	Effective Effective
	Core      *v1alpha1.CoreNetwork
	Signer    *notify.Signer
	// ProbeSource is the operator's probe address (IP, optionally :port);
	// empty when probes are not carried in the flow yet.
	ProbeSource string
}

// Sessions returns one session spec per device, in spec order.
func Sessions(s *v1alpha1.MedicalSlice, in Input) ([]Session, error) {
	e := in.Effective
	q := e.QoS
	qos := core.QoS{
		FiveQI:              deref(q.FiveQI),
		GBRUplinkKbps:       deref(q.GBRUplinkKbps),
		GBRDownlinkKbps:     deref(q.GBRDownlinkKbps),
		MBRUplinkKbps:       deref(q.MBRUplinkKbps),
		MBRDownlinkKbps:     deref(q.MBRDownlinkKbps),
		PacketDelayBudgetMs: deref(q.PacketDelayBudgetMs),
		PacketErrorRate:     q.PacketErrorRate,
		MaxDataBurstVolume:  deref(q.MaxDataBurstVolumeBytes),
		QoSReference:        q.QoSReference,
		MediaType:           string(q.MediaType),
	}
	if q.ARP != nil {
		qos.ARP = core.ARP{PriorityLevel: q.ARP.PriorityLevel, PreemptCap: string(q.ARP.PreemptCap), PreemptVuln: string(q.ARP.PreemptVuln)}
	}
	out := make([]Session, 0, len(s.Spec.Devices))
	for _, d := range s.Spec.Devices {
		ue := core.UE{IPv4: d.IPv4, IPv6: d.IPv6, GPSI: d.GPSI, SUPI: d.SUPI}
		if ue.IPv4 == "" && ue.IPv6 == "" {
			return nil, fmt.Errorf("device %q has no IP address: NEF AsSessionWithQoS and PCF N5 (Rel-17) find a UE's PDU session by its IP address; add ipv4 or ipv6", d.Name)
		}
		ref := notify.Ref{Slice: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, UID: s.UID, Device: d.Name}
		spec := core.SessionSpec{
			NotificationURI:  in.Signer.URI(in.Core.Spec.NotificationBaseURL, ref),
			UE:               ue,
			DNN:              e.DNN,
			SNSSAI:           core.SNSSAI{SST: e.SNSSAI.SST, SD: e.SNSSAI.SD},
			FlowDescriptions: core.FlowDescriptions(ue, s.Spec.Application.Servers, s.Spec.Application.Ports, string(s.Spec.Application.Protocol), probeFlow(s, d, e, in.ProbeSource)),
			QoS:              qos,
		}
		h, err := hash(spec)
		if err != nil {
			return nil, err
		}
		out = append(out, Session{Device: d.Name, Spec: spec, Hash: h})
	}
	return out, nil
}

// probeFlow is the probe's 5-tuple, added to the flow descriptions so the
// probe packets ride in the QoS flow they measure (DESIGN §3).
func probeFlow(s *v1alpha1.MedicalSlice, d v1alpha1.Device, e Effective, source string) *core.ProbeFlow {
	if source == "" {
		return nil
	}
	target := ""
	if s.Spec.Probe != nil && s.Spec.Probe.Target != "" {
		target = s.Spec.Probe.Target
	} else {
		ip := d.IPv4
		if ip == "" {
			ip = d.IPv6
		}
		port := int32(DefaultProbePort)
		if e.Probe.Port != nil {
			port = *e.Probe.Port
		}
		target = net.JoinHostPort(ip, fmt.Sprint(port))
	}
	return &core.ProbeFlow{Source: source, Target: target}
}

func hash(spec core.SessionSpec) (string, error) {
	spec.ExpiresAt = time.Time{}
	b, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("hashing session spec: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Expiry decides a session's time bound (DESIGN §3: an operator that dies
// must leave nothing forever). A scheduled slice's sessions end at the
// schedule's end plus ScheduleMargin; an open-ended slice holds a lease that
// the operator renews while the slice exists.
type Expiry struct {
	Lease time.Duration
}

// Bound is the time bound a session created or renewed now gets.
func (x Expiry) Bound(s *v1alpha1.MedicalSlice, now time.Time) time.Time {
	if s.Spec.Schedule != nil {
		return s.Spec.Schedule.End.Add(ScheduleMargin)
	}
	return now.Add(x.Lease).Truncate(time.Second)
}

// NeedsRenewal tells whether a session recorded with expiresAt must be
// renewed now: its bound moved (schedule edited) or half the lease is gone.
func (x Expiry) NeedsRenewal(s *v1alpha1.MedicalSlice, expiresAt *metav1.Time, now time.Time) bool {
	if expiresAt == nil {
		return true
	}
	if s.Spec.Schedule != nil {
		return !expiresAt.Time.Equal(x.Bound(s, now))
	}
	return expiresAt.Time.Sub(now) < x.Lease/2
}

// RenewAt is when NeedsRenewal turns true for an open-ended session.
func (x Expiry) RenewAt(s *v1alpha1.MedicalSlice, expiresAt time.Time) time.Time {
	if s.Spec.Schedule != nil {
		return time.Time{}
	}
	return expiresAt.Add(-x.Lease / 2)
}

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types of a MedicalSlice. Ready is the GO signal: True only when
// every other condition is True and nothing it rests on is missing or stale.
const (
	ConditionAdmitted    = "Admitted"
	ConditionProvisioned = "Provisioned"
	ConditionSLAMet      = "SLAMet"
	ConditionReady       = "Ready"
)

// Condition reasons of a MedicalSlice.
const (
	ReasonAdmitted        = "Admitted"
	ReasonProfileNotFound = "ProfileNotFound"
	ReasonCoreNotFound    = "CoreNotFound"
	ReasonInvalidSpec     = "InvalidSpec"
	ReasonSessionsReady   = "SessionsReady"
	ReasonProvisioning    = "Provisioning"
	ReasonCoreError       = "CoreError"
	ReasonCoreRejected    = "CoreRejected"
	ReasonNotAdmitted     = "NotAdmitted"
	ReasonNotProvisioned  = "NotProvisioned"
	ReasonSLANotVerified  = "SLANotVerified"
	ReasonReleasing       = "Releasing"
	ReasonSessionLost     = "SessionLost"
	ReasonPreempted       = "Preempted"
	ReasonDeclined        = "Declined"
	ReasonScheduled       = "Scheduled"
	ReasonEnded           = "Ended"
	ReasonReleaseRefused  = "ReleaseRefused"
)

// Device is one UE the slice guarantees connectivity for. It names equipment,
// never a patient.
//
// An IP address is required: NEF AsSessionWithQoS (TS 29.122 Rel-17) and PCF N5
// (TS 29.514) bind a request to the UE's PDU session by its address; a GPSI or
// SUPI alone does not find it.
// +kubebuilder:validation:XValidation:rule="has(self.ipv4) || has(self.ipv6)",message="a device needs ipv4 or ipv6: the core finds the UE's PDU session by its IP address (gpsi and supi only add to it)"
type Device struct {
	// name identifies the device within the slice, e.g. "robot-arm".
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// ipv4 is the UE's IPv4 address in its PDU session.
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="ipv4 must be an IPv4 address such as 10.45.0.7"
	// +optional
	IPv4 string `json:"ipv4,omitempty"`

	// ipv6 is the UE's IPv6 address (or /64 prefix address) in its PDU session.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 6",message="ipv6 must be an IPv6 address such as 2001:db8::7"
	// +optional
	IPv6 string `json:"ipv6,omitempty"`

	// gpsi is the UE's Generic Public Subscription Identifier, "msisdn-<digits>" or "extid-<id>@<domain>" (TS 29.571 Gpsi).
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^(msisdn-[0-9]{5,15}|extid-[^@]+@[^@]+)$`
	// +optional
	GPSI string `json:"gpsi,omitempty"`

	// supi is the UE's subscription permanent identifier, "imsi-<digits>" (TS 29.571 Supi).
	// Some PCFs bind a session to the right UE reliably only when it is given.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^imsi-[0-9]{5,15}$`
	// +optional
	SUPI string `json:"supi,omitempty"`
}

// Protocol is the transport protocol of the application flows.
// +kubebuilder:validation:Enum=UDP;TCP;ANY
type Protocol string

const (
	ProtocolUDP Protocol = "UDP"
	ProtocolTCP Protocol = "TCP"
	ProtocolANY Protocol = "ANY"
)

// Application is the clinical traffic the slice carries: which servers, ports and protocol.
type Application struct {
	// servers are the application servers on the network side, as IP addresses or CIDRs.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=49
	// +kubebuilder:validation:XValidation:rule="self.all(s, isIP(s) || isCIDR(s))",message="each server must be an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)"
	// +listType=set
	// +required
	Servers []string `json:"servers"`

	// ports are server ports as "N" or "N-M", 1-65535. Empty means any port.
	// The range rules skip malformed items, which the first rule reports, so
	// that a typo gets one clear message rather than a conversion error.
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=11
	// +kubebuilder:validation:XValidation:rule="self.all(p, p.matches('^[0-9]{1,5}(-[0-9]{1,5})?$'))",message="each port must be a number N or a range N-M, such as 443 or 5000-5010"
	// +kubebuilder:validation:XValidation:rule="self.all(p, !p.matches('^[0-9]{1,5}(-[0-9]{1,5})?$') || p.split('-').all(n, int(n) >= 1 && int(n) <= 65535))",message="ports must be between 1 and 65535"
	// +kubebuilder:validation:XValidation:rule="self.all(p, !p.matches('^[0-9]{1,5}-[0-9]{1,5}$') || int(p.split('-')[0]) <= int(p.split('-')[1]))",message="a port range N-M needs N <= M"
	// +listType=set
	// +optional
	Ports []string `json:"ports,omitempty"`

	// protocol of the flows: UDP, TCP or ANY.
	// +kubebuilder:default=UDP
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`
}

// Schedule books the slice for a window, e.g. one operation.
//
// +kubebuilder:validation:XValidation:rule="self.end > self.start",message="schedule.end must be after schedule.start"
type Schedule struct {
	// start is when the clinical use begins (RFC 3339).
	// +required
	Start metav1.Time `json:"start"`

	// end is when the clinical use ends (RFC 3339).
	// +required
	End metav1.Time `json:"end"`

	// leadTime is how long before start the slice is provisioned and verified, e.g. "15m".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('0s') && duration(self) <= duration('24h')",message="leadTime must be a duration from 0s to 24h, such as 15m"
	// +optional
	LeadTime *metav1.Duration `json:"leadTime,omitempty"`
}

// ProbeTarget says where the slice's active probes go.
type ProbeTarget struct {
	// target is the reflector at the device side as host:port, e.g. "10.45.0.7:862"
	// or "[2001:db8::7]:862".
	// +kubebuilder:validation:MaxLength=261
	// +kubebuilder:validation:XValidation:rule="self.matches('^([[][0-9A-Fa-f:.]+[]]|[A-Za-z0-9.-]+):[0-9]{1,5}$') && int(self.substring(self.lastIndexOf(':') + 1)) >= 1 && int(self.substring(self.lastIndexOf(':') + 1)) <= 65535",message="probe.target must be host:port with a port from 1 to 65535, such as 10.45.0.7:862 or [2001:db8::7]:862"
	// +optional
	Target string `json:"target,omitempty"`
}

// MedicalSliceSpec is one guaranteed connectivity need.
//
// +kubebuilder:validation:XValidation:rule="oldSelf.coreRef == self.coreRef",message="coreRef cannot change: delete the slice and create one on the other core",fieldPath=`.coreRef`
type MedicalSliceSpec struct {
	// profile is the name of the SliceProfile this slice follows.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Profile string `json:"profile"`

	// coreRef is the name of the CoreNetwork to provision on. It cannot change.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	CoreRef string `json:"coreRef"`

	// purpose says what the slice is for, e.g. "robotic prostatectomy, OR-3". Never a patient's name.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches('[<>]')",message="purpose is plain text: remove < and >"
	// +optional
	Purpose string `json:"purpose,omitempty"`

	// snssai overrides the profile's network slice.
	// +optional
	SNSSAI *SNSSAI `json:"snssai,omitempty"`

	// dnn overrides the profile's data network name.
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')",message="dnn must be a data network name such as hospital or internet: labels of letters, digits and inner hyphens, separated by dots (TS 23.003 §9.1)"
	// +optional
	DNN string `json:"dnn,omitempty"`

	// devices are the UEs that get the guarantee; one core session each.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +required
	Devices []Device `json:"devices"`

	// application is the clinical traffic to guarantee.
	// +required
	Application Application `json:"application"`

	// qos overrides fields of the profile's QoS.
	// +optional
	QoS *QoS `json:"qos,omitempty"`

	// sla overrides fields of the profile's SLA targets.
	// +optional
	SLA *SLATargets `json:"sla,omitempty"`

	// schedule books the slice for a window; without it the slice is open-ended.
	// +optional
	Schedule *Schedule `json:"schedule,omitempty"`

	// probe says where the active probes go.
	// +optional
	Probe *ProbeTarget `json:"probe,omitempty"`

	// remediation overrides the profile's remediation policy.
	// +optional
	Remediation *Remediation `json:"remediation,omitempty"`
}

// CoreSession records one session the core confirmed for one device.
type CoreSession struct {
	// device is the name of the device the session is for.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Device string `json:"device"`

	// core is the CoreNetwork that holds the session.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Core string `json:"core"`

	// id is the core's identifier: the NEF subscription id or the PCF appSessionId.
	// +kubebuilder:validation:MaxLength=256
	// +required
	ID string `json:"id"`

	// expiresAt is when the core ends the session unless it is renewed.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// specHash is a digest of what was requested, to tell when the core must be updated.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	SpecHash string `json:"specHash,omitempty"`
}

// MedicalSliceStatus is what the operator knows of the slice.
type MedicalSliceStatus struct {
	// observedGeneration is the generation this status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Admitted, Provisioned, SLAMet and Ready (GO).
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// sessions are the core sessions that carry the slice, one per device.
	// +listType=map
	// +listMapKey=device
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Sessions []CoreSession `json:"sessions,omitempty"`

	// admission is the booking decision: what capacity the slice holds on its core, and when.
	// +optional
	Admission *AdmissionStatus `json:"admission,omitempty"`

	// remediation is what the operator has done about the current violation.
	// +optional
	Remediation *RemediationStatus `json:"remediation,omitempty"`

	// sla summarises what the probes measured, beside the core's own evidence.
	// +optional
	SLA *SLAStatus `json:"sla,omitempty"`
}

// AdmissionDecision is the outcome of admission against a core's capacity.
// +kubebuilder:validation:Enum=Admitted;Declined;Preempted
type AdmissionDecision string

const (
	AdmissionAdmitted  AdmissionDecision = "Admitted"
	AdmissionDeclined  AdmissionDecision = "Declined"
	AdmissionPreempted AdmissionDecision = "Preempted"
)

// ForceReleaseAnnotation, set to "true" on an active surgical slice, lets a
// delete or an edit release its sessions before the booked end.
const ForceReleaseAnnotation = "medslice.io/force-release"

// Reservation is capacity held on a core.
type Reservation struct {
	// gbrUplinkKbps is the guaranteed uplink bit rate held, in kbit/s.
	// +optional
	GBRUplinkKbps int64 `json:"gbrUplinkKbps,omitempty"`

	// gbrDownlinkKbps is the guaranteed downlink bit rate held, in kbit/s.
	// +optional
	GBRDownlinkKbps int64 `json:"gbrDownlinkKbps,omitempty"`

	// sessions is the number of core sessions held.
	// +optional
	Sessions int64 `json:"sessions,omitempty"`
}

// AdmissionStatus is the persisted admission decision of a slice. Decisions
// are deterministic and survive restarts and leader changes: they are
// revisited only when the slice or the bookings around it change.
type AdmissionStatus struct {
	// decision is Admitted, Declined or Preempted.
	// +required
	Decision AdmissionDecision `json:"decision"`

	// reserved is the capacity held while admitted.
	// +optional
	Reserved Reservation `json:"reserved,omitempty"`

	// from is when the held capacity starts (schedule start minus lead time, or admission time).
	// +optional
	From *metav1.Time `json:"from,omitempty"`

	// until is when it ends; absent for an open-ended slice.
	// +optional
	Until *metav1.Time `json:"until,omitempty"`

	// extensionDeclined is true when the latest change to the window or demand did not fit; the slice keeps what it held.
	// +optional
	ExtensionDeclined bool `json:"extensionDeclined,omitempty"`

	// message explains the decision, e.g. which capacity conflicts and what is free.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`

	// decidedAt is when the decision was last changed.
	// +optional
	DecidedAt *metav1.Time `json:"decidedAt,omitempty"`
}

// RemediationAction is one step the operator may take against an SLA violation.
// +kubebuilder:validation:Enum=Reprovision;Escalate;Preempt
type RemediationAction string

const (
	// RemediationReprovision re-sends every core session of the slice, in
	// case the core lost or degraded what it had installed.
	RemediationReprovision RemediationAction = "Reprovision"
	// RemediationEscalate switches the slice to its profile's alternativeQoS.
	RemediationEscalate RemediationAction = "Escalate"
	// RemediationPreempt releases pre-emptable, lower-priority slices on the
	// same core (only for a slice whose ARP may pre-empt).
	RemediationPreempt RemediationAction = "Preempt"
)

// Remediation is the policy against SLA violations: the actions are tried in
// order, each given `patience` to restore the SLA before the next.
type Remediation struct {
	// actions in the order they are tried; empty means none.
	// +kubebuilder:validation:MaxItems=3
	// +listType=set
	// +optional
	Actions []RemediationAction `json:"actions,omitempty"`

	// patience is how long an action has to restore the SLA before the next is tried, e.g. "2s".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('100ms') && duration(self) <= duration('1h')",message="patience must be a duration from 100ms to 1h, such as 2s"
	// +optional
	Patience *metav1.Duration `json:"patience,omitempty"`
}

// RemediationStatus records the remediation of the current violation.
type RemediationStatus struct {
	// lastAction is the last action taken.
	// +optional
	LastAction RemediationAction `json:"lastAction,omitempty"`

	// lastActionTime is when it was taken.
	// +optional
	LastActionTime *metav1.Time `json:"lastActionTime,omitempty"`

	// escalated is true once the slice runs on its profile's alternativeQoS; it stays so until the slice ends.
	// +optional
	Escalated bool `json:"escalated,omitempty"`

	// preempted lists the slices released for this one, as namespace/name.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=317
	// +listType=set
	// +optional
	Preempted []string `json:"preempted,omitempty"`
}

// PreemptedByAnnotation on a slice names the slice that pre-empted it; its
// sessions are released until an engineer removes the annotation.
const PreemptedByAnnotation = "medslice.io/preempted-by"

// Verdict values of SLAStatus.
const (
	VerdictGo   = "GO"
	VerdictNoGo = "NO-GO"
)

// SLAStatus is the measured state of a slice's SLA, worst device first.
type SLAStatus struct {
	// verdict is GO when the Ready condition is True, NO-GO otherwise; a
	// copy of Ready for people reading a table.
	// +kubebuilder:validation:Enum=GO;NO-GO
	// +optional
	Verdict string `json:"verdict,omitempty"`

	// rttP50 is the median round-trip time over the verification period.
	// +optional
	RTTP50 *metav1.Duration `json:"rttP50,omitempty"`

	// rttP99 is the 99th percentile round-trip time over the verification period (worst window).
	// +optional
	RTTP99 *metav1.Duration `json:"rttP99,omitempty"`

	// jitterP99 is the 99th percentile of |IPDV| (RFC 5481) over the verification period.
	// +optional
	JitterP99 *metav1.Duration `json:"jitterP99,omitempty"`

	// lossRatio is the share of probe packets lost over the verification period.
	// +kubebuilder:validation:MaxLength=16
	// +optional
	LossRatio string `json:"lossRatio,omitempty"`

	// compliance is good windows / windows since probing started, e.g. "0.9990".
	// +kubebuilder:validation:MaxLength=16
	// +optional
	Compliance string `json:"compliance,omitempty"`

	// windows is how many SLA windows have closed since probing started.
	// +optional
	Windows int32 `json:"windows,omitempty"`

	// goodWindows is how many of them met every target.
	// +optional
	GoodWindows int32 `json:"goodWindows,omitempty"`

	// lastViolation is the most recent run of consecutive bad windows.
	// +optional
	LastViolation *SLAViolation `json:"lastViolation,omitempty"`

	// network is the latest evidence from the core (QoS notifications and monitoring reports).
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Network string `json:"network,omitempty"`

	// lastEvaluated is when the verdict was computed.
	// +optional
	LastEvaluated *metav1.Time `json:"lastEvaluated,omitempty"`
}

// SLAViolation is a run of consecutive windows that missed a target.
type SLAViolation struct {
	// start of the first bad window.
	// +required
	Start metav1.Time `json:"start"`

	// end of the last bad window; absent while the violation lasts.
	// +optional
	End *metav1.Time `json:"end,omitempty"`

	// metric that missed its target, e.g. rtt_p99, jitter_p99, loss, no_samples.
	// +kubebuilder:validation:MaxLength=32
	// +required
	Metric string `json:"metric"`

	// observed is the worst value seen, e.g. "31.2ms".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Observed string `json:"observed,omitempty"`

	// target is the value it had to meet, e.g. "20ms".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Target string `json:"target,omitempty"`

	// windows is how many consecutive windows it spans.
	// +optional
	Windows int32 `json:"windows,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ms;mslice,categories=medslice
// +kubebuilder:printcolumn:name="Profile",type=string,JSONPath=`.spec.profile`
// +kubebuilder:printcolumn:name="Core",type=string,JSONPath=`.spec.coreRef`
// +kubebuilder:printcolumn:name="Provisioned",type=string,JSONPath=`.status.conditions[?(@.type=="Provisioned")].status`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="GO",type=string,JSONPath=`.status.sla.verdict`
// +kubebuilder:printcolumn:name="RTT-P99",type=string,JSONPath=`.status.sla.rttP99`
// +kubebuilder:printcolumn:name="Loss",type=string,JSONPath=`.status.sla.lossRatio`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// MedicalSlice is one guaranteed, verified connectivity need of a hospital:
// a procedure in a room, its devices, and the QoS and SLA they must get.
type MedicalSlice struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the need.
	// +required
	Spec MedicalSliceSpec `json:"spec"`

	// status is what the operator knows of it.
	// +optional
	Status MedicalSliceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// MedicalSliceList is a list of MedicalSlices.
type MedicalSliceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MedicalSlice `json:"items"`
}

func init() {
	SchemeBuilder.Register(&MedicalSlice{}, &MedicalSliceList{})
}

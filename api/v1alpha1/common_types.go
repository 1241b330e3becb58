package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceType is the 5G service category of a slice (TS 23.501 §5.15.2.2).
// +kubebuilder:validation:Enum=URLLC;eMBB;mMTC
type ServiceType string

const (
	ServiceTypeURLLC ServiceType = "URLLC"
	ServiceTypeEMBB  ServiceType = "eMBB"
	ServiceTypeMMTC  ServiceType = "mMTC"
)

// SNSSAI identifies a network slice (TS 23.003 §28.4.2, TS 29.571 Snssai).
type SNSSAI struct {
	// sst is the Slice/Service Type, 0-255 (1 eMBB, 2 URLLC, 3 mMTC are standardised).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	// +required
	SST int32 `json:"sst"`

	// sd is the Slice Differentiator: exactly 6 hexadecimal digits. Cores match it
	// exactly, case included, so write it as the core has it.
	// +kubebuilder:validation:Pattern=`^[A-Fa-f0-9]{6}$`
	// +optional
	SD string `json:"sd,omitempty"`
}

// PreemptionCapability says whether a flow may take resources from others
// (TS 29.571 PreemptionCapability).
// +kubebuilder:validation:Enum=NOT_PREEMPT;MAY_PREEMPT
type PreemptionCapability string

const (
	PreemptionNotPreempt PreemptionCapability = "NOT_PREEMPT"
	PreemptionMayPreempt PreemptionCapability = "MAY_PREEMPT"
)

// PreemptionVulnerability says whether a flow may lose its resources to others
// (TS 29.571 PreemptionVulnerability).
// +kubebuilder:validation:Enum=NOT_PREEMPTABLE;PREEMPTABLE
type PreemptionVulnerability string

const (
	PreemptionNotPreemptable PreemptionVulnerability = "NOT_PREEMPTABLE"
	PreemptionPreemptable    PreemptionVulnerability = "PREEMPTABLE"
)

// ARP is the Allocation and Retention Priority (TS 23.501 §5.7.2.2, TS 29.571 Arp).
type ARP struct {
	// priorityLevel is 1 (highest) to 15 (lowest).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=15
	// +required
	PriorityLevel int32 `json:"priorityLevel"`

	// preemptCap says whether this flow may pre-empt others.
	// +kubebuilder:default=NOT_PREEMPT
	// +optional
	PreemptCap PreemptionCapability `json:"preemptCap,omitempty"`

	// preemptVuln says whether this flow may be pre-empted. It defaults to
	// NOT_PREEMPTABLE so that an ARP written without it (for instance a slice
	// overriding only priorityLevel) never makes a flow pre-emptable by omission:
	// losing a flow must be asked for explicitly.
	// +kubebuilder:default=NOT_PREEMPTABLE
	// +optional
	PreemptVuln PreemptionVulnerability `json:"preemptVuln,omitempty"`
}

// MediaType is the media type sent to a PCF (TS 29.514 MediaType). Some PCFs
// derive the 5QI from it alone, so a profile chooses it deliberately.
// +kubebuilder:validation:Enum=AUDIO;VIDEO;DATA;APPLICATION;CONTROL;TEXT;MESSAGE;OTHER
type MediaType string

// QoS holds the 3GPP QoS parameters of a flow. In a SliceProfile it is the
// default; in a MedicalSlice every field is an optional override.
//
// +kubebuilder:validation:XValidation:rule="!has(self.gbrUplinkKbps) || !has(self.mbrUplinkKbps) || self.gbrUplinkKbps <= self.mbrUplinkKbps",message="gbrUplinkKbps must not exceed mbrUplinkKbps: the guaranteed rate is at most the maximum rate (TS 23.501 §5.7.2.5)"
// +kubebuilder:validation:XValidation:rule="!has(self.gbrDownlinkKbps) || !has(self.mbrDownlinkKbps) || self.gbrDownlinkKbps <= self.mbrDownlinkKbps",message="gbrDownlinkKbps must not exceed mbrDownlinkKbps: the guaranteed rate is at most the maximum rate (TS 23.501 §5.7.2.5)"
type QoS struct {
	// fiveQI is the 5G QoS Identifier, 1-255 (TS 23.501 Table 5.7.4-1; 128-254 are operator specific).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=255
	// +optional
	FiveQI *int32 `json:"fiveQI,omitempty"`

	// arp is the allocation and retention priority.
	// +optional
	ARP *ARP `json:"arp,omitempty"`

	// gbrUplinkKbps is the guaranteed uplink bit rate in kbit/s.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000000
	// +optional
	GBRUplinkKbps *int64 `json:"gbrUplinkKbps,omitempty"`

	// gbrDownlinkKbps is the guaranteed downlink bit rate in kbit/s.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000000
	// +optional
	GBRDownlinkKbps *int64 `json:"gbrDownlinkKbps,omitempty"`

	// mbrUplinkKbps is the maximum uplink bit rate in kbit/s.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000000
	// +optional
	MBRUplinkKbps *int64 `json:"mbrUplinkKbps,omitempty"`

	// mbrDownlinkKbps is the maximum downlink bit rate in kbit/s.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000000
	// +optional
	MBRDownlinkKbps *int64 `json:"mbrDownlinkKbps,omitempty"`

	// packetDelayBudgetMs is the packet delay budget in milliseconds (TS 29.571 PacketDelBudget).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1023
	// +optional
	PacketDelayBudgetMs *int32 `json:"packetDelayBudgetMs,omitempty"`

	// packetErrorRate is the packet error rate as "<scalar>E-<exponent>", e.g. "1E-4" (TS 29.571 PacketErrRate).
	// +kubebuilder:validation:Pattern=`^[0-9]E-[0-9]$`
	// +optional
	PacketErrorRate string `json:"packetErrorRate,omitempty"`

	// maxDataBurstVolumeBytes is the maximum data burst volume, 1-4095 bytes (TS 29.571 MaxDataBurstVol).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4095
	// +optional
	MaxDataBurstVolumeBytes *int32 `json:"maxDataBurstVolumeBytes,omitempty"`

	// qosReference is a QoS reference pre-agreed with a NEF (TS 29.122 §5.14.2.1.2 qosReference).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._-]+$`
	// +optional
	QoSReference string `json:"qosReference,omitempty"`

	// mediaType is the media type sent to a PCF (TS 29.514 MediaComponent.medType).
	// +optional
	MediaType MediaType `json:"mediaType,omitempty"`
}

// SLATargets are what a slice must deliver, as measured by its probes.
type SLATargets struct {
	// rttP99 is the highest acceptable 99th percentile of round-trip time, e.g. "20ms".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('10s')",message="rttP99 must be a positive duration of at most 10s, such as 20ms"
	// +optional
	RTTP99 *metav1.Duration `json:"rttP99,omitempty"`

	// jitterP99 is the highest acceptable 99th percentile of IP packet delay variation (RFC 5481), e.g. "5ms".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) > duration('0s') && duration(self) <= duration('10s')",message="jitterP99 must be a positive duration of at most 10s, such as 5ms"
	// +optional
	JitterP99 *metav1.Duration `json:"jitterP99,omitempty"`

	// lossRatio is the highest acceptable share of lost probe packets, as a decimal such as "0.0001" or "1e-4".
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|1|0[.][0-9]{1,9}|[1-9]([.][0-9]{1,6})?[eE]-[0-9]{1,2})$') && double(self) <= 1.0",message="lossRatio must be a share between 0 and 1 written as a decimal or in E notation, such as 0.0001 or 1e-4"
	// +optional
	LossRatio string `json:"lossRatio,omitempty"`

	// availabilityPercent is the lowest acceptable share of good windows, e.g. "99.99".
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^(100([.]0{1,6})?|[0-9]{1,2}([.][0-9]{1,6})?)$')",message="availabilityPercent must be a percentage from 0 to 100 with at most 6 decimals, such as 99.99"
	// +optional
	AvailabilityPercent string `json:"availabilityPercent,omitempty"`

	// window is the length of one SLA evaluation window, e.g. "1s".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('100ms') && duration(self) <= duration('1h')",message="window must be a duration from 100ms to 1h, such as 1s"
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`

	// verificationPeriod is how long the SLA must have held before the slice is GO, e.g. "30s".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="verificationPeriod must be a duration from 1s to 24h, such as 30s"
	// +optional
	VerificationPeriod *metav1.Duration `json:"verificationPeriod,omitempty"`
}

// ProbeSettings configure the active STAMP probes (RFC 8762) of a slice.
type ProbeSettings struct {
	// interval between two test packets, e.g. "100ms". The lower bound keeps one
	// slice from flooding the reflector and the QoS flow it measures.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('10ms') && duration(self) <= duration('1m')",message="interval must be a duration from 10ms to 1m, such as 100ms"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// port is the UDP port of the reflector at the device side (RFC 8762 §4: 862).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port *int32 `json:"port,omitempty"`

	// clockSynchronized says that sender and reflector clocks are synchronised,
	// so that one-way delays are meaningful.
	// +optional
	ClockSynchronized *bool `json:"clockSynchronized,omitempty"`
}

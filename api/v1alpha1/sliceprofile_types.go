package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SliceProfileSpec is one entry of the catalog of guaranteed connectivity a
// hospital offers: a service type, its 3GPP QoS and the SLA that proves it.
//
// URLLC needs a guaranteed bit rate: standardised GBR 5QIs (1-4, 65-67, 71-76)
// or delay-critical GBR 5QIs (82-90), TS 23.501 Table 5.7.4-1, also in the
// alternative QoS it may be escalated to. A URLLC profile is never
// pre-emptable (DESIGN §6: a surgical slice is never pre-empted), in its
// alternative QoS neither. The has() guards leave a missing qos.fiveQI or
// qos.arp to the rules on qos, which say so plainly.
// +kubebuilder:validation:XValidation:rule="self.serviceType != 'URLLC' || !has(self.qos.fiveQI) || self.qos.fiveQI in [1, 2, 3, 4, 65, 66, 67, 71, 72, 73, 74, 75, 76, 82, 83, 84, 85, 86, 87, 88, 89, 90]",message="a URLLC profile needs a GBR or delay-critical GBR 5QI (1-4, 65-67, 71-76, 82-90; TS 23.501 Table 5.7.4-1)",fieldPath=`.qos.fiveQI`
// +kubebuilder:validation:XValidation:rule="self.serviceType != 'URLLC' || (has(self.qos.gbrUplinkKbps) && self.qos.gbrUplinkKbps > 0) || (has(self.qos.gbrDownlinkKbps) && self.qos.gbrDownlinkKbps > 0)",message="a URLLC profile needs a guaranteed bit rate: set qos.gbrUplinkKbps or qos.gbrDownlinkKbps above 0",fieldPath=`.qos`
// +kubebuilder:validation:XValidation:rule="self.serviceType != 'URLLC' || !has(self.qos.arp) || self.qos.arp.preemptVuln == 'NOT_PREEMPTABLE'",message="a URLLC profile must not be pre-emptable: set qos.arp.preemptVuln to NOT_PREEMPTABLE",fieldPath=`.qos.arp.preemptVuln`
// +kubebuilder:validation:XValidation:rule="self.serviceType != 'URLLC' || !has(self.alternativeQoS) || !has(self.alternativeQoS.arp) || self.alternativeQoS.arp.preemptVuln == 'NOT_PREEMPTABLE'",message="a URLLC profile must not be pre-emptable after escalation either: set alternativeQoS.arp.preemptVuln to NOT_PREEMPTABLE",fieldPath=`.alternativeQoS.arp.preemptVuln`
// +kubebuilder:validation:XValidation:rule="self.serviceType != 'URLLC' || !has(self.alternativeQoS) || !has(self.alternativeQoS.fiveQI) || self.alternativeQoS.fiveQI in [1, 2, 3, 4, 65, 66, 67, 71, 72, 73, 74, 75, 76, 82, 83, 84, 85, 86, 87, 88, 89, 90]",message="a URLLC profile may only escalate to a GBR or delay-critical GBR 5QI: alternativeQoS.fiveQI must be one of 1-4, 65-67, 71-76, 82-90",fieldPath=`.alternativeQoS.fiveQI`
type SliceProfileSpec struct {
	// serviceType is the 5G service category: URLLC, eMBB or mMTC.
	// +required
	ServiceType ServiceType `json:"serviceType"`

	// description says in a sentence what the profile is for.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`

	// qos is the default 3GPP QoS of slices of this profile. fiveQI and arp are required here.
	// +kubebuilder:validation:XValidation:rule="has(self.fiveQI)",message="a profile must set qos.fiveQI"
	// +kubebuilder:validation:XValidation:rule="has(self.arp)",message="a profile must set qos.arp"
	// +required
	QoS QoS `json:"qos"`

	// alternativeQoS is a fallback a slice may be escalated to when its SLA is violated.
	// +optional
	AlternativeQoS *QoS `json:"alternativeQoS,omitempty"`

	// snssai is the default network slice of slices of this profile.
	// +required
	SNSSAI SNSSAI `json:"snssai"`

	// dnn is the default data network name (TS 23.003 §9.1).
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')",message="dnn must be a data network name such as hospital or internet: labels of letters, digits and inner hyphens, separated by dots (TS 23.003 §9.1)"
	// +required
	DNN string `json:"dnn"`

	// sla are the targets slices of this profile must meet.
	// +optional
	SLA SLATargets `json:"sla,omitempty"`

	// probe configures the active probes of slices of this profile.
	// +optional
	Probe ProbeSettings `json:"probe,omitempty"`

	// maxDuration bounds how long one slice of this profile may be scheduled for, e.g. "12h".
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,6}([.][0-9]{1,9})?(ns|us|µs|μs|ms|s|m|h))+$') && duration(self) >= duration('1m') && duration(self) <= duration('8760h')",message="maxDuration must be a duration from 1m to 8760h, such as 12h"
	// +optional
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`

	// remediation is what the operator does when slices of this profile violate their SLA.
	// +optional
	Remediation *Remediation `json:"remediation,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=sp,categories=medslice
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.serviceType`
// +kubebuilder:printcolumn:name="5QI",type=integer,JSONPath=`.spec.qos.fiveQI`
// +kubebuilder:printcolumn:name="ARP",type=integer,JSONPath=`.spec.qos.arp.priorityLevel`
// +kubebuilder:printcolumn:name="RTT-P99",type=string,JSONPath=`.spec.sla.rttP99`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// SliceProfile is a catalog entry curated by the hospital's network engineers.
type SliceProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the profile.
	// +required
	Spec SliceProfileSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// SliceProfileList is a list of SliceProfiles.
type SliceProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SliceProfile `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SliceProfile{}, &SliceProfileList{})
}

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bounds of an SLAReport. They keep the largest report (a 24 h slice, or a
// day of an open-ended one, at 100 ms windows) well under etcd's 1.5 MiB
// object limit: the report generator rolls windows up into coarser
// intervals when there are more than MaxReportRollups of them.
const (
	MaxReportRollups    = 2000
	MaxReportViolations = 500
	MaxReportGaps       = 256
)

// Algorithms of the hash chain and of the signature.
const (
	ChainAlgorithmSHA256      = "SHA-256"
	SignatureAlgorithmEd25519 = "Ed25519"
)

// SLAReportImmutableMessage is what the API server answers to any change of
// an SLAReport's spec (the CEL rule on SLAReport.Spec).
const SLAReportImmutableMessage = "an SLAReport is sealed evidence and cannot be changed: create a new report instead"

// SLAReportSliceRef names the MedicalSlice a report is about, in the
// report's namespace.
type SLAReportSliceRef struct {
	// name of the MedicalSlice.
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// uid of the MedicalSlice, so that a slice deleted and booked again under
	// the same name is told apart.
	// +kubebuilder:validation:MaxLength=64
	// +required
	UID string `json:"uid"`
}

// SLAReportPeriod is the span of time a report covers, [start, end).
type SLAReportPeriod struct {
	// start of the period (RFC 3339, microseconds).
	// +required
	Start metav1.MicroTime `json:"start"`

	// end of the period (RFC 3339, microseconds).
	// +required
	End metav1.MicroTime `json:"end"`
}

// SLAReportTargets are the SLA targets the slice was judged against, in the
// API's notation; an empty field was not set.
type SLAReportTargets struct {
	// rttP99 is the highest acceptable 99th percentile round-trip time per window, e.g. "20ms".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	RTTP99 string `json:"rttP99,omitempty"`

	// jitterP99 is the highest acceptable 99th percentile of |IPDV| (RFC 5481) per window, e.g. "5ms".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	JitterP99 string `json:"jitterP99,omitempty"`

	// lossRatio is the highest acceptable share of lost probes per window, e.g. "0.0001".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	LossRatio string `json:"lossRatio,omitempty"`

	// availabilityPercent is the lowest acceptable share of good windows over the period, e.g. "99.99".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	AvailabilityPercent string `json:"availabilityPercent,omitempty"`

	// window is the length of one SLA evaluation window, e.g. "1s".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Window string `json:"window,omitempty"`
}

// SLAReportMeasured is what the probes measured over the whole period. Every
// figure follows from the rollups, and verification recomputes it.
type SLAReportMeasured struct {
	// rttP50 is the median of the intervals' median round-trip times.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	RTTP50 string `json:"rttP50,omitempty"`

	// rttP99 is the highest interval 99th percentile round-trip time.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	RTTP99 string `json:"rttP99,omitempty"`

	// rttMax is the highest round-trip time measured.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	RTTMax string `json:"rttMax,omitempty"`

	// jitterP99 is the highest interval 99th percentile of |IPDV|.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	JitterP99 string `json:"jitterP99,omitempty"`

	// lossRatio is lost / sent probes over the period, six significant digits.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	LossRatio string `json:"lossRatio,omitempty"`

	// compliance is goodWindows / windows, six decimals, e.g. "0.999000".
	// +kubebuilder:validation:MaxLength=32
	// +optional
	Compliance string `json:"compliance,omitempty"`

	// windows is how many SLA windows closed in the period.
	// +kubebuilder:validation:Minimum=0
	// +required
	Windows int64 `json:"windows"`

	// goodWindows is how many of them met every target.
	// +kubebuilder:validation:Minimum=0
	// +required
	GoodWindows int64 `json:"goodWindows"`
}

// SLAReportViolation is a run of consecutive windows that missed a target.
type SLAReportViolation struct {
	// start of the first bad window.
	// +required
	Start metav1.MicroTime `json:"start"`

	// end of the last bad window; absent when the run was still open at the end of the period.
	// +optional
	End *metav1.MicroTime `json:"end,omitempty"`

	// metric is the worst target missed: rtt_p99, jitter_p99, loss, throughput or no_samples.
	// +kubebuilder:validation:MaxLength=32
	// +required
	Metric string `json:"metric"`

	// observed is the worst figure of the run, e.g. "31.2ms".
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Observed string `json:"observed,omitempty"`

	// target is the target it missed, e.g. "20ms".
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Target string `json:"target,omitempty"`

	// windows counts the bad windows in the run.
	// +kubebuilder:validation:Minimum=0
	// +required
	Windows int64 `json:"windows"`
}

// SLAReportRollup is what one interval measured: one SLA window, or several
// merged when the period holds more windows than a report keeps. Merging
// sums the counts and keeps the highest p99s and maximum (never better than
// the windows it merges); rttP50 is the median of the windows' medians.
type SLAReportRollup struct {
	// start of the interval's first window.
	// +required
	Start metav1.MicroTime `json:"start"`

	// end of the interval's last window.
	// +required
	End metav1.MicroTime `json:"end"`

	// windows is how many SLA windows the interval merges.
	// +kubebuilder:validation:Minimum=0
	// +required
	Windows int64 `json:"windows"`

	// goodWindows is how many of them met every target.
	// +kubebuilder:validation:Minimum=0
	// +required
	GoodWindows int64 `json:"goodWindows"`

	// sent counts the probes resolved in the interval (received + lost).
	// +kubebuilder:validation:Minimum=0
	// +required
	Sent int64 `json:"sent"`

	// received counts the probes answered.
	// +kubebuilder:validation:Minimum=0
	// +required
	Received int64 `json:"received"`

	// lost counts the probes never answered.
	// +kubebuilder:validation:Minimum=0
	// +required
	Lost int64 `json:"lost"`

	// rttP50 is the median round-trip time (median of the windows' medians).
	// +kubebuilder:validation:MaxLength=32
	// +required
	RTTP50 string `json:"rttP50"`

	// rttP99 is the 99th percentile round-trip time (highest window p99).
	// +kubebuilder:validation:MaxLength=32
	// +required
	RTTP99 string `json:"rttP99"`

	// rttMax is the highest round-trip time.
	// +kubebuilder:validation:MaxLength=32
	// +required
	RTTMax string `json:"rttMax"`

	// jitterP99 is the 99th percentile of |IPDV| (highest window p99).
	// +kubebuilder:validation:MaxLength=32
	// +required
	JitterP99 string `json:"jitterP99"`

	// lossRatio is lost / sent, six significant digits.
	// +kubebuilder:validation:MaxLength=32
	// +required
	LossRatio string `json:"lossRatio"`

	// met is true when every window of the interval met every target.
	// +required
	Met bool `json:"met"`

	// hash is the hash chain link of this rollup, hex: SHA-256(previous link || canonical rollup without hash).
	// +kubebuilder:validation:MaxLength=64
	// +required
	Hash string `json:"hash"`
}

// SLAReportGap is a span of the period without evidence.
type SLAReportGap struct {
	// start of the gap.
	// +required
	Start metav1.MicroTime `json:"start"`

	// end of the gap.
	// +required
	End metav1.MicroTime `json:"end"`

	// reason says why evidence is missing, e.g. "operator restarted: windows since the last checkpoint were lost".
	// +kubebuilder:validation:MaxLength=256
	// +required
	Reason string `json:"reason"`
}

// SLAReportChain is the head of the hash chain over the rollups.
type SLAReportChain struct {
	// algorithm of the chain; always SHA-256.
	// +kubebuilder:validation:Enum=SHA-256
	// +required
	Algorithm string `json:"algorithm"`

	// head is the last link (hex), the hash of the last rollup, or of the header when there is none.
	// +kubebuilder:validation:MaxLength=64
	// +required
	Head string `json:"head"`
}

// SLAReportSignature signs the report.
type SLAReportSignature struct {
	// algorithm of the signature; always Ed25519.
	// +kubebuilder:validation:Enum=Ed25519
	// +required
	Algorithm string `json:"algorithm"`

	// keyID names the public key that verifies the signature: the first 16
	// hex digits of SHA-256 of the raw 32-byte Ed25519 public key.
	// +kubebuilder:validation:MaxLength=64
	// +required
	KeyID string `json:"keyID"`

	// value is the signature, standard base64.
	// +kubebuilder:validation:MaxLength=128
	// +required
	Value string `json:"value"`
}

// SLAReportSpec is the sealed evidence of one slice over one period. The
// canonical encoding that the chain and signature cover is defined in
// package internal/report.
type SLAReportSpec struct {
	// slice is the MedicalSlice the report is about.
	// +required
	Slice SLAReportSliceRef `json:"slice"`

	// sliceSpec is the MedicalSlice's spec when the report was sealed, as
	// compact JSON. It is a string, not a typed copy, so that the signed
	// bytes survive changes to the MedicalSlice schema: a typed copy would be
	// pruned or rejected by a later schema, breaking the signature of
	// evidence that was valid when written.
	// +kubebuilder:validation:MaxLength=65536
	// +required
	SliceSpec string `json:"sliceSpec"`

	// period is the span of time covered.
	// +required
	Period SLAReportPeriod `json:"period"`

	// interval is the length of one rollup, e.g. "1s", or "44s" when windows were merged to fit.
	// +kubebuilder:validation:MaxLength=32
	// +required
	Interval string `json:"interval"`

	// targets are the SLA targets judged against.
	// +required
	Targets SLAReportTargets `json:"targets"`

	// measured are the figures over the whole period.
	// +required
	Measured SLAReportMeasured `json:"measured"`

	// violations are the runs of bad windows, oldest first. When there are
	// more than fit, the longest are kept and violationsOmitted counts the rest.
	// +kubebuilder:validation:MaxItems=500
	// +listType=atomic
	// +optional
	Violations []SLAReportViolation `json:"violations,omitempty"`

	// violationsOmitted counts the violations left out for size.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ViolationsOmitted int64 `json:"violationsOmitted,omitempty"`

	// rollups are the per-interval measurements, oldest first.
	// +kubebuilder:validation:MaxItems=2000
	// +listType=atomic
	// +optional
	Rollups []SLAReportRollup `json:"rollups,omitempty"`

	// gaps are spans of the period without evidence, oldest first.
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Gaps []SLAReportGap `json:"gaps,omitempty"`

	// chain is the head of the SHA-256 hash chain over the rollups.
	// +required
	Chain SLAReportChain `json:"chain"`

	// signature is the Ed25519 signature over the canonical encoding of every other field of the spec.
	// +required
	Signature SLAReportSignature `json:"signature"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=slar,categories=medslice
// +kubebuilder:printcolumn:name="Slice",type=string,JSONPath=`.spec.slice.name`
// +kubebuilder:printcolumn:name="From",type=string,JSONPath=`.spec.period.start`
// +kubebuilder:printcolumn:name="To",type=string,JSONPath=`.spec.period.end`
// +kubebuilder:printcolumn:name="Compliance",type=string,JSONPath=`.spec.measured.compliance`
// +kubebuilder:printcolumn:name="Key ID",type=string,JSONPath=`.spec.signature.keyID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// SLAReport is the signed, immutable evidence of what a MedicalSlice
// delivered over a period (DESIGN §7). The operator writes it; nobody
// changes it.
type SLAReport struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the sealed evidence. It cannot change once created.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an SLAReport is sealed evidence and cannot be changed: create a new report instead"
	// +required
	Spec SLAReportSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// SLAReportList is a list of SLAReports.
type SLAReportList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SLAReport `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SLAReport{}, &SLAReportList{})
}

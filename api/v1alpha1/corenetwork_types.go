package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types and reasons of a CoreNetwork.
const (
	// ConditionReachable is True when the core answered its API recently.
	ConditionReachable = "Reachable"

	ReasonAPIAnswered    = "APIAnswered"
	ReasonAPIUnreachable = "APIUnreachable"
	ReasonAuthFailed     = "AuthFailed"
	ReasonConfigInvalid  = "ConfigInvalid"
)

// CoreAPI is the southbound API a core offers.
// +kubebuilder:validation:Enum=NEF;PCF
type CoreAPI string

const (
	// CoreAPINEF is NEF AsSessionWithQoS (TS 29.122 §5.14), for a carrier's core.
	CoreAPINEF CoreAPI = "NEF"
	// CoreAPIPCF is PCF Npcf_PolicyAuthorization over N5 (TS 29.514), for a campus core.
	CoreAPIPCF CoreAPI = "PCF"
)

// CoreCapacity is what the hospital may reserve on a core.
type CoreCapacity struct {
	// gbrUplinkKbps is the total guaranteed uplink bit rate slices may reserve, in kbit/s.
	// +kubebuilder:validation:Minimum=0
	// +optional
	GBRUplinkKbps int64 `json:"gbrUplinkKbps,omitempty"`

	// gbrDownlinkKbps is the total guaranteed downlink bit rate slices may reserve, in kbit/s.
	// +kubebuilder:validation:Minimum=0
	// +optional
	GBRDownlinkKbps int64 `json:"gbrDownlinkKbps,omitempty"`

	// maxSessions is how many core sessions slices may hold at once.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxSessions int32 `json:"maxSessions,omitempty"`
}

// SecretKeyRef names a Secret in the operator's namespace.
type SecretKeyRef struct {
	// name of the Secret.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`
}

// CoreAuth names the credentials used towards the core. The Secrets live in
// the operator's namespace (CoreNetwork is cluster-scoped); a change to
// them takes effect on the next request, without a restart.
type CoreAuth struct {
	// oauth2 names a Secret in the operator's namespace with keys tokenURL,
	// clientID and clientSecret for OAuth2 client credentials
	// (TS 33.501 §13.4.1, TS 29.510 access token). A PCF's token is asked
	// for with scope npcf-policyauthorization; a NEF's with none.
	// +optional
	OAuth2 *SecretKeyRef `json:"oauth2,omitempty"`

	// tls names a Secret in the operator's namespace of type
	// kubernetes.io/tls (tls.crt, tls.key and optionally ca.crt, the CAs
	// trusted for the core's certificate) for mutual TLS with an https://
	// endpoint and the token endpoint.
	// +optional
	TLS *SecretKeyRef `json:"tls,omitempty"`
}

// CoreNetworkSpec describes one 5G core the operator provisions on.
//
// +kubebuilder:validation:XValidation:rule="self.api != 'NEF' || has(self.afID)",message="a NEF core needs afID: the SCS/AS identifier the NEF knows this hospital by (TS 29.122 scsAsId)",fieldPath=`.afID`
type CoreNetworkSpec struct {
	// api is the southbound API: NEF (AsSessionWithQoS, TS 29.122) or PCF (N5, TS 29.514).
	// +required
	API CoreAPI `json:"api"`

	// endpoint is the apiRoot of the API, e.g. "https://nef.carrier.example:8443".
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''",message="endpoint must be an http:// or https:// URL with a host, e.g. https://nef.example:8443"
	// +required
	Endpoint string `json:"endpoint"`

	// afID is the AF / SCS-AS identifier (the {scsAsId} path segment of TS 29.122).
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9._~-]+$`
	// +optional
	AFID string `json:"afID,omitempty"`

	// notificationBaseURL is where the core can reach the operator's notification
	// receiver, e.g. "http://medslice-notify.medslice-system:8082".
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHost() != ''",message="notificationBaseURL must be an http:// or https:// URL with a host the core can reach, e.g. http://medslice-notify.medslice-system:8082"
	// +required
	NotificationBaseURL string `json:"notificationBaseURL"`

	// capacity is what slices may reserve on this core.
	// +optional
	Capacity CoreCapacity `json:"capacity,omitempty"`

	// auth names the credentials used towards the core.
	// +optional
	Auth CoreAuth `json:"auth,omitempty"`
}

// CoreNetworkStatus is what the operator last saw of the core.
type CoreNetworkStatus struct {
	// observedGeneration is the generation the status was computed for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Reachable.
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastProbeTime is when the API was last checked.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=core,categories=medslice
// +kubebuilder:printcolumn:name="API",type=string,JSONPath=`.spec.api`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name="Reachable",type=string,JSONPath=`.status.conditions[?(@.type=="Reachable")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// CoreNetwork is one 5G core reachable through NEF or PCF.
type CoreNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the core.
	// +required
	Spec CoreNetworkSpec `json:"spec"`

	// status is what the operator last saw of it.
	// +optional
	Status CoreNetworkStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// CoreNetworkList is a list of CoreNetworks.
type CoreNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CoreNetwork `json:"items"`
}

func init() {
	SchemeBuilder.Register(&CoreNetwork{}, &CoreNetworkList{})
}

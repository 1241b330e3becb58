package controllers

// The operator's own objects: the Secret with the notification signing key
// (created at first start) and the leader-election Lease.
//
// +kubebuilder:rbac:groups="",namespace=medslice-system,resources=secrets,verbs=get;create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=medslice-system,resources=leases,verbs=get;list;watch;create;update;patch;delete

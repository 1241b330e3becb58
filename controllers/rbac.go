package controllers

// The operator's own objects: the Secret with the notification signing key
// (created at first start) and the leader-election Lease.
//
// +kubebuilder:rbac:groups="",namespace=medslice-system,resources=secrets,verbs=get;create
// +kubebuilder:rbac:groups=coordination.k8s.io,namespace=medslice-system,resources=leases,verbs=get;list;watch;create;update;patch;delete

// Evidence (internal/evidence): the SLAReports sealed in the slices'
// namespaces (get only to be told a report exists), the report signing key
// Secret (get and create, above), and one evidence checkpoint ConfigMap per
// probed slice, in the operator's namespace only: the operator needs write
// access to no other ConfigMap, and no team can edit a checkpoint.
//
// +kubebuilder:rbac:groups=medslice.io,resources=slareports,verbs=get;create
// +kubebuilder:rbac:groups="",namespace=medslice-system,resources=configmaps,verbs=get;list;create;update;delete

// The web console signs people in with their own Kubernetes token and acts
// as them: it reviews tokens and impersonates the reviewed identity, so that
// RBAC is the only authority over what a surgery team may see and book.
//
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups="",resources=users;groups;serviceaccounts,verbs=impersonate
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=uids;userextras/*,verbs=impersonate
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

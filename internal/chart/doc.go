// Package chart holds the tests of the Helm chart in charts/medslice: that
// its copies of the generated manifests (CRDs, the operator's RBAC, the
// profiles, the alerting rules) never drift from config/, that helm lints
// and renders it, that the rules and the dashboard are sound, and that the
// rendered chart installs into the local API server with personas that can
// do what they should and nothing more.
package chart

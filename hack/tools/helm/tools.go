//go:build tools

// Package helm pins the helm command line, built into bin/ by
// hack/build-helm.sh for the chart's lint, render and install tests.
package helm

import _ "helm.sh/helm/v3/cmd/helm"

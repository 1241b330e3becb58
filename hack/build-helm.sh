#!/usr/bin/env bash
# Builds helm from its Go module (hack/tools/helm) into bin/, once. The chart
# tests lint, render and install charts/medslice with this binary, so CI and a
# person's machine use the same helm without a download.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
mkdir -p "$bin"

if [[ -x "$bin/helm" ]]; then
	echo "helm: present in bin/, skipping"
	exit 0
fi
echo "helm: building helm.sh/helm/v3/cmd/helm (first time only, a few minutes)..."
start=$SECONDS
cd "$root/hack/tools/helm"
# The version stamps helm's own Makefile sets: without them helm reports no
# version and assumes Kubernetes 1.20 as the default capabilities (so
# `helm template` would refuse the chart's kubeVersion).
helm_version=$(go list -m -f '{{.Version}}' helm.sh/helm/v3)
k8s_minor=$(go list -m -f '{{.Version}}' k8s.io/client-go | cut -d. -f2)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in pkg/lint/rules pkg/chartutil; do
	ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$bin/helm.tmp" helm.sh/helm/v3/cmd/helm
mv "$bin/helm.tmp" "$bin/helm"
echo "helm: built $("$bin/helm" version --short 2>/dev/null || echo helm) in $((SECONDS - start))s"

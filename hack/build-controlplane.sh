#!/usr/bin/env bash
# Builds etcd and kube-apiserver (and kubectl, for people) from their Go
# modules into bin/, once. envtest and `make run` both use these binaries, so
# the tests run against the same real control plane a person sees.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/bin"
mkdir -p "$bin"

build() { # name helper-module package
	local name=$1 module=$2 pkg=$3
	if [[ -x "$bin/$name" ]]; then
		echo "controlplane: $name present in bin/, skipping"
		return
	fi
	echo "controlplane: building $name from $pkg (first time only, a few minutes)..."
	local start=$SECONDS
	(cd "$root/hack/tools/$module" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$bin/$name.tmp" "$pkg")
	mv "$bin/$name.tmp" "$bin/$name"
	echo "controlplane: built $name in $((SECONDS - start))s"
}

build etcd etcd go.etcd.io/etcd/server/v3
build kube-apiserver controlplane k8s.io/kubernetes/cmd/kube-apiserver
build kubectl controlplane k8s.io/kubernetes/cmd/kubectl

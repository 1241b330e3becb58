//go:build tools

package codegen

import _ "sigs.k8s.io/controller-tools/cmd/controller-gen"

// Package scheme builds the runtime.Scheme every medslice program uses: the
// built-in Kubernetes kinds and medslice.io/v1alpha1.
package scheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/medslice/medslice/api/v1alpha1"
)

// New returns a scheme with the built-in kinds and medslice's.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

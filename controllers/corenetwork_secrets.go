package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/medslice/medslice/api/v1alpha1"
)

// The credentials of authenticated cores (CoreNetwork spec.auth) are
// Secrets in the operator's namespace. The operator reads them through its
// cache, which main restricts to that namespace, so it needs to get, list
// and watch Secrets there and nowhere else: a namespaced Role, not a
// ClusterRole. (controller-runtime cannot watch a list of named objects,
// so list and watch cannot be narrowed to the referenced names.)
//
// +kubebuilder:rbac:groups="",namespace=medslice-system,resources=secrets,verbs=get;list;watch

// indexAuthSecret indexes CoreNetworks by the Secrets their spec.auth names.
const indexAuthSecret = "spec.auth.secretNames"

// authSecretNames are the Secrets cn's spec.auth names.
func authSecretNames(obj client.Object) []string {
	cn, ok := obj.(*v1alpha1.CoreNetwork)
	if !ok {
		return nil
	}
	var names []string
	if ref := cn.Spec.Auth.OAuth2; ref != nil {
		names = append(names, ref.Name)
	}
	if ref := cn.Spec.Auth.TLS; ref != nil && (len(names) == 0 || names[0] != ref.Name) {
		names = append(names, ref.Name)
	}
	return names
}

// watchSecrets re-checks a core at once when a Secret it names is created,
// changed or deleted, so that a fixed or rotated credential shows in its
// Reachable condition without waiting for the next probe.
func (r *CoreNetworkReconciler) watchSecrets(ctx context.Context, mgr ctrl.Manager, b *builder.TypedBuilder[reconcile.Request]) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.CoreNetwork{}, indexAuthSecret, authSecretNames); err != nil {
		return err
	}
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.SecretNamespace })
	b.Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.coresNaming), builder.WithPredicates(inNamespace))
	return nil
}

// coresNaming maps a Secret to the CoreNetworks whose spec.auth names it.
func (r *CoreNetworkReconciler) coresNaming(ctx context.Context, sec client.Object) []reconcile.Request {
	var cores v1alpha1.CoreNetworkList
	if err := r.List(ctx, &cores, client.MatchingFields{indexAuthSecret: sec.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing CoreNetworks that name a Secret", "secret", sec.GetName())
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(cores.Items))
	for _, cn := range cores.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&cn)})
	}
	return reqs
}

package controllers

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/coreconn"
)

// CoreChecker checks that a core's API answers with the CoreNetwork's
// current configuration and credentials.
type CoreChecker interface {
	// Check returns nil when the core answered; a *coreconn.ConfigError
	// when the spec cannot give a client; a *core.AuthFailure when the
	// credentials are missing, unreadable or refused, saying what to fix.
	Check(ctx context.Context, cn *v1alpha1.CoreNetwork) error
}

var _ CoreChecker = (*coreconn.Pool)(nil)

// CoreNetworkReconciler reports whether each core's API answers.
type CoreNetworkReconciler struct {
	client.Client
	Clock clock.PassiveClock
	Cores CoreChecker
	// ProbeInterval is how often a core is pinged.
	ProbeInterval time.Duration
	// SecretNamespace holds the Secrets that spec.auth names (the
	// operator's namespace); a change to one of them re-checks the cores
	// that name it at once. Empty: Secrets are not watched.
	SecretNamespace string
}

// +kubebuilder:rbac:groups=medslice.io,resources=corenetworks/status,verbs=get;update;patch

// Reconcile pings the core and sets Reachable.
func (r *CoreNetworkReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cn v1alpha1.CoreNetwork
	if err := r.Get(ctx, req.NamespacedName, &cn); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := cn.Status.DeepCopy()
	cond := metav1.Condition{Type: v1alpha1.ConditionReachable, ObservedGeneration: cn.Generation}
	err := r.Cores.Check(ctx, &cn)
	_, authFailed := core.AsAuthFailure(err)
	switch {
	case err == nil:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionTrue, v1alpha1.ReasonAPIAnswered, fmt.Sprintf("%s API at %s answered", cn.Spec.API, cn.Spec.Endpoint)
	case authFailed:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, v1alpha1.ReasonAuthFailed, conditionMessage(err)
	case coreconn.IsConfigError(err):
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, v1alpha1.ReasonConfigInvalid, conditionMessage(err)
	default:
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, v1alpha1.ReasonAPIUnreachable, conditionMessage(err)
	}
	meta.SetStatusCondition(&cn.Status.Conditions, cond)
	cn.Status.ObservedGeneration = cn.Generation
	// lastProbeTime changes every pass; write only when something a person
	// cares about changed, or the last write is older than the interval,
	// so an idle cluster is not churned with status writes.
	stale := cn.Status.LastProbeTime == nil || r.Clock.Since(cn.Status.LastProbeTime.Time) >= 10*r.ProbeInterval
	if !equality.Semantic.DeepEqual(before.Conditions, cn.Status.Conditions) || stale {
		cn.Status.LastProbeTime = &metav1.Time{Time: r.Clock.Now()}
		if err := r.Status().Update(ctx, &cn); err != nil {
			return ctrl.Result{}, fmt.Errorf("writing status: %w", err)
		}
	}
	return ctrl.Result{RequeueAfter: r.ProbeInterval}, nil
}

// conditionMessage bounds a message to what a condition may hold.
func conditionMessage(err error) string {
	msg := err.Error()
	if len(msg) > 32768 {
		msg = msg[:32765] + "..."
	}
	return msg
}

// SetupWithManager registers the reconciler.
func (r *CoreNetworkReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Named("corenetwork").
		For(&v1alpha1.CoreNetwork{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	if r.SecretNamespace != "" {
		if err := r.watchSecrets(context.Background(), mgr, b); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

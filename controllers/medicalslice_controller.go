// Package controllers holds medslice's reconcilers. They are thin: the logic
// lives in internal/ packages named for their domain.
package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/plan"
)

// SessionsFinalizer keeps a slice until its core sessions are released.
const SessionsFinalizer = "medslice.io/core-sessions"

// Index names for the cache.
const (
	indexProfile = "spec.profile"
	indexCore    = "spec.coreRef"
)

// CoreClients hands out the client of a CoreNetwork.
type CoreClients interface {
	ClientFor(ctx context.Context, cn *v1alpha1.CoreNetwork) (core.Client, error)
}

// MedicalSliceReconciler provisions a slice's core sessions and reports
// Admitted, Provisioned, SLAMet and Ready.
type MedicalSliceReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Cores    CoreClients
	Signer   *notify.Signer
	Inbox    *notify.Inbox
	Expiry   plan.Expiry
	// VerifyInterval is how often a settled slice's sessions are checked
	// against the core, which may have lost them (a restart forgets).
	VerifyInterval time.Duration
	// SLAFiguresInterval is how old the SLA figures in status may get
	// (status.sla, the SLAMet and Ready messages) before a pass writes new
	// ones although the verdict stands; 0 writes them at every pass. A
	// changed verdict or condition is always written at once.
	SLAFiguresInterval time.Duration
	// ProbeSource is the operator's probe address, carried in the flows.
	ProbeSource string
	// Notifications delivers reconcile requests from core callbacks.
	Notifications <-chan event.TypedGenericEvent[*v1alpha1.MedicalSlice]
	// Probes measures provisioned slices; nil leaves SLAMet unknown and
	// Ready False.
	Probes Probes
	// ProbeRoute maps reflector addresses to where probes are sent.
	ProbeRoute ProbeRoute
	// Admitter decides bookings against core capacity; nil admits all.
	Admitter *Admitter
	// Wake asks for another slice to be reconciled (its admission changed).
	Wake func(types.NamespacedName)
	// AfterCoreCreate, when set, runs right after the core accepted a
	// create and before the status records it: crash tests kill the
	// process there.
	AfterCoreCreate func()
}

// +kubebuilder:rbac:groups=medslice.io,resources=medicalslices,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=medslice.io,resources=medicalslices/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=medslice.io,resources=medicalslices/finalizers,verbs=update
// +kubebuilder:rbac:groups=medslice.io,resources=sliceprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=medslice.io,resources=corenetworks,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings the core in line with one slice.
func (r *MedicalSliceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var s v1alpha1.MedicalSlice
	if err := r.Get(ctx, req.NamespacedName, &s); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !s.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, &s)
	}
	pass := &pass{now: r.Clock.Now()}
	if controllerutil.AddFinalizer(&s, SessionsFinalizer) {
		// The update carries the cached resourceVersion, so it succeeds
		// only if nobody (no earlier pass, no earlier process) has written
		// the slice since: no pass ever got as far as a core create, and
		// there is nothing to adopt.
		if err := r.Update(ctx, &s); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		pass.fresh = true
	}

	before := s.Status.DeepCopy()
	pass.prev = before
	result, recErr := r.reconcile(ctx, &s, pass)
	s.Status.ObservedGeneration = s.Generation
	keepTransitionTimes(before.Conditions, s.Status.Conditions)
	if r.mustWrite(before, &s.Status, pass.now) {
		// Update, not patch: the resourceVersion check means a concurrent
		// writer cannot make us lose a recorded session id. If it conflicts,
		// the next pass adopts what this one created.
		if err := r.Status().Update(ctx, &s); err != nil {
			if apierrors.IsConflict(err) && recErr == nil {
				// The cache was behind our own last write; try again on
				// fresh data. Nothing is lost: what this pass created on
				// the core is adopted by the next one.
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, errors.Join(recErr, fmt.Errorf("writing status: %w", err))
		}
	}
	for _, e := range pass.events {
		r.Recorder.Eventf(&s, nil, e.kind, e.reason, e.action, "%s", e.note)
	}
	return result, recErr
}

type pendingEvent struct{ kind, reason, action, note string }

// pass carries what one reconcile pass learns.
type pass struct {
	now    time.Time
	events []pendingEvent
	listed []core.Session // the core's sessions, fetched at most once a pass
	listOK bool
	// fresh: this pass added the finalizer, so the core holds nothing of
	// this slice yet and adoption can skip listing.
	fresh bool
	// lost: a recorded session was gone from the core.
	lost bool
	// prev is the status as the pass found it: transitions (and their
	// Events) are judged against it, not against what the pass has
	// already changed.
	prev *v1alpha1.MedicalSliceStatus
}

func (p *pass) event(kind, reason, action, format string, args ...any) {
	p.events = append(p.events, pendingEvent{kind, reason, action, fmt.Sprintf(format, args...)})
}

func (r *MedicalSliceReconciler) reconcile(ctx context.Context, s *v1alpha1.MedicalSlice, p *pass) (ctrl.Result, error) {
	var profile v1alpha1.SliceProfile
	if err := r.Get(ctx, types.NamespacedName{Name: s.Spec.Profile}, &profile); err != nil {
		r.notProvisioned(s, v1alpha1.ReasonProfileNotFound, fmt.Sprintf("SliceProfile %q: %v", s.Spec.Profile, err))
		return ctrl.Result{}, client.IgnoreNotFound(err) // the profile watch brings us back
	}
	var cn v1alpha1.CoreNetwork
	if err := r.Get(ctx, types.NamespacedName{Name: s.Spec.CoreRef}, &cn); err != nil {
		r.notProvisioned(s, v1alpha1.ReasonCoreNotFound, fmt.Sprintf("CoreNetwork %q: %v", s.Spec.CoreRef, err))
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if by := s.Annotations[v1alpha1.PreemptedByAnnotation]; by != "" {
		return ctrl.Result{}, r.releasePreempted(ctx, s, by, p)
	}
	eff := plan.Resolve(s, &profile)
	if s.Status.Remediation != nil && s.Status.Remediation.Escalated {
		plan.Escalate(&eff, profile.Spec.AlternativeQoS)
	}
	desired, err := plan.Sessions(s, plan.Input{
		Effective:   eff,
		Core:        &cn,
		Signer:      r.Signer,
		ProbeSource: r.ProbeSource,
	})
	if err != nil {
		r.notProvisioned(s, v1alpha1.ReasonInvalidSpec, err.Error())
		return ctrl.Result{}, nil // only an edit can fix it
	}
	if done, res, err := r.admit(ctx, s, &cn, eff, p); done {
		return res, err
	}
	if done, res, err := r.schedule(ctx, s, &cn, &profile, p); done {
		return res, err
	}

	cl, err := r.Cores.ClientFor(ctx, &cn)
	if err != nil {
		r.setProvisioned(s, metav1.ConditionFalse, v1alpha1.ReasonCoreError, fmt.Sprintf("CoreNetwork %s: %v", cn.Name, err))
		return ctrl.Result{RequeueAfter: r.VerifyInterval}, nil
	}
	sync := r.syncSessions(ctx, s, &cn, cl, desired, p)
	switch {
	case sync.err != nil:
		reason := v1alpha1.ReasonCoreError
		if !core.IsRetryable(sync.err) {
			reason = v1alpha1.ReasonCoreRejected
		}
		r.setProvisioned(s, metav1.ConditionFalse, reason, fmt.Sprintf("%d of %d sessions ready on %s: %v", sync.ready, len(desired), cn.Name, sync.err))
	case sync.ready < len(desired):
		r.setProvisioned(s, metav1.ConditionFalse, v1alpha1.ReasonProvisioning, fmt.Sprintf("%d of %d sessions ready on %s: %s", sync.ready, len(desired), cn.Name, sync.waiting))
	default:
		r.setProvisioned(s, metav1.ConditionTrue, v1alpha1.ReasonSessionsReady, fmt.Sprintf("%d of %d sessions confirmed by %s", sync.ready, len(desired), cn.Name))
	}

	// Jittered, so that slices provisioned together (thousands after a
	// restart or a bulk apply) do not all ask the core at the same instant
	// at every interval.
	next := wait.Jitter(r.VerifyInterval, 0.1)
	if v, ok := r.verify(ctx, s, eff, p.lost, p); ok {
		if soon := r.remediate(ctx, s, &profile, eff, v, p); soon > 0 {
			next = min(next, soon)
		}
	}
	if !sync.renewAt.IsZero() {
		next = min(next, max(sync.renewAt.Sub(p.now), time.Second))
	}
	if sc := s.Spec.Schedule; sc != nil {
		next = min(next, max(sc.End.Sub(p.now), 10*time.Millisecond))
	}
	if sync.err != nil && core.IsRetryable(sync.err) {
		// Returning the error makes controller-runtime retry with backoff.
		return ctrl.Result{}, sync.err
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// mustWrite tells whether the status a pass computed must be written: not
// when the API server would store what it has (its times are whole
// seconds), nor when only the SLA figures moved while the verdict and
// every condition's status and reason stand and the figures written last
// are younger than SLAFiguresInterval. GO and NO-GO are written the pass
// they change; figures at a bounded cadence. Writing figures at every pass
// was one write per probed slice per verify interval: 170 writes/s for
// 5,000 slices.
func (r *MedicalSliceReconciler) mustWrite(before, after *v1alpha1.MedicalSliceStatus, now time.Time) bool {
	if !stored(before, after) {
		return false
	}
	if r.SLAFiguresInterval <= 0 || before.SLA == nil || before.SLA.LastEvaluated == nil ||
		now.Sub(before.SLA.LastEvaluated.Time) >= r.SLAFiguresInterval {
		return true
	}
	return !sameVerdict(before, after)
}

// stored tells whether writing after would change what the API server
// stores as before.
func stored(before, after *v1alpha1.MedicalSliceStatus) bool {
	if equality.Semantic.DeepEqual(before, after) {
		return false
	}
	b, errB := json.Marshal(before)
	a, errA := json.Marshal(after)
	return errA != nil || errB != nil || !bytes.Equal(a, b)
}

// keepTransitionTimes gives every condition whose status is what the pass
// found the transition time it had: a pass sets some conditions more than
// once (Provisioned resets SLAMet and Ready, the verdict sets them again),
// and a condition's lastTransitionTime is when its status last changed, not
// when a pass last touched it.
func keepTransitionTimes(before, after []metav1.Condition) {
	for i := range after {
		if b := meta.FindStatusCondition(before, after[i].Type); b != nil && b.Status == after[i].Status {
			after[i].LastTransitionTime = b.LastTransitionTime
		}
	}
}

// notProvisioned reports a slice that cannot be provisioned at all.
func (r *MedicalSliceReconciler) notProvisioned(s *v1alpha1.MedicalSlice, reason, msg string) {
	setCondition(s, v1alpha1.ConditionAdmitted, metav1.ConditionFalse, reason, msg)
	r.setProvisioned(s, metav1.ConditionFalse, reason, msg)
}

// setProvisioned sets Provisioned and the conditions that follow from it.
// Until probes verify the SLA, Ready is never True: GO is a measurement.
func (r *MedicalSliceReconciler) setProvisioned(s *v1alpha1.MedicalSlice, status metav1.ConditionStatus, reason, msg string) {
	setCondition(s, v1alpha1.ConditionProvisioned, status, reason, msg)
	setCondition(s, v1alpha1.ConditionSLAMet, metav1.ConditionUnknown, v1alpha1.ReasonSLANotVerified, "not measured: the slice is not provisioned")
	switch {
	case !meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionAdmitted):
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotAdmitted, "NO-GO: not admitted: "+msg)
	case status != metav1.ConditionTrue:
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonNotProvisioned, "NO-GO: core sessions not all confirmed: "+msg)
	default:
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSLANotVerified, "NO-GO: the SLA has not been verified by measurement")
	}
}

func setCondition(s *v1alpha1.MedicalSlice, typ string, status metav1.ConditionStatus, reason, msg string) {
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: s.Generation,
	})
}

// SetupWithManager registers the reconciler and its watches.
func (r *MedicalSliceReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.MedicalSlice{}, indexProfile, func(o client.Object) []string {
		return []string{o.(*v1alpha1.MedicalSlice).Spec.Profile}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &v1alpha1.MedicalSlice{}, indexCore, func(o client.Object) []string {
		return []string{o.(*v1alpha1.MedicalSlice).Spec.CoreRef}
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("medicalslice").
		// Our own status writes must not wake us: only spec, metadata
		// (deletion, annotations) or a referenced object changing does.
		For(&v1alpha1.MedicalSlice{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&v1alpha1.SliceProfile{}, handler.EnqueueRequestsFromMapFunc(r.slicesUsing(indexProfile))).
		Watches(&v1alpha1.CoreNetwork{}, handler.EnqueueRequestsFromMapFunc(r.slicesUsing(indexCore)), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency})
	if r.Notifications != nil {
		b = b.WatchesRawSource(source.Channel(r.Notifications, &handler.TypedEnqueueRequestForObject[*v1alpha1.MedicalSlice]{}))
	}
	return b.Complete(r)
}

func (r *MedicalSliceReconciler) slicesUsing(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1alpha1.MedicalSliceList
		if err := r.List(ctx, &list, client.MatchingFields{index: o.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing slices", "index", index, "name", o.GetName())
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, s := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&s)})
		}
		return reqs
	}
}

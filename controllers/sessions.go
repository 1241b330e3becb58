package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/plan"
)

// protectedNow is protected() for the current pass: inside the booked
// window, of a profile that may never be pre-empted.
func (r *MedicalSliceReconciler) protectedNow(ctx context.Context, s *v1alpha1.MedicalSlice, p *pass) bool {
	sc := s.Spec.Schedule
	if sc == nil || !p.now.Before(sc.End.Time) {
		return false
	}
	var pr v1alpha1.SliceProfile
	if err := r.Get(ctx, types.NamespacedName{Name: s.Spec.Profile}, &pr); err != nil {
		return true
	}
	return r.protected(s, &pr)
}

// syncResult is what syncSessions found.
type syncResult struct {
	ready   int
	waiting string // why the first not-ready session is not ready
	err     error  // the first core error
	renewAt time.Time
}

// syncSessions makes the core hold exactly the desired sessions and records
// them in s.Status.Sessions. Order of preference for a device without a
// recorded session: adopt one the core already holds for it (a crash after
// the core said yes), else create — a create that the core finds equivalent
// to an existing session returns that one (PCF 303), so nothing duplicates.
func (r *MedicalSliceReconciler) syncSessions(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork, cl core.Client, desired []plan.Session, p *pass) syncResult {
	var res syncResult
	fail := func(device string, err error) {
		if res.err == nil {
			res.err = fmt.Errorf("device %s: %w", device, err)
		}
	}
	recorded := map[string]v1alpha1.CoreSession{}
	for _, rec := range s.Status.Sessions {
		recorded[rec.Device] = rec
	}
	var kept []v1alpha1.CoreSession
	for _, d := range desired {
		ref := notify.Ref{Slice: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, UID: s.UID, Device: d.Device}
		rec, ok := recorded[d.Device]
		delete(recorded, d.Device)
		var err error
		if ok {
			if rec, ok, err = r.keep(ctx, s, cl, rec, d, ref, p); err != nil {
				fail(d.Device, err)
				kept = append(kept, rec)
				continue
			}
		}
		if !ok {
			// Nothing recorded, or the recorded session is gone. Before
			// creating, look for one the core already holds for this
			// device: a pass that ran on a cache older than our last
			// status write, or a process that died before writing it,
			// may have created it.
			adopted, err := r.adopt(ctx, cl, ref, p)
			if err != nil {
				fail(d.Device, err)
				continue
			}
			if adopted != nil {
				p.event(corev1.EventTypeNormal, "SessionAdopted", "Adopt", "adopted core session %s for device %s on %s", adopted.ID, d.Device, cn.Name)
				// Its spec and bound are unknown: the empty hash makes
				// keep rewrite both.
				rec = v1alpha1.CoreSession{Device: d.Device, Core: cn.Name, ID: adopted.ID}
				if rec, ok, err = r.keep(ctx, s, cl, rec, d, ref, p); err != nil {
					fail(d.Device, err)
					kept = append(kept, rec)
					continue
				}
			}
		}
		if !ok {
			created, err := r.create(ctx, s, cn, cl, d, ref, p)
			if err != nil {
				fail(d.Device, err)
				continue
			}
			rec = created
		}
		kept = append(kept, rec)
		if r.Inbox != nil && r.Inbox.Allocation(ref) == notify.AllocationFailed {
			if res.waiting == "" {
				res.waiting = fmt.Sprintf("the core reported FAILED_RESOURCES_ALLOCATION for device %s", d.Device)
			}
			continue
		}
		res.ready++
		if at := r.Expiry.RenewAt(s, rec.ExpiresAt.Time); !at.IsZero() && (res.renewAt.IsZero() || at.Before(res.renewAt)) {
			res.renewAt = at
		}
	}
	// Sessions of devices no longer in the spec.
	protected := len(recorded) > 0 && r.protectedNow(ctx, s, p) && !forced(s)
	for _, rec := range recorded {
		if protected {
			p.event(corev1.EventTypeWarning, v1alpha1.ReasonReleaseRefused, "Release",
				"device %s was removed from an active surgical slice: its session %s is kept until the booked end; set %s=true to release it now", rec.Device, rec.ID, v1alpha1.ForceReleaseAnnotation)
			kept = append(kept, rec)
			continue
		}
		if err := cl.Delete(ctx, rec.ID); err != nil {
			fail(rec.Device, fmt.Errorf("releasing session %s of a removed device: %w", rec.ID, err))
			kept = append(kept, rec)
			continue
		}
		p.event(corev1.EventTypeNormal, "SessionReleased", "Release", "released core session %s of removed device %s", rec.ID, rec.Device)
	}
	sortSessions(kept)
	s.Status.Sessions = kept
	return res
}

// keep brings an existing session in line. It reports ok=false when the
// core no longer has it, so the caller creates a new one.
func (r *MedicalSliceReconciler) keep(ctx context.Context, s *v1alpha1.MedicalSlice, cl core.Client, rec v1alpha1.CoreSession, d plan.Session, ref notify.Ref, p *pass) (v1alpha1.CoreSession, bool, error) {
	failed := r.Inbox != nil && r.Inbox.Allocation(ref) == notify.AllocationFailed
	if rec.SpecHash == d.Hash && !failed && !r.Expiry.NeedsRenewal(s, rec.ExpiresAt, p.now) {
		// Settled: just check that the core still has it.
		if _, err := cl.Get(ctx, rec.ID); err != nil {
			if errors.Is(err, core.ErrNotFound) {
				p.event(corev1.EventTypeWarning, "SessionLost", "Verify", "core lost session %s of device %s; re-creating", rec.ID, rec.Device)
				p.lost = true
				return rec, false, nil
			}
			return rec, true, err
		}
		return rec, true, nil
	}
	spec := d.Spec
	spec.ExpiresAt = r.Expiry.Bound(s, p.now)
	if r.Inbox != nil {
		r.Inbox.Forget(ref)
	}
	if _, err := cl.Update(ctx, rec.ID, spec); err != nil {
		if errors.Is(err, core.ErrNotFound) {
			p.event(corev1.EventTypeWarning, "SessionLost", "Update", "core lost session %s of device %s; re-creating", rec.ID, rec.Device)
			p.lost = true
			return rec, false, nil
		}
		return rec, true, err
	}
	rec.SpecHash = d.Hash
	rec.ExpiresAt = &metav1.Time{Time: spec.ExpiresAt}
	return rec, true, nil
}

func (r *MedicalSliceReconciler) create(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork, cl core.Client, d plan.Session, ref notify.Ref, p *pass) (v1alpha1.CoreSession, error) {
	spec := d.Spec
	spec.ExpiresAt = r.Expiry.Bound(s, p.now)
	if r.Inbox != nil {
		r.Inbox.Forget(ref)
	}
	sess, err := cl.Create(ctx, spec)
	if err != nil {
		return v1alpha1.CoreSession{}, err
	}
	if r.AfterCoreCreate != nil {
		r.AfterCoreCreate()
	}
	p.event(corev1.EventTypeNormal, "SessionCreated", "Provision", "core %s accepted session %s for device %s", cn.Name, sess.ID, d.Device)
	return v1alpha1.CoreSession{
		Device: d.Device, Core: cn.Name, ID: sess.ID,
		ExpiresAt: &metav1.Time{Time: spec.ExpiresAt}, SpecHash: d.Hash,
	}, nil
}

// adopt finds a session the core holds for ref, on cores that can list.
// Extra sessions for the same ref (duplicates) are deleted.
func (r *MedicalSliceReconciler) adopt(ctx context.Context, cl core.Client, ref notify.Ref, p *pass) (*core.Session, error) {
	if p.fresh {
		return nil, nil
	}
	if !p.listOK {
		listed, err := cl.List(ctx)
		switch {
		case errors.Is(err, core.ErrNotSupported):
			// PCF: no listing; Create's 303 handling adopts instead.
		case err != nil:
			return nil, fmt.Errorf("listing core sessions to adopt: %w", err)
		}
		p.listed, p.listOK = listed, true
	}
	var found *core.Session
	for i := range p.listed {
		got, err := r.Signer.VerifyURI(p.listed[i].NotificationURI)
		if err != nil || got.Correlation() != ref.Correlation() {
			continue
		}
		if found == nil {
			found = &p.listed[i]
			continue
		}
		if err := cl.Delete(ctx, p.listed[i].ID); err != nil {
			return nil, fmt.Errorf("deleting duplicate session %s: %w", p.listed[i].ID, err)
		}
		p.event(corev1.EventTypeWarning, "DuplicateDeleted", "Adopt", "deleted duplicate core session %s for device %s", p.listed[i].ID, ref.Device)
	}
	return found, nil
}

// finalize releases every core session of a slice being deleted, then lets
// it go.
func (r *MedicalSliceReconciler) finalize(ctx context.Context, s *v1alpha1.MedicalSlice) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(s, SessionsFinalizer) {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	var profile *v1alpha1.SliceProfile
	var pr v1alpha1.SliceProfile
	if err := r.Get(ctx, types.NamespacedName{Name: s.Spec.Profile}, &pr); err == nil {
		profile = &pr
	}
	if sc := s.Spec.Schedule; sc != nil && now.Before(sc.End.Time) && r.protected(s, profile) && !forced(s) {
		// DESIGN §6: an active surgical slice is never torn down early by
		// a delete unless the request says so explicitly.
		msg := fmt.Sprintf("deletion refused while the operation runs: sessions kept until the booked end %s; set annotation %s=true to release now",
			sc.End.Time.In(r.location()).Format(time.RFC3339), v1alpha1.ForceReleaseAnnotation)
		r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, v1alpha1.ReasonReleaseRefused, "Release", "%s", msg)
		before := s.Status.DeepCopy()
		setCondition(s, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, v1alpha1.ReasonReleaseRefused, msg)
		if !equality.Semantic.DeepEqual(before, &s.Status) {
			if err := r.Status().Update(ctx, s); err != nil {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{RequeueAfter: sc.End.Sub(now)}, nil
	}
	r.stopProbes(s)
	var cn v1alpha1.CoreNetwork
	err := r.Get(ctx, types.NamespacedName{Name: s.Spec.CoreRef}, &cn)
	switch {
	case err == nil:
		if err := r.release(ctx, s, &cn); err != nil {
			return ctrl.Result{}, err
		}
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, err
	default:
		// The core's object is gone, so its sessions cannot be reached;
		// their time bound ends them.
		log.FromContext(ctx).Info("CoreNetwork gone; sessions end at their time bound", "core", s.Spec.CoreRef)
	}
	controllerutil.RemoveFinalizer(s, SessionsFinalizer)
	if err := r.Update(ctx, s); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	if r.Admitter != nil {
		// Cancelling frees capacity at once: declined bookings re-decide.
		for _, k := range r.Admitter.Forget(s.Spec.CoreRef, s.UID) {
			if r.Wake != nil {
				r.Wake(k)
			}
		}
	}
	return ctrl.Result{}, nil
}

func (r *MedicalSliceReconciler) release(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork) error {
	cl, err := r.Cores.ClientFor(ctx, cn)
	if err != nil {
		return err
	}
	var errs []string
	for _, rec := range s.Status.Sessions {
		if err := cl.Delete(ctx, rec.ID); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", rec.ID, err))
		}
	}
	// Sessions created but never recorded (a crash, or a status write
	// that lost a race, in between).
	listed, err := cl.List(ctx)
	switch {
	case errors.Is(err, core.ErrNotSupported):
		errs = append(errs, r.releaseUnrecorded(ctx, s, cn, cl)...)
	case err != nil:
		errs = append(errs, fmt.Sprintf("listing: %v", err))
	}
	for _, sess := range listed {
		if ref, err := r.Signer.VerifyURI(sess.NotificationURI); err == nil && ref.UID == s.UID {
			if err := cl.Delete(ctx, sess.ID); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", sess.ID, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("releasing core sessions: %s", strings.Join(errs, "; "))
	}
	r.Recorder.Eventf(s, nil, corev1.EventTypeNormal, "SessionsReleased", "Release", "released %d core sessions on %s", len(s.Status.Sessions), cn.Name)
	return nil
}

// releaseUnrecorded finds, on a core that cannot list (PCF), the sessions
// of devices the status does not record: the same create the reconciler
// would send is answered 303 with the session the core holds for it
// (TS 29.514), which is then deleted. Where there was none, the create
// makes one that is deleted at once. Without the profile the request
// cannot be rebuilt, and the sessions' time bound is the net.
func (r *MedicalSliceReconciler) releaseUnrecorded(ctx context.Context, s *v1alpha1.MedicalSlice, cn *v1alpha1.CoreNetwork, cl core.Client) []string {
	recorded := map[string]bool{}
	for _, rec := range s.Status.Sessions {
		recorded[rec.Device] = true
	}
	if len(recorded) >= len(s.Spec.Devices) {
		return nil
	}
	if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionProvisioned); c != nil {
		switch c.Reason {
		case v1alpha1.ReasonScheduled, v1alpha1.ReasonEnded, v1alpha1.ReasonDeclined, v1alpha1.ReasonPreempted,
			v1alpha1.ReasonProfileNotFound, v1alpha1.ReasonCoreNotFound, v1alpha1.ReasonInvalidSpec:
			return nil // no create was ever sent in this state
		}
	}
	var profile v1alpha1.SliceProfile
	if err := r.Get(ctx, types.NamespacedName{Name: s.Spec.Profile}, &profile); err != nil {
		return nil
	}
	desired, err := plan.Sessions(s, plan.Input{Effective: plan.Resolve(s, &profile), Core: cn, Signer: r.Signer, ProbeSource: r.ProbeSource})
	if err != nil {
		return nil
	}
	var errs []string
	for _, d := range desired {
		if recorded[d.Device] {
			continue
		}
		spec := d.Spec
		spec.ExpiresAt = r.Clock.Now().Add(time.Minute)
		sess, err := cl.Create(ctx, spec)
		if err != nil {
			if core.IsRetryable(err) {
				errs = append(errs, fmt.Sprintf("finding the session of device %s: %v", d.Device, err))
			}
			continue
		}
		if err := cl.Delete(ctx, sess.ID); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", sess.ID, err))
		}
	}
	return errs
}

func sortSessions(ss []v1alpha1.CoreSession) {
	slices.SortFunc(ss, func(a, b v1alpha1.CoreSession) int { return strings.Compare(a.Device, b.Device) })
}

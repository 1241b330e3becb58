package controllers

import (
	"context"
	"errors"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/metrics"
	"github.com/medslice/medslice/internal/notify"
)

// Sweeper deletes core sessions that no slice owns, on cores that can list
// them (NEF). It is the net under adoption: a slice deleted while the
// operator was down, or a duplicate from a race, is found here.
//
// A session that carries our correlation key but is not recorded is not
// deleted at once: it may be a create whose status write is in flight. It
// is deleted only when two sweeps, an interval apart, agree that it is an
// orphan, and its slice is asked to reconcile meanwhile so it can adopt it.
type Sweeper struct {
	Client   client.Reader
	Cores    CoreClients
	Signer   *notify.Signer
	Interval time.Duration
	// Enqueue asks for a slice to be reconciled.
	Enqueue chan<- event.TypedGenericEvent[*v1alpha1.MedicalSlice]

	suspects map[string]bool // core/id seen unowned by the previous sweep
}

// NeedLeaderElection: only the leader may delete.
func (w *Sweeper) NeedLeaderElection() bool { return true }

// Start runs the sweep until ctx ends.
func (w *Sweeper) Start(ctx context.Context) error {
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.Sweep(ctx)
		}
	}
}

// Sweep runs one pass over every core.
func (w *Sweeper) Sweep(ctx context.Context) {
	logger := log.FromContext(ctx).WithName("sweep")
	var cores v1alpha1.CoreNetworkList
	if err := w.Client.List(ctx, &cores); err != nil {
		logger.Error(err, "listing cores")
		return
	}
	suspects := map[string]bool{}
	for i := range cores.Items {
		cn := &cores.Items[i]
		cl, err := w.Cores.ClientFor(ctx, cn)
		if err != nil {
			continue
		}
		sessions, err := cl.List(ctx)
		if errors.Is(err, core.ErrNotSupported) {
			continue // PCF: the time bound is the net.
		}
		if err != nil {
			logger.Error(err, "listing sessions", "core", cn.Name)
			continue
		}
		for _, sess := range sessions {
			ref, err := w.Signer.VerifyURI(sess.NotificationURI)
			if err != nil {
				continue // not ours: never touch another AF's sessions
			}
			owned, err := w.owned(ctx, ref, cn, sess.ID)
			if err != nil {
				logger.Error(err, "checking owner", "core", cn.Name, "session", sess.ID)
				continue
			}
			if owned {
				continue
			}
			key := cn.Name + "/" + sess.ID
			if !w.suspects[key] {
				suspects[key] = true
				w.enqueue(ref)
				continue
			}
			if err := cl.Delete(ctx, sess.ID); err != nil {
				logger.Error(err, "deleting orphan", "core", cn.Name, "session", sess.ID)
				suspects[key] = true
				continue
			}
			metrics.OrphansDeleted.WithLabelValues(cn.Name).Inc()
			logger.Info("deleted orphan core session", "core", cn.Name, "session", sess.ID, "slice", ref.Slice, "device", ref.Device)
		}
	}
	w.suspects = suspects
}

// owned tells whether the slice ref points at exists, wants the device and
// has recorded this very session (or has not recorded any for the device
// yet, in which case its reconcile will adopt it).
func (w *Sweeper) owned(ctx context.Context, ref notify.Ref, cn *v1alpha1.CoreNetwork, id string) (bool, error) {
	var s v1alpha1.MedicalSlice
	if err := w.Client.Get(ctx, types.NamespacedName(ref.Slice), &s); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	if s.UID != ref.UID || !s.DeletionTimestamp.IsZero() && len(s.Finalizers) == 0 {
		return false, nil
	}
	if s.Spec.CoreRef != cn.Name {
		// Two CoreNetworks may lead to one core, for instance to book
		// separate capacity on it: listing either lists the sessions of
		// both. Such a session belongs to the slice all the same.
		var other v1alpha1.CoreNetwork
		if err := w.Client.Get(ctx, types.NamespacedName{Name: s.Spec.CoreRef}, &other); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		if !sameCore(cn, &other) {
			return false, nil
		}
	}
	wanted := false
	for _, d := range s.Spec.Devices {
		wanted = wanted || d.Name == ref.Device
	}
	if !wanted {
		return false, nil
	}
	for _, rec := range s.Status.Sessions {
		if rec.Device == ref.Device {
			return rec.ID == id, nil
		}
	}
	return true, nil
}

// sameCore tells whether two CoreNetworks reach the same sessions: the same
// API at the same endpoint, as the same AF.
func sameCore(a, b *v1alpha1.CoreNetwork) bool {
	return a.Spec.API == b.Spec.API && a.Spec.AFID == b.Spec.AFID &&
		strings.TrimSuffix(a.Spec.Endpoint, "/") == strings.TrimSuffix(b.Spec.Endpoint, "/")
}

func (w *Sweeper) enqueue(ref notify.Ref) {
	if w.Enqueue == nil {
		return
	}
	s := &v1alpha1.MedicalSlice{}
	s.Namespace, s.Name = ref.Slice.Namespace, ref.Slice.Name
	select {
	case w.Enqueue <- event.TypedGenericEvent[*v1alpha1.MedicalSlice]{Object: s}:
	default:
	}
}

package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/plan"
)

// Admitter keeps one admission ledger per core and decides bookings against
// it. The ledger is the operator's view of every booking on the core: it is
// loaded once from the API server with a consistent (uncached) read, then
// changed only under its lock, so two slices reconciled at once can never
// both be admitted over the same capacity (DESIGN §11). Decisions persist in
// each slice's status; a new leader rebuilds the ledger from them.
type Admitter struct {
	// Reader reads slices and profiles straight from the API server.
	Reader client.Reader
	// Location formats times in decline messages.
	Location *time.Location

	mu      sync.Mutex
	ledgers map[string]*ledger
}

type ledger struct {
	mu         sync.Mutex
	loaded     bool
	bookings   map[types.UID]admission.Booking
	last       map[types.UID]admission.Decision
	generation map[types.UID]int64

	// settled: the last full decision left every booking admitted as it
	// asks or pre-empted, for capacity, and deciding again changes nothing
	// before until (zero: ever) unless a booking is added or changed
	// (admission.Settled). held is what the admitted ones hold in all.
	// Deciding every booking costs milliseconds per thousand; at every
	// reconcile of thousands of slices it was the operator's main cost.
	settled  bool
	capacity admission.Capacity
	until    time.Time
	held     admission.Resources
}

func (a *Admitter) ledger(core string) *ledger {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ledgers == nil {
		a.ledgers = map[string]*ledger{}
	}
	l, ok := a.ledgers[core]
	if !ok {
		l = &ledger{bookings: map[types.UID]admission.Booking{}, last: map[types.UID]admission.Decision{}, generation: map[types.UID]int64{}}
		a.ledgers[core] = l
	}
	return l
}

// booking builds s's booking, carrying its persisted decision so that an
// admitted slice keeps what it holds.
func booking(s *v1alpha1.MedicalSlice, qos v1alpha1.QoS, now time.Time) admission.Booking {
	b := admission.NewBooking(s, qos)
	b.Active = s.Spec.Schedule != nil && !now.Before(b.Interval.Start) && len(s.Status.Sessions) > 0
	if st := s.Status.Admission; st != nil {
		b.Previous = admission.Reason(st.Decision)
		b.PreviousMessage = st.Message
		if st.Decision == v1alpha1.AdmissionAdmitted && st.From != nil {
			held := &admission.Reservation{Interval: admission.Interval{Start: st.From.Time}, Resources: admission.Resources{
				GBRUplinkKbps: st.Reserved.GBRUplinkKbps, GBRDownlinkKbps: st.Reserved.GBRDownlinkKbps, Sessions: st.Reserved.Sessions,
			}}
			if st.Until != nil {
				held.Interval.End = st.Until.Time
			}
			b.Held = held
		}
	}
	return b
}

func (a *Admitter) load(ctx context.Context, l *ledger, core string, now time.Time) error {
	var list v1alpha1.MedicalSliceList
	if err := a.Reader.List(ctx, &list); err != nil {
		return fmt.Errorf("loading bookings of core %s: %w", core, err)
	}
	profiles := map[string]*v1alpha1.SliceProfile{}
	for i := range list.Items {
		s := &list.Items[i]
		if s.Spec.CoreRef != core || s.Status.Admission == nil {
			continue // undecided slices are added when they are reconciled
		}
		p, ok := profiles[s.Spec.Profile]
		if !ok {
			p = &v1alpha1.SliceProfile{}
			if err := a.Reader.Get(ctx, types.NamespacedName{Name: s.Spec.Profile}, p); err != nil {
				continue // its own reconcile reports the missing profile
			}
			profiles[s.Spec.Profile] = p
		}
		l.bookings[s.UID] = booking(s, plan.Resolve(s, p).QoS, now)
		l.generation[s.UID] = s.Generation
	}
	l.loaded = true
	return nil
}

// Admit decides s (with its effective QoS) against its core and returns its
// decision and the other slices whose decision changed, which must be
// reconciled to persist theirs.
func (a *Admitter) Admit(ctx context.Context, s *v1alpha1.MedicalSlice, qos v1alpha1.QoS, cn *v1alpha1.CoreNetwork, now time.Time) (admission.Decision, []types.NamespacedName, error) {
	l := a.ledger(cn.Name)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.loaded {
		if err := a.load(ctx, l, cn.Name, now); err != nil {
			return admission.Decision{}, nil, err
		}
	}
	b := booking(s, qos, now)
	capacity := admission.CapacityOf(cn.Spec.Capacity)
	if d, ok := l.unchanged(b, s.Generation, capacity, now); ok {
		return d, nil, nil
	}
	if d, ok := l.admitNew(b, s.Generation, capacity, now, a.Location); ok {
		return d, nil, nil
	}
	if prev, ok := l.bookings[s.UID]; ok {
		// After loading, the ledger is the truth: the cached status may
		// lag behind a decision whose write has not landed yet.
		b.Previous, b.Held, b.PreviousMessage = prev.Previous, prev.Held, prev.PreviousMessage
		if b.Previous == admission.ReasonPreempted && l.generation[s.UID] != s.Generation {
			// A pre-empted slice that was edited asks again.
			b.Previous = admission.ReasonNone
		}
	}
	l.bookings[s.UID] = b
	l.generation[s.UID] = s.Generation
	all := make([]admission.Booking, 0, len(l.bookings))
	for _, x := range l.bookings {
		all = append(all, x)
	}
	decisions := admission.Decide(capacity, all, now, a.Location)
	l.settled, l.capacity = admission.Settled(decisions), capacity
	l.until, l.held = admission.NextChange(all, now), admission.Held(decisions)
	var changed []types.NamespacedName
	for uid, x := range l.bookings {
		d := decisions[x.Key]
		// Carry each decision forward as the booking's previous one, so
		// the ledger stays stable without waiting for status writes.
		x.Previous, x.PreviousMessage = d.Reason, d.Message
		if d.Admitted {
			r := d.Reserved
			x.Held = &r
		} else {
			x.Held = nil
		}
		l.bookings[uid] = x
		if uid != s.UID && !sameDecision(l.last[uid], d) {
			changed = append(changed, types.NamespacedName{Namespace: x.Key.Namespace, Name: x.Key.Name})
		}
		l.last[uid] = d
	}
	return decisions[b.Key], changed, nil
}

// unchanged returns b's decision when deciding again is certain to give the
// one it has: nothing changed since the last full decision.
func (l *ledger) unchanged(b admission.Booking, generation int64, capacity admission.Capacity, now time.Time) (admission.Decision, bool) {
	prev, ok := l.bookings[b.Key.UID]
	if !ok || !l.settled || capacity != l.capacity || (!l.until.IsZero() && !now.Before(l.until)) || l.generation[b.Key.UID] != generation {
		return admission.Decision{}, false
	}
	d, ok := l.last[b.Key.UID]
	if !ok || !sameRequest(prev, b) {
		return admission.Decision{}, false
	}
	// Who displaced whom belongs to the evaluation that did it: deciding
	// again names no one.
	d.Preempted, d.PreemptedBy = nil, nil
	return d, true
}

// admitNew admits a booking new to a settled ledger without deciding every
// booking again, when it fits on top of everything held whatever the time
// (admission.AdmitNew); it then joins the ledger as Decide would have
// added it.
func (l *ledger) admitNew(b admission.Booking, generation int64, capacity admission.Capacity, now time.Time, loc *time.Location) (admission.Decision, bool) {
	if _, known := l.bookings[b.Key.UID]; known || !l.settled || capacity != l.capacity || (!l.until.IsZero() && !now.Before(l.until)) {
		return admission.Decision{}, false
	}
	d, ok := admission.AdmitNew(capacity, l.held, b, now, loc)
	if !ok {
		return admission.Decision{}, false
	}
	r := d.Reserved
	b.Previous, b.PreviousMessage, b.Held = d.Reason, d.Message, &r
	l.bookings[b.Key.UID] = b
	l.generation[b.Key.UID] = generation
	l.last[b.Key.UID] = d
	l.held.GBRUplinkKbps += max(r.Resources.GBRUplinkKbps, 0)
	l.held.GBRDownlinkKbps += max(r.Resources.GBRDownlinkKbps, 0)
	l.held.Sessions += max(r.Resources.Sessions, 0)
	if next := admission.NextChange([]admission.Booking{b}, now); !next.IsZero() && (l.until.IsZero() || next.Before(l.until)) {
		l.until = next
	}
	return d, true
}

// sameRequest tells whether two bookings of one slice ask for the same.
func sameRequest(a, b admission.Booking) bool {
	return a.Key == b.Key && a.Created.Equal(b.Created) && a.Interval.Start.Equal(b.Interval.Start) && a.Interval.End.Equal(b.Interval.End) &&
		a.Demand == b.Demand && a.ARP == b.ARP && a.Active == b.Active
}

func sameDecision(a, b admission.Decision) bool {
	return a.Admitted == b.Admitted && a.Reason == b.Reason && a.Message == b.Message && a.ExtensionDeclined == b.ExtensionDeclined
}

// Forget removes a slice that is gone, freeing what it held.
func (a *Admitter) Forget(core string, uid types.UID) []types.NamespacedName {
	l := a.ledger(core)
	l.mu.Lock()
	defer l.mu.Unlock()
	// The ledger stays settled (nothing declined can take what this frees)
	// and held an upper bound until the next full decision sums it again.
	delete(l.bookings, uid)
	delete(l.last, uid)
	delete(l.generation, uid)
	// Declined bookings may fit now: their reconciles will re-decide.
	var retry []types.NamespacedName
	for _, b := range l.bookings {
		if b.Previous == admission.ReasonDeclined {
			retry = append(retry, types.NamespacedName{Namespace: b.Key.Namespace, Name: b.Key.Name})
		}
	}
	return retry
}

// admissionStatus is the persisted form of a decision.
func admissionStatus(d admission.Decision, prev *v1alpha1.AdmissionStatus, now time.Time) *v1alpha1.AdmissionStatus {
	out := &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionDecision(d.Reason), ExtensionDeclined: d.ExtensionDeclined, Message: truncate(d.Message, 1024)}
	if d.Admitted {
		out.Reserved = v1alpha1.Reservation{GBRUplinkKbps: d.Reserved.Resources.GBRUplinkKbps, GBRDownlinkKbps: d.Reserved.Resources.GBRDownlinkKbps, Sessions: d.Reserved.Resources.Sessions}
		// Whole seconds, as the API server stores them: a pass that
		// compares the status it computed with the stored one then sees
		// no difference where there is none.
		out.From = &metav1.Time{Time: d.Reserved.Interval.Start.Truncate(time.Second)}
		if !d.Reserved.Interval.End.IsZero() {
			out.Until = &metav1.Time{Time: d.Reserved.Interval.End.Truncate(time.Second)}
		}
	}
	out.DecidedAt = &metav1.Time{Time: now.Truncate(time.Second)}
	if prev != nil && prev.DecidedAt != nil {
		p := prev.DeepCopy()
		p.DecidedAt = out.DecidedAt
		if equalAdmission(p, out) {
			out.DecidedAt = prev.DecidedAt
		}
	}
	return out
}

func equalAdmission(a, b *v1alpha1.AdmissionStatus) bool {
	ta := func(t *metav1.Time) int64 {
		if t == nil {
			return 0
		}
		return t.Unix()
	}
	return a.Decision == b.Decision && a.Reserved == b.Reserved && ta(a.From) == ta(b.From) && ta(a.Until) == ta(b.Until) &&
		a.ExtensionDeclined == b.ExtensionDeclined && a.Message == b.Message
}

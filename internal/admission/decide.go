package admission

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
)

// noPriority orders a booking without a valid ARP priority level after every
// valid one (1-15), so that a missing ARP never jumps the queue.
const noPriority = 16

// Decide decides every booking of one core against its capacity at now
// (see the package documentation for the rules). Only capacity from now on
// is checked. Messages give times in loc (UTC when nil). Keys must be
// unique; of duplicates, the first in decision order is decided.
func Decide(c Capacity, bookings []Booking, now time.Time, loc *time.Location) map[Key]Decision {
	d := newDecider(c, bookings, now, loc)
	d.hold()
	d.serve()
	return d.decisions()
}

// entry is a booking while it is being decided.
type entry struct {
	b          Booking
	level      int32
	mayPreempt bool
	vulnerable bool

	req    span // the request, cut at now
	reqDem Resources

	state   Reason
	holding bool // held is in the ledger
	held    span
	heldDem Resources
	// reserved is what Decision.Reserved reports while state is Admitted.
	reserved Reservation
	// pending: the booking asks for what it does not hold, an admission or
	// a change, and is served in order.
	pending bool

	extDeclined bool
	revoked     bool // admitted before, no longer fits a lowered capacity
	over        bool // the requested window has passed
	by          *entry
	victims     []*entry
}

type decider struct {
	cap   Capacity
	now   int64
	nowT  time.Time
	f     formatter
	l     *ledger
	order []*entry // decision order
	byKey []*entry // key order, for listing bookings in a conflict
	// released is set when capacity was given back while serving requests
	// (a pre-emption, a moved extension): requests declined before it get
	// another look.
	released bool
}

func newDecider(c Capacity, bookings []Booking, now time.Time, loc *time.Location) *decider {
	if loc == nil {
		loc = time.UTC
	}
	d := &decider{cap: c, now: nanos(now, never), nowT: now, f: formatter{loc: loc}, l: newLedger()}
	for _, b := range bookings {
		e := &entry{b: b, level: b.ARP.PriorityLevel}
		if e.level < 1 || e.level > 15 {
			e.level = noPriority
		}
		e.mayPreempt = b.ARP.PreemptCap == v1alpha1.PreemptionMayPreempt
		e.vulnerable = b.ARP.PreemptVuln == v1alpha1.PreemptionPreemptable
		e.reqDem = nonNegative(b.Demand)
		e.req = spanOf(b.Interval).after(d.now)
		d.order = append(d.order, e)
	}
	slices.SortFunc(d.order, compareOrder)
	seen := make(map[Key]bool, len(d.order))
	d.order = slices.DeleteFunc(d.order, func(e *entry) bool {
		dup := seen[e.b.Key]
		seen[e.b.Key] = true
		return dup
	})
	d.byKey = slices.Clone(d.order)
	slices.SortFunc(d.byKey, func(a, b *entry) int { return compareKeys(a.b.Key, b.b.Key) })
	return d
}

// compareOrder is the decision order: ARP priority level, creation time,
// namespace, name, UID. The UID only makes the order total.
func compareOrder(a, b *entry) int {
	return cmp.Or(
		cmp.Compare(a.level, b.level),
		a.b.Created.Compare(b.b.Created),
		strings.Compare(a.b.Key.Namespace, b.b.Key.Namespace),
		strings.Compare(a.b.Key.Name, b.b.Key.Name),
		strings.Compare(string(a.b.Key.UID), string(b.b.Key.UID)),
	)
}

func nonNegative(r Resources) Resources {
	return Resources{max(r.GBRUplinkKbps, 0), max(r.GBRDownlinkKbps, 0), max(r.Sessions, 0)}
}

// hold puts what previous admissions hold into the ledger. Active bookings
// go first and unconditionally: their sessions exist on the core. The others
// are replayed in decision order and kept when they fit, which they always
// do unless the core's capacity was lowered under them.
func (d *decider) hold() {
	for _, e := range d.order {
		switch e.b.Previous {
		case ReasonAdmitted:
			e.state = ReasonAdmitted
		case ReasonPreempted:
			e.state = ReasonPreempted
		default:
			e.state, e.pending = ReasonDeclined, true
		}
	}
	for _, active := range []bool{true, false} {
		for _, e := range d.order {
			if e.state == ReasonAdmitted && e.b.Active == active {
				d.holdOne(e)
			}
		}
	}
}

func (d *decider) holdOne(e *entry) {
	e.reserved = Reservation{Interval: e.b.Interval, Resources: e.b.Demand}
	if e.b.Held != nil {
		e.reserved = *e.b.Held
	}
	e.held = spanOf(e.reserved.Interval).after(d.now)
	e.heldDem = nonNegative(e.reserved.Resources)
	changed := e.req != e.held || e.reqDem != e.heldDem
	if e.held.empty() && e.req.empty() {
		changed = false // over and done: nothing left to hold or to change
	}
	if changed && !e.held.empty() && e.req.within(e.held) && e.heldDem.covers(e.reqDem) {
		// Shrinking always fits; applying it now frees the rest for every
		// request served below, whatever its place in the order.
		e.reserved = d.reservation(e, true)
		e.held, e.heldDem, changed = e.req, e.reqDem, false
	}
	e.pending = changed
	if e.held.empty() {
		return
	}
	if !e.b.Active && !d.l.fits(d.cap, e.held, e.heldDem) {
		e.state, e.revoked, e.pending = ReasonDeclined, true, true
		return
	}
	d.l.add(e.held, e.heldDem, 1)
	e.holding = true
}

// reservation is what e reserves when its request is admitted now. Its start
// is cut at now, since capacity before now was never checked for it, unless
// e holds (e.reserved) capacity since earlier: then that stretch was its own.
func (d *decider) reservation(e *entry, holds bool) Reservation {
	start := e.b.Interval.Start
	from := d.nowT
	if holds && e.reserved.Interval.Start.Before(from) {
		from = e.reserved.Interval.Start
	}
	if start.Before(from) {
		start = from
	}
	return Reservation{Interval: Interval{Start: start, End: e.b.Interval.End}, Resources: e.reqDem}
}

// serve serves pending requests in decision order, then, as long as some
// capacity was given back meanwhile, gives the still-declined ones another
// look in the same order. The outcome is a fixed point: fed back as previous
// decisions, the same bookings decide the same way.
func (d *decider) serve() {
	for _, e := range d.order {
		if e.pending {
			d.attempt(e)
		}
	}
	for d.released {
		d.released = false
		for _, e := range d.order {
			if e.pending {
				d.attempt(e)
			}
		}
	}
}

// attempt admits e's request if it fits, or if pre-empting makes it fit;
// otherwise e is declined, or keeps what it held.
func (d *decider) attempt(e *entry) {
	e.over = false
	if e.req.empty() {
		e.over = true
		d.refuse(e)
		return
	}
	if e.holding {
		d.l.add(e.held, e.heldDem, -1)
	}
	ok := d.l.fits(d.cap, e.req, e.reqDem)
	var victims []*entry
	if !ok && e.mayPreempt {
		victims, ok = d.preempt(e)
	}
	if !ok {
		if e.holding {
			d.l.add(e.held, e.heldDem, 1)
		}
		d.refuse(e)
		return
	}
	for _, v := range victims {
		v.state, v.holding, v.pending, v.by = ReasonPreempted, false, false, e
		d.released = true
	}
	if e.holding {
		d.released = true // the old interval may cover what the new one does not
	}
	e.reserved = d.reservation(e, e.holding)
	e.held, e.heldDem, e.holding = e.req, e.reqDem, true
	d.l.add(e.held, e.heldDem, 1)
	e.state, e.pending, e.extDeclined, e.revoked = ReasonAdmitted, false, false, false
	e.victims = append(e.victims, victims...)
}

// refuse leaves an admitted booking with what it held (its change refused),
// and declines any other.
func (d *decider) refuse(e *entry) {
	if e.state == ReasonAdmitted {
		e.extDeclined = true
		return
	}
	e.state = ReasonDeclined
}

// preempt finds victims whose removal makes e fit and removes them from the
// ledger, or changes nothing and reports false.
func (d *decider) preempt(e *entry) ([]*entry, bool) {
	var cands []*entry
	// Reverse decision order: lowest priority first, then latest created.
	for _, v := range slices.Backward(d.order) {
		if v != e && v.holding && v.vulnerable && v.level > e.level && v.held.overlaps(e.req) {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return nil, false
	}
	n, fits := 0, false
	for _, v := range cands {
		d.l.add(v.held, v.heldDem, -1)
		n++
		if fits = d.l.fits(d.cap, e.req, e.reqDem); fits {
			break
		}
	}
	if !fits {
		for _, v := range cands[:n] {
			d.l.add(v.held, v.heldDem, 1)
		}
		return nil, false
	}
	// Spare every victim that is not needed, the most valuable first: the
	// greedy pass may have taken low-priority bookings the last one made
	// unnecessary.
	taken := slices.Clone(cands[:n])
	for i := len(taken) - 1; i >= 0; i-- {
		v := taken[i]
		d.l.add(v.held, v.heldDem, 1)
		if d.l.fits(d.cap, e.req, e.reqDem) {
			taken = slices.Delete(taken, i, i+1)
			continue
		}
		d.l.add(v.held, v.heldDem, -1)
	}
	return taken, true
}

// conflicts explains, per dimension, why e's request does not fit the
// ledger as it is, e's own holding left out.
func (d *decider) conflicts(e *entry) []Conflict {
	if e.holding {
		d.l.add(e.held, e.heldDem, -1)
		defer d.l.add(e.held, e.heldDem, 1)
	}
	var out []Conflict
	for _, dim := range dimensions {
		lim, need := d.cap.get(dim), e.reqDem.get(dim)
		if lim == 0 || need == 0 {
			continue
		}
		v, at := d.l.peak(dim, e.req)
		if v+need <= lim {
			continue
		}
		out = append(out, Conflict{Dimension: dim, Peak: at.interval(), Reserved: v, Capacity: lim, Needs: need})
	}
	for i := range out {
		at, dim := spanOf(out[i].Peak), out[i].Dimension
		n := 0
		for _, o := range d.byKey {
			if o != e && o.holding && o.heldDem.get(dim) > 0 && o.held.overlaps(at) {
				n++
			}
		}
		out[i].Bookings = make([]Key, 0, n)
		for _, o := range d.byKey {
			if o != e && o.holding && o.heldDem.get(dim) > 0 && o.held.overlaps(at) {
				out[i].Bookings = append(out[i].Bookings, o.b.Key)
			}
		}
	}
	return out
}

func compareKeys(a, b Key) int {
	return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name), strings.Compare(string(a.UID), string(b.UID)))
}

// decisions reports every booking. Conflicts are found here, against the
// final ledger rather than when a request was refused: that is what a team
// faces, and it makes an unchanged situation give an unchanged message.
func (d *decider) decisions() map[Key]Decision {
	out := make(map[Key]Decision, len(d.order))
	for _, e := range d.order {
		var conflicts []Conflict
		if !e.over && (e.state == ReasonDeclined || e.extDeclined) {
			conflicts = d.conflicts(e)
		}
		dec := Decision{Reason: e.state}
		switch e.state {
		case ReasonAdmitted:
			dec.Admitted = true
			dec.Reserved = e.reserved
			dec.ExtensionDeclined = e.extDeclined
			if e.extDeclined {
				dec.Conflicts = conflicts
			}
			for _, v := range e.victims {
				dec.Preempted = append(dec.Preempted, v.b.Key)
			}
		case ReasonDeclined:
			dec.Conflicts = conflicts
		case ReasonPreempted:
			if e.by != nil {
				k := e.by.b.Key
				dec.PreemptedBy = &k
			}
		}
		dec.Message = d.message(e, conflicts)
		out[e.b.Key] = dec
	}
	return out
}

package admission

import "time"

// Decide orders and decides every booking of a core again: milliseconds per
// thousand bookings. A caller that keeps the decisions (the operator's
// ledger, asked at every reconcile of every slice) can skip it when its
// outcome is certain, which with thousands of slices is almost always:
//
//   - nothing changed: the bookings are Settled, no booking was added or
//     changed, the capacity is the same, and the clock has not reached
//     NextChange. Deciding again would give the same decisions. Removing a
//     booking keeps this true: with no booking declined, the capacity it
//     frees changes no decision.
//   - one new booking that fits for sure: AdmitNew.

// Settled tells whether decisions leave nothing for a later evaluation to
// change on its own: every booking is admitted for what it asks, or
// pre-empted (which it stays until edited). A declined booking or a refused
// change is asked again at every evaluation, and its message names what
// conflicts with it at the time, so decisions with one are never settled.
func Settled(decisions map[Key]Decision) bool {
	for _, d := range decisions {
		if d.Reason == ReasonPreempted {
			continue
		}
		if !d.Admitted || d.ExtensionDeclined {
			return false
		}
	}
	return true
}

// NextChange is the earliest instant after now at which a booking's interval
// or what it holds starts or ends; the zero time when there is none. Deciding
// settled bookings again at any instant from now until then changes nothing.
func NextChange(bookings []Booking, now time.Time) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, b := range bookings {
		consider(b.Interval.Start)
		consider(b.Interval.End)
		if b.Held != nil {
			consider(b.Held.Interval.Start)
			consider(b.Held.Interval.End)
		}
	}
	return next
}

// Held sums what the admitted decisions reserve, whatever their intervals:
// a bound on what is reserved at any instant.
func Held(decisions map[Key]Decision) Resources {
	var sum Resources
	for _, d := range decisions {
		if d.Admitted {
			sum = sum.add(nonNegative(d.Reserved.Resources), 1)
		}
	}
	return sum
}

// AdmitNew decides b, a booking never decided before, against settled
// decisions that together hold at most held (see Held), at now. When b's
// demand fits under the capacity on top of held, it fits at every instant
// of its window, so Decide would admit it exactly as returned here, by
// nobody's pre-emption, and leave every other decision as it was. ok is
// false when that is not certain (b does not fit on top of held, its window
// is over, or it was decided before): then call Decide.
func AdmitNew(c Capacity, held Resources, b Booking, now time.Time, loc *time.Location) (Decision, bool) {
	if b.Previous != ReasonNone || b.Held != nil {
		return Decision{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	d := &decider{cap: c, now: nanos(now, never), nowT: now, f: formatter{loc: loc}}
	e := &entry{b: b, reqDem: nonNegative(b.Demand)}
	e.req = spanOf(b.Interval).after(d.now)
	if e.req.empty() || !c.fits(held, e.reqDem) {
		return Decision{}, false
	}
	e.reserved = d.reservation(e, false)
	e.state = ReasonAdmitted
	return Decision{Admitted: true, Reason: ReasonAdmitted, Reserved: e.reserved, Message: d.message(e, nil)}, true
}

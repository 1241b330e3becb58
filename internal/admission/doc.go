// Package admission decides which bookings a 5G core can guarantee over
// their whole window (DESIGN §6, §11: never a booking admitted twice over the
// same capacity).
//
// A Booking asks for guaranteed bit rate (uplink, downlink) and core sessions
// over an interval [start − leadTime, end), or from its creation on for an
// open-ended slice. Decide admits, declines or pre-empts every booking of one
// core at once and tells why. It is pure and deterministic: no Kubernetes, no
// clock of its own (the caller passes now), the same answer for the same
// bookings in any order.
//
// The rules, in the order they apply:
//
//   - Capacity holds at every instant. The admitted demand summed at any
//     instant stays within the core's capacity in every dimension (0 means
//     unlimited). Intervals are half-open, so back-to-back bookings fit. Only
//     the future counts: intervals are cut at now, since capacity that has
//     passed can no longer be used by anyone.
//
//   - Admissions are stable. A booking whose previous decision was Admitted
//     keeps what it holds; a later arrival never displaces it, except by
//     pre-emption below. The only other way to lose an admission is a core
//     whose capacity was lowered below what is already admitted: admitted
//     bookings are then replayed in priority order and those that no longer
//     fit are declined, so that a team learns it now rather than when the
//     core refuses the session. Active bookings (sessions provisioned) are
//     never declined this way: their sessions exist, and tearing down a
//     running operation is not an admission decision.
//
//   - New requests are served in order: ARP priority level ascending (1 is
//     highest), then creation time, then namespace and name. Declined
//     bookings are requests again at every evaluation, so one is admitted as
//     soon as capacity frees (a cancellation, a shortened slot). A Preempted
//     booking stays so until it is edited: the caller passes it with no
//     previous decision then.
//
//   - Pre-emption. A request that does not fit, whose ARP says MAY_PREEMPT,
//     may displace admitted bookings that are PREEMPTABLE and of strictly
//     lower priority (higher level), and only when that makes it fit. Victims
//     are taken lowest priority first, then latest created, and then every
//     victim that turns out not to be needed is spared, highest priority
//     first: no victim could be left in place (the absolute minimum number is
//     a knapsack problem, not worth its cost or its surprises). A
//     NOT_PREEMPTABLE booking is never displaced, active or not, so a
//     surgical slice never is. An active PREEMPTABLE booking may be displaced
//     and loses its sessions: its profile asked to be pre-emptable, and the
//     higher-priority request is typically the surgery the capacity is for.
//
//   - A change is a request. When an admitted booking's interval or demand
//     changes (an extension, more devices), the change is admitted like a
//     booking, pre-emption included. If it does not fit, the booking keeps
//     what it held before: Admitted for the old interval, with
//     ExtensionDeclined and the conflict. A surgical slice never loses its
//     guarantee because an extension did not fit. A change that only shrinks
//     the booking always fits and frees the rest at once.
//
// Persisting the decisions (Reason, Reserved as Held, Message) and deciding
// again changes nothing: the outcome is a fixed point, so a restart or a new
// leader leaves every status as it is. Messages count the bookings in a
// conflict but do not name them, nor a pre-emptor in another namespace: a
// team must not learn of other namespaces from its own slice. The keys are
// in the Decision for engineers and Events.
//
// Check verifies the invariant over a set of admitted bookings; Timeline
// gives the reserved amounts as steps over time for capacity views.
package admission

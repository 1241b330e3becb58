package admission

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
)

// opDay is the day the operations of a test take place; tests decide the
// evening before unless they say otherwise.
var (
	opDay   = time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC)
	evening = opDay.Add(-6 * time.Hour)
)

// clock is a time of opDay: clock("08:00").
func clock(hhmm string) time.Time {
	var h, m int
	if _, err := fmt.Sscanf(hhmm, "%d:%d", &h, &m); err != nil {
		panic(err)
	}
	return opDay.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

const mbit = 1000 // kbit/s

// core100 fits 100 Mbps each way and 20 sessions: five 20 Mbps bookings at once.
var core100 = Capacity{GBRUplinkKbps: 100 * mbit, GBRDownlinkKbps: 100 * mbit, MaxSessions: 20}

type option func(*Booking)

// booking builds a booking of the "or" namespace for OR-3's day: 08:00-10:30,
// 20 Mbps each way, one session, ARP 8 neither pre-empting nor pre-emptable,
// created the afternoon before, never decided.
func booking(name string, opts ...option) Booking {
	b := Booking{
		Key:      Key{Namespace: "or", Name: name, UID: types.UID(name + "-uid")},
		Created:  evening.Add(-time.Hour),
		Interval: Interval{Start: clock("08:00"), End: clock("10:30")},
		Demand:   Resources{GBRUplinkKbps: 20 * mbit, GBRDownlinkKbps: 20 * mbit, Sessions: 1},
		ARP:      v1alpha1.ARP{PriorityLevel: 8, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
	}
	for _, o := range opts {
		o(&b)
	}
	return b
}

func window(from, to string) option {
	return func(b *Booking) { b.Interval = Interval{Start: clock(from), End: clock(to)} }
}

func openFrom(t time.Time) option {
	return func(b *Booking) { b.Interval = Interval{Start: t} }
}

func uplink(m int64) option   { return func(b *Booking) { b.Demand.GBRUplinkKbps = m * mbit } }
func downlink(m int64) option { return func(b *Booking) { b.Demand.GBRDownlinkKbps = m * mbit } }
func sessions(n int64) option { return func(b *Booking) { b.Demand.Sessions = n } }

func uplinkKbps(k int64) option   { return func(b *Booking) { b.Demand.GBRUplinkKbps = k } }
func downlinkKbps(k int64) option { return func(b *Booking) { b.Demand.GBRDownlinkKbps = k } }

// createdAt shifts the creation time by d from the default.
func createdAt(d time.Duration) option { return func(b *Booking) { b.Created = b.Created.Add(d) } }

func namespace(ns string) option { return func(b *Booking) { b.Key.Namespace = ns } }

func priority(level int32) option { return func(b *Booking) { b.ARP.PriorityLevel = level } }

// surgical is the surgery-urllc ARP: highest priority, may pre-empt, never pre-empted.
func surgical(b *Booking) {
	b.ARP = v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable}
}

// imaging is the imaging-embb ARP: low priority, pre-emptable.
func imaging(b *Booking) {
	b.ARP = v1alpha1.ARP{PriorityLevel: 10, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionPreemptable}
}

func preemptable(b *Booking) { b.ARP.PreemptVuln = v1alpha1.PreemptionPreemptable }
func mayPreempt(b *Booking)  { b.ARP.PreemptCap = v1alpha1.PreemptionMayPreempt }
func active(b *Booking)      { b.Active = true }
func admitted(b *Booking)    { b.Previous = ReasonAdmitted }
func declined(b *Booking)    { b.Previous = ReasonDeclined }

// heldFor marks the booking admitted for another window than it now asks
// for, as after an edit of its schedule.
func heldFor(from, to string) option {
	return func(b *Booking) {
		b.Previous = ReasonAdmitted
		b.Held = &Reservation{Interval: Interval{Start: clock(from), End: clock(to)}, Resources: b.Demand}
	}
}

// heldDemand sets what a heldFor booking held, as before it asked for more devices.
func heldDemand(r Resources) option { return func(b *Booking) { b.Held.Resources = r } }

func preemptedWith(msg string) option {
	return func(b *Booking) { b.Previous, b.PreviousMessage = ReasonPreempted, msg }
}

// outcome is a decision in a word or three, for tables that test who wins.
func outcome(d Decision) string {
	switch {
	case d.Admitted && d.ExtensionDeclined:
		return "admitted, extension declined"
	case d.Admitted && len(d.Preempted) > 0:
		s := "admitted, pre-empting"
		for _, k := range d.Preempted {
			s += " " + k.Name
		}
		return s
	case d.Admitted:
		return "admitted"
	case d.Reason == ReasonPreempted && d.PreemptedBy != nil:
		return "pre-empted by " + d.PreemptedBy.Name
	default:
		return string(d.Reason)
	}
}

// outcomes decides and summarises by booking name, after checking the
// invariant every decision must keep.
func outcomes(t *testing.T, c Capacity, bookings []Booking, now time.Time) (map[string]string, map[Key]Decision) {
	t.Helper()
	got := Decide(c, bookings, now, time.UTC)
	if err := Check(c, Admitted(bookings, got)); err != nil {
		t.Errorf("Check after Decide: %v", err)
	}
	out := map[string]string{}
	for k, d := range got {
		out[k.Name] = outcome(d)
	}
	return out, got
}

func decisionOf(t *testing.T, decisions map[Key]Decision, name string) Decision {
	t.Helper()
	for k, d := range decisions {
		if k.Name == name {
			return d
		}
	}
	t.Fatalf("no decision for %q", name)
	return Decision{}
}

func keyOf(name string) Key { return Key{Namespace: "or", Name: name, UID: types.UID(name + "-uid")} }

// feedBack is what the next evaluation sees once decisions are persisted in
// status: each booking's previous decision, what it holds, and the message.
func feedBack(bookings []Booking, decisions map[Key]Decision) []Booking {
	out := make([]Booking, 0, len(bookings))
	for _, b := range bookings {
		d, ok := decisions[b.Key]
		if !ok {
			out = append(out, b)
			continue
		}
		b.Previous, b.PreviousMessage, b.Held = d.Reason, d.Message, nil
		if d.Admitted {
			r := d.Reserved
			b.Held = &r
		}
		out = append(out, b)
	}
	return out
}

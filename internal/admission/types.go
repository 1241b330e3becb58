package admission

import (
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
)

// Key identifies a booking. The UID tells a slice from one deleted and
// created again under the same name.
type Key struct {
	Namespace string
	Name      string
	UID       types.UID
}

func (k Key) String() string { return k.Namespace + "/" + k.Name }

// Interval is the half-open time interval [Start, End). A zero End means
// open-ended: an unscheduled slice holds its capacity until it is deleted.
type Interval struct {
	Start time.Time
	End   time.Time
}

// OpenEnded tells whether the interval has no end.
func (iv Interval) OpenEnded() bool { return iv.End.IsZero() }

// Resources are amounts of what a core guarantees: guaranteed bit rates
// (TS 23.501 §5.7.2.5) and core sessions.
type Resources struct {
	GBRUplinkKbps   int64
	GBRDownlinkKbps int64
	Sessions        int64
}

// Capacity is what may be reserved on a core at any instant. Zero in a
// dimension means unlimited, as in CoreNetwork spec.capacity.
type Capacity struct {
	GBRUplinkKbps   int64
	GBRDownlinkKbps int64
	MaxSessions     int64
}

// CapacityOf is the capacity a CoreNetwork declares.
func CapacityOf(c v1alpha1.CoreCapacity) Capacity {
	return Capacity{GBRUplinkKbps: c.GBRUplinkKbps, GBRDownlinkKbps: c.GBRDownlinkKbps, MaxSessions: int64(c.MaxSessions)}
}

// Reservation is what an admission holds: amounts over an interval.
type Reservation struct {
	Interval  Interval
	Resources Resources
}

// Reason is the outcome of a decision, and the previous decision of a booking.
type Reason string

const (
	// ReasonNone is a booking never decided, or edited since it was pre-empted.
	ReasonNone      Reason = ""
	ReasonAdmitted  Reason = "Admitted"
	ReasonDeclined  Reason = "Declined"
	ReasonPreempted Reason = "Preempted"
)

// Booking is one slice's request for capacity on a core, with what status
// recorded about it.
type Booking struct {
	Key Key
	// Created orders bookings of equal priority: first come, first served.
	Created time.Time
	// Interval is the requested window, [start − leadTime, end), or
	// [creation, open end) for an unscheduled slice.
	Interval Interval
	// Demand is the whole booking's: per-device GBR × devices, one session per device.
	Demand Resources
	// ARP is the effective allocation and retention priority (TS 23.501
	// §5.7.2.2). An empty preemptCap or preemptVuln reads as NOT_PREEMPT /
	// NOT_PREEMPTABLE, as the API defaults them; a priority level outside
	// 1-15 (no ARP at all) comes after every valid one.
	ARP v1alpha1.ARP
	// Active is true once the window has begun and sessions are provisioned.
	Active bool
	// Previous is the decision persisted in status.
	Previous Reason
	// Held is what the previous admission reserved, when Previous is
	// Admitted and it differs from Interval and Demand (an extension not
	// yet admitted, or refused). Nil means the booking holds what it asks.
	Held *Reservation
	// PreviousMessage is the message persisted with Previous. A booking
	// that stays pre-empted keeps it, so that who displaced it is not lost
	// at the next evaluation.
	PreviousMessage string
}

// Dimension is one kind of capacity.
type Dimension string

const (
	GBRUplink   Dimension = "GBRUplink"
	GBRDownlink Dimension = "GBRDownlink"
	Sessions    Dimension = "Sessions"
)

// Conflict is why a booking does not fit in one dimension: where the
// reservation peaks within the booking's interval, and by whom.
type Conflict struct {
	Dimension Dimension
	// Peak is the earliest stretch of the booking's interval
	// where the reserved amount is at its highest.
	Peak Interval
	// Reserved is the amount reserved throughout Peak, in kbit/s or sessions.
	Reserved int64
	// Capacity is the core's capacity in that dimension.
	Capacity int64
	// Needs is what the booking asks for in that dimension.
	Needs int64
	// Bookings are the admitted bookings that reserve in that dimension
	// within Peak, sorted. Messages give only their number: they may be in
	// other namespaces, which a team must not learn about from its own slice.
	Bookings []Key
}

// Decision is the outcome of Decide for one booking.
type Decision struct {
	// Admitted is true when the booking holds Reserved.
	Admitted bool
	Reason   Reason
	// Message says what happened and what a person can do about it.
	Message string
	// Reserved is what the booking holds; zero unless Admitted. Persist it:
	// it is the Held of the next evaluation.
	Reserved Reservation
	// ExtensionDeclined is true when a change to an admitted booking did not
	// fit: the booking keeps Reserved, its previous admission.
	ExtensionDeclined bool
	// Conflicts say why the booking, or its extension, was declined: one per
	// dimension that does not fit, uplink, downlink, then sessions.
	Conflicts []Conflict
	// PreemptedBy is who displaced the booking, when it was pre-empted in
	// this evaluation.
	PreemptedBy *Key
	// Preempted are the bookings this one displaced in this evaluation, in
	// the order they were chosen; each deserves an Event.
	Preempted []Key
}

// NewBooking is the booking a slice asks for, given its effective QoS
// (plan.Resolve). The caller adds what only status knows: Active, Previous,
// Held and PreviousMessage.
func NewBooking(s *v1alpha1.MedicalSlice, qos v1alpha1.QoS) Booking {
	b := Booking{
		Key:     Key{Namespace: s.Namespace, Name: s.Name, UID: s.UID},
		Created: s.CreationTimestamp.Time,
	}
	if sc := s.Spec.Schedule; sc != nil {
		start := sc.Start.Time
		if sc.LeadTime != nil {
			start = start.Add(-sc.LeadTime.Duration)
		}
		b.Interval = Interval{Start: start, End: sc.End.Time}
	} else {
		b.Interval = Interval{Start: s.CreationTimestamp.Time}
	}
	n := int64(len(s.Spec.Devices))
	b.Demand = Resources{Sessions: n}
	if qos.GBRUplinkKbps != nil {
		b.Demand.GBRUplinkKbps = *qos.GBRUplinkKbps * n
	}
	if qos.GBRDownlinkKbps != nil {
		b.Demand.GBRDownlinkKbps = *qos.GBRDownlinkKbps * n
	}
	if qos.ARP != nil {
		b.ARP = *qos.ARP
	}
	return b
}

package admission

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/medslice/medslice/api/v1alpha1"
)

// TestTimeline protects the capacity view: steps with idle stretches,
// the bookings of each step, and equal neighbours merged.
func TestTimeline(t *testing.T) {
	a := booking("a", uplink(30), downlink(0), window("08:00", "10:00"))
	b := booking("b", uplink(30), downlink(0), window("09:00", "11:00"))
	open := booking("open", uplink(10), downlink(0), openFrom(clock("10:30")))
	over := booking("over", uplink(80), downlink(0), window("09:30", "10:00"))
	iv := func(from, to string) Interval { return Interval{Start: clock(from), End: clock(to)} }
	tests := map[string]struct {
		admitted []Booking
		from, to time.Time
		want     []Segment
	}{
		"steps over a window": {
			admitted: []Booking{b, a},
			from:     clock("07:00"), to: clock("12:00"),
			want: []Segment{
				{Interval: iv("07:00", "08:00")},
				{Interval: iv("08:00", "09:00"), Reserved: Resources{GBRUplinkKbps: 30 * mbit, Sessions: 1}, Bookings: []Key{keyOf("a")}},
				{Interval: iv("09:00", "10:00"), Reserved: Resources{GBRUplinkKbps: 60 * mbit, Sessions: 2}, Bookings: []Key{keyOf("a"), keyOf("b")}},
				{Interval: iv("10:00", "11:00"), Reserved: Resources{GBRUplinkKbps: 30 * mbit, Sessions: 1}, Bookings: []Key{keyOf("b")}},
				{Interval: iv("11:00", "12:00")},
			},
		},
		"cut to the window asked for": {
			admitted: []Booking{a, b},
			from:     clock("09:30"), to: clock("10:30"),
			want: []Segment{
				{Interval: iv("09:30", "10:00"), Reserved: Resources{GBRUplinkKbps: 60 * mbit, Sessions: 2}, Bookings: []Key{keyOf("a"), keyOf("b")}},
				{Interval: iv("10:00", "10:30"), Reserved: Resources{GBRUplinkKbps: 30 * mbit, Sessions: 1}, Bookings: []Key{keyOf("b")}},
			},
		},
		"open-ended to the end": {
			admitted: []Booking{b, open},
			from:     clock("10:00"),
			want: []Segment{
				{Interval: iv("10:00", "10:30"), Reserved: Resources{GBRUplinkKbps: 30 * mbit, Sessions: 1}, Bookings: []Key{keyOf("b")}},
				{Interval: iv("10:30", "11:00"), Reserved: Resources{GBRUplinkKbps: 40 * mbit, Sessions: 2}, Bookings: []Key{keyOf("b"), keyOf("open")}},
				{Interval: Interval{Start: clock("11:00")}, Reserved: Resources{GBRUplinkKbps: 10 * mbit, Sessions: 1}, Bookings: []Key{keyOf("open")}},
			},
		},
		"back to back bookings are two steps, not one": {
			admitted: []Booking{
				booking("first", uplink(50), downlink(0), window("08:00", "09:00")),
				booking("second", uplink(50), downlink(0), window("09:00", "10:00")),
			},
			from: clock("08:00"), to: clock("10:00"),
			want: []Segment{
				{Interval: iv("08:00", "09:00"), Reserved: Resources{GBRUplinkKbps: 50 * mbit, Sessions: 1}, Bookings: []Key{keyOf("first")}},
				{Interval: iv("09:00", "10:00"), Reserved: Resources{GBRUplinkKbps: 50 * mbit, Sessions: 1}, Bookings: []Key{keyOf("second")}},
			},
		},
		"over capacity is flagged": {
			admitted: []Booking{a, over},
			from:     clock("09:00"), to: clock("10:00"),
			want: []Segment{
				{Interval: iv("09:00", "09:30"), Reserved: Resources{GBRUplinkKbps: 30 * mbit, Sessions: 1}, Bookings: []Key{keyOf("a")}},
				{Interval: iv("09:30", "10:00"), Reserved: Resources{GBRUplinkKbps: 110 * mbit, Sessions: 2}, Bookings: []Key{keyOf("a"), keyOf("over")}, Over: []Dimension{GBRUplink}},
			},
		},
		"nothing booked is one idle step": {
			from: clock("08:00"), to: clock("09:00"),
			want: []Segment{{Interval: iv("08:00", "09:00")}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Timeline(core100, tc.admitted, tc.from, tc.to)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Timeline (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheck protects the invariant check itself: a check that cannot fail
// would let over-admission through every other test.
func TestCheck(t *testing.T) {
	tests := map[string]struct {
		capacity Capacity
		admitted []Booking
		wantErr  string
	}{
		"within": {
			capacity: core100,
			admitted: []Booking{booking("a", uplink(50)), booking("b", uplink(50))},
		},
		"back to back at capacity": {
			capacity: core100,
			admitted: []Booking{booking("a", uplink(100), window("08:00", "09:00")), booking("b", uplink(100), window("09:00", "10:00"))},
		},
		"unlimited": {
			capacity: Capacity{},
			admitted: []Booking{booking("a", uplink(5000)), booking("b", uplink(5000))},
		},
		"uplink over for half an hour": {
			capacity: core100,
			admitted: []Booking{booking("a", uplink(60), window("08:00", "09:30")), booking("b", uplink(60), window("09:00", "10:00"))},
			wantErr:  "over capacity: uplink GBR 120 of 100 Mbps reserved 2026-03-16 09:00–09:30 by or/a, or/b",
		},
		"sessions and downlink over": {
			capacity: Capacity{GBRDownlinkKbps: 30 * mbit, MaxSessions: 2},
			admitted: []Booking{booking("a", sessions(2)), booking("b", openFrom(clock("10:00")))},
			wantErr:  "over capacity: downlink GBR 40 of 30 Mbps, sessions 3 of 2 reserved 2026-03-16 10:00–10:30 by or/a, or/b",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := Check(tc.capacity, tc.admitted)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("Check() = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// TestNewBooking protects how a slice becomes a booking: lead time counted,
// demand per device times devices, unscheduled slices open-ended from their
// creation.
func TestNewBooking(t *testing.T) {
	created := metav1.NewTime(evening)
	slice := func(schedule *v1alpha1.Schedule, devices int) *v1alpha1.MedicalSlice {
		s := &v1alpha1.MedicalSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "or", Name: "surgery", UID: "surgery-uid", CreationTimestamp: created},
			Spec:       v1alpha1.MedicalSliceSpec{Schedule: schedule},
		}
		for range devices {
			s.Spec.Devices = append(s.Spec.Devices, v1alpha1.Device{})
		}
		return s
	}
	arp := v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable}
	qos := v1alpha1.QoS{GBRUplinkKbps: ptr.To[int64](10 * mbit), GBRDownlinkKbps: ptr.To[int64](25 * mbit), ARP: &arp}
	tests := map[string]struct {
		slice *v1alpha1.MedicalSlice
		qos   v1alpha1.QoS
		want  Booking
	}{
		"scheduled with lead time": {
			slice: slice(&v1alpha1.Schedule{Start: metav1.NewTime(clock("08:00")), End: metav1.NewTime(clock("12:00")), LeadTime: &metav1.Duration{Duration: 15 * time.Minute}}, 3),
			qos:   qos,
			want: Booking{
				Key: keyOf("surgery"), Created: evening,
				Interval: Interval{Start: clock("07:45"), End: clock("12:00")},
				Demand:   Resources{GBRUplinkKbps: 30 * mbit, GBRDownlinkKbps: 75 * mbit, Sessions: 3},
				ARP:      arp,
			},
		},
		"unscheduled, non-GBR, no ARP": {
			slice: slice(nil, 2),
			want: Booking{
				Key: keyOf("surgery"), Created: evening,
				Interval: Interval{Start: evening},
				Demand:   Resources{Sessions: 2},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, NewBooking(tc.slice, tc.qos)); diff != "" {
				t.Errorf("NewBooking (-want +got):\n%s", diff)
			}
		})
	}
	if got := CapacityOf(v1alpha1.CoreCapacity{GBRUplinkKbps: 1, GBRDownlinkKbps: 2, MaxSessions: 3}); got != (Capacity{1, 2, 3}) {
		t.Errorf("CapacityOf = %+v", got)
	}
}

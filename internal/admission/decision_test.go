package admission

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestDecideDecisions protects the fields a controller persists and shows:
// what is reserved, the conflict, who pre-empted whom.
func TestDecideDecisions(t *testing.T) {
	surgery, ultrasound := keyOf("surgery"), keyOf("ultrasound")
	tests := map[string]struct {
		capacity Capacity
		bookings []Booking
		now      time.Time
		want     map[string]Decision
	}{
		"declined with its conflict": {
			capacity: core100,
			bookings: []Booking{
				booking("a", uplink(30), downlink(0), admitted),
				booking("b", uplink(30), downlink(0), admitted),
				booking("c", uplink(20), downlink(0), window("07:00", "11:00"), admitted),
				booking("d", uplink(40), downlink(0)),
			},
			want: map[string]Decision{"d": {
				Reason: ReasonDeclined,
				Conflicts: []Conflict{{
					Dimension: GBRUplink,
					Peak:      Interval{Start: clock("08:00"), End: clock("10:30")},
					Reserved:  80 * mbit, Capacity: 100 * mbit, Needs: 40 * mbit,
					Bookings: []Key{keyOf("a"), keyOf("b"), keyOf("c")},
				}},
			}},
		},
		"surgery pre-empts imaging": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(100), admitted), booking("surgery", surgical, uplink(50))},
			want: map[string]Decision{
				"surgery": {
					Admitted: true, Reason: ReasonAdmitted,
					Reserved:  Reservation{Interval: Interval{Start: clock("08:00"), End: clock("10:30")}, Resources: Resources{GBRUplinkKbps: 50 * mbit, GBRDownlinkKbps: 20 * mbit, Sessions: 1}},
					Preempted: []Key{ultrasound},
				},
				"ultrasound": {Reason: ReasonPreempted, PreemptedBy: &surgery},
			},
		},
		"extension refused keeps what was held": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", surgical, uplink(60), downlink(0), window("08:00", "12:30"), heldFor("08:00", "10:30")),
				booking("next", surgical, uplink(60), downlink(0), window("11:00", "13:00"), admitted),
			},
			want: map[string]Decision{"surgery": {
				Admitted: true, Reason: ReasonAdmitted, ExtensionDeclined: true,
				Reserved: Reservation{Interval: Interval{Start: clock("08:00"), End: clock("10:30")}, Resources: Resources{GBRUplinkKbps: 60 * mbit, Sessions: 1}},
				Conflicts: []Conflict{{
					Dimension: GBRUplink,
					Peak:      Interval{Start: clock("11:00"), End: clock("12:30")},
					Reserved:  60 * mbit, Capacity: 100 * mbit, Needs: 60 * mbit,
					Bookings: []Key{keyOf("next")},
				}},
			}},
		},
		"extension of a running operation reserves from its start": {
			capacity: core100,
			bookings: []Booking{booking("surgery", surgical, active, uplink(60), downlink(0), window("08:00", "12:30"), heldFor("08:00", "10:30"))},
			now:      clock("10:00"),
			want: map[string]Decision{"surgery": {
				Admitted: true, Reason: ReasonAdmitted,
				Reserved: Reservation{Interval: Interval{Start: clock("08:00"), End: clock("12:30")}, Resources: Resources{GBRUplinkKbps: 60 * mbit, Sessions: 1}},
			}},
		},
		"shortening a running operation keeps its start": {
			capacity: core100,
			bookings: []Booking{booking("surgery", surgical, active, uplink(60), downlink(0), window("08:00", "10:00"), heldFor("08:00", "12:00"))},
			now:      clock("09:00"),
			want: map[string]Decision{"surgery": {
				Admitted: true, Reason: ReasonAdmitted,
				Reserved: Reservation{Interval: Interval{Start: clock("08:00"), End: clock("10:00")}, Resources: Resources{GBRUplinkKbps: 60 * mbit, Sessions: 1}},
			}},
		},
		"a late admission reserves from now, never the past it was not checked for": {
			capacity: core100,
			bookings: []Booking{booking("monitoring", uplink(60), downlink(0), openFrom(clock("-20:00")), declined)},
			now:      clock("08:00"),
			want: map[string]Decision{"monitoring": {
				Admitted: true, Reason: ReasonAdmitted,
				Reserved: Reservation{Interval: Interval{Start: clock("08:00")}, Resources: Resources{GBRUplinkKbps: 60 * mbit, Sessions: 1}},
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = evening
			}
			got := Decide(tc.capacity, tc.bookings, now, time.UTC)
			for who, want := range tc.want {
				if diff := cmp.Diff(want, decisionOf(t, got, who), cmpopts.IgnoreFields(Decision{}, "Message")); diff != "" {
					t.Errorf("decision of %s (-want +got):\n%s", who, diff)
				}
			}
		})
	}
}

// TestCancellationAdmitsDeclined follows one core over two evaluations: a
// cancellation frees capacity at once and the booking declined for lack of
// it is admitted, while the others keep their decisions.
func TestCancellationAdmitsDeclined(t *testing.T) {
	bookings := []Booking{
		booking("a", uplink(50)),
		booking("b", uplink(50), createdAt(time.Minute)),
		booking("c", uplink(50), createdAt(2*time.Minute)),
	}
	first, _ := outcomes(t, core100, bookings, evening)
	if diff := cmp.Diff(map[string]string{"a": "admitted", "b": "admitted", "c": "Declined"}, first); diff != "" {
		t.Fatalf("first evaluation (-want +got):\n%s", diff)
	}
	d1 := Decide(core100, bookings, evening, time.UTC)
	cancelled := feedBack(bookings[1:], d1) // "a" is deleted
	second, _ := outcomes(t, core100, cancelled, evening.Add(time.Minute))
	if diff := cmp.Diff(map[string]string{"b": "admitted", "c": "admitted"}, second); diff != "" {
		t.Errorf("after cancelling a (-want +got):\n%s", diff)
	}
}

// TestFiftyAgainstTwenty is DESIGN §6's measure in miniature: 50 identical
// bookings on a core that fits 20 admit exactly the first 20 created.
func TestFiftyAgainstTwenty(t *testing.T) {
	var bookings []Booking
	for i := range 50 {
		bookings = append(bookings, booking(string(rune('a'+i/26))+string(rune('a'+i%26)), uplink(5), downlink(5), createdAt(time.Duration(i)*time.Second)))
	}
	_, got := outcomes(t, core100, bookings, evening)
	var admittedNames []string
	for _, b := range bookings {
		if got[b.Key].Admitted {
			admittedNames = append(admittedNames, b.Key.Name)
		}
	}
	var want []string
	for _, b := range bookings[:20] {
		want = append(want, b.Key.Name)
	}
	if diff := cmp.Diff(want, admittedNames); diff != "" {
		t.Errorf("admitted (-want +got):\n%s", diff)
	}
}

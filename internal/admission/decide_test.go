package admission

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestDecideOutcomes protects who gets capacity: each case is a core and its
// bookings, and what each booking ends up with.
func TestDecideOutcomes(t *testing.T) {
	tests := map[string]struct {
		capacity Capacity
		bookings []Booking
		now      time.Time // evening before opDay unless set
		want     map[string]string
	}{
		"fits in every dimension": {
			capacity: core100,
			bookings: []Booking{booking("a", uplink(60), downlink(60), sessions(10)), booking("b", uplink(40), downlink(40), sessions(10))},
			want:     map[string]string{"a": "admitted", "b": "admitted"},
		},
		"uplink full": {
			capacity: core100,
			bookings: []Booking{booking("a", uplink(70), admitted), booking("b", uplink(40))},
			want:     map[string]string{"a": "admitted", "b": "Declined"},
		},
		"downlink full": {
			capacity: core100,
			bookings: []Booking{booking("a", downlink(70), admitted), booking("b", downlink(40))},
			want:     map[string]string{"a": "admitted", "b": "Declined"},
		},
		"sessions full": {
			capacity: core100,
			bookings: []Booking{booking("a", uplink(1), downlink(1), sessions(19), admitted), booking("b", uplink(1), downlink(1), sessions(2))},
			want:     map[string]string{"a": "admitted", "b": "Declined"},
		},
		"a zero capacity is unlimited": {
			capacity: Capacity{MaxSessions: 2},
			bookings: []Booking{booking("a", uplink(5000), admitted), booking("b", uplink(5000))},
			want:     map[string]string{"a": "admitted", "b": "admitted"},
		},
		"a booking needing nothing in a full dimension fits": {
			capacity: core100,
			bookings: []Booking{booking("a", uplink(100), downlink(0), admitted), booking("b", uplink(0), downlink(50))},
			want:     map[string]string{"a": "admitted", "b": "admitted"},
		},
		"back to back bookings share the capacity": {
			capacity: core100,
			bookings: []Booking{booking("a", uplink(100), window("08:00", "10:00")), booking("b", uplink(100), window("10:00", "12:00"))},
			want:     map[string]string{"a": "admitted", "b": "admitted"},
		},
		"overlapping by a minute does not fit": {
			capacity: core100,
			bookings: []Booking{booking("a", uplink(100), window("08:00", "10:01")), booking("b", uplink(100), window("10:00", "12:00"))},
			want:     map[string]string{"a": "admitted", "b": "Declined"},
		},
		"the whole window counts, not only its start": {
			capacity: core100,
			bookings: []Booking{
				booking("early", uplink(50), window("08:00", "09:00")),
				booking("late", uplink(50), window("11:00", "12:00")),
				booking("long", uplink(60), window("07:00", "13:00")),
			},
			want: map[string]string{"early": "admitted", "late": "admitted", "long": "Declined"},
		},
		"higher priority goes first even when created later": {
			capacity: core100,
			bookings: []Booking{booking("routine", uplink(60)), booking("urgent", uplink(60), priority(2), createdAt(time.Hour))},
			want:     map[string]string{"routine": "Declined", "urgent": "admitted"},
		},
		"equal priority: first created goes first": {
			capacity: core100,
			bookings: []Booking{booking("second", uplink(60), createdAt(time.Minute)), booking("first", uplink(60))},
			want:     map[string]string{"first": "admitted", "second": "Declined"},
		},
		"equal priority and creation: name decides": {
			capacity: core100,
			bookings: []Booking{booking("or3-b", uplink(60)), booking("or3-a", uplink(60))},
			want:     map[string]string{"or3-a": "admitted", "or3-b": "Declined"},
		},
		"an admission is not displaced by a later arrival of equal priority created earlier": {
			capacity: core100,
			bookings: []Booking{booking("held", uplink(60), admitted, createdAt(time.Hour)), booking("newcomer", uplink(60))},
			want:     map[string]string{"held": "admitted", "newcomer": "Declined"},
		},
		"an admission is not displaced by a higher priority that may not pre-empt": {
			capacity: core100,
			bookings: []Booking{booking("held", uplink(60), admitted, preemptable), booking("urgent", uplink(60), priority(1))},
			want:     map[string]string{"held": "admitted", "urgent": "Declined"},
		},
		"surgery pre-empts imaging on a full core": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(100), admitted), booking("surgery", surgical, uplink(50))},
			want:     map[string]string{"ultrasound": "pre-empted by surgery", "surgery": "admitted, pre-empting ultrasound"},
		},
		"a second surgery on the same full window is declined": {
			capacity: core100,
			bookings: []Booking{
				booking("ultrasound", imaging, uplink(100), admitted),
				booking("surgery", surgical, uplink(100)),
				booking("surgery-2", surgical, uplink(50), createdAt(time.Minute)),
			},
			want: map[string]string{"ultrasound": "pre-empted by surgery", "surgery": "admitted, pre-empting ultrasound", "surgery-2": "Declined"},
		},
		"surgery never pre-empts a booking that is not pre-emptable": {
			capacity: core100,
			bookings: []Booking{booking("video", uplink(100), priority(5), admitted), booking("surgery", surgical, uplink(50))},
			want:     map[string]string{"video": "admitted", "surgery": "Declined"},
		},
		"surgery never pre-empts another surgery, active or not": {
			capacity: core100,
			bookings: []Booking{booking("running", surgical, uplink(100), admitted, active), booking("next", surgical, uplink(50), createdAt(time.Minute))},
			now:      clock("09:00"),
			want:     map[string]string{"running": "admitted", "next": "Declined"},
		},
		"an active pre-emptable booking may be pre-empted": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(100), admitted, active), booking("surgery", surgical, uplink(50), window("09:30", "12:00"))},
			now:      clock("09:00"),
			want:     map[string]string{"ultrasound": "pre-empted by surgery", "surgery": "admitted, pre-empting ultrasound"},
		},
		"no pre-emption when the booking fits": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(50), admitted), booking("surgery", surgical, uplink(50))},
			want:     map[string]string{"ultrasound": "admitted", "surgery": "admitted"},
		},
		"no pre-emption of equal priority": {
			capacity: core100,
			bookings: []Booking{booking("held", uplink(100), preemptable, admitted), booking("urgent", uplink(50), mayPreempt)},
			want:     map[string]string{"held": "admitted", "urgent": "Declined"},
		},
		"no pre-emption when even every victim would not make room": {
			capacity: core100,
			bookings: []Booking{
				booking("video", uplink(60), priority(5), admitted),
				booking("ultrasound", imaging, uplink(40), admitted),
				booking("surgery", surgical, uplink(50)),
			},
			want: map[string]string{"video": "admitted", "ultrasound": "admitted", "surgery": "Declined"},
		},
		"no pre-emption of a booking outside the window": {
			capacity: core100,
			bookings: []Booking{
				booking("morning", imaging, uplink(100), window("06:00", "08:00"), admitted),
				booking("video", uplink(100), priority(5), window("08:00", "10:30"), admitted),
				booking("surgery", surgical, uplink(50)),
			},
			want: map[string]string{"morning": "admitted", "video": "admitted", "surgery": "Declined"},
		},
		"victims: lowest priority first, then latest created": {
			capacity: core100,
			bookings: []Booking{
				booking("p9", imaging, priority(9), uplink(40), admitted),
				booking("p12-old", imaging, priority(12), uplink(30), admitted),
				booking("p12-new", imaging, priority(12), uplink(30), admitted, createdAt(time.Minute)),
				booking("surgery", surgical, uplink(30)),
			},
			want: map[string]string{"p9": "admitted", "p12-old": "admitted", "p12-new": "pre-empted by surgery", "surgery": "admitted, pre-empting p12-new"},
		},
		"victims: as many as needed, in that order": {
			capacity: core100,
			bookings: []Booking{
				booking("p9", imaging, priority(9), uplink(40), admitted),
				booking("p12-old", imaging, priority(12), uplink(30), admitted),
				booking("p12-new", imaging, priority(12), uplink(30), admitted, createdAt(time.Minute)),
				booking("surgery", surgical, uplink(90)),
			},
			want: map[string]string{"p9": "pre-empted by surgery", "p12-old": "pre-empted by surgery", "p12-new": "pre-empted by surgery", "surgery": "admitted, pre-empting p12-new p12-old p9"},
		},
		"victims: one not needed after all is spared": {
			capacity: core100,
			bookings: []Booking{
				booking("small", imaging, priority(12), uplink(10), admitted),
				booking("big", imaging, priority(11), uplink(90), admitted),
				booking("surgery", surgical, uplink(80)),
			},
			want: map[string]string{"small": "admitted", "big": "pre-empted by surgery", "surgery": "admitted, pre-empting big"},
		},
		"victims: only those reserving in the window": {
			capacity: core100,
			bookings: []Booking{
				booking("after", imaging, priority(14), uplink(100), window("10:30", "12:00"), admitted),
				booking("during", imaging, priority(11), uplink(100), admitted),
				booking("surgery", surgical, uplink(50)),
			},
			want: map[string]string{"after": "admitted", "during": "pre-empted by surgery", "surgery": "admitted, pre-empting during"},
		},
		"a pre-empted booking is not re-admitted when capacity frees": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(100), preemptedWith("pre-empted by booking surgery"))},
			want:     map[string]string{"ultrasound": "Preempted"},
		},
		"a pre-empted booking that was edited asks again": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(100))},
			want:     map[string]string{"ultrasound": "admitted"},
		},
		"a declined booking is admitted once capacity frees": {
			capacity: core100,
			// "a" was cancelled: only what is left is passed.
			bookings: []Booking{booking("b", uplink(60), admitted), booking("c", uplink(40), declined)},
			want:     map[string]string{"b": "admitted", "c": "admitted"},
		},
		"a shortened booking frees capacity for one before it in the order": {
			capacity: core100,
			bookings: []Booking{
				booking("waiting", uplink(60), priority(2), window("10:00", "12:00"), declined),
				booking("shortened", uplink(60), window("08:00", "10:00"), heldFor("08:00", "12:00")),
			},
			want: map[string]string{"waiting": "admitted", "shortened": "admitted"},
		},
		"a shortened booking frees capacity before anyone is served: no needless pre-emption": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", surgical, uplink(40), window("10:00", "12:00")),
				booking("shortened", uplink(60), window("08:00", "10:00"), heldFor("08:00", "12:00")),
				booking("ultrasound", imaging, uplink(40), window("10:00", "12:00"), admitted),
			},
			want: map[string]string{"surgery": "admitted", "shortened": "admitted", "ultrasound": "admitted"},
		},
		"pre-emption frees more than it takes: a declined booking gets another look": {
			capacity: core100,
			bookings: []Booking{
				booking("video", priority(5), uplink(30), declined),
				booking("ultrasound", imaging, uplink(100), admitted),
				booking("surgery", surgical, priority(6), uplink(40)),
			},
			want: map[string]string{"video": "admitted", "ultrasound": "pre-empted by surgery", "surgery": "admitted, pre-empting ultrasound"},
		},
		"extension that fits": {
			capacity: core100,
			bookings: []Booking{booking("surgery", surgical, uplink(60), window("08:00", "12:00"), heldFor("08:00", "10:30")), booking("other", uplink(40), window("09:00", "13:00"), admitted)},
			want:     map[string]string{"surgery": "admitted", "other": "admitted"},
		},
		"extension that does not fit keeps the admission": {
			capacity: core100,
			bookings: []Booking{booking("surgery", surgical, uplink(60), window("08:00", "12:00"), heldFor("08:00", "10:30")), booking("next", surgical, uplink(60), window("10:30", "13:00"), admitted)},
			want:     map[string]string{"surgery": "admitted, extension declined", "next": "admitted"},
		},
		"extension of a running operation pre-empts imaging": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", surgical, active, uplink(60), window("08:00", "12:00"), heldFor("08:00", "10:30")),
				booking("ultrasound", imaging, uplink(60), window("10:30", "13:00"), admitted),
			},
			now:  clock("10:15"),
			want: map[string]string{"surgery": "admitted, pre-empting ultrasound", "ultrasound": "pre-empted by surgery"},
		},
		"more devices is a change like an extension": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", uplink(80), heldFor("08:00", "10:30"), heldDemand(Resources{GBRUplinkKbps: 40 * mbit, GBRDownlinkKbps: 20 * mbit, Sessions: 1})),
				booking("other", uplink(40), admitted),
			},
			want: map[string]string{"surgery": "admitted, extension declined", "other": "admitted"},
		},
		"a pre-empted booking's pending extension goes with it": {
			capacity: core100,
			bookings: []Booking{
				booking("ultrasound", imaging, uplink(100), window("08:00", "11:00"), heldFor("08:00", "10:30")),
				booking("surgery", surgical, uplink(50)),
			},
			want: map[string]string{"ultrasound": "pre-empted by surgery", "surgery": "admitted, pre-empting ultrasound"},
		},
		"open-ended booking holds capacity for every future window": {
			capacity: core100,
			bookings: []Booking{booking("monitoring", uplink(60), openFrom(evening.Add(-48*time.Hour)), admitted), booking("next-week", uplink(60), window("176:00", "178:00"))},
			want:     map[string]string{"monitoring": "admitted", "next-week": "Declined"},
		},
		"open-ended booking is not blocked by what has passed": {
			capacity: core100,
			bookings: []Booking{
				booking("yesterday", uplink(100), window("-16:00", "-14:00"), admitted),
				booking("monitoring", uplink(60), openFrom(clock("-20:00")), declined),
			},
			now:  clock("08:00"),
			want: map[string]string{"yesterday": "admitted", "monitoring": "admitted"},
		},
		"open-ended booking does not fit under a scheduled one": {
			capacity: core100,
			bookings: []Booking{booking("surgery", uplink(60), admitted), booking("monitoring", uplink(60), openFrom(evening))},
			want:     map[string]string{"surgery": "admitted", "monitoring": "Declined"},
		},
		"a window that is over is declined": {
			capacity: core100,
			bookings: []Booking{booking("late", uplink(10))},
			now:      clock("11:00"),
			want:     map[string]string{"late": "Declined"},
		},
		"an admission whose window is over stays admitted and holds nothing": {
			capacity: core100,
			bookings: []Booking{booking("done", uplink(100), window("06:00", "08:00"), admitted), booking("now", uplink(100), window("09:00", "10:00"))},
			now:      clock("08:30"),
			want:     map[string]string{"done": "admitted", "now": "admitted"},
		},
		"a lowered capacity declines the lowest admitted booking that no longer fits": {
			capacity: Capacity{GBRUplinkKbps: 50 * mbit},
			bookings: []Booking{booking("surgery", surgical, uplink(40), admitted), booking("video", uplink(40), priority(5), admitted)},
			want:     map[string]string{"surgery": "admitted", "video": "Declined"},
		},
		"a duplicate key is decided once, first in decision order": {
			capacity: core100,
			bookings: []Booking{booking("twice", uplink(100), priority(9)), booking("other", uplink(50), priority(5)), booking("twice", uplink(10), priority(2))},
			want:     map[string]string{"twice": "admitted", "other": "admitted"},
		},
		"a booking without ARP comes last": {
			capacity: core100,
			bookings: []Booking{booking("no-arp", uplink(60), priority(0)), booking("lowest", uplink(60), priority(15), createdAt(time.Hour))},
			want:     map[string]string{"no-arp": "Declined", "lowest": "admitted"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = evening
			}
			got, _ := outcomes(t, tc.capacity, tc.bookings, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecideLoweredCapacityKeepsActive protects running operations: a
// capacity lowered under them never tears them down, even though the
// invariant cannot hold until one ends.
func TestDecideLoweredCapacityKeepsActive(t *testing.T) {
	c := Capacity{GBRUplinkKbps: 50 * mbit}
	bookings := []Booking{
		booking("surgery", surgical, uplink(40), admitted, active),
		booking("video", uplink(40), priority(5), admitted, active),
		booking("later", uplink(10), priority(5), window("09:00", "10:00"), admitted),
	}
	got := Decide(c, bookings, clock("08:30"), time.UTC)
	want := map[string]string{"surgery": "admitted", "video": "admitted", "later": "Declined"}
	sum := map[string]string{}
	for k, d := range got {
		sum[k.Name] = outcome(d)
	}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if err := Check(c, Admitted(bookings, got)); err == nil {
		t.Errorf("Check found nothing, want the over-capacity the lowered core leaves")
	}
}

// TestDecideMessages protects what a person reads, word for word.
func TestDecideMessages(t *testing.T) {
	tests := map[string]struct {
		capacity Capacity
		bookings []Booking
		now      time.Time
		loc      *time.Location
		name     string
		want     string
	}{
		"admitted": {
			capacity: core100,
			bookings: []Booking{booking("surgery", uplink(40), downlink(25), sessions(2), window("07:45", "10:30"))},
			name:     "surgery",
			want:     "admitted: uplink GBR 40 Mbps, downlink GBR 25 Mbps, 2 sessions reserved 2026-03-16 07:45–10:30",
		},
		"admitted, in the hospital's time zone": {
			capacity: core100,
			bookings: []Booking{booking("surgery", uplink(40), downlink(0), window("07:45", "10:30"))},
			loc:      time.FixedZone("CET", 3600),
			name:     "surgery",
			want:     "admitted: uplink GBR 40 Mbps, 1 session reserved 2026-03-16 08:45–11:30",
		},
		"declined at a peak of three bookings": {
			capacity: core100,
			bookings: []Booking{
				booking("a", uplink(30), downlink(0), admitted),
				booking("b", uplink(30), downlink(0), admitted),
				booking("c", uplink(20), downlink(0), window("07:00", "11:00"), admitted),
				booking("d", uplink(40), downlink(0)),
			},
			name: "d",
			want: "declined: uplink GBR 80 of 100 Mbps reserved 08:00–10:30 by 3 bookings; this needs 40 Mbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined at the earliest peak only": {
			capacity: core100,
			bookings: []Booking{
				booking("a", uplink(30), downlink(0), window("08:00", "09:00"), admitted),
				booking("b", uplink(90), downlink(0), window("09:00", "09:30"), admitted),
				booking("c", uplink(90), downlink(0), window("10:00", "10:15"), admitted),
				booking("d", uplink(40), downlink(0)),
			},
			name: "d",
			want: "declined: uplink GBR 90 of 100 Mbps reserved 09:00–09:30 by 1 booking; this needs 40 Mbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined in two dimensions": {
			capacity: Capacity{GBRUplinkKbps: 100 * mbit, GBRDownlinkKbps: 2 * mbit, MaxSessions: 3},
			bookings: []Booking{
				booking("a", uplink(70), downlinkKbps(500), sessions(2), admitted),
				booking("d", uplink(20), downlinkKbps(1600), sessions(2)),
			},
			name: "d",
			want: "declined: downlink GBR 0.5 of 2 Mbps reserved 08:00–10:30 by 1 booking; this needs 1.6 Mbps; " +
				"sessions 2 of 3 reserved 08:00–10:30 by 1 booking; this needs 2. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined: more than the whole core": {
			capacity: core100,
			bookings: []Booking{booking("huge", uplink(120), downlink(0))},
			name:     "huge",
			want: "declined: uplink GBR: this needs 120 Mbps, more than the core's whole 100 Mbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined across midnight": {
			capacity: core100,
			bookings: []Booking{
				booking("night", uplink(100), downlink(0), window("22:00", "26:00"), admitted),
				booking("d", uplink(40), downlink(0), window("21:00", "23:00")),
			},
			name: "d",
			want: "declined: uplink GBR 100 of 100 Mbps reserved 22:00–23:00 by 1 booking; this needs 40 Mbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined on another day than the one asked for": {
			capacity: core100,
			bookings: []Booking{
				booking("night", uplink(100), downlink(0), window("24:00", "26:00"), admitted),
				booking("d", uplink(40), downlink(0), window("21:00", "27:00")),
			},
			name: "d",
			want: "declined: uplink GBR 100 of 100 Mbps reserved 2026-03-17 00:00–02:00 by 1 booking; this needs 40 Mbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"second surgery on a full window": {
			capacity: core100,
			bookings: []Booking{
				booking("ultrasound", imaging, uplink(100), downlink(0), admitted),
				booking("surgery", surgical, uplink(100), downlink(0)),
				booking("surgery-2", surgical, uplink(50), downlink(0), createdAt(time.Minute)),
			},
			name: "surgery-2",
			want: "declined: uplink GBR 100 of 100 Mbps reserved 08:00–10:30 by 1 booking; this needs 50 Mbps. " +
				"Pre-empting every pre-emptable booking of lower priority would not free enough. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"surgery that pre-empting could not help": {
			capacity: core100,
			bookings: []Booking{
				booking("video", uplink(60), downlink(0), priority(5), admitted),
				booking("ultrasound", imaging, uplink(40), downlink(0), admitted),
				booking("surgery", surgical, uplink(50), downlink(0)),
			},
			name: "surgery",
			want: "declined: uplink GBR 100 of 100 Mbps reserved 08:00–10:30 by 2 bookings; this needs 50 Mbps. " +
				"Pre-empting every pre-emptable booking of lower priority would not free enough. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined after the core's capacity was lowered": {
			capacity: Capacity{GBRUplinkKbps: 50 * mbit},
			bookings: []Booking{booking("surgery", surgical, uplink(40), downlink(0), admitted), booking("video", uplink(40), downlink(0), priority(5), admitted)},
			name:     "video",
			want: "declined: the core's capacity no longer covers this admitted booking (was it lowered?): uplink GBR 40 of 50 Mbps reserved 08:00–10:30 by 1 booking; this needs 40 Mbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"pre-empted, same namespace": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, uplink(100), admitted), booking("surgery", surgical, uplink(50), window("09:00", "11:00"))},
			name:     "ultrasound",
			want:     "pre-empted by booking surgery (ARP priority level 1, this booking has 10), which needs this capacity 2026-03-16 09:00–10:30; edit the slice to ask for admission again",
		},
		"pre-empted, another namespace is not named": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, namespace("radiology"), uplink(100), admitted), booking("surgery", surgical, uplink(50))},
			name:     "ultrasound",
			want:     "pre-empted by a booking in another namespace (ARP priority level 1, this booking has 10), which needs this capacity 2026-03-16 08:00–10:30; edit the slice to ask for admission again",
		},
		"still pre-empted keeps its message": {
			capacity: core100,
			bookings: []Booking{booking("ultrasound", imaging, preemptedWith("pre-empted by booking surgery (...)"))},
			name:     "ultrasound",
			want:     "pre-empted by booking surgery (...)",
		},
		"extension refused": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", surgical, uplink(60), downlink(0), window("08:00", "12:30"), heldFor("08:00", "10:30")),
				booking("next", surgical, uplink(60), downlink(0), window("11:00", "13:00"), admitted),
			},
			now:  clock("10:00"),
			name: "surgery",
			want: "extension to 2026-03-16 08:00–12:30 refused: uplink GBR 60 of 100 Mbps reserved 11:00–12:30 by 1 booking; this needs 60 Mbps; " +
				"still admitted for 2026-03-16 08:00–10:30",
		},
		"more devices refused": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", uplink(80), downlink(0), sessions(2), heldFor("08:00", "10:30"), heldDemand(Resources{GBRUplinkKbps: 40 * mbit, Sessions: 1})),
				booking("other", uplink(40), downlink(0), admitted),
			},
			name: "surgery",
			want: "change to uplink GBR 80 Mbps, 2 sessions over 2026-03-16 08:00–10:30 refused: uplink GBR 40 of 100 Mbps reserved 08:00–10:30 by 1 booking; this needs 80 Mbps; " +
				"still admitted for uplink GBR 40 Mbps, 1 session over 2026-03-16 08:00–10:30",
		},
		"window over": {
			capacity: core100,
			bookings: []Booking{booking("late", uplink(10), downlink(0))},
			now:      clock("11:00"),
			name:     "late",
			want:     "declined: its window 2026-03-16 08:00–10:30 is over",
		},
		"open-ended admitted": {
			capacity: core100,
			bookings: []Booking{booking("monitoring", uplink(1), downlink(0), openFrom(evening.Add(-time.Hour)))},
			name:     "monitoring",
			want:     "admitted: uplink GBR 1 Mbps, 1 session reserved from 2026-03-15 18:00 on",
		},
		"open-ended declined at its first conflict": {
			capacity: core100,
			bookings: []Booking{
				booking("surgery", uplink(100), downlink(0), admitted),
				booking("monitoring", uplinkKbps(500), downlink(0), openFrom(evening)),
			},
			name: "monitoring",
			want: "declined: uplink GBR 100 of 100 Mbps reserved 2026-03-16 08:00–10:30 by 1 booking; this needs 500 kbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
		"declined on a core counted in kbps": {
			capacity: Capacity{GBRUplinkKbps: 800},
			bookings: []Booking{
				booking("a", uplinkKbps(500), admitted),
				booking("d", uplinkKbps(400)),
			},
			name: "d",
			want: "declined: uplink GBR 500 of 800 kbps reserved 08:00–10:30 by 1 booking; this needs 400 kbps. " +
				"It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = evening
			}
			loc := tc.loc
			if loc == nil {
				loc = time.UTC
			}
			got := Decide(tc.capacity, tc.bookings, now, loc)
			if diff := cmp.Diff(tc.want, decisionOf(t, got, tc.name).Message); diff != "" {
				t.Errorf("message of %s (-want +got):\n%s", tc.name, diff)
			}
		})
	}
}

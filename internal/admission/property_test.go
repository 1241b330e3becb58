package admission

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
)

// seeds is how many random cores the property tests try; each is 50
// bookings, so this is fast.
const seeds = 400

// randomBookings are n bookings spread over opDay, with every ARP
// combination and one in ten open-ended. Each has one device (5 Mbps each
// way, so a core100 fits 20 at once), or one to four when varied. Created
// times are distinct so that arrival order is creation order.
func randomBookings(r *rand.Rand, n int, varied bool) []Booking {
	levels := []int32{1, 2, 5, 8, 8, 8, 10, 12, 15}
	out := make([]Booking, 0, n)
	for i := range n {
		start := clock("06:00").Add(time.Duration(r.IntN(12*4)) * 15 * time.Minute)
		iv := Interval{Start: start, End: start.Add(time.Duration(2+r.IntN(16)) * 15 * time.Minute)}
		if r.IntN(10) == 0 {
			iv.End = time.Time{}
		}
		arp := v1alpha1.ARP{PriorityLevel: levels[r.IntN(len(levels))], PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable}
		if r.IntN(2) == 0 {
			arp.PreemptCap = v1alpha1.PreemptionMayPreempt
		}
		if r.IntN(2) == 0 {
			arp.PreemptVuln = v1alpha1.PreemptionPreemptable
		}
		devices := int64(1)
		if varied {
			devices = 1 + r.Int64N(4)
		}
		name := fmt.Sprintf("b%02d", i)
		out = append(out, Booking{
			Key:      Key{Namespace: []string{"or", "radiology"}[r.IntN(2)], Name: name, UID: types.UID(name)},
			Created:  evening.Add(-24 * time.Hour).Add(time.Duration(i) * time.Minute),
			Interval: iv,
			Demand:   Resources{GBRUplinkKbps: devices * 5 * mbit, GBRDownlinkKbps: devices * 5 * mbit, Sessions: devices},
			ARP:      arp,
		})
	}
	return out
}

// persisted compares what status keeps of a decision: all but who was
// pre-empted by whom, which is an event of one evaluation.
var persisted = cmpopts.IgnoreFields(Decision{}, "Preempted", "PreemptedBy")

// TestDecideProperties protects the invariant and determinism over many
// random cores: never over capacity, the same answer twice and in any input
// order, and a fixed point once decisions are persisted (so a restart or a
// new leader changes nothing).
func TestDecideProperties(t *testing.T) {
	for seed := range uint64(seeds) {
		varied := seed%2 == 1
		r := rand.New(rand.NewPCG(seed, 4))
		bookings := randomBookings(r, 50, varied)
		// Half the bookings were decided at an earlier evaluation, so
		// that the newcomers meet admissions to pre-empt.
		earlier := Decide(core100, bookings[:25], evening.Add(-time.Hour), time.UTC)
		bookings = append(feedBack(bookings[:25], earlier), bookings[25:]...)
		first := Decide(core100, bookings, evening, time.UTC)
		if err := Check(core100, Admitted(bookings, first)); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if diff := cmp.Diff(first, Decide(core100, bookings, evening, time.UTC)); diff != "" {
			t.Fatalf("seed %d: deciding twice differs (-first +second):\n%s", seed, diff)
		}
		shuffled := append([]Booking(nil), bookings...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if diff := cmp.Diff(first, Decide(core100, shuffled, evening, time.UTC)); diff != "" {
			t.Fatalf("seed %d: shuffled input decides differently (-sorted +shuffled):\n%s", seed, diff)
		}
		again := Decide(core100, feedBack(bookings, first), evening.Add(time.Minute), time.UTC)
		if diff := cmp.Diff(first, again, persisted); diff != "" {
			t.Fatalf("seed %d: persisted decisions are not a fixed point (-first +again):\n%s", seed, diff)
		}
		if n := countAdmitted(first); !varied && n < 20 {
			// Every booking is 1/20 of the core in every dimension, so one
			// is only declined or pre-empted where 20 others hold the core:
			// fewer admissions would mean capacity left idle.
			t.Fatalf("seed %d: only %d admitted", seed, n)
		}
	}
}

// TestDecideArrivals replays bookings arriving one at a time while the day
// goes by, each evaluation seeing the previous one's persisted decisions:
// capacity holds after every step, an admission is only ever lost to a
// pre-emption by a booking of higher priority that may pre-empt, a
// NOT_PREEMPTABLE admission is never lost, and a pre-empted booking stays so.
func TestDecideArrivals(t *testing.T) {
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, 5))
		all := randomBookings(r, 50, seed%2 == 1)
		byKey := map[Key]Booking{}
		for _, b := range all {
			byKey[b.Key] = b
		}
		var (
			present []Booking
			prev    = map[Key]Decision{}
			now     = clock("04:00")
		)
		for i, b := range all {
			now = now.Add(time.Duration(r.IntN(20)) * time.Minute)
			b.Created = now
			present = append(feedBack(present, prev), b)
			for j := range present {
				present[j].Active = prev[present[j].Key].Admitted && !present[j].Interval.Start.After(now)
			}
			got := Decide(core100, present, now, time.UTC)
			if err := Check(core100, Admitted(present, got)); err != nil {
				t.Fatalf("seed %d, arrival %d: %v", seed, i, err)
			}
			for k, was := range prev {
				is := got[k]
				switch {
				case was.Reason == ReasonPreempted && is.Reason != ReasonPreempted:
					t.Fatalf("seed %d, arrival %d: %s was pre-empted and is now %s", seed, i, k, is.Reason)
				case was.Admitted && !is.Admitted:
					if is.Reason != ReasonPreempted || is.PreemptedBy == nil {
						t.Fatalf("seed %d, arrival %d: %s lost its admission: %s", seed, i, k, is.Message)
					}
					victim, by := byKey[k].ARP, byKey[*is.PreemptedBy].ARP
					if victim.PreemptVuln != v1alpha1.PreemptionPreemptable || by.PreemptCap != v1alpha1.PreemptionMayPreempt || by.PriorityLevel >= victim.PriorityLevel {
						t.Fatalf("seed %d, arrival %d: %s (%+v) pre-empted by %s (%+v)", seed, i, k, victim, is.PreemptedBy, by)
					}
				}
			}
			prev = got
		}
	}
}

func countAdmitted(ds map[Key]Decision) int {
	n := 0
	for _, d := range ds {
		if d.Admitted {
			n++
		}
	}
	return n
}

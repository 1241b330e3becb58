package admission

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
)

// benchCore fits 100 one-device bookings at once: with 1,000 bookings over
// a day, most windows are contended.
var benchCore = Capacity{GBRUplinkKbps: 500 * mbit, GBRDownlinkKbps: 500 * mbit, MaxSessions: 100}

// benchBookings are n bookings over opDay like randomBookings, with names
// that do not run out.
func benchBookings(n int, seed uint64) []Booking {
	r := rand.New(rand.NewPCG(seed, 1))
	bs := randomBookings(r, n, true)
	for i := range bs {
		name := fmt.Sprintf("b%04d", i)
		bs[i].Key.Name, bs[i].Key.UID = name, types.UID(name)
	}
	return bs
}

// BenchmarkDecide measures one evaluation of a core with 1,000 bookings
// (the brief: well under 100 ms) in the three situations a controller meets.
func BenchmarkDecide(b *testing.B) {
	const n = 1000
	fresh := benchBookings(n, 1)

	// Steady state: every booking decided before, nothing changes.
	steady := feedBack(fresh, Decide(benchCore, fresh, evening, time.UTC))

	// Pre-emption storm: 600 imaging bookings fill the core over the whole
	// day, then 400 surgical ones arrive, each displacing some.
	storm := make([]Booking, 0, n)
	for i := range n {
		bk := fresh[i]
		bk.Interval = Interval{Start: clock("06:00").Add(time.Duration(i%40) * 15 * time.Minute)}
		bk.Interval.End = bk.Interval.Start.Add(2 * time.Hour)
		if i < 600 {
			bk.ARP = v1alpha1.ARP{PriorityLevel: 10, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionPreemptable}
		} else {
			bk.ARP = v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable}
		}
		storm = append(storm, bk)
	}
	storm = append(feedBack(storm[:600], Decide(benchCore, storm[:600], evening, time.UTC)), storm[600:]...)

	for name, bookings := range map[string][]Booking{"fresh": fresh, "steady": steady, "preemption": storm} {
		b.Run(fmt.Sprintf("%s-%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Decide(benchCore, bookings, evening, time.UTC)
			}
		})
	}
}

// BenchmarkTimeline measures a capacity view over a day of 1,000 bookings.
func BenchmarkTimeline(b *testing.B) {
	bookings := benchBookings(1000, 2)
	admitted := Admitted(bookings, Decide(benchCore, bookings, evening, time.UTC))
	b.ReportAllocs()
	for b.Loop() {
		Timeline(benchCore, admitted, clock("00:00"), clock("24:00"))
	}
}

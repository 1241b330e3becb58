package admission

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

// capacities the incremental properties are tried on: one where bookings
// conflict (few sets are settled), one roomy, one unlimited.
var incrementalCores = []Capacity{core100, {GBRUplinkKbps: 400 * mbit, GBRDownlinkKbps: 400 * mbit, MaxSessions: 80}, {}}

// settledCase is a random core whose decisions, once persisted, are settled.
type settledCase struct {
	c         Capacity
	bookings  []Booking // fed back
	decisions map[Key]Decision
	now       time.Time
}

func settledCases(t *testing.T, stream uint64) []settledCase {
	t.Helper()
	var out []settledCase
	for seed := range uint64(seeds) {
		r := rand.New(rand.NewPCG(seed, stream))
		c := incrementalCores[seed%uint64(len(incrementalCores))]
		bookings := randomBookings(r, 30, seed%2 == 1)
		now := clock("04:00").Add(time.Duration(r.IntN(10*60)) * time.Minute)
		decisions := Decide(c, bookings, now, time.UTC)
		if !Settled(decisions) {
			continue
		}
		out = append(out, settledCase{c: c, bookings: feedBack(bookings, decisions), decisions: decisions, now: now})
	}
	if len(out) < seeds/4 {
		t.Fatalf("only %d of %d random cores settled: the properties below are barely tried", len(out), seeds)
	}
	return out
}

// TestSettledStaysUntilNextChange protects the operator's shortcut of not
// deciding again: settled decisions, decided again at any instant before
// NextChange, or with a booking removed, come out the same.
func TestSettledStaysUntilNextChange(t *testing.T) {
	for i, sc := range settledCases(t, 7) {
		r := rand.New(rand.NewPCG(uint64(i), 8))
		next := NextChange(sc.bookings, sc.now)
		later := sc.now.Add(time.Duration(r.IntN(3*60*60)) * time.Second)
		if !next.IsZero() && !later.Before(next) {
			later = next.Add(-time.Nanosecond)
		}
		again := Decide(sc.c, sc.bookings, later, time.UTC)
		if diff := cmp.Diff(sc.decisions, again, persisted); diff != "" {
			t.Fatalf("case %d: deciding again at %s (next change %s) differs (-before +again):\n%s", i, later, next, diff)
		}
		gone := r.IntN(len(sc.bookings))
		rest := slices.Delete(slices.Clone(sc.bookings), gone, gone+1)
		want := maps.Clone(sc.decisions)
		delete(want, sc.bookings[gone].Key)
		if diff := cmp.Diff(want, Decide(sc.c, rest, sc.now, time.UTC), persisted); diff != "" {
			t.Fatalf("case %d: removing %s changed other decisions (-before +after):\n%s", i, sc.bookings[gone].Key, diff)
		}
	}
}

// TestAdmitNewAgreesWithDecide protects the operator's shortcut for a new
// booking: whenever AdmitNew answers, Decide over every booking gives the
// new one the same decision and every other the one it had.
func TestAdmitNewAgreesWithDecide(t *testing.T) {
	answered, refused := 0, 0
	for i, sc := range settledCases(t, 9) {
		r := rand.New(rand.NewPCG(uint64(i), 10))
		b := randomBookings(r, 1, i%2 == 1)[0]
		b.Key = Key{Namespace: "or", Name: fmt.Sprintf("new-%d", i), UID: types.UID(fmt.Sprintf("new-%d", i))}
		b.Created = sc.now.Add(-time.Duration(r.IntN(48*60)) * time.Minute) // before or after the others
		if r.IntN(4) == 0 {
			b.Interval.Start = sc.now.Add(-time.Hour) // already begun, or over
		}
		got, ok := AdmitNew(sc.c, Held(sc.decisions), b, sc.now, time.UTC)
		if !ok {
			refused++
			continue
		}
		answered++
		all := Decide(sc.c, append(slices.Clone(sc.bookings), b), sc.now, time.UTC)
		if diff := cmp.Diff(all[b.Key], got, persisted); diff != "" {
			t.Fatalf("case %d: AdmitNew differs from Decide (-Decide +AdmitNew):\n%s", i, diff)
		}
		delete(all, b.Key)
		if diff := cmp.Diff(sc.decisions, all, persisted); diff != "" {
			t.Fatalf("case %d: admitting %s changed other decisions (-before +after):\n%s", i, b.Key, diff)
		}
	}
	if answered == 0 || refused == 0 {
		t.Fatalf("AdmitNew answered %d and refused %d cases: both paths must be tried", answered, refused)
	}
	t.Logf("AdmitNew answered %d cases, left %d to Decide", answered, refused)
}

func TestAdmitNewRefusesWhatIsNotCertain(t *testing.T) {
	now := clock("07:00")
	held := Resources{GBRUplinkKbps: 90 * mbit, GBRDownlinkKbps: 10 * mbit, Sessions: 2}
	for name, tc := range map[string]struct {
		c    Capacity
		b    Booking
		want bool
	}{
		"fits on top of everything held":  {core100, booking("a", uplink(10)), true},
		"unlimited core":                  {Capacity{}, booking("a", uplink(1000)), true},
		"would fit only at some instants": {core100, booking("a", uplink(20)), false},
		"window over":                     {core100, booking("a", window("05:00", "06:00"), uplink(1)), false},
		"decided before":                  {core100, booking("a", uplink(1), admitted), false},
	} {
		t.Run(name, func(t *testing.T) {
			d, ok := AdmitNew(tc.c, held, tc.b, now, time.UTC)
			if ok != tc.want {
				t.Fatalf("AdmitNew ok = %v, want %v (%+v)", ok, tc.want, d)
			}
			if ok && (!d.Admitted || d.Message == "") {
				t.Fatalf("AdmitNew = %+v, want an admission with its message", d)
			}
		})
	}
}

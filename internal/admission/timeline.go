package admission

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Segment is a stretch of time over which the reserved amounts and the
// bookings holding them do not change.
type Segment struct {
	Interval Interval
	Reserved Resources
	// Bookings hold the reservation throughout the segment, sorted.
	Bookings []Key
	// Over names the dimensions where Reserved exceeds the capacity. Decide
	// never does that; only a capacity lowered under active bookings can.
	Over []Dimension
}

// Timeline is what admitted bookings reserve over [from, to), as steps: one
// Segment per change, idle stretches included, so that a view can draw it
// as is. A zero from means since the first booking, a zero to means open
// ended. Each booking counts with its Interval and Demand: pass what
// decisions reserved (Admitted).
func Timeline(c Capacity, admitted []Booking, from, to time.Time) []Segment {
	window := span{nanos(from, never), nanos(to, forever)}
	type event struct {
		at    int64
		delta int64 // 1 starts, -1 ends
		b     int
	}
	var events []event
	for i, b := range admitted {
		s := spanOf(b.Interval)
		s = span{max(s.from, window.from), min(s.to, window.to)}
		if s.empty() {
			continue
		}
		events = append(events, event{s.from, 1, i})
		if s.to != forever {
			events = append(events, event{s.to, -1, i})
		}
	}
	slices.SortFunc(events, func(a, b event) int { return cmp.Compare(a.at, b.at) })
	if window.from == never {
		if len(events) == 0 {
			return nil
		}
		window.from = events[0].at
	}

	var (
		out    []Segment
		load   Resources
		active = map[int]bool{}
		at     = window.from
	)
	emit := func(until int64) {
		if until <= at {
			return
		}
		seg := Segment{Interval: span{at, until}.interval(), Reserved: load}
		for i := range active {
			seg.Bookings = append(seg.Bookings, admitted[i].Key)
		}
		slices.SortFunc(seg.Bookings, compareKeys)
		for _, d := range dimensions {
			if lim := c.get(d); lim > 0 && load.get(d) > lim {
				seg.Over = append(seg.Over, d)
			}
		}
		if n := len(out); n > 0 && out[n-1].Reserved == seg.Reserved && slices.Equal(out[n-1].Bookings, seg.Bookings) {
			out[n-1].Interval.End = seg.Interval.End
		} else {
			out = append(out, seg)
		}
		at = until
	}
	for _, ev := range events {
		emit(ev.at)
		load = load.add(nonNegative(admitted[ev.b].Demand), ev.delta)
		if ev.delta > 0 {
			active[ev.b] = true
		} else {
			delete(active, ev.b)
		}
	}
	emit(window.to)
	return out
}

// Check verifies the invariant DESIGN §11 asks for: what the admitted
// bookings reserve stays within the capacity at every instant. It reports
// the first stretch that breaks it, naming the bookings.
func Check(c Capacity, admitted []Booking) error {
	for _, seg := range Timeline(c, admitted, time.Time{}, time.Time{}) {
		if len(seg.Over) == 0 {
			continue
		}
		f := formatter{loc: time.UTC}
		var parts []string
		for _, d := range seg.Over {
			v, lim := seg.Reserved.get(d), c.get(d)
			if d == Sessions {
				parts = append(parts, fmt.Sprintf("sessions %d of %d", v, lim))
			} else {
				parts = append(parts, dimensionLabel(d)+" "+share(v, lim))
			}
		}
		names := make([]string, len(seg.Bookings))
		for i, k := range seg.Bookings {
			names[i] = k.String()
		}
		return fmt.Errorf("over capacity: %s reserved %s by %s", strings.Join(parts, ", "), f.window(seg.Interval), strings.Join(names, ", "))
	}
	return nil
}

// Admitted is the bookings that decisions admitted, each with what it
// reserves as its Interval and Demand: the set Check and Timeline take.
func Admitted(bookings []Booking, decisions map[Key]Decision) []Booking {
	var out []Booking
	for _, b := range bookings {
		d, ok := decisions[b.Key]
		if !ok || !d.Admitted {
			continue
		}
		b.Interval, b.Demand = d.Reserved.Interval, d.Reserved.Resources
		out = append(out, b)
	}
	return out
}

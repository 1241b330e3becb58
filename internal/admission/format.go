package admission

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// formatter writes what people read: times in the hospital's location,
// rates in Mbit/s once they reach one.
type formatter struct{ loc *time.Location }

const (
	dateLayout  = "2006-01-02"
	clockLayout = "15:04"
)

// stretch writes iv, with dates only where they differ from ref's day (a
// zero ref writes every date): "08:00–10:30", "2026-03-16 22:00–02:00" is
// never written, the end's date is given when it differs from the start's.
func (f formatter) stretch(iv Interval, ref time.Time) string {
	start := iv.Start.In(f.loc)
	s := start.Format(clockLayout)
	if ref.IsZero() || !sameDay(start, ref.In(f.loc)) {
		s = start.Format(dateLayout) + " " + s
	}
	if iv.OpenEnded() {
		return "from " + s + " on"
	}
	end := iv.End.In(f.loc)
	e := end.Format(clockLayout)
	if !sameDay(start, end) {
		e = end.Format(dateLayout) + " " + e
	}
	return s + "–" + e
}

// window writes a booking's own interval, always with its date.
func (f formatter) window(iv Interval) string { return f.stretch(iv, time.Time{}) }

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// rate writes kbit/s as "40 Mbps", "12.5 Mbps" or "500 kbps".
func rate(kbps int64) string {
	if kbps >= 1000 || kbps <= -1000 {
		return mbps(kbps) + " Mbps"
	}
	return strconv.FormatInt(kbps, 10) + " kbps"
}

func mbps(kbps int64) string { return strconv.FormatFloat(float64(kbps)/1000, 'f', -1, 64) }

// share writes "80 of 100 Mbps", both in the unit the capacity is written in.
func share(v, limit int64) string {
	if limit >= 1000 {
		return mbps(v) + " of " + mbps(limit) + " Mbps"
	}
	return strconv.FormatInt(v, 10) + " of " + strconv.FormatInt(limit, 10) + " kbps"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (r Resources) String() string {
	var parts []string
	if r.GBRUplinkKbps > 0 {
		parts = append(parts, "uplink GBR "+rate(r.GBRUplinkKbps))
	}
	if r.GBRDownlinkKbps > 0 {
		parts = append(parts, "downlink GBR "+rate(r.GBRDownlinkKbps))
	}
	parts = append(parts, plural(int(r.Sessions), "session", "sessions"))
	return strings.Join(parts, ", ")
}

func dimensionLabel(d Dimension) string {
	switch d {
	case GBRUplink:
		return "uplink GBR"
	case GBRDownlink:
		return "downlink GBR"
	default:
		return "sessions"
	}
}

// conflict writes c, e.g. "uplink GBR 80 of 100 Mbps reserved 08:00–10:30 by
// 3 bookings; this needs 40 Mbps". Dates are relative to ref, the start of
// what was asked for.
func (f formatter) conflict(c Conflict, ref time.Time) string {
	label := dimensionLabel(c.Dimension)
	amount, of := rate, share
	if c.Dimension == Sessions {
		amount = func(n int64) string { return strconv.FormatInt(n, 10) }
		of = func(v, limit int64) string { return fmt.Sprintf("%d of %d", v, limit) }
	}
	if c.Needs > c.Capacity {
		return fmt.Sprintf("%s: this needs %s, more than the core's whole %s", label, amount(c.Needs), amount(c.Capacity))
	}
	return fmt.Sprintf("%s %s reserved %s by %s; this needs %s",
		label, of(c.Reserved, c.Capacity), f.stretch(c.Peak, ref), plural(len(c.Bookings), "booking", "bookings"), amount(c.Needs))
}

func (f formatter) conflicts(cs []Conflict, ref time.Time) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = f.conflict(c, ref)
	}
	return strings.Join(parts, "; ")
}

// message says what happened to e and what a person can do about it. Apart
// from naming a revocation once, it depends only on the outcome and the
// final ledger, so that an unchanged decision keeps its message and status
// is not rewritten for nothing.
func (d *decider) message(e *entry, conflicts []Conflict) string {
	f := d.f
	ref := e.req.interval().Start // conflicts are dated from what was asked
	switch e.state {
	case ReasonAdmitted:
		if !e.extDeclined {
			return fmt.Sprintf("admitted: %s reserved %s", e.reserved.Resources, f.window(e.reserved.Interval))
		}
		if e.over {
			return fmt.Sprintf("change to %s refused: that window is over; still admitted for %s",
				f.window(e.b.Interval), f.window(e.reserved.Interval))
		}
		if e.reqDem == e.heldDem {
			return fmt.Sprintf("extension to %s refused: %s; still admitted for %s",
				f.window(e.b.Interval), f.conflicts(conflicts, ref), f.window(e.reserved.Interval))
		}
		return fmt.Sprintf("change to %s over %s refused: %s; still admitted for %s over %s",
			e.reqDem, f.window(e.b.Interval), f.conflicts(conflicts, ref), e.reserved.Resources, f.window(e.reserved.Interval))
	case ReasonPreempted:
		if e.by == nil {
			if e.b.PreviousMessage != "" {
				return e.b.PreviousMessage
			}
			return "pre-empted by a booking of higher ARP priority; edit the slice to ask for admission again"
		}
		who := "a booking in another namespace"
		if e.by.b.Key.Namespace == e.b.Key.Namespace {
			who = "booking " + e.by.b.Key.Name
		}
		need := span{max(e.by.req.from, e.held.from), min(e.by.req.to, e.held.to)}
		return fmt.Sprintf("pre-empted by %s (ARP priority level %d, this booking has %d), which needs this capacity %s; edit the slice to ask for admission again",
			who, e.by.level, e.level, f.window(need.interval()))
	}
	if e.over {
		return fmt.Sprintf("declined: its window %s is over", f.window(e.b.Interval))
	}
	var b strings.Builder
	b.WriteString("declined: ")
	if e.revoked {
		b.WriteString("the core's capacity no longer covers this admitted booking (was it lowered?): ")
	}
	if len(conflicts) == 0 {
		// Not reached: a declined request does not fit the final ledger.
		b.WriteString("it does not fit the core's capacity")
	} else {
		b.WriteString(f.conflicts(conflicts, ref))
	}
	b.WriteString(".")
	if e.mayPreempt {
		b.WriteString(" Pre-empting every pre-emptable booking of lower priority would not free enough.")
	}
	b.WriteString(" It is admitted as soon as capacity frees; or choose another window, fewer devices or another core.")
	return b.String()
}

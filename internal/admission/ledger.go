package admission

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Times inside the package are Unix nanoseconds, so that comparing and
// sorting thousands of interval ends stays cheap; the two extremes stand for
// "since always" and "open end".
const (
	never   = math.MinInt64
	forever = math.MaxInt64
)

var (
	minTime = time.Unix(0, math.MinInt64+1)
	maxTime = time.Unix(0, math.MaxInt64-1)
)

// nanos converts t, mapping the zero time to zero and clamping what int64
// nanoseconds cannot hold (about 1678-2262).
func nanos(t time.Time, zero int64) int64 {
	switch {
	case t.IsZero():
		return zero
	case t.Before(minTime):
		return never + 1
	case t.After(maxTime):
		return forever - 1
	}
	return t.UnixNano()
}

// span is a half-open interval [from, to) in nanoseconds.
type span struct{ from, to int64 }

func spanOf(iv Interval) span { return span{nanos(iv.Start, never), nanos(iv.End, forever)} }

func (s span) empty() bool            { return s.from >= s.to }
func (s span) overlaps(o span) bool   { return s.from < o.to && o.from < s.to }
func (s span) within(outer span) bool { return s.from >= outer.from && s.to <= outer.to }

// after cuts s at t: only what is left from t on.
func (s span) after(t int64) span {
	if s.from < t {
		s.from = t
	}
	return s
}

func (s span) interval() Interval {
	var iv Interval
	if s.from != never {
		iv.Start = time.Unix(0, s.from).UTC()
	}
	if s.to != forever {
		iv.End = time.Unix(0, s.to).UTC()
	}
	return iv
}

func (r Resources) add(o Resources, sign int64) Resources {
	return Resources{
		GBRUplinkKbps:   r.GBRUplinkKbps + sign*o.GBRUplinkKbps,
		GBRDownlinkKbps: r.GBRDownlinkKbps + sign*o.GBRDownlinkKbps,
		Sessions:        r.Sessions + sign*o.Sessions,
	}
}

func (r Resources) covers(o Resources) bool {
	return r.GBRUplinkKbps >= o.GBRUplinkKbps && r.GBRDownlinkKbps >= o.GBRDownlinkKbps && r.Sessions >= o.Sessions
}

// dimensions in the order conflicts are reported.
var dimensions = [...]Dimension{GBRUplink, GBRDownlink, Sessions}

func (r Resources) get(d Dimension) int64 {
	switch d {
	case GBRUplink:
		return r.GBRUplinkKbps
	case GBRDownlink:
		return r.GBRDownlinkKbps
	default:
		return r.Sessions
	}
}

func (c Capacity) get(d Dimension) int64 {
	switch d {
	case GBRUplink:
		return c.GBRUplinkKbps
	case GBRDownlink:
		return c.GBRDownlinkKbps
	default:
		return c.MaxSessions
	}
}

// exceeds tells whether adding need on top of load breaks the capacity in
// dimension d. A booking that needs nothing in a dimension never breaks it,
// even where that dimension is already over (a capacity lowered under active
// bookings): it makes nothing worse.
func (c Capacity) exceeds(d Dimension, load, need Resources) bool {
	lim, n := c.get(d), need.get(d)
	return lim > 0 && n > 0 && load.get(d)+n > lim
}

func (c Capacity) fits(load, need Resources) bool {
	for _, d := range dimensions {
		if c.exceeds(d, load, need) {
			return false
		}
	}
	return true
}

// ledger is the reserved amount as a step function of time: segment i is
// [at[i], at[i+1]) (the last one runs forever) and holds load[i]. Adding or
// removing a reservation splits at most two segments and touches those in
// between, so a decision costs O(segments) with a tiny constant: 1,000
// bookings make at most 2,001 segments.
type ledger struct {
	at   []int64
	load []Resources
}

func newLedger() *ledger { return &ledger{at: []int64{never}, load: []Resources{{}}} }

// seg is the index of the segment holding instant t.
func (l *ledger) seg(t int64) int {
	return sort.Search(len(l.at), func(i int) bool { return l.at[i] > t }) - 1
}

// split makes t a segment boundary and returns the index of the segment
// starting at t (len(at) for forever).
func (l *ledger) split(t int64) int {
	if t == forever {
		return len(l.at)
	}
	i := l.seg(t)
	if l.at[i] == t {
		return i
	}
	l.at = slices.Insert(l.at, i+1, t)
	l.load = slices.Insert(l.load, i+1, l.load[i])
	return i + 1
}

// add adds (sign 1) or removes (sign -1) r over s.
func (l *ledger) add(s span, r Resources, sign int64) {
	if s.empty() {
		return
	}
	i := l.split(s.from)
	j := l.split(s.to)
	for k := i; k < j; k++ {
		l.load[k] = l.load[k].add(r, sign)
	}
}

// fits tells whether r can be added over s within c.
func (l *ledger) fits(c Capacity, s span, r Resources) bool {
	if s.empty() {
		return true
	}
	for k := l.seg(s.from); k < len(l.at) && l.at[k] < s.to; k++ {
		if !c.fits(l.load[k], r) {
			return false
		}
	}
	return true
}

// end is where segment k ends.
func (l *ledger) end(k int) int64 {
	if k+1 < len(l.at) {
		return l.at[k+1]
	}
	return forever
}

// peak is where, within s, the load in dimension d is highest: the value
// and the earliest run of adjacent segments at that value, clipped to s. Adjacent segments with equal load are one stretch to a
// reader, whatever bookings make them up.
func (l *ledger) peak(d Dimension, s span) (int64, span) {
	var (
		best     int64 = -1
		bestSpan span
		run      span
		runVal   int64 = -1
	)
	for k := l.seg(s.from); k < len(l.at) && l.at[k] < s.to; k++ {
		v := l.load[k].get(d)
		seg := span{max(l.at[k], s.from), min(l.end(k), s.to)}
		if v == runVal {
			run.to = seg.to
		} else {
			run, runVal = seg, v
		}
		if v > best || (v == best && run.from == bestSpan.from) {
			best, bestSpan = v, run
		}
	}
	return best, bestSpan
}

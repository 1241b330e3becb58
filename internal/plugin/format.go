package plugin

import (
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Layouts of the times people read, always in their own time zone.
const (
	clockLayout   = "15:04"
	dayLayout     = "Mon 15:04"
	dateLayout    = "Mon 2006-01-02 15:04"
	nearThreshold = 6 * 24 * time.Hour
)

// newTable writes aligned columns as kubectl does.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 6, 4, 3, ' ', 0) }

// moment writes t as "Mon 08:00" when it is within six days of now, so the
// weekday names it, and with its date otherwise.
func moment(t, now time.Time, loc *time.Location) string {
	t = t.In(loc)
	if d := t.Sub(now); d < nearThreshold && d > -nearThreshold {
		return t.Format(dayLayout)
	}
	return t.Format(dateLayout)
}

// shortWindow writes [start, end) for a table: "Mon 08:00–12:00", "Mon
// 22:00–Tue 02:00".
func shortWindow(start, end, now time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	if SameDay(s, e) {
		return moment(s, now, loc) + "–" + e.Format(clockLayout)
	}
	return moment(s, now, loc) + "–" + moment(e, now, loc)
}

// longWindow writes [start, end) in full, with its date and time zone:
// "Sun 2026-11-22 08:00–12:00 CET".
func longWindow(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	out := s.Format(dateLayout)
	sz, _ := s.Zone()
	ez, _ := e.Zone()
	if sz != ez {
		out += " " + sz
	}
	if SameDay(s, e) {
		return out + "–" + e.Format(clockLayout) + " " + ez
	}
	return out + "–" + e.Format(dateLayout) + " " + ez
}

// longMoment writes t with its date and zone: "Sun 2026-11-22 08:00 CET".
func longMoment(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(dateLayout + " MST")
}

// SameDay tells whether a and b fall on the same calendar day in their location.
func SameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

// FormatDuration writes d the way people write it: "24h", "1h30m", "15m".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// latency writes a measured delay to a useful precision: "8.23ms", "412µs".
func latency(d *metav1.Duration) string {
	if d == nil {
		return "-"
	}
	switch v := d.Duration; {
	case v >= time.Second:
		return v.Round(time.Millisecond).String()
	case v >= time.Millisecond:
		return v.Round(10 * time.Microsecond).String()
	default:
		return v.Round(time.Microsecond).String()
	}
}

// rate writes kbit/s as "40 Mbps", "12.5 Mbps" or "500 kbps".
func rate(kbps int64) string {
	if kbps >= 1000 || kbps <= -1000 {
		return mbps(kbps) + " Mbps"
	}
	return strconv.FormatInt(kbps, 10) + " kbps"
}

func mbps(kbps int64) string { return strconv.FormatFloat(float64(kbps)/1000, 'f', -1, 64) }

// usedOfRate writes "80/100 Mbps", in the unit of the capacity; a zero
// capacity is unlimited.
func usedOfRate(used, capacity int64) string {
	switch {
	case capacity <= 0:
		return rate(used) + "/no limit"
	case capacity >= 1000:
		return mbps(used) + "/" + mbps(capacity) + " Mbps"
	}
	return strconv.FormatInt(used, 10) + "/" + strconv.FormatInt(capacity, 10) + " kbps"
}

// usedOfCount writes "4/20"; a zero capacity is unlimited.
func usedOfCount(used, capacity int64) string {
	if capacity <= 0 {
		return strconv.FormatInt(used, 10) + "/no limit"
	}
	return strconv.FormatInt(used, 10) + "/" + strconv.FormatInt(capacity, 10)
}

// oneLine keeps a message from another system on one line, changing
// nothing else in it.
func oneLine(s string) string { return lineBreaks.Replace(strings.TrimSpace(s)) }

var lineBreaks = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ")

// orDash writes "-" for an empty cell, so columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

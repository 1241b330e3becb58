package console

import (
	"math"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/internal/plugin"
)

// Layouts of the times people read, always in the hospital's location.
const (
	clockLayout = "15:04"
	dayLayout   = "Mon 2 Jan 15:04"
	yearLayout  = "Mon 2 Jan 2006 15:04"
	// inputLayout is what <input type=datetime-local> sends and shows.
	inputLayout = "2006-01-02T15:04"
)

// moment writes t as "Mon 22 Nov 08:00", with the year when it is not
// now's.
func moment(t, now time.Time, loc *time.Location) string {
	t = t.In(loc)
	if t.Year() != now.In(loc).Year() {
		return t.Format(yearLayout)
	}
	return t.Format(dayLayout)
}

// window writes [start, end): "Mon 22 Nov 08:00–12:00", or with both dates
// when it spans midnight: "Mon 22 Nov 22:00 – Tue 23 Nov 02:00".
func window(start, end, now time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	if plugin.SameDay(s, e) {
		return moment(s, now, loc) + "–" + e.Format(clockLayout)
	}
	return moment(s, now, loc) + " – " + moment(e, now, loc)
}

// latency writes a measured delay to a useful precision: "8.23ms", "412µs".
func latency(d *metav1.Duration) string {
	if d == nil {
		return "–"
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

// lossPercent writes a loss ratio such as "0.0001" as "0.01 %". A ratio
// that does not parse is shown as written: it is the operator's figure.
func lossPercent(ratio string) string {
	if ratio == "" {
		return "–"
	}
	v, err := strconv.ParseFloat(ratio, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return ratio
	}
	p := math.Round(v*100*1e4) / 1e4
	if p == 0 && v > 0 {
		return "< 0.0001 %"
	}
	return strconv.FormatFloat(p, 'f', -1, 64) + " %"
}

// rate writes kbit/s as "40 Mbps", "12.5 Mbps" or "500 kbps".
func rate(kbps int64) string {
	if kbps >= 1000 || kbps <= -1000 {
		return strconv.FormatFloat(float64(kbps)/1000, 'f', -1, 64) + " Mbps"
	}
	return strconv.FormatInt(kbps, 10) + " kbps"
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

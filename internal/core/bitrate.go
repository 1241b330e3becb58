package core

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// bitRatePattern is TS 29.571 §5.5.2 BitRate, as in TS29571_CommonData.yaml.
var bitRatePattern = regexp.MustCompile(`^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$`)

// Multipliers of the BitRate units, in kbit/s ("K" stands for the SI "k").
var bitRateUnits = []struct {
	unit string
	kbps int64
}{
	{"Tbps", 1_000_000_000},
	{"Gbps", 1_000_000},
	{"Mbps", 1_000},
	{"Kbps", 1},
}

// BitRate formats kbit/s as a TS 29.571 BitRate string in the largest unit
// that keeps the value exact: 20000 → "20 Mbps", 512 → "512 Kbps",
// 1500 → "1500 Kbps". Negative values are written as "0 Kbps".
func BitRate(kbps int64) string {
	if kbps <= 0 {
		return "0 Kbps"
	}
	for _, u := range bitRateUnits {
		if kbps%u.kbps == 0 {
			return strconv.FormatInt(kbps/u.kbps, 10) + " " + u.unit
		}
	}
	panic("unreachable: Kbps divides every value")
}

// ParseBitRate reads a TS 29.571 BitRate string ("20 Mbps", "1.5 Gbps",
// "64000 bps") as kbit/s, rounded to the nearest kbit/s.
func ParseBitRate(s string) (int64, error) {
	if !bitRatePattern.MatchString(s) {
		return 0, fmt.Errorf("bit rate %q: want <number> <bps|Kbps|Mbps|Gbps|Tbps> (TS 29.571 BitRate)", s)
	}
	num, unit, _ := strings.Cut(s, " ")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bit rate %q: %w", s, err)
	}
	factor := 0.001 // bps
	for _, u := range bitRateUnits {
		if u.unit == unit {
			factor = float64(u.kbps)
		}
	}
	kbps := math.Round(v * factor)
	if kbps >= math.MaxInt64 {
		return 0, fmt.Errorf("bit rate %q: out of range", s)
	}
	return int64(kbps), nil
}

package emulator

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// BitRate is a bit rate in bits per second. On the wire it is the TS 29.571
// §5.5.2 BitRate string, e.g. "10 Mbps".
type BitRate uint64

// bitRatePattern is the TS 29.571 BitRate pattern, verbatim.
var bitRatePattern = regexp.MustCompile(`^\d+(\.\d+)? (bps|Kbps|Mbps|Gbps|Tbps)$`)

// bitRateUnits are the x1000 multipliers of TS 29.571 BitRate ("K" stands for
// the SI "k"), largest first so that formatting picks the largest exact unit.
var bitRateUnits = []struct {
	name string
	mult uint64
}{
	{"Tbps", 1e12},
	{"Gbps", 1e9},
	{"Mbps", 1e6},
	{"Kbps", 1e3},
	{"bps", 1},
}

// ParseBitRate parses a TS 29.571 BitRate string. Fractions of a bit per
// second are truncated; values beyond 2^64-1 bps are rejected.
func ParseBitRate(s string) (BitRate, error) {
	if !bitRatePattern.MatchString(s) {
		return 0, fmt.Errorf("bit rate %q does not match the TS 29.571 BitRate pattern %q", s, bitRatePattern.String())
	}
	num, unit, _ := strings.Cut(s, " ")
	var mult uint64
	for _, u := range bitRateUnits {
		if u.name == unit {
			mult = u.mult
		}
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("bit rate %q: bad number", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).SetUint64(mult)))
	bps := new(big.Int).Quo(r.Num(), r.Denom())
	if !bps.IsUint64() {
		return 0, fmt.Errorf("bit rate %q is too large", s)
	}
	return BitRate(bps.Uint64()), nil
}

// String formats b as a TS 29.571 BitRate in the largest unit that keeps it
// exact, e.g. 1500 → "1.5 Kbps".
func (b BitRate) String() string {
	v := uint64(b)
	for _, u := range bitRateUnits {
		if v < u.mult && u.mult > 1 {
			continue
		}
		whole, frac := v/u.mult, v%u.mult
		if frac == 0 {
			return strconv.FormatUint(whole, 10) + " " + u.name
		}
		digits := len(strconv.FormatUint(u.mult, 10)) - 1
		f := strings.TrimRight(fmt.Sprintf("%0*d", digits, frac), "0")
		return strconv.FormatUint(whole, 10) + "." + f + " " + u.name
	}
	return "0 bps"
}

// addSat adds without wrapping around: a sum that would overflow is as good as
// infinite for a capacity check.
func addSat(a, b BitRate) BitRate {
	if a+b < a {
		return ^BitRate(0)
	}
	return a + b
}

// MarshalText writes the TS 29.571 BitRate form.
func (b BitRate) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads the TS 29.571 BitRate form.
func (b *BitRate) UnmarshalText(text []byte) error {
	v, err := ParseBitRate(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

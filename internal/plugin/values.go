package plugin

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The parsers below read what a person types on the command line. Their
// errors say what was expected, without the flag: the caller prefixes the
// flag and the value, so every message reads
// `--start "tomorrow 8am": want RFC 3339 (...) or local "2026-11-22 08:00"`.
// Whatever they accept, the CRD schema accepts too (the fuzz targets check
// it against the schema's own patterns).

// errTimeSyntax is the one message for a time that cannot be read at all.
var errTimeSyntax = errors.New(`want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`)

// Local layouts: a date and a wall clock time in the user's time zone.
var localLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
}

// ParseTime reads a time: RFC 3339 with an offset, a wall clock time in loc
// ("2026-11-22 08:00", also with a T or seconds), a wall clock time today
// in loc ("08:00"), or "now". A wall clock time that does not exist in loc
// (skipped when the clocks jump forward) or exists twice (when they go back)
// is refused rather than guessed: a booking an hour off is worse than a
// question. Times are truncated to the second, as the API stores them.
func ParseTime(s string, loc *time.Location, now time.Time) (time.Time, error) {
	t, err := parseTime(s, loc, now)
	if err != nil {
		return time.Time{}, err
	}
	// RFC 3339, and so the API's JSON, has four-digit years in every zone.
	if y := t.UTC().Year(); y < minYear || y > maxYear {
		return time.Time{}, fmt.Errorf("the year is out of range: want %d to %d", minYear, maxYear)
	}
	return t, nil
}

// Years ParseTime accepts.
const (
	minYear = 1970
	maxYear = 9998
)

func parseTime(s string, loc *time.Location, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errTimeSyntax
	}
	if strings.EqualFold(s, "now") {
		return now.Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Truncate(time.Second), nil
	}
	for _, layout := range localLayouts {
		// time.Parse takes a fraction after the seconds even when the
		// layout has none; the API keeps whole seconds.
		if wall, err := time.Parse(layout, s); err == nil {
			return resolveWall(wall.Truncate(time.Second), loc)
		}
	}
	if clock, err := time.Parse("15:04", s); err == nil {
		y, m, d := now.In(loc).Date()
		return resolveWall(time.Date(y, m, d, clock.Hour(), clock.Minute(), 0, 0, time.UTC), loc)
	}
	return time.Time{}, errTimeSyntax
}

// wallLayout compares wall clock readings.
const wallLayout = "2006-01-02 15:04:05"

// resolveWall finds the instant(s) at which loc's clocks read wall (given as
// a UTC time carrying the reading).
func resolveWall(wall time.Time, loc *time.Location) (time.Time, error) {
	want := wall.Format(wallLayout)
	var found []time.Time
	// The offsets in force a day either side cover both sides of any
	// transition near wall.
	for _, probe := range []time.Time{wall.Add(-24 * time.Hour), wall, wall.Add(24 * time.Hour)} {
		_, offset := probe.In(loc).Zone()
		c := wall.Add(-time.Duration(offset) * time.Second)
		if c.In(loc).Format(wallLayout) != want {
			continue
		}
		dup := false
		for _, f := range found {
			dup = dup || f.Equal(c)
		}
		if !dup {
			found = append(found, c)
		}
	}
	short := wall.Format("2006-01-02 15:04")
	switch len(found) {
	case 0:
		return time.Time{}, fmt.Errorf("%s does not exist in %s (the clocks jump forward then); choose another time", short, loc)
	case 1:
		return found[0].In(loc), nil
	}
	if found[0].After(found[1]) {
		found[0], found[1] = found[1], found[0]
	}
	return time.Time{}, fmt.Errorf("%s happens twice in %s (the clocks go back then); write %s or %s",
		short, loc, found[0].In(loc).Format(time.RFC3339), found[1].In(loc).Format(time.RFC3339))
}

// errDurationSyntax is the message for a duration that cannot be read.
var errDurationSyntax = errors.New("want a duration such as 90m, 4h or 1h30m")

// ParseDuration reads a Go duration ("90m", "4h", "1h30m") within
// [min, max]; max 0 means no upper bound.
func ParseDuration(s string, min, max time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, errDurationSyntax
	}
	switch {
	case d < 0 && min == 0:
		return 0, errors.New("must not be negative")
	case d <= 0 && min > 0:
		return 0, errors.New("must be positive")
	case d < min:
		return 0, fmt.Errorf("must be at least %s", FormatDuration(min))
	case max > 0 && d > max:
		return 0, fmt.Errorf("must be at most %s", FormatDuration(max))
	}
	return d, nil
}

// deviceName is the schema's pattern for Device.name.
var deviceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

const maxDeviceName = 63

// ParseDevice reads NAME=ADDRESS, ADDRESS an IPv4 or IPv6 address of the
// UE in its PDU session.
func ParseDevice(s string) (string, netip.Addr, error) {
	name, address, ok := strings.Cut(s, "=")
	if !ok {
		return "", netip.Addr{}, errors.New("want NAME=ADDRESS, such as robot-arm=10.45.0.7")
	}
	if err := checkDeviceName(name); err != nil {
		return "", netip.Addr{}, err
	}
	addr, err := parseAddr(address)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("device %s: %w", name, err)
	}
	return name, addr, nil
}

func checkDeviceName(name string) error {
	if name == "" {
		return errors.New("want NAME=ADDRESS, such as robot-arm=10.45.0.7: the name is missing")
	}
	if len(name) > maxDeviceName || !deviceName.MatchString(name) {
		return fmt.Errorf("device name %q must be lowercase letters, digits and '-', start and end with a letter or digit, at most %d characters", name, maxDeviceName)
	}
	return nil
}

// parseAddr reads one IP address as the API server's CEL ip() does: no
// zone, no IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errors.New("the address is missing: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7")
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("%q is not an IP address: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7", s)
	case a.Zone() != "":
		return netip.Addr{}, fmt.Errorf("%q has a zone: write the address without %q", s, "%"+a.Zone())
	case a.Is4In6():
		return netip.Addr{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address: write it as %s", s, a.Unmap())
	}
	return a, nil
}

// ParseServer reads an application server as an IP address or a CIDR, and
// writes it back in canonical form.
func ParseServer(s string) (string, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", errors.New("want an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)")
		}
		if p.Addr().Is4In6() {
			return "", fmt.Errorf("an IPv4-mapped IPv6 prefix is not accepted: write it as %s/%d", p.Addr().Unmap(), p.Bits()-96)
		}
		return p.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", errors.New("want an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)")
	}
	if _, err := parseAddr(s); err != nil {
		return "", err
	}
	return a.String(), nil
}

// ParsePort reads a server port "N" or a range "N-M", 1-65535, and writes
// it back without leading zeros.
func ParsePort(s string) (string, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, errA := portNumber(lo)
	b, errB := a, error(nil)
	if isRange {
		b, errB = portNumber(hi)
	}
	if errA != nil || errB != nil {
		if errors.Is(errA, errPortRange) || errors.Is(errB, errPortRange) {
			return "", errPortRange
		}
		return "", errors.New("want a port number N or a range N-M, such as 443 or 5000-5010")
	}
	if !isRange {
		return strconv.Itoa(a), nil
	}
	if a > b {
		return "", fmt.Errorf("a range N-M needs N <= M: did you mean %d-%d?", b, a)
	}
	return strconv.Itoa(a) + "-" + strconv.Itoa(b), nil
}

var errPortRange = errors.New("ports are 1 to 65535")

func portNumber(s string) (int, error) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("not a number")
	}
	n, _ := strconv.Atoi(s)
	if n < 1 || n > 65535 {
		return 0, errPortRange
	}
	return n, nil
}

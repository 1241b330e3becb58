package plugin

import (
	"testing"
	"time"
)

// TestParseTime protects how typed times become instants: local forms in
// the injected zone (summer and winter offsets, zones with odd offsets),
// RFC 3339 with its own offset, "08:00" as today in that zone, and
// daylight-saving gaps and overlaps refused rather than guessed.
func TestParseTime(t *testing.T) {
	newYork := mustLocation("America/New_York")
	kathmandu := mustLocation("Asia/Kathmandu")
	tests := []struct {
		name    string
		in      string
		loc     *time.Location
		want    time.Time
		wantErr string
	}{
		{name: "local winter", in: "2026-11-22 08:00", loc: berlin, want: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)},
		{name: "local summer", in: "2026-07-01 08:00", loc: berlin, want: time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC)},
		{name: "local with T", in: "2026-11-22T08:00", loc: berlin, want: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)},
		{name: "local with seconds", in: "2026-11-22 08:00:30", loc: berlin, want: time.Date(2026, 11, 22, 7, 0, 30, 0, time.UTC)},
		{name: "surrounding spaces", in: "  2026-11-22 08:00 ", loc: berlin, want: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)},
		{name: "local New York", in: "2026-11-22 08:00", loc: newYork, want: time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)},
		{name: "local quarter-hour zone", in: "2026-11-22 08:00", loc: kathmandu, want: time.Date(2026, 11, 22, 2, 15, 0, 0, time.UTC)},
		{name: "local UTC", in: "2026-11-22 08:00", loc: time.UTC, want: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)},
		{name: "clock today", in: "12:30", loc: berlin, want: time.Date(2026, 11, 21, 11, 30, 0, 0, time.UTC)},
		{name: "clock today elsewhere", in: "23:30", loc: kathmandu, want: time.Date(2026, 11, 21, 17, 45, 0, 0, time.UTC)},
		{name: "now", in: "now", loc: newYork, want: testNow},
		{name: "NOW", in: "NOW", loc: berlin, want: testNow},
		{name: "RFC 3339 own offset", in: "2026-11-22T08:00:00-05:00", loc: berlin, want: time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)},
		{name: "RFC 3339 Z", in: "2026-11-22T08:00:00Z", loc: berlin, want: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)},
		{name: "RFC 3339 fraction truncated", in: "2026-11-22T08:00:00.999+01:00", loc: berlin, want: time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)},
		{name: "RFC 3339 inside a DST overlap", in: "2027-10-31T02:30:00+01:00", loc: berlin, want: time.Date(2027, 10, 31, 1, 30, 0, 0, time.UTC)},
		{name: "just after the gap", in: "2027-03-28 03:00", loc: berlin, want: time.Date(2027, 3, 28, 1, 0, 0, 0, time.UTC)},
		{name: "just before the overlap", in: "2027-10-31 01:59", loc: berlin, want: time.Date(2027, 10, 30, 23, 59, 0, 0, time.UTC)},

		{name: "gap Berlin", in: "2027-03-28 02:00", loc: berlin, wantErr: "2027-03-28 02:00 does not exist in Europe/Berlin (the clocks jump forward then); choose another time"},
		{name: "gap New York", in: "2027-03-14 02:30", loc: newYork, wantErr: "2027-03-14 02:30 does not exist in America/New_York (the clocks jump forward then); choose another time"},
		{name: "overlap Berlin", in: "2027-10-31 02:00", loc: berlin, wantErr: "2027-10-31 02:00 happens twice in Europe/Berlin (the clocks go back then); write 2027-10-31T02:00:00+02:00 or 2027-10-31T02:00:00+01:00"},
		{name: "overlap New York", in: "2027-11-07 01:30", loc: newYork, wantErr: "2027-11-07 01:30 happens twice in America/New_York (the clocks go back then); write 2027-11-07T01:30:00-04:00 or 2027-11-07T01:30:00-05:00"},
		{name: "empty", in: "", loc: berlin, wantErr: `want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{name: "words", in: "tomorrow 8am", loc: berlin, wantErr: `want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{name: "no such hour", in: "2026-11-22 25:00", loc: berlin, wantErr: `want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{name: "RFC 3339 without seconds", in: "2026-11-22T08:00+01:00", loc: berlin, wantErr: `want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{name: "year 10000 in UTC", in: "9998-12-31T23:00:00-05:00", loc: berlin, wantErr: "the year is out of range: want 1970 to 9998"},
		{name: "before 1970", in: "1969-12-31 23:00", loc: time.UTC, wantErr: "the year is out of range: want 1970 to 9998"},
		{name: "date only", in: "2026-11-22", loc: berlin, wantErr: `want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in, tt.loc, testNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseTime(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got.UTC(), tt.want.UTC())
			}
		})
	}
}

// TestShownInLocalTime protects that times are shown back in the user's
// zone, with the zone's abbreviation, on both sides of a DST change.
func TestShownInLocalTime(t *testing.T) {
	tests := []struct {
		name       string
		start, end time.Time
		loc        *time.Location
		long       string
		short      string
	}{
		{"same day", at(2026, 11, 22, 8, 0), at(2026, 11, 22, 12, 0), berlin, "Sun 2026-11-22 08:00–12:00 CET", "Sun 08:00–12:00"},
		{"over midnight", at(2026, 11, 22, 22, 0), at(2026, 11, 23, 2, 0), berlin, "Sun 2026-11-22 22:00–Mon 2026-11-23 02:00 CET", "Sun 22:00–Mon 02:00"},
		{"across the DST change", at(2027, 10, 31, 1, 0), at(2027, 10, 31, 4, 0), berlin, "Sun 2027-10-31 01:00 CEST–04:00 CET", "Sun 2027-10-31 01:00–04:00"},
		{"other zone", at(2026, 11, 22, 8, 0), at(2026, 11, 22, 12, 0), mustLocation("America/New_York"), "Sun 2026-11-22 02:00–06:00 EST", "Sun 02:00–06:00"},
		{"far away", at(2026, 12, 24, 8, 0), at(2026, 12, 24, 9, 30), berlin, "Thu 2026-12-24 08:00–09:30 CET", "Thu 2026-12-24 08:00–09:30"},
		{"last week", at(2026, 11, 10, 8, 0), at(2026, 11, 10, 9, 0), berlin, "Tue 2026-11-10 08:00–09:00 CET", "Tue 2026-11-10 08:00–09:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := longWindow(tt.start, tt.end, tt.loc); got != tt.long {
				t.Errorf("longWindow = %q, want %q", got, tt.long)
			}
			if got := shortWindow(tt.start, tt.end, testNow, tt.loc); got != tt.short {
				t.Errorf("shortWindow = %q, want %q", got, tt.short)
			}
		})
	}
}

// TestValueParsers protects the canonical forms written into the spec.
func TestValueParsers(t *testing.T) {
	for in, want := range map[string]string{
		"443": "443", "00443": "443", "1": "1", "65535": "65535", "5000-5010": "5000-5010", "05000-5010": "5000-5010", "80-80": "80-80",
	} {
		if got, err := ParsePort(in); err != nil || got != want {
			t.Errorf("ParsePort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"10.0.0.5": "10.0.0.5", "10.0.0.0/24": "10.0.0.0/24", "10.0.0.5/24": "10.0.0.5/24",
		"2001:DB8::5": "2001:db8::5", "2001:db8:0:0::/64": "2001:db8::/64", "::1": "::1",
	} {
		if got, err := ParseServer(in); err != nil || got != want {
			t.Errorf("ParseServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10.0.0", "10.0.0.5/", "10.0.0.5/abc", "fe80::1%eth0", "::ffff:10.0.0.0/120", "localhost"} {
		if got, err := ParseServer(in); err == nil {
			t.Errorf("ParseServer(%q) = %q, want an error", in, got)
		}
	}
	for in, wantMsg := range map[string]string{
		"4h": "", "90m": "", "1h30m": "", "0": "must be positive", "-1m": "must be positive",
		"10s": "must be at least 1m", "4 h": "want a duration such as 90m, 4h or 1h30m", "": "want a duration such as 90m, 4h or 1h30m",
	} {
		_, err := ParseDuration(in, time.Minute, 0)
		if got := errString(err); got != wantMsg {
			t.Errorf("ParseDuration(%q) error %q, want %q", in, got, wantMsg)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

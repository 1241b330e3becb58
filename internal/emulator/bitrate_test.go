package emulator

import "testing"

// TestParseBitRate protects the capacity accounting: every TS 29.571 BitRate
// unit is a x1000 step, fractions are exact, and malformed strings are
// refused rather than read as zero.
func TestParseBitRate(t *testing.T) {
	for name, tc := range map[string]struct {
		in      string
		want    BitRate
		wantErr bool
	}{
		"bps":               {in: "64000 bps", want: 64000},
		"Kbps":              {in: "512 Kbps", want: 512_000},
		"Mbps":              {in: "20 Mbps", want: 20_000_000},
		"Gbps":              {in: "1 Gbps", want: 1_000_000_000},
		"Tbps":              {in: "2 Tbps", want: 2_000_000_000_000},
		"fraction":          {in: "1.5 Kbps", want: 1500},
		"long fraction":     {in: "0.000001 Mbps", want: 1},
		"sub-bps truncated": {in: "0.5 bps", want: 0},
		"zero":              {in: "0 bps", want: 0},
		"lower-case k":      {in: "10 kbps", wantErr: true},
		"no space":          {in: "10Mbps", wantErr: true},
		"two spaces":        {in: "10  Mbps", wantErr: true},
		"negative":          {in: "-1 Mbps", wantErr: true},
		"no unit":           {in: "100", wantErr: true},
		"empty":             {in: "", wantErr: true},
		"exponent":          {in: "1e3 bps", wantErr: true},
		"overflow":          {in: "20000000 Tbps", wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseBitRate(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseBitRate(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseBitRate(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

// TestBitRateString protects the admin API and acceptableServInfo: what is
// written parses back to the same value and matches the 3GPP pattern.
func TestBitRateString(t *testing.T) {
	for _, tc := range []struct {
		in   BitRate
		want string
	}{
		{0, "0 bps"},
		{999, "999 bps"},
		{1000, "1 Kbps"},
		{1500, "1.5 Kbps"},
		{20_000_000, "20 Mbps"},
		{1_234_567, "1.234567 Mbps"},
		{10_000_000_000, "10 Gbps"},
		{3_000_000_000_000, "3 Tbps"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("BitRate(%d).String() = %q, want %q", tc.in, got, tc.want)
		}
		back, err := ParseBitRate(tc.in.String())
		if err != nil || back != tc.in {
			t.Errorf("ParseBitRate(%q) = %d, %v; want %d", tc.in.String(), back, err, tc.in)
		}
	}
}

package main

import (
	"flag"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func parseUserPlane(t *testing.T, args ...string) (*userPlaneOptions, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := userPlaneFlags(fs)
	return o, fs.Parse(args)
}

// TestUserPlaneFlags protects the command line of the user plane: defaults,
// routes with and without a fixed network side, and the refusals.
func TestUserPlaneFlags(t *testing.T) {
	o, err := parseUserPlane(t, "--userplane", "--link-rate", "50 Mbps", "--link-delay", "0", "--probe-source", "10.100.0.1",
		"--route", "10.45.0.11=127.0.0.1:8620@127.0.0.1:18620", "--route", "10.45.0.12=127.0.0.1:8620", "--reflector", "127.0.0.1:8620")
	if err != nil {
		t.Fatal(err)
	}
	c, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	ue11, ue12 := netip.MustParseAddr("10.45.0.11"), netip.MustParseAddr("10.45.0.12")
	switch {
	case !c.Enabled || c.LinkRate != 50_000_000 || c.ProbeSource.String() != "10.100.0.1":
		t.Errorf("config = %+v", c)
	case c.LinkDelay >= 0:
		t.Errorf("--link-delay 0 gives LinkDelay %v, want negative (none): zero would mean the default", c.LinkDelay)
	case len(c.Routes) != 2 || c.Routes[ue11].String() != "127.0.0.1:8620" || c.Listen[ue11].String() != "127.0.0.1:18620":
		t.Errorf("routes = %v, listen = %v", c.Routes, c.Listen)
	case c.Listen[ue12].IsValid() || c.DefaultTarget.String() != "127.0.0.1:8620":
		t.Errorf("listen = %v, default target %v", c.Listen, c.DefaultTarget)
	}

	o, _ = parseUserPlane(t, "--userplane")
	if c, err := o.config(); err != nil || c.LinkDelay != time.Millisecond || c.LinkRate != 100_000_000 || c.ProbeSource.String() != "10.100.0.254" {
		t.Errorf("defaults = %+v, %v", c, err)
	}
	o, _ = parseUserPlane(t)
	if c, err := o.config(); err != nil || c.Enabled {
		t.Errorf("without --userplane: %+v, %v", c, err)
	}

	for _, args := range [][]string{
		{"--route", "10.45.0.11"},
		{"--route", "ue=127.0.0.1:8620"},
		{"--route", "10.45.0.11=127.0.0.1"},
		{"--route", "10.45.0.11=127.0.0.1:8620@here"},
		{"--route", "10.45.0.11=127.0.0.1:8620", "--route", "10.45.0.11=127.0.0.1:8621"},
	} {
		if _, err := parseUserPlane(t, args...); err == nil {
			t.Errorf("%s accepted", strings.Join(args, " "))
		}
	}
	for _, args := range [][]string{
		{"--userplane", "--link-rate", "100Mbps"},
		{"--userplane", "--link-rate", "0 bps"},
		{"--userplane", "--link-delay", "-1ms"},
		{"--userplane", "--probe-source", "probe.local"},
		{"--userplane", "--reflector", "127.0.0.1"},
		{"--reflector", "127.0.0.1:8620"},
	} {
		o, err := parseUserPlane(t, args...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		if _, err := o.config(); err == nil {
			t.Errorf("%s accepted", strings.Join(args, " "))
		}
	}
}

package plugin

import (
	"testing"
	"time"
	// Tests read Europe/Berlin and others whatever the machine has installed.
	_ "time/tzdata"
)

// berlin is where the tests' hospital is: CET in winter, CEST in summer.
var berlin = mustLocation("Europe/Berlin")

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testNow is the tests' clock: Saturday 2026-11-21 10:00 in Berlin (CET, +01:00).
var testNow = time.Date(2026, 11, 21, 10, 0, 0, 0, berlin)

// at is a wall clock time in Berlin.
func at(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, berlin)
}

func defaults() Defaults {
	return Defaults{Location: berlin, Now: testNow}
}

// bookArgs is a valid booking; tests replace or drop flags from it.
func bookArgs(extra ...string) []string {
	args := []string{"book", "or3",
		"--profile", "surgery-urllc",
		"--core", "campus-core",
		"--device", "robot-arm=10.45.0.7",
		"--server", "10.100.0.5",
		"--start", "2026-11-22 08:00",
		"--duration", "4h",
	}
	return append(args, extra...)
}

// without drops a flag and its value from args.
func without(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// replace sets a flag's value in args.
func replace(args []string, flag, value string) []string {
	out := append([]string(nil), args...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
			return out
		}
	}
	panic("no flag " + flag)
}

func mustParse(t *testing.T, args ...string) *Invocation {
	t.Helper()
	inv, err := Parse(args, defaults())
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return inv
}

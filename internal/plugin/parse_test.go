package plugin

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
)

// TestParseRefusesBadInput protects the promise that every bad flag or
// argument is refused before anything is sent, with one line that names
// what is wrong and what is wanted.
func TestParseRefusesBadInput(t *testing.T) {
	many := func(flag string, n int, item func(i int) string) []string {
		var out []string
		for i := range n {
			out = append(out, flag, item(i))
		}
		return out
	}
	tests := []struct {
		name    string
		args    []string
		tz      string
		wantErr string
	}{
		// Commands and positional arguments.
		{"no command", nil, "", "no command: want book, list, describe, extend, cancel, capacity or report (see kubectl medslice --help)"},
		{"only flags", []string{"-n", "surgery"}, "", "no command: want book, list, describe, extend, cancel, capacity or report (see kubectl medslice --help)"},
		{"command typo", []string{"boook"}, "", `unknown command "boook": did you mean book?`},
		{"unknown command", []string{"frobnicate"}, "", `unknown command "frobnicate": want book, list, describe, extend, cancel, capacity or report`},
		{"book without name", append([]string{"book"}, bookArgs()[2:]...), "", "book needs the slice name: kubectl medslice book NAME"},
		{"book two names", append(bookArgs(), "or4"), "", `book takes one slice name, got 2: "or3" "or4"`},
		{"book alone", []string{"book"}, "", "book needs the slice name: kubectl medslice book NAME"},
		{"list with argument", []string{"list", "or3"}, "", `list takes no arguments, got "or3" (to see one slice: kubectl medslice describe NAME)`},
		{"describe without name", []string{"describe"}, "", "describe needs the slice name: kubectl medslice describe NAME"},
		{"describe bad name", []string{"describe", "OR_3"}, "", `slice name "OR_3": must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters`},
		{"capacity two cores", []string{"capacity", "a", "b"}, "", `capacity takes at most one core name, got 2: "a" "b"`},
		{"capacity bad core", []string{"capacity", "Campus"}, "", `core name "Campus": must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters`},

		// Flags in general.
		{"flag typo", bookArgs("--profle", "x"), "", "unknown flag --profle for book: did you mean --profile?"},
		{"unknown shorthand", bookArgs("-x"), "", "unknown flag -x for book (see kubectl medslice book --help)"},
		{"flag of another command", []string{"list", "--force"}, "", "unknown flag --force for list (see kubectl medslice list --help)"},
		{"no -o on cancel", []string{"cancel", "or3", "-o", "yaml"}, "", "unknown flag -o for cancel (see kubectl medslice cancel --help)"},
		{"flag without value", append(bookArgs(), "--purpose"), "", "--purpose needs a value"},
		{"shorthand without value", []string{"list", "-n"}, "", "--namespace needs a value"},
		{"bool with a value", []string{"cancel", "or3", "--force=perhaps"}, "", "--force=perhaps: want true or false"},
		{"-A with a value", []string{"list", "-A=maybe"}, "", "--all-namespaces=maybe: want true or false"},
		{"output format", []string{"list", "-o", "wide"}, "", `-o "wide": want table, yaml or json`},
		{"namespace name", []string{"list", "-n", "Surgery_1"}, "", `namespace "Surgery_1": must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters`},
		{"timezone", []string{"list", "--timezone", "Mars/Olympus"}, "", `--timezone "Mars/Olympus": unknown time zone; want an IANA name such as Europe/Berlin`},
		{"timezone as a path", []string{"list", "--timezone", "/etc/localtime"}, "", `--timezone "/etc/localtime": unknown time zone; want an IANA name such as Europe/Berlin`},
		{"TZ unknown", []string{"list"}, "Mars/Olympus", `TZ "Mars/Olympus": unknown time zone; set an IANA name such as Europe/Berlin, or pass --timezone`},

		// book: what and where.
		{"slice name", append([]string{"book", "OR-3"}, bookArgs()[2:]...), "", `slice name "OR-3": must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters`},
		{"profile missing", without(bookArgs(), "--profile"), "", "--profile is required: the SliceProfile to follow, e.g. surgery-urllc"},
		{"profile name", replace(bookArgs(), "--profile", "Surgery_URLLC"), "", `--profile "Surgery_URLLC": not a SliceProfile name (lowercase letters, digits, '-' and '.')`},
		{"core missing", without(bookArgs(), "--core"), "", "--core is required: the CoreNetwork to provision on"},
		{"core name", replace(bookArgs(), "--core", "campus core"), "", `--core "campus core": not a CoreNetwork name (lowercase letters, digits, '-' and '.')`},
		{"protocol", bookArgs("--protocol", "SCTP"), "", `--protocol "SCTP": want UDP, TCP or ANY`},
		{"purpose markup", bookArgs("--purpose", "<b>OR-3</b>"), "", "--purpose: plain text only, remove < and >"},
		{"purpose too long", bookArgs("--purpose", strings.Repeat("é", 257)), "", "--purpose: at most 256 characters, got 257"},
		{"dry-run mode", bookArgs("--dry-run=maybe"), "", "--dry-run=maybe: want server or client"},
		{"wait without unit", bookArgs("--wait", "5"), "", `--wait "5": want a duration such as 90m, 4h or 1h30m`},
		{"wait too long", bookArgs("--wait", "1h"), "", `--wait "1h": must be at most 10m`},
		{"wait negative", bookArgs("--wait", "-1s"), "", `--wait "-1s": must not be negative`},

		// book: devices.
		{"no device", without(bookArgs(), "--device"), "", "at least one --device NAME=ADDRESS is required, e.g. --device robot-arm=10.45.0.7"},
		{"device without address", replace(bookArgs(), "--device", "robot-arm"), "", `--device "robot-arm": want NAME=ADDRESS, such as robot-arm=10.45.0.7`},
		{"device without name", replace(bookArgs(), "--device", "=10.45.0.7"), "", `--device "=10.45.0.7": want NAME=ADDRESS, such as robot-arm=10.45.0.7: the name is missing`},
		{"device empty address", replace(bookArgs(), "--device", "arm="), "", `--device "arm=": device arm: the address is missing: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7`},
		{"device name", replace(bookArgs(), "--device", "Robot_Arm=10.45.0.7"), "", `--device "Robot_Arm=10.45.0.7": device name "Robot_Arm" must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters`},
		{"device address", replace(bookArgs(), "--device", "arm=10.45.0.256"), "", `--device "arm=10.45.0.256": device arm: "10.45.0.256" is not an IP address: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7`},
		{"device hostname", replace(bookArgs(), "--device", "arm=robot.or3.local"), "", `--device "arm=robot.or3.local": device arm: "robot.or3.local" is not an IP address: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7`},
		{"device prefix", replace(bookArgs(), "--device", "arm=2001:db8::/64"), "", `--device "arm=2001:db8::/64": device arm: "2001:db8::/64" is not an IP address: want an IPv4 or IPv6 address such as 10.45.0.7 or 2001:db8::7`},
		{"device zone", replace(bookArgs(), "--device", "arm=fe80::1%eth0"), "", `--device "arm=fe80::1%eth0": device arm: "fe80::1%eth0" has a zone: write the address without "%eth0"`},
		{"device mapped", replace(bookArgs(), "--device", "arm=::ffff:10.45.0.7"), "", `--device "arm=::ffff:10.45.0.7": device arm: "::ffff:10.45.0.7" is an IPv4-mapped IPv6 address: write it as 10.45.0.7`},
		{"device two IPv4", bookArgs("--device", "robot-arm=10.45.0.8"), "", `--device "robot-arm=10.45.0.8": device robot-arm already has IPv4 address 10.45.0.7`},
		{"device address shared", bookArgs("--device", "camera=10.45.0.7"), "", `--device "camera=10.45.0.7": 10.45.0.7 is already device robot-arm's address`},
		{"device twice", bookArgs("--device", "robot-arm=10.45.0.7"), "", `--device "robot-arm=10.45.0.7": given twice`},
		{"device empty item", replace(bookArgs(), "--device", "robot-arm=10.45.0.7,"), "", `--device "robot-arm=10.45.0.7,": an empty item between commas`},
		{"too many devices", append(without(bookArgs(), "--device"), many("--device", 33, func(i int) string { return "d" + itoa(i) + "=10.45.1." + itoa(i+1) })...), "", "at most 32 devices per slice, got 33"},

		// book: application.
		{"no server", without(bookArgs(), "--server"), "", "at least one --server is required: the application server's IP address or CIDR, e.g. --server 10.100.0.5"},
		{"server hostname", replace(bookArgs(), "--server", "pacs.hospital.example"), "", `--server "pacs.hospital.example": want an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)`},
		{"server prefix length", replace(bookArgs(), "--server", "10.100.0.0/33"), "", `--server "10.100.0.0/33": want an IP address (10.0.0.5) or a CIDR (10.0.0.0/24)`},
		{"server mapped", replace(bookArgs(), "--server", "::ffff:10.100.0.5"), "", `--server "::ffff:10.100.0.5": "::ffff:10.100.0.5" is an IPv4-mapped IPv6 address: write it as 10.100.0.5`},
		{"server twice", bookArgs("--server", "10.100.0.5"), "", `--server "10.100.0.5": given twice`},
		{"too many servers", append(without(bookArgs(), "--server"), many("--server", 17, func(i int) string { return "10.100.0." + itoa(i+1) })...), "", "at most 16 servers per slice, got 17"},
		{"port name", bookArgs("--port", "https"), "", `--port "https": want a port number N or a range N-M, such as 443 or 5000-5010`},
		{"port zero", bookArgs("--port", "0"), "", `--port "0": ports are 1 to 65535`},
		{"port too high", bookArgs("--port", "70000"), "", `--port "70000": ports are 1 to 65535`},
		{"port range reversed", bookArgs("--port", "5010-5000"), "", `--port "5010-5000": a range N-M needs N <= M: did you mean 5000-5010?`},
		{"port range open", bookArgs("--port", "5000-"), "", `--port "5000-": want a port number N or a range N-M, such as 443 or 5000-5010`},
		{"port empty item", bookArgs("--port", "443,"), "", `--port "443,": an empty item between commas`},
		{"port twice", bookArgs("--port", "443,0443"), "", `--port "0443": given twice`},
		{"too many ports", append(bookArgs(), many("--port", 17, func(i int) string { return itoa(5000 + i) })...), "", "at most 16 ports per slice, got 17"},

		// book: the window.
		{"start missing", without(bookArgs(), "--start"), "", `--start is required: when the slice is needed, e.g. --start "2026-11-22 08:00"`},
		{"start words", replace(bookArgs(), "--start", "tomorrow 8am"), "", `--start "tomorrow 8am": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"start US date", replace(bookArgs(), "--start", "11/22/2026 08:00"), "", `--start "11/22/2026 08:00": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"start no such day", replace(bookArgs(), "--start", "2026-11-31 08:00"), "", `--start "2026-11-31 08:00": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"start skipped by DST", replace(bookArgs(), "--start", "2027-03-28 02:30"), "", `--start "2027-03-28 02:30": 2027-03-28 02:30 does not exist in Europe/Berlin (the clocks jump forward then); choose another time`},
		{"start twice by DST", replace(bookArgs(), "--start", "2027-10-31 02:30"), "", `--start "2027-10-31 02:30": 2027-10-31 02:30 happens twice in Europe/Berlin (the clocks go back then); write 2027-10-31T02:30:00+02:00 or 2027-10-31T02:30:00+01:00`},
		{"start in the past", replace(bookArgs(), "--start", "2026-11-20 08:00"), "", "--start Fri 2026-11-20 08:00 CET is in the past (now is Sat 2026-11-21 10:00 CET): book from now on, e.g. --start now"},
		{"start earlier today", replace(bookArgs(), "--start", "09:59"), "", "--start Sat 2026-11-21 09:59 CET is in the past (now is Sat 2026-11-21 10:00 CET): book from now on, e.g. --start now"},
		{"no end", without(bookArgs(), "--duration"), "", "the window needs an end: give --duration (e.g. 4h) or --end"},
		{"duration and end", bookArgs("--end", "2026-11-22 12:00"), "", "give --duration or --end, not both"},
		{"duration words", replace(bookArgs(), "--duration", "4 hours"), "", `--duration "4 hours": want a duration such as 90m, 4h or 1h30m`},
		{"duration days", replace(bookArgs(), "--duration", "1d"), "", `--duration "1d": want a duration such as 90m, 4h or 1h30m`},
		{"duration negative", replace(bookArgs(), "--duration", "-4h"), "", `--duration "-4h": must be positive`},
		{"duration too short", replace(bookArgs(), "--duration", "30s"), "", `--duration "30s": must be at least 1m`},
		{"end before start", append(without(bookArgs(), "--duration"), "--end", "2026-11-22 07:00"), "", "--end Sun 2026-11-22 07:00 CET is not after --start Sun 2026-11-22 08:00 CET"},
		{"end equals start", append(without(bookArgs(), "--duration"), "--end", "2026-11-22T07:00:00Z"), "", "--end Sun 2026-11-22 08:00 CET is not after --start Sun 2026-11-22 08:00 CET"},
		{"end too soon", append(without(bookArgs(), "--duration"), "--end", "2026-11-22T08:00:30+01:00"), "", "the window Sun 2026-11-22 08:00–08:00 CET lasts 30s: a booking lasts at least 1m"},
		{"end garbage", append(without(bookArgs(), "--duration"), "--end", "noon"), "", `--end "noon": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"lead time too long", bookArgs("--lead-time", "30h"), "", `--lead-time "30h": must be at most 24h`},
		{"lead time negative", bookArgs("--lead-time", "-15m"), "", `--lead-time "-15m": must not be negative`},
		{"lead time words", bookArgs("--lead-time", "a quarter hour"), "", `--lead-time "a quarter hour": want a duration such as 90m, 4h or 1h30m`},

		// extend, cancel, capacity.
		{"extend without how far", []string{"extend", "or3"}, "", "extend needs --by D (e.g. 30m) or --until TIME"},
		{"extend both", []string{"extend", "or3", "--by", "30m", "--until", "13:00"}, "", "give --by or --until, not both"},
		{"extend by zero", []string{"extend", "or3", "--by", "0"}, "", `--by "0": must be positive`},
		{"extend by negative", []string{"extend", "or3", "--by", "-30m"}, "", `--by "-30m": must be positive`},
		{"extend until garbage", []string{"extend", "or3", "--until", "half past twelve"}, "", `--until "half past twelve": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"extend without name", []string{"extend", "--by", "30m"}, "", "extend needs the slice name: kubectl medslice extend NAME"},
		{"cancel two names", []string{"cancel", "or3", "or4"}, "", `cancel takes one slice name, got 2: "or3" "or4"`},
		{"capacity from garbage", []string{"capacity", "--from", "yesterday"}, "", `--from "yesterday": want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"capacity to before from", []string{"capacity", "--from", "2026-11-22 08:00", "--to", "2026-11-22 07:00"}, "", "--to Sun 2026-11-22 07:00 CET is not after --from Sun 2026-11-22 08:00 CET"},
		{"capacity to before now", []string{"capacity", "--to", "08:00"}, "", "--to Sat 2026-11-21 08:00 CET is not after --from Sat 2026-11-21 10:00 CET"},

		// report.
		{"report typo", []string{"reprot", "or3"}, "", `unknown command "reprot": did you mean report?`},
		{"report without slice", []string{"report"}, "", "report needs the slice name: kubectl medslice report NAME"},
		{"report two slices", []string{"report", "or3", "or4"}, "", `report takes one slice name, got 2: "or3" "or4"`},
		{"report bad slice", []string{"report", "OR3"}, "", `slice name "OR3": must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters`},
		{"report as yaml", []string{"report", "or3", "-o", "yaml"}, "", `-o "yaml": want json, csv or pdf`},
		{"report as table", []string{"report", "or3", "--output=table"}, "", `-o "table": want json, csv or pdf`},
		{"period without end", []string{"report", "or3", "--period", "2026-11-22 08:00"}, "", `--period "2026-11-22 08:00": want START/END, e.g. 2026-11-22T08:00:00+01:00/2026-11-22T12:00:00+01:00`},
		{"period empty end", []string{"report", "or3", "--period", "2026-11-22 08:00/"}, "", `--period "2026-11-22 08:00/": want START/END, e.g. 2026-11-22T08:00:00+01:00/2026-11-22T12:00:00+01:00`},
		{"period three parts", []string{"report", "or3", "--period", "08:00/09:00/10:00"}, "", `--period "08:00/09:00/10:00": want START/END, e.g. 2026-11-22T08:00:00+01:00/2026-11-22T12:00:00+01:00`},
		{"period start garbage", []string{"report", "or3", "--period", "yesterday/2026-11-22 08:00"}, "", `--period "yesterday/2026-11-22 08:00": START: want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"period end garbage", []string{"report", "or3", "--period", "2026-11-22 08:00/noon"}, "", `--period "2026-11-22 08:00/noon": END: want RFC 3339 (2026-11-22T08:00:00+01:00) or local "2026-11-22 08:00"`},
		{"period end skipped by DST", []string{"report", "or3", "--period", "2027-03-28 01:00/2027-03-28 02:30"}, "", `--period "2027-03-28 01:00/2027-03-28 02:30": END: 2027-03-28 02:30 does not exist in Europe/Berlin (the clocks jump forward then); choose another time`},
		{"period reversed", []string{"report", "or3", "--period", "2026-11-22 12:00/2026-11-22 08:00"}, "", "--period: END Sun 2026-11-22 08:00 CET is not after START Sun 2026-11-22 12:00 CET"},
		{"period and latest", []string{"report", "or3", "--latest", "--period", "2026-11-22 08:00/2026-11-22 12:00"}, "", "give --period or --latest, not both"},
		{"not latest, no period", []string{"report", "or3", "--latest=false"}, "", "--latest=false needs --period START/END: which report, if not the latest?"},
		{"latest with a value", []string{"report", "or3", "--latest=yes"}, "", "--latest=yes: want true or false"},
		{"empty output file", []string{"report", "or3", "--output-file="}, "", "--output-file: an empty path; give a FILE, or leave the flag out for standard output"},
		{"output file without value", []string{"report", "or3", "--output-file"}, "", "--output-file needs a value"},
		{"output file typo", []string{"report", "or3", "--outputfile", "x.pdf"}, "", "unknown flag --outputfile for report: did you mean --output-file?"},
		{"verify flag on report", []string{"report", "or3", "--public-keys", "keys.json"}, "", "unknown flag --public-keys for report (see kubectl medslice report --help)"},

		// report verify.
		{"verify without report", []string{"report", "verify", "--public-keys", "keys.json"}, "", "report verify needs a report: kubectl medslice report verify FILE|REPORT --public-keys KEYS"},
		{"verify two reports", []string{"report", "verify", "a.json", "b.json", "--public-keys", "keys.json"}, "", `report verify takes one file or report name, got 2: "a.json" "b.json"`},
		{"verify empty name", []string{"report", "verify", "", "--public-keys", "keys.json"}, "", "report verify: an empty file or report name"},
		{"verify without keys", []string{"report", "verify", "or3.json"}, "", "report verify needs the public keys: --public-keys FILE (offline) or --key-secret NAMESPACE/NAME"},
		{"verify with both keys", []string{"report", "verify", "or3.json", "--public-keys", "keys.json", "--key-secret", "medslice-system/medslice-report-key"}, "", "give --public-keys or --key-secret, not both"},
		{"verify empty keys path", []string{"report", "verify", "or3.json", "--public-keys="}, "", "--public-keys: an empty path; give the FILE of the public keys"},
		{"key secret without namespace", []string{"report", "verify", "or3.json", "--key-secret", "medslice-report-key"}, "", `--key-secret "medslice-report-key": want NAMESPACE/NAME, e.g. medslice-system/medslice-report-key`},
		{"key secret three parts", []string{"report", "verify", "or3.json", "--key-secret", "a/b/c"}, "", `--key-secret "a/b/c": want NAMESPACE/NAME, e.g. medslice-system/medslice-report-key`},
		{"key secret bad namespace", []string{"report", "verify", "or3.json", "--key-secret", "Medslice/key"}, "", `--key-secret: namespace "Medslice": must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters`},
		{"key secret bad name", []string{"report", "verify", "or3.json", "--key-secret", "medslice-system/Key_1"}, "", `--key-secret: Secret name "Key_1": must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters`},
		{"no -o on verify", []string{"report", "verify", "or3.json", "--public-keys", "keys.json", "-o", "json"}, "", "unknown flag -o for report verify (see kubectl medslice report verify --help)"},
		{"report flag on verify", []string{"report", "verify", "or3.json", "--public-keys", "keys.json", "--period", "08:00/09:00"}, "", "unknown flag --period for report verify (see kubectl medslice report verify --help)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := defaults()
			d.TZ = tt.tz
			inv, err := Parse(tt.args, d)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error %q", tt.args, inv, tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.args, err, tt.wantErr)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestParseBook protects what a valid booking becomes: local times read in
// the user's zone, dual-stack devices merged, lists split at commas and
// written canonically, kubectl's flags anywhere on the line.
func TestParseBook(t *testing.T) {
	lead := 15 * time.Minute
	tests := []struct {
		name string
		args []string
		want Invocation
	}{
		{
			name: "minimal",
			args: bookArgs(),
			want: Invocation{Command: "book", Output: FormatTable, Location: berlin, Book: &BookOptions{
				Name: "or3", Profile: "surgery-urllc", Core: "campus-core",
				Devices: []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}},
				Servers: []string{"10.100.0.5"},
				Start:   at(2026, 11, 22, 8, 0), End: at(2026, 11, 22, 12, 0),
				Wait: DefaultWait,
			}},
		},
		{
			name: "everything",
			args: []string{"-n", "surgery", "--context", "hospital", "book",
				"--profile", "surgery-urllc", "or3", "--core=campus-core",
				"--device", "robot-arm=10.45.0.7", "--device", "robot-arm=2001:DB8::7", "--device", "console=10.45.0.8,camera=2001:db8::9",
				"--server", "10.100.0.5, 10.100.1.0/24", "--server", "2001:db8:100::/48",
				"--port", "443", "--port", "05000-05010",
				"--protocol", "tcp",
				"--start", "2026-11-22T08:00", "--end", "2026-11-22T12:30:00+01:00",
				"--lead-time", "15m", "--purpose", "robotic prostatectomy, OR-3",
				"--dry-run", "-o", "yaml", "--wait", "0", "--kubeconfig", "/tmp/kc"},
			want: Invocation{Command: "book", Output: FormatYAML, Location: berlin,
				Kube: Kube{Kubeconfig: "/tmp/kc", Context: "hospital", Namespace: "surgery"},
				Book: &BookOptions{
					Name: "or3", Profile: "surgery-urllc", Core: "campus-core",
					Devices: []v1alpha1.Device{
						{Name: "robot-arm", IPv4: "10.45.0.7", IPv6: "2001:db8::7"},
						{Name: "console", IPv4: "10.45.0.8"},
						{Name: "camera", IPv6: "2001:db8::9"},
					},
					Servers:  []string{"10.100.0.5", "10.100.1.0/24", "2001:db8:100::/48"},
					Ports:    []string{"443", "5000-5010"},
					Protocol: v1alpha1.ProtocolTCP,
					Start:    at(2026, 11, 22, 8, 0), End: at(2026, 11, 22, 12, 30),
					LeadTime: &lead, Purpose: "robotic prostatectomy, OR-3",
					DryRun: DryRunServer,
				}},
		},
		{
			name: "now, in another zone",
			args: append(replace(bookArgs(), "--start", "now"), "--timezone", "America/New_York", "--dry-run=client"),
			want: Invocation{Command: "book", Output: FormatTable, Location: mustLocation("America/New_York"), Book: &BookOptions{
				Name: "or3", Profile: "surgery-urllc", Core: "campus-core",
				Devices: []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}},
				Servers: []string{"10.100.0.5"},
				Start:   testNow, End: testNow.Add(4 * time.Hour),
				DryRun: DryRunClient, Wait: DefaultWait,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.args...)
			if diff := cmp.Diff(&tt.want, got, cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
				cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestParseOtherCommands protects the flags of the other commands.
func TestParseOtherCommands(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Invocation
	}{
		{"list", []string{"list"}, Invocation{Command: "list", Output: FormatTable, Location: berlin, List: &ListOptions{}}},
		{"list everywhere as json", []string{"list", "-A", "-o", "json"}, Invocation{Command: "list", Output: FormatJSON, Location: berlin, List: &ListOptions{AllNamespaces: true}}},
		{"describe", []string{"describe", "or3", "--namespace=surgery"}, Invocation{Command: "describe", Output: FormatTable, Location: berlin, Kube: Kube{Namespace: "surgery"}, Describe: &DescribeOptions{Name: "or3"}}},
		{"extend by", []string{"extend", "or3", "--by", "30m"}, Invocation{Command: "extend", Output: FormatTable, Location: berlin, Extend: &ExtendOptions{Name: "or3", By: 30 * time.Minute, Wait: DefaultWait}}},
		{"extend until today", []string{"extend", "or3", "--until", "12:30", "--wait", "2s"}, Invocation{Command: "extend", Output: FormatTable, Location: berlin, Extend: &ExtendOptions{Name: "or3", Until: at(2026, 11, 21, 12, 30), Wait: 2 * time.Second}}},
		{"cancel", []string{"cancel", "or3"}, Invocation{Command: "cancel", Output: FormatTable, Location: berlin, Cancel: &CancelOptions{Name: "or3"}}},
		{"cancel forced", []string{"cancel", "--force", "or3"}, Invocation{Command: "cancel", Output: FormatTable, Location: berlin, Cancel: &CancelOptions{Name: "or3", Force: true}}},
		{"capacity", []string{"capacity"}, Invocation{Command: "capacity", Output: FormatTable, Location: berlin, Capacity: &CapacityOptions{}}},
		{"capacity of a core from tomorrow", []string{"capacity", "campus-core", "--from", "2026-11-22 00:00", "--to", "2026-11-23T00:00:00+01:00"},
			Invocation{Command: "capacity", Output: FormatTable, Location: berlin, Capacity: &CapacityOptions{Core: "campus-core", From: at(2026, 11, 22, 0, 0), To: at(2026, 11, 23, 0, 0)}}},
		{"report, latest as JSON", []string{"report", "or3"}, Invocation{Command: "report", Output: FormatJSON, Location: berlin, Report: &ReportOptions{Slice: "or3", Format: FormatJSON}}},
		{"report latest, said", []string{"report", "--latest", "or3", "-o", "csv"}, Invocation{Command: "report", Output: FormatCSV, Location: berlin, Report: &ReportOptions{Slice: "or3", Format: FormatCSV}}},
		{"report of a period to a PDF file", []string{"-o", "pdf", "-n", "or-3", "report", "or3", "--period", "2026-11-22 08:00/2026-11-22T11:00:00Z", "--output-file", "or3.pdf"},
			Invocation{Command: "report", Output: FormatPDF, Location: berlin, Kube: Kube{Namespace: "or-3"},
				Report: &ReportOptions{Slice: "or3", Start: at(2026, 11, 22, 8, 0), End: at(2026, 11, 22, 12, 0), Format: FormatPDF, OutputFile: "or3.pdf"}}},
		{"verify after a flag", []string{"report", "--public-keys", "keys.json", "verify", "or3.json"},
			Invocation{Command: "report verify", Output: FormatTable, Location: berlin, Verify: &VerifyOptions{Target: "or3.json", PublicKeys: "keys.json"}}},
		{"verify a report on the API server", []string{"report", "verify", "or3-20261122", "--key-secret=medslice-system/medslice-report-key", "-n", "or-3"},
			Invocation{Command: "report verify", Output: FormatTable, Location: berlin, Kube: Kube{Namespace: "or-3"},
				Verify: &VerifyOptions{Target: "or3-20261122", KeySecret: types.NamespacedName{Namespace: "medslice-system", Name: "medslice-report-key"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.args...)
			if diff := cmp.Diff(&tt.want, got, cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
				cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

// TestParseHelp protects that help is printed, not an error, wherever it
// is asked for.
func TestParseHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"book", "--help"}, {"capacity", "-h"}, {"report", "-h"}, {"report", "verify", "--help"}} {
		inv := mustParse(t, args...)
		if inv.Help == "" {
			t.Errorf("Parse(%q): no help", args)
		}
	}
	if got := mustParse(t, "extend", "-h").Help; !strings.Contains(got, "--until TIME") || !strings.HasPrefix(got, "Usage: kubectl medslice extend NAME (--by D | --until TIME)") {
		t.Errorf("extend help:\n%s", got)
	}
	if got := mustParse(t, "report", "verify", "-h").Help; !strings.HasPrefix(got, "Usage: kubectl medslice report verify FILE|REPORT (--public-keys FILE | --key-secret NAMESPACE/NAME)") || !strings.Contains(got, "--key-secret NAMESPACE/NAME") {
		t.Errorf("report verify help:\n%s", got)
	}
	if got := mustParse(t, "report", "--help").Help; !strings.HasPrefix(got, "Usage: kubectl medslice report SLICE [--period START/END | --latest] [-o json|csv|pdf] [--output-file FILE]") || !strings.Contains(got, `(default "json")`) {
		t.Errorf("report help:\n%s", got)
	}
	if got := Usage(); !strings.Contains(got, "  report    export a slice's signed SLA report") || !strings.Contains(got, "report verify FILE") {
		t.Errorf("usage does not show report:\n%s", got)
	}
}

// TestParseTimeZoneFromTZ protects that TZ, when valid, sets the zone
// local times are read in, and --timezone wins over it.
func TestParseTimeZoneFromTZ(t *testing.T) {
	d := defaults()
	d.TZ = "Asia/Kathmandu"
	inv, err := Parse(replace(bookArgs(), "--start", "2026-11-22 08:00"), d)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 22, 2, 15, 0, 0, time.UTC); !inv.Book.Start.Equal(want) {
		t.Errorf("start = %v, want %v (08:00 at +05:45)", inv.Book.Start, want)
	}
	inv, err = Parse(append(bookArgs(), "--timezone", "UTC"), d)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC); !inv.Book.Start.Equal(want) {
		t.Errorf("start = %v, want %v (--timezone UTC over TZ)", inv.Book.Start, want)
	}
}

package plugin

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/medslice/medslice/api/v1alpha1"
)

// Format is an output format, -o table|yaml|json.
type Format string

const (
	FormatTable Format = "table"
	FormatYAML  Format = "yaml"
	FormatJSON  Format = "json"
	// FormatCSV and FormatPDF are report's exports (with FormatJSON).
	FormatCSV Format = "csv"
	FormatPDF Format = "pdf"
)

// DryRun says how a booking is tried without being made, as kubectl's
// --dry-run: on the API server (validation included) or only here.
type DryRun string

const (
	DryRunNone   DryRun = ""
	DryRunServer DryRun = "server"
	DryRunClient DryRun = "client"
)

// Kube says how to reach the API server, as kubectl's flags of the same
// names do. Empty fields mean kubectl's defaults: $KUBECONFIG or
// ~/.kube/config, its current context, the context's namespace.
type Kube struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// Defaults are what Parse takes from the environment.
type Defaults struct {
	// Location is where local times are read and shown unless --timezone
	// says otherwise; time.Local in the plugin.
	Location *time.Location
	// TZ is the TZ environment variable. An unknown zone in it is an
	// error rather than UTC in disguise, as the time package would have it.
	TZ string
	// Now reads "now" and a wall clock time without a date ("08:00", today).
	Now time.Time
}

// Limits of the MedicalSlice schema and of the plugin's own flags.
const (
	maxDevices  = 32
	maxServers  = 16
	maxPorts    = 16
	maxPurpose  = 256
	maxLeadTime = 24 * time.Hour
	// minWindow is the shortest booking: shorter is a typo (30s for 30m),
	// and no profile allows less (maxDuration is at least 1m).
	minWindow = time.Minute
	// maxWait bounds --wait: the plugin reports a decision, it does not
	// watch a slice for ever.
	maxWait = 10 * time.Minute
	// DefaultWait is how long book and extend wait for the decision.
	DefaultWait = 5 * time.Second
	// DefaultCapacityRange is how far capacity looks ahead by default.
	DefaultCapacityRange = 24 * time.Hour
)

// Invocation is a parsed command line, ready to run.
type Invocation struct {
	// Command is book, list, describe, extend, cancel, capacity, report or
	// "report verify".
	Command  string
	Kube     Kube
	Output   Format
	Location *time.Location
	// Help, when not empty, is what to print instead of running anything.
	Help string

	Book     *BookOptions
	List     *ListOptions
	Describe *DescribeOptions
	Extend   *ExtendOptions
	Cancel   *CancelOptions
	Capacity *CapacityOptions
	Report   *ReportOptions
	Verify   *VerifyOptions
}

// command is one subcommand, for help and for finding typos.
type command struct{ name, synopsis, summary string }

// commands in the order help lists them.
var commands = []command{
	{"book", "book NAME --profile P --core C --device NAME=ADDRESS... --server IP|CIDR... [--port N|N-M...] --start TIME (--duration D | --end TIME)", "book a guaranteed slice for a window and report the admission decision"},
	{"list", "list [-A]", "slices with their window, admission and GO / NO-GO"},
	{"describe", "describe NAME", "everything about one slice: window, admission, conditions, SLA, sessions, events"},
	{"extend", "extend NAME (--by D | --until TIME)", "move the end of a slice later and report whether the extension is admitted"},
	{"cancel", "cancel NAME [--force]", "delete a slice; an active surgical slice needs --force"},
	{"capacity", "capacity [CORE] [--from TIME] [--to TIME]", "per core, what is reserved over time"},
	{"report", "report SLICE [--period START/END | --latest] [-o json|csv|pdf] [--output-file FILE]", "export a slice's signed SLA report (the latest, or one period) as JSON, CSV or PDF"},
}

// reportVerify is `report verify`, the second word read as a subcommand.
var reportVerify = command{"report verify", "report verify FILE|REPORT (--public-keys FILE | --key-secret NAMESPACE/NAME)",
	"check a report's hash chain, figures and signature and say exactly what fails; offline for a FILE with --public-keys"}

// reportValueFlags are the flags of report and report verify that take
// the next argument as their value, for finding the word "verify".
var reportValueFlags = map[string]bool{"--period": true, "--output-file": true, "--public-keys": true, "--key-secret": true}

// commandNames writes "book, list, ... or capacity".
func commandNames() string {
	names := commandList()
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// globalValueFlags take a value and may come before the command.
var globalValueFlags = map[string]bool{
	"-n": true, "--namespace": true, "--kubeconfig": true, "--context": true,
	"-o": true, "--output": true, "--timezone": true,
}

// Parse reads the plugin's command line (without the program name). Every
// error is one line that names the flag or argument and what it wants.
func Parse(args []string, d Defaults) (*Invocation, error) {
	inv, err := parse(args, d)
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		// Not reached: values are quoted where they are echoed. The
		// promise of one line holds even if one is missed.
		return nil, errors.New(oneLine(err.Error()))
	}
	return inv, err
}

func parse(args []string, d Defaults) (*Invocation, error) {
	at := commandIndex(args)
	if at < 0 {
		if slices.ContainsFunc(args, isHelp) {
			return &Invocation{Help: Usage()}, nil
		}
		return nil, fmt.Errorf("no command: want %s (see kubectl medslice --help)", commandNames())
	}
	name := args[at]
	rest := append(slices.Clone(args[:at]), args[at+1:]...)
	idx := slices.IndexFunc(commands, func(c command) bool { return c.name == name })
	if idx < 0 {
		if s := closest(name, commandList()); s != "" {
			return nil, fmt.Errorf("unknown command %q: did you mean %s?", name, s)
		}
		return nil, fmt.Errorf("unknown command %q: want %s", name, commandNames())
	}
	cmd := commands[idx]
	if name == "report" {
		if i := positionalIndex(rest, reportValueFlags); i >= 0 && rest[i] == "verify" {
			cmd, name = reportVerify, reportVerify.name
			rest = append(rest[:i:i], rest[i+1:]...)
		}
	}
	p := &parser{cmd: name, defaults: d}
	fs := p.flags()
	p.fs = fs
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return &Invocation{Command: name, Help: commandHelp(cmd.synopsis, cmd.summary, fs)}, nil
		}
		return nil, p.flagError(err, fs)
	}
	return p.build(fs.Args())
}

func commandList() []string {
	out := make([]string, len(commands))
	for i, c := range commands {
		out[i] = c.name
	}
	return out
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "help" }

// commandIndex finds the command: the first argument that is neither a
// flag nor the value of a global flag, so that `-n surgery list` works as
// kubectl's `-n surgery get` does.
func commandIndex(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return -1
		case a == "help":
			return -1
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if globalValueFlags[a] {
				i++
			}
		default:
			return i
		}
	}
	return -1
}

// positionalIndex is the index of the first argument that is neither a
// flag nor the value of a global flag or of one in valueFlags, or -1.
func positionalIndex(args []string, valueFlags map[string]bool) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return -1
		case strings.HasPrefix(a, "-") && len(a) > 1:
			if globalValueFlags[a] || valueFlags[a] {
				i++
			}
		default:
			return i
		}
	}
	return -1
}

// parser holds the flags of one command as typed, before they are read.
type parser struct {
	cmd      string
	defaults Defaults
	fs       *pflag.FlagSet

	kube     Kube
	output   string
	timezone string

	// book
	profile, core, purpose, protocol string
	devices, servers, ports          []string
	start, end, duration, leadTime   string
	dryRun                           string
	wait                             string
	// list
	allNamespaces bool
	// extend
	by, until string
	// cancel
	force bool
	// capacity
	from, to string
	// report
	period, outputFile string
	latest             bool
	// report verify
	publicKeys, keySecret string
}

func (p *parser) flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("kubectl medslice "+p.cmd, pflag.ContinueOnError)
	fs.SetOutput(discard{})
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.StringVarP(&p.kube.Namespace, "namespace", "n", "", "`NAMESPACE` of the slices (default: the context's namespace)")
	fs.StringVar(&p.kube.Kubeconfig, "kubeconfig", "", "`PATH` of the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&p.kube.Context, "context", "", "kubeconfig `CONTEXT` to use (default: the current context)")
	fs.StringVar(&p.timezone, "timezone", "", "IANA time `ZONE` to read and show local times in, e.g. Europe/Berlin (default: TZ or the system's)")
	switch p.cmd {
	case "cancel", reportVerify.name:
	case "report":
		fs.StringVarP(&p.output, "output", "o", string(FormatJSON), "export `FORMAT`: json (the signed evidence), csv or pdf (for people)")
	default:
		fs.StringVarP(&p.output, "output", "o", string(FormatTable), "output `FORMAT`: table, yaml or json")
	}
	switch p.cmd {
	case "book":
		fs.StringVar(&p.profile, "profile", "", "`NAME` of the SliceProfile to follow, e.g. surgery-urllc (required)")
		fs.StringVar(&p.core, "core", "", "`NAME` of the CoreNetwork to provision on (required)")
		fs.StringArrayVar(&p.devices, "device", nil, "device as `NAME=ADDRESS`, ADDRESS IPv4 or IPv6; repeat it, or give one NAME twice for both families (required)")
		fs.StringArrayVar(&p.servers, "server", nil, "application server, an IP address or CIDR: `IP|CIDR`; repeatable (required)")
		fs.StringArrayVar(&p.ports, "port", nil, "server port or range: `N|N-M`; repeatable (default: any port)")
		fs.StringVar(&p.protocol, "protocol", "", "`PROTOCOL` of the flows: UDP, TCP or ANY (default UDP)")
		fs.StringVar(&p.start, "start", "", "`TIME` the slice is needed from: RFC 3339, local \"2026-11-22 08:00\", \"08:00\" today, or \"now\" (required)")
		fs.StringVar(&p.duration, "duration", "", "length of the window, a `DURATION` such as 4h or 3h30m")
		fs.StringVar(&p.end, "end", "", "`TIME` the window ends, in the forms --start takes (instead of --duration)")
		fs.StringVar(&p.leadTime, "lead-time", "", "`DURATION` before start to provision and verify, 0s to 24h (default 0s: provisioned at start)")
		fs.StringVar(&p.purpose, "purpose", "", "`TEXT` saying what the slice is for, e.g. \"robotic prostatectomy, OR-3\"; never a patient's name")
		fs.StringVar(&p.dryRun, "dry-run", "", "`MODE` server (alone, --dry-run means server): validate on the API server and create nothing; client: check here only")
		fs.Lookup("dry-run").NoOptDefVal = string(DryRunServer)
		fs.StringVar(&p.wait, "wait", DefaultWait.String(), "`DURATION` to wait for the admission decision; 0 does not wait")
	case "list":
		fs.BoolVarP(&p.allNamespaces, "all-namespaces", "A", false, "list slices in every namespace")
	case "extend":
		fs.StringVar(&p.by, "by", "", "move the end later by this `DURATION`, e.g. 30m")
		fs.StringVar(&p.until, "until", "", "new end `TIME`, in the forms book --start takes")
		fs.StringVar(&p.wait, "wait", DefaultWait.String(), "`DURATION` to wait for the admission decision; 0 does not wait")
	case "cancel":
		fs.BoolVar(&p.force, "force", false, "release an active surgical slice before its booked end")
	case "capacity":
		fs.StringVar(&p.from, "from", "", "`TIME` the timeline starts (default: now)")
		fs.StringVar(&p.to, "to", "", "`TIME` the timeline ends (default: 24h after --from)")
	case "report":
		fs.StringVar(&p.period, "period", "", "the report of exactly this period, `START/END`, each in the forms book --start takes, e.g. 2026-11-22T08:00:00+01:00/2026-11-22T12:00:00+01:00")
		fs.BoolVar(&p.latest, "latest", false, "the report whose period ends last (the default without --period)")
		fs.StringVar(&p.outputFile, "output-file", "", "write the export to `FILE` instead of standard output (needed for -o pdf on a terminal)")
	case reportVerify.name:
		fs.StringVar(&p.publicKeys, "public-keys", "", "`FILE` of the public keys, the JSON {\"<key id>\": \"<base64 Ed25519 public key>\"} of the signing Secret's public-keys; offline")
		fs.StringVar(&p.keySecret, "key-secret", "", "read the public keys from the signing Secret `NAMESPACE/NAME` on the API server")
	}
	return fs
}

// flagError rewrites pflag's errors into the plugin's one-line form.
func (p *parser) flagError(err error, fs *pflag.FlagSet) error {
	var (
		notExist *pflag.NotExistError
		required *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &notExist):
		flag := "--" + notExist.GetSpecifiedName()
		if sh := notExist.GetSpecifiedShortnames(); sh != "" {
			flag = "-" + sh
		}
		var known []string
		fs.VisitAll(func(f *pflag.Flag) { known = append(known, "--"+f.Name) })
		if s := closest(flag, known); s != "" {
			return fmt.Errorf("unknown flag %s for %s: did you mean %s?", printable(flag), p.cmd, s)
		}
		return fmt.Errorf("unknown flag %s for %s (see kubectl medslice %s --help)", printable(flag), p.cmd, p.cmd)
	case errors.As(err, &required):
		return fmt.Errorf("--%s needs a value", required.GetFlag().Name)
	case errors.As(err, &invalid):
		if invalid.GetFlag().Value.Type() == "bool" {
			return fmt.Errorf("--%s=%s: want true or false", invalid.GetFlag().Name, printable(invalid.GetValue()))
		}
		return fmt.Errorf("--%s %q: %v", invalid.GetFlag().Name, invalid.GetValue(), errors.Unwrap(err))
	}
	return errors.New(printable(err.Error()))
}

// printable is s as typed when it is plain text, else quoted, so that an
// error line never carries a control character from the command line.
func printable(s string) string {
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return strconv.Quote(s)
		}
	}
	return s
}

// build reads the typed flags and positional arguments into an Invocation.
func (p *parser) build(args []string) (*Invocation, error) {
	inv := &Invocation{Command: p.cmd, Kube: p.kube, Output: FormatTable}
	switch {
	case p.cmd == reportVerify.name:
	case p.cmd == "report":
		switch Format(p.output) {
		case FormatJSON, FormatCSV, FormatPDF:
			inv.Output = Format(p.output)
		case "":
			inv.Output = FormatJSON
		default:
			return nil, fmt.Errorf("-o %q: want json, csv or pdf", p.output)
		}
	default:
		switch Format(p.output) {
		case FormatTable, FormatYAML, FormatJSON:
			inv.Output = Format(p.output)
		case "":
		default:
			return nil, fmt.Errorf("-o %q: want table, yaml or json", p.output)
		}
	}
	if p.kube.Namespace != "" {
		if err := checkObjectName("namespace", p.kube.Namespace, 63); err != nil {
			return nil, err
		}
	}
	loc, err := p.location()
	if err != nil {
		return nil, err
	}
	inv.Location = loc
	p.defaults.Location = loc

	switch p.cmd {
	case "book":
		name, err := p.oneName(args)
		if err != nil {
			return nil, err
		}
		o, err := p.book(name)
		if err != nil {
			return nil, err
		}
		if err := o.Validate(p.defaults.Now, loc); err != nil {
			return nil, err
		}
		inv.Book = o
	case "list":
		if len(args) > 0 {
			return nil, fmt.Errorf("list takes no arguments, got %s (to see one slice: kubectl medslice describe NAME)", quoteAll(args))
		}
		inv.List = &ListOptions{AllNamespaces: p.allNamespaces}
	case "describe":
		name, err := p.oneName(args)
		if err != nil {
			return nil, err
		}
		inv.Describe = &DescribeOptions{Name: name}
	case "extend":
		name, err := p.oneName(args)
		if err != nil {
			return nil, err
		}
		if inv.Extend, err = p.extend(name); err != nil {
			return nil, err
		}
	case "cancel":
		name, err := p.oneName(args)
		if err != nil {
			return nil, err
		}
		inv.Cancel = &CancelOptions{Name: name, Force: p.force}
	case "capacity":
		if inv.Capacity, err = p.capacity(args); err != nil {
			return nil, err
		}
	case "report":
		if inv.Report, err = p.report(args, inv.Output); err != nil {
			return nil, err
		}
	case reportVerify.name:
		if inv.Verify, err = p.verify(args); err != nil {
			return nil, err
		}
	}
	return inv, nil
}

func (p *parser) location() (*time.Location, error) {
	if p.timezone != "" {
		loc, err := loadLocation(p.timezone)
		if err != nil {
			return nil, fmt.Errorf("--timezone %q: unknown time zone; want an IANA name such as Europe/Berlin", p.timezone)
		}
		return loc, nil
	}
	if tz := strings.TrimPrefix(p.defaults.TZ, ":"); tz != "" && !strings.HasPrefix(tz, "/") {
		loc, err := loadLocation(tz)
		if err != nil {
			return nil, fmt.Errorf("TZ %q: unknown time zone; set an IANA name such as Europe/Berlin, or pass --timezone", p.defaults.TZ)
		}
		return loc, nil
	}
	if p.defaults.Location == nil {
		return time.Local, nil
	}
	return p.defaults.Location, nil
}

// loadLocation is time.LoadLocation without its file-path forms, which a
// flag has no business reaching.
func loadLocation(name string) (*time.Location, error) {
	if strings.ContainsAny(name, `\`) || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, errors.New("not a zone name")
	}
	return time.LoadLocation(name)
}

func (p *parser) oneName(args []string) (string, error) {
	switch len(args) {
	case 0:
		return "", fmt.Errorf("%s needs the slice name: kubectl medslice %s NAME", p.cmd, p.cmd)
	case 1:
	default:
		return "", fmt.Errorf("%s takes one slice name, got %d: %s", p.cmd, len(args), quoteAll(args))
	}
	if err := checkObjectName("slice name", args[0], 253); err != nil {
		return "", err
	}
	return args[0], nil
}

func quoteAll(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}

// readTime reads a time flag.
func (p *parser) readTime(flag, value string) (time.Time, error) {
	t, err := ParseTime(value, p.defaults.Location, p.defaults.Now)
	if err != nil {
		return time.Time{}, fmt.Errorf("--%s %q: %w", flag, value, err)
	}
	return t, nil
}

func (p *parser) readDuration(flag, value string, min, max time.Duration) (time.Duration, error) {
	d, err := ParseDuration(value, min, max)
	if err != nil {
		return 0, fmt.Errorf("--%s %q: %w", flag, value, err)
	}
	return d, nil
}

// items splits the values of a repeatable flag at commas.
func items(flag string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				return nil, fmt.Errorf("--%s %q: an empty item between commas", flag, v)
			}
			out = append(out, item)
		}
	}
	return out, nil
}

func (p *parser) book(name string) (*BookOptions, error) {
	o := &BookOptions{Name: name, Profile: p.profile, Core: p.core, Purpose: p.purpose}
	var err error
	if o.Devices, err = parseDevices(p.devices); err != nil {
		return nil, err
	}
	if o.Servers, err = parseList("server", p.servers, maxServers, "servers", ParseServer); err != nil {
		return nil, err
	}
	if o.Ports, err = parseList("port", p.ports, maxPorts, "ports", ParsePort); err != nil {
		return nil, err
	}
	switch strings.ToUpper(p.protocol) {
	case "":
	case string(v1alpha1.ProtocolUDP), string(v1alpha1.ProtocolTCP), string(v1alpha1.ProtocolANY):
		o.Protocol = v1alpha1.Protocol(strings.ToUpper(p.protocol))
	default:
		return nil, fmt.Errorf("--protocol %q: want UDP, TCP or ANY", p.protocol)
	}
	switch DryRun(p.dryRun) {
	case DryRunNone, DryRunServer, DryRunClient:
		o.DryRun = DryRun(p.dryRun)
	case "none":
	default:
		return nil, fmt.Errorf("--dry-run=%s: want server or client", printable(p.dryRun))
	}
	if o.Wait, err = p.readDuration("wait", p.wait, 0, maxWait); err != nil {
		return nil, err
	}
	if p.leadTime != "" {
		lt, err := p.readDuration("lead-time", p.leadTime, 0, maxLeadTime)
		if err != nil {
			return nil, err
		}
		o.LeadTime = &lt
	}
	if p.start == "" {
		return nil, errors.New(`--start is required: when the slice is needed, e.g. --start "2026-11-22 08:00"`)
	}
	if o.Start, err = p.readTime("start", p.start); err != nil {
		return nil, err
	}
	switch {
	case p.duration != "" && p.end != "":
		return nil, errors.New("give --duration or --end, not both")
	case p.duration != "":
		d, err := p.readDuration("duration", p.duration, minWindow, 0)
		if err != nil {
			return nil, err
		}
		o.End = o.Start.Add(d.Truncate(time.Second))
	case p.end != "":
		if o.End, err = p.readTime("end", p.end); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("the window needs an end: give --duration (e.g. 4h) or --end")
	}
	return o, nil
}

// parseDevices reads --device values. The same name given twice with one
// IPv4 and one IPv6 address is one dual-stack device.
func parseDevices(values []string) ([]v1alpha1.Device, error) {
	list, err := items("device", values)
	if err != nil {
		return nil, err
	}
	var out []v1alpha1.Device
	owner := map[netip.Addr]string{}
	for _, item := range list {
		name, addr, err := ParseDevice(item)
		if err != nil {
			return nil, fmt.Errorf("--device %q: %w", item, err)
		}
		if other, ok := owner[addr]; ok {
			if other == name {
				return nil, fmt.Errorf("--device %q: given twice", item)
			}
			return nil, fmt.Errorf("--device %q: %s is already device %s's address", item, addr, other)
		}
		owner[addr] = name
		i := slices.IndexFunc(out, func(d v1alpha1.Device) bool { return d.Name == name })
		if i < 0 {
			out = append(out, v1alpha1.Device{Name: name})
			i = len(out) - 1
		}
		d := &out[i]
		if addr.Is4() {
			if d.IPv4 != "" {
				return nil, fmt.Errorf("--device %q: device %s already has IPv4 address %s", item, name, d.IPv4)
			}
			d.IPv4 = addr.String()
		} else {
			if d.IPv6 != "" {
				return nil, fmt.Errorf("--device %q: device %s already has IPv6 address %s", item, name, d.IPv6)
			}
			d.IPv6 = addr.String()
		}
	}
	if len(out) > maxDevices {
		return nil, fmt.Errorf("at most %d devices per slice, got %d", maxDevices, len(out))
	}
	return out, nil
}

// parseList reads a repeatable flag whose items must be distinct.
func parseList(flag string, values []string, limit int, noun string, parse func(string) (string, error)) ([]string, error) {
	list, err := items(flag, values)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, item := range list {
		v, err := parse(item)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", flag, item, err)
		}
		if slices.Contains(out, v) {
			return nil, fmt.Errorf("--%s %q: given twice", flag, item)
		}
		out = append(out, v)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("at most %d %s per slice, got %d", limit, noun, len(out))
	}
	return out, nil
}

func (p *parser) extend(name string) (*ExtendOptions, error) {
	o := &ExtendOptions{Name: name}
	var err error
	if o.Wait, err = p.readDuration("wait", p.wait, 0, maxWait); err != nil {
		return nil, err
	}
	switch {
	case p.by != "" && p.until != "":
		return nil, errors.New("give --by or --until, not both")
	case p.by != "":
		if o.By, err = p.readDuration("by", p.by, time.Second, 0); err != nil {
			return nil, err
		}
	case p.until != "":
		if o.Until, err = p.readTime("until", p.until); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("extend needs --by D (e.g. 30m) or --until TIME")
	}
	return o, nil
}

func (p *parser) capacity(args []string) (*CapacityOptions, error) {
	o := &CapacityOptions{}
	switch len(args) {
	case 0:
	case 1:
		if err := checkObjectName("core name", args[0], 253); err != nil {
			return nil, err
		}
		o.Core = args[0]
	default:
		return nil, fmt.Errorf("capacity takes at most one core name, got %d: %s", len(args), quoteAll(args))
	}
	var err error
	if p.from != "" {
		if o.From, err = p.readTime("from", p.from); err != nil {
			return nil, err
		}
	}
	if p.to != "" {
		if o.To, err = p.readTime("to", p.to); err != nil {
			return nil, err
		}
		from := o.From
		if from.IsZero() {
			from = p.defaults.Now
		}
		if !o.To.After(from) {
			return nil, fmt.Errorf("--to %s is not after --from %s", longMoment(o.To, p.defaults.Location), longMoment(from, p.defaults.Location))
		}
	}
	return o, nil
}

// Usage is the plugin's help.
func Usage() string {
	var b strings.Builder
	b.WriteString("kubectl medslice: book and watch guaranteed 5G slices for surgery.\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Times are RFC 3339 (2026-11-22T08:00:00+01:00) or local: "2026-11-22 08:00",
"08:00" for today, "now". Local means --timezone, else TZ, else the system's.

Reports: "kubectl medslice report SLICE -o pdf --output-file or3.pdf" exports
the latest report of a slice; "kubectl medslice report verify FILE
--public-keys KEYS" checks a JSON export offline.

Common flags: -n/--namespace, --kubeconfig, --context, -o table|yaml|json
(report: json|csv|pdf), --timezone. Run "kubectl medslice COMMAND --help"
(or "kubectl medslice report verify --help") for a command's flags.
`)
	return b.String()
}

func commandHelp(synopsis, summary string, fs *pflag.FlagSet) string {
	return "Usage: kubectl medslice " + synopsis + "\n\n" + summary + ".\n\nFlags:\n" + fs.FlagUsages()
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

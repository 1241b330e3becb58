package sla

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

const (
	// DefaultGrace is how long after its end a window waits for late
	// resolutions before it closes on the clock: the sender's default loss
	// timeout, after which every probe of the window is answered or
	// declared lost, plus a margin for the sender's timer firing late.
	// Windows usually close sooner, as soon as their probes are all
	// resolved (see Tracker).
	DefaultGrace = stamp.DefaultLossTimeout + 500*time.Millisecond
	// DefaultMaxRollups keeps an hour of 1 s windows for the report
	// generator: about 0.7 MB per tracker when full (184 bytes a rollup),
	// reached only by trackers that live that long.
	DefaultMaxRollups = 3600
	// DefaultMaxViolations and DefaultMaxNetworkReports bound the history
	// shown in status.
	DefaultMaxViolations     = 100
	DefaultMaxNetworkReports = 64

	// maxOpenWindows bounds the windows open at once (grace / window + 2),
	// so that a very short window cannot make a tracker allocate without
	// bound.
	maxOpenWindows = 1024
	// recentLen is how many probes are remembered to pair them for IPDV. A
	// probe overtaken by more than this many later ones loses its pairs;
	// the sender's loss timeout ends reordering long before at 10 Hz.
	recentLen = 64
)

// Config configures a Tracker. Zero values take the defaults.
type Config struct {
	// Targets are the SLA targets. A zero Window or VerificationPeriod
	// takes DefaultWindow or DefaultVerificationPeriod.
	Targets Targets
	// Grace is how long after its end a window waits before closing on the
	// clock. It must exceed the sender's loss timeout (stamp.SenderConfig
	// Timeout), or losses reported after it are counted in a later window
	// (WindowRollup.Late).
	Grace time.Duration
	// MaxRollups, MaxViolations and MaxNetworkReports bound the history kept.
	MaxRollups, MaxViolations, MaxNetworkReports int
	// ProbeInterval is the period of the probe stream's schedule: one probe
	// per due time, never sent before it, due times at least ProbeInterval
	// apart (stamp.SenderConfig Interval). It bounds how many probes a window
	// can hold, which early breach detection needs (see early.go). Zero
	// infers it from the shortest gap seen between the send times of
	// consecutive probes; set it to rely on the schedule instead of on the
	// stream never speeding up.
	ProbeInterval time.Duration
}

// Tracker rolls up the probes of one STAMP test session into windows and
// judges them against the SLA. Add is called by the probe's goroutine,
// Evaluate and the accessors by the reconciler; all are safe together.
//
// Windows are [k·Window, (k+1)·Window) since the Unix epoch on the wall
// clock of each probe's send time, so every tracker of a slice shares them.
// A window closes as soon as its probes are all resolved (every sequence
// number from the one after the previous window's last to the one before the
// next window's first is answered or lost), or else once the clock — the
// latest send time seen, or the time given to Evaluate — passes its end plus
// Grace. Windows never reopen; the timeline never moves back (see
// ClockAnomaly).
type Tracker struct {
	mu sync.Mutex

	tg         Targets
	w, grace   int64 // nanoseconds
	maxRollups int

	// Open windows: slots[head] starts at openStart and the others follow,
	// one window each. nOpen counts the slots in use; the rest are reset.
	started     bool
	openStart   int64
	slots       []slot
	head, nOpen int
	// sampleClock is the latest probe send time seen.
	sampleClock int64
	// nextSeq is the sequence number after the last probe of the closed
	// windows; known once a window with probes has closed.
	nextSeq  uint32
	seqKnown bool
	recent   [recentLen]recentProbe

	// Closed windows.
	closedAny            bool
	lastEnd              int64
	windows, goodWindows int
	streaking            bool
	streakStart          int64
	rollups              ring[WindowRollup]
	violations           ring[Violation]
	violationOpen        bool
	violationSeverity    float64

	// A clock step back holds the verdict at ClockAnomaly until a window
	// starting after anomalyBoundary closes with probes in it.
	anomaly         bool
	anomalyBoundary int64
	anomalyMsg      string
	discarded       int

	reports       ring[NetworkReport]
	notGuaranteed *NetworkReport // latest QOS_NOT_GUARANTEED
	guaranteedAt  time.Time      // latest QOS_GUARANTEED; zero if none

	lastEvaluated time.Time
	scratch       []time.Duration // for Summary's median

	// Early breach detection (early.go). nMax is the most probes of its
	// own a window can hold, 0 while unknown; with inferGap it follows
	// minGap, the shortest gap seen between consecutive probes. earlyOff
	// switches detection off for good once its assumptions failed.
	nMax     int
	inferGap bool
	minGap   int64
	earlyOff bool
}

// slot accumulates one open window.
type slot struct {
	sent, received, lost, dups, reordered, late int
	// Sequence numbers of the window's own (not late) probes, to tell when
	// all are resolved.
	hasSeq         bool
	minSeq, maxSeq uint32
	inRange        uint32
	rtts, jitters  []time.Duration
	// rttHigh and jitHigh count the RTTs and |IPDV| over their targets,
	// for early breach detection.
	rttHigh, jitHigh int
	tputMin          float64
	tputN            int
}

func (s *slot) reset() {
	*s = slot{rtts: s.rtts[:0], jitters: s.jitters[:0]}
}

// note records the sequence number of one of the window's own probes, in
// serial arithmetic so that wrap-around is harmless.
func (s *slot) note(seq uint32) {
	switch {
	case !s.hasSeq:
		s.hasSeq, s.minSeq, s.maxSeq = true, seq, seq
	case int32(seq-s.minSeq) < 0:
		s.minSeq = seq
	case int32(seq-s.maxSeq) > 0:
		s.maxSeq = seq
	}
	s.inRange++
}

// recentProbe is what IPDV needs of a probe, kept until its neighbours come.
type recentProbe struct {
	valid        bool
	seq          uint32
	sent         int64
	lost, synced bool
	rtt, fwd     time.Duration
}

func (p recentProbe) sample() stamp.Sample {
	return stamp.Sample{Seq: p.seq, Lost: p.lost, Synchronized: p.synced, RTT: p.rtt, ForwardDelay: p.fwd}
}

// NewTracker checks cfg and fills in defaults.
func NewTracker(cfg Config) (*Tracker, error) {
	if cfg.Targets.Window == 0 {
		cfg.Targets.Window = DefaultWindow
	}
	if cfg.Targets.VerificationPeriod == 0 {
		cfg.Targets.VerificationPeriod = DefaultVerificationPeriod
	}
	if err := cfg.Targets.Validate(); err != nil {
		return nil, err
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Grace < 0 {
		return nil, fmt.Errorf("sla: grace %v must not be negative", cfg.Grace)
	}
	if cfg.MaxRollups < 0 || cfg.MaxViolations < 0 || cfg.MaxNetworkReports < 0 {
		return nil, errors.New("sla: history bounds must not be negative")
	}
	if cfg.ProbeInterval < 0 {
		return nil, fmt.Errorf("sla: probe interval %v must not be negative", cfg.ProbeInterval)
	}
	w, grace := int64(cfg.Targets.Window), int64(cfg.Grace)
	open := (grace+w-1)/w + 2
	if open > maxOpenWindows {
		return nil, fmt.Errorf("sla: window %v is too short for grace %v: more than %d windows would be open at once",
			cfg.Targets.Window, cfg.Grace, maxOpenWindows)
	}
	t := &Tracker{
		tg:         cfg.Targets,
		w:          w,
		grace:      grace,
		maxRollups: cmpOr(cfg.MaxRollups, DefaultMaxRollups),
		slots:      make([]slot, open),
		inferGap:   cfg.ProbeInterval == 0,
	}
	if !t.inferGap {
		t.nMax = maxProbes(w, int64(cfg.ProbeInterval))
	}
	t.rollups.max = t.maxRollups
	t.violations.max = cmpOr(cfg.MaxViolations, DefaultMaxViolations)
	t.reports.max = cmpOr(cfg.MaxNetworkReports, DefaultMaxNetworkReports)
	return t, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Targets returns the targets the tracker judges against.
func (t *Tracker) Targets() Targets { return t.tg }

// Add takes one sample from the STAMP sender. Lost probes count as loss,
// duplicates only as duplicates, reordered replies as delivered and
// reordered. A probe whose window has closed is counted in the oldest open
// window (WindowRollup.Late) rather than dropped, so that a late loss is
// never forgotten; one sent well before the latest probe (more than Grace
// plus a window) means the clock stepped back: it is discarded and the
// verdict is ClockAnomaly until fresh windows close.
func (t *Tracker) Add(s stamp.Sample) {
	sent := s.Sent.UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started {
		t.started = true
		t.openStart = floorTo(sent, t.w)
		t.sampleClock = sent
	}
	if s.Duplicate {
		if i := t.index(sent); i >= 0 && i < t.nOpen {
			t.slot(i).dups++
		}
		return
	}
	if sent < t.sampleClock-t.grace-t.w {
		t.discarded++
		if t.needsAnomaly(t.sampleClock) {
			t.flagAnomaly(t.sampleClock, fmt.Sprintf(
				"probe sent at %s is %s before the latest probe (%s): the clock stepped back; NO-GO until windows after %s close",
				t.clock(sent), formatAge(t.sampleClock-sent), t.clock(t.sampleClock), t.clock(t.sampleClock)))
		}
		return
	}
	if sent > t.sampleClock {
		t.sampleClock = sent
		t.closeUntil(sent, true)
	}
	i := t.index(sent)
	late := i < 0
	if late {
		i = 0
	}
	if i >= len(t.slots) {
		// Cannot happen: closeUntil keeps every send time up to the
		// clock within the open slots. Dropping beats corrupting state.
		t.discarded++
		return
	}
	sl := t.use(i)
	sl.sent++
	if s.Lost {
		sl.lost++
	} else {
		sl.received++
		sl.rtts = append(sl.rtts, s.RTT)
		if t.tg.RTTP99 > 0 && s.RTT > t.tg.RTTP99 {
			sl.rttHigh++
		}
		if s.Reordered {
			sl.reordered++
		}
	}
	if late {
		sl.late++
		if !s.Lost {
			t.earlyOff = true // a late reply: see early.go
		}
	} else {
		sl.note(s.Seq)
	}
	t.pair(recentProbe{valid: true, seq: s.Seq, sent: sent, lost: s.Lost, synced: s.Synchronized, rtt: s.RTT, fwd: s.ForwardDelay})
	if t.nMax > 0 && int(sl.inRange) > t.nMax {
		t.earlyOff = true // more probes than the interval allows: see early.go
	}
	t.closeComplete()
}

// AddThroughput records a throughput measurement taken at at, for the
// MinThroughputKbps target; a window keeps the lowest it received.
// Measurements before the first probe or for a closed window are dropped:
// throughput alone does not open windows.
func (t *Tracker) AddThroughput(at time.Time, kbps float64) {
	n := at.UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.started || math.IsNaN(kbps) {
		return
	}
	i := t.index(n)
	if i < 0 || i >= len(t.slots) {
		return
	}
	sl := t.use(i)
	if sl.tputN == 0 || kbps < sl.tputMin {
		sl.tputMin = kbps
	}
	sl.tputN++
}

// pair computes the IPDV (RFC 5481 §4.2, stamp.IPDV) of p with each
// neighbour already seen, whatever order they arrived in, and counts it in
// the window of the later probe of the pair. A neighbour sent more than
// Grace apart is from an earlier run of the sender, whose sequence numbers
// restarted.
//
// Without Config.ProbeInterval it also infers the interval from the gaps
// between consecutive probes, lost ones included.
func (t *Tracker) pair(p recentProbe) {
	const mask = recentLen - 1
	prev, next := &t.recent[(p.seq-1)&mask], &t.recent[(p.seq+1)&mask]
	hasPrev := prev.valid && prev.seq == p.seq-1 && t.adjacent(prev.sent, p.sent)
	hasNext := next.valid && next.seq == p.seq+1 && t.adjacent(p.sent, next.sent)
	if t.inferGap {
		if hasPrev {
			t.observeGap(p.sent - prev.sent)
		}
		if hasNext {
			t.observeGap(next.sent - p.sent)
		}
	}
	if !p.lost {
		if hasPrev {
			if d, ok := stamp.IPDV(prev.sample(), p.sample()); ok {
				t.addJitter(p.sent, d)
			}
		}
		if hasNext {
			if d, ok := stamp.IPDV(p.sample(), next.sample()); ok {
				t.addJitter(next.sent, d)
			}
		}
	}
	// A loss is remembered too, so that it hides an older probe with the
	// same sequence number.
	t.recent[p.seq&mask] = p
}

func (t *Tracker) adjacent(a, b int64) bool { return a < b && b-a <= t.grace }

func (t *Tracker) addJitter(sent int64, d time.Duration) {
	if i := t.index(sent); i >= 0 && i < t.nOpen {
		sl := t.slot(i)
		d = max(d, -d) // |IPDV|, RFC 5481 §4.2
		sl.jitters = append(sl.jitters, d)
		if t.tg.JitterP99 > 0 && d > t.tg.JitterP99 {
			sl.jitHigh++
		}
	}
}

// index is the slot of send time n relative to the oldest open window,
// negative for a closed window.
func (t *Tracker) index(n int64) int { return int(floorTo(n-t.openStart, t.w) / t.w) }

func (t *Tracker) slot(i int) *slot { return &t.slots[(t.head+i)%len(t.slots)] }

// use returns slot i, opening it and any before it.
func (t *Tracker) use(i int) *slot {
	if i >= t.nOpen {
		t.nOpen = i + 1
	}
	return t.slot(i)
}

// closeUntil closes the windows whose end plus grace is at or before clock.
// With synthesize it also closes the windows no probe was sent in, up to
// clock, as failed (no_samples): the probe stream resumed after a gap. When
// that gap exceeds the rollup history, the windows that would be evicted at
// once are counted without being built.
func (t *Tracker) closeUntil(clock int64, synthesize bool) {
	if clock-t.grace < t.openStart+t.w {
		return
	}
	m := (clock - t.grace - t.openStart) / t.w
	for ; m > 0 && t.nOpen > 0; m-- {
		t.closeFront()
	}
	if !synthesize || m == 0 {
		return
	}
	if extra := m - int64(t.maxRollups); extra > 0 {
		t.skipEmpty(extra)
		m -= extra
	}
	for ; m > 0; m-- {
		t.closeFront()
	}
}

// closeComplete closes the oldest windows while their probes are provably
// all resolved. The probe following the window's last must already be seen
// in a later window: probes are sent in sequence order, so nothing else can
// still belong to the window.
func (t *Tracker) closeComplete() {
	for t.seqKnown && t.nOpen > 1 {
		f := &t.slots[t.head]
		want := t.nextSeq // first sequence number of the next window with probes
		if f.hasSeq {
			if f.minSeq != t.nextSeq || f.inRange != f.maxSeq-f.minSeq+1 {
				return
			}
			want = f.maxSeq + 1
		}
		found := false
		for i := 1; i < t.nOpen && !found; i++ {
			if s := t.slot(i); s.hasSeq {
				if s.minSeq != want {
					return
				}
				found = true
			}
		}
		if !found {
			return
		}
		t.closeFront()
	}
}

// closeFront closes the oldest open window.
func (t *Tracker) closeFront() {
	sl := &t.slots[t.head]
	start := t.openStart
	end := start + t.w
	r := WindowRollup{
		Start:             timeAt(start),
		End:               timeAt(end),
		Sent:              sl.sent,
		Received:          sl.received,
		Lost:              sl.lost,
		Duplicates:        sl.dups,
		Reordered:         sl.reordered,
		Late:              sl.late,
		ThroughputReports: sl.tputN,
		ThroughputKbps:    sl.tputMin,
	}
	if sl.sent > 0 {
		r.LossRatio = float64(sl.lost) / float64(sl.sent)
	}
	if n := len(sl.rtts); n > 0 {
		slices.Sort(sl.rtts)
		r.RTTP50, r.RTTP99, r.RTTMax = nearestRank(sl.rtts, 50), nearestRank(sl.rtts, 99), sl.rtts[n-1]
	}
	if len(sl.jitters) > 0 {
		slices.Sort(sl.jitters)
		r.JitterP99 = nearestRank(sl.jitters, 99)
	}
	failed, worst, severity := judge(t.tg, &r, len(sl.jitters))
	r.Failed, r.Met = failed, len(failed) == 0
	if sl.hasSeq {
		t.nextSeq, t.seqKnown = sl.maxSeq+1, true
	}
	hasProbes := sl.sent > 0
	sl.reset()
	t.head = (t.head + 1) % len(t.slots)
	t.openStart = end
	if t.nOpen > 0 {
		t.nOpen--
	}

	t.windows++
	if t.anomaly && hasProbes && start > t.anomalyBoundary {
		t.anomaly, t.anomalyMsg = false, ""
	}
	if r.Met {
		t.goodWindows++
		if t.violationOpen {
			t.violationOpen = false
			t.violations.last().End = timeAt(start) // windows are contiguous
		}
		if !t.streaking && !t.anomaly {
			t.streaking, t.streakStart = true, start
		}
	} else {
		t.streaking = false
		t.violate(start, 1, r.Failed[worst], severity)
	}
	t.closedAny, t.lastEnd = true, end
	t.rollups.push(r)
}

// skipEmpty accounts for n windows without probes that would be evicted from
// the history as soon as built.
func (t *Tracker) skipEmpty(n int64) {
	t.windows += int(n)
	t.streaking = false
	t.violate(t.openStart, int(n), noSamplesBreach[0], math.Inf(1))
	t.openStart += n * t.w
	t.closedAny, t.lastEnd = true, t.openStart
}

// violate extends the open violation by n bad windows, or opens one at start.
func (t *Tracker) violate(start int64, n int, b Breach, severity float64) {
	if !t.violationOpen {
		t.violations.push(Violation{Start: timeAt(start), Metric: b.Metric, Observed: b.Observed, Target: b.Target, Windows: n})
		t.violationOpen, t.violationSeverity = true, severity
		return
	}
	v := t.violations.last()
	v.Windows += n
	if severity > t.violationSeverity {
		v.Metric, v.Observed, v.Target = b.Metric, b.Observed, b.Target
		t.violationSeverity = severity
	}
}

func (t *Tracker) needsAnomaly(boundary int64) bool {
	return !t.anomaly || boundary > t.anomalyBoundary
}

// flagAnomaly holds the verdict at ClockAnomaly, and restarts verification,
// until a window starting after boundary closes with probes: no window that
// may hold probes from before the step can prove that the SLA holds after it.
func (t *Tracker) flagAnomaly(boundary int64, msg string) {
	t.anomaly, t.anomalyBoundary, t.anomalyMsg = true, boundary, msg
	t.streaking = false
}

// Rollups returns the closed windows kept, oldest first (at most
// Config.MaxRollups). After a clock step back a rollup may start before the
// previous one ended; the report generator should flag it.
func (t *Tracker) Rollups() []WindowRollup {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.rollups.all()
	for i := range out {
		out[i].Failed = slices.Clone(out[i].Failed)
	}
	return out
}

// Violations returns the violations kept, oldest first (at most
// Config.MaxViolations). The last one has a zero End while still open.
func (t *Tracker) Violations() []Violation {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.violations.all()
}

// floorTo rounds n down to a multiple of d, also for negative n.
func floorTo(n, d int64) int64 {
	r := n % d
	if r < 0 {
		r += d
	}
	return n - r
}

func timeAt(n int64) time.Time { return time.Unix(0, n).UTC() }

package sla

import (
	"cmp"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

// t0 is a window boundary on the wall clock, so that window k of a test is
// [t0+k s, t0+(k+1) s).
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

const (
	// probeInterval is the usual 10 Hz probe rate: ten probes per window.
	probeInterval = 100 * time.Millisecond
	// goodRTT meets every test target; a steady stream of it has no jitter.
	goodRTT = 10 * time.Millisecond
	// testVerification keeps the verification period short: five windows.
	testVerification = 5 * time.Second
)

// urllcTargets are the surgery-urllc defaults (DESIGN §2) with a short
// verification period.
func urllcTargets() Targets {
	return Targets{
		RTTP99:              20 * time.Millisecond,
		JitterP99:           5 * time.Millisecond,
		LossRatio:           1e-4,
		AvailabilityPercent: 99.99,
		Window:              time.Second,
		VerificationPeriod:  testVerification,
	}
}

func newTracker(t testing.TB, cfg Config) *Tracker {
	t.Helper()
	if cfg.Targets == (Targets{}) {
		cfg.Targets = urllcTargets()
	}
	tr, err := NewTracker(cfg)
	if err != nil {
		t.Fatalf("NewTracker: %v", err)
	}
	return tr
}

// probe feeds a tracker a periodic probe stream, as a STAMP sender would,
// each sample delivered as soon as it is sent (the tracker only reads send
// times, so delivery order is what matters, not delivery time).
type probe struct {
	tr    *Tracker
	seq   uint32
	next  time.Time     // send time of the next probe
	every time.Duration // probe interval; probeInterval when zero
}

func newProbe(tr *Tracker) *probe { return &probe{tr: tr, next: t0} }

// sample builds the next probe's sample and advances the stream.
func (p *probe) sample(rtt time.Duration, lost bool) stamp.Sample {
	s := stamp.Sample{Seq: p.seq, Sent: p.next, Lost: lost}
	if !lost {
		s.Received, s.RTT = p.next.Add(rtt), rtt
	}
	p.seq++
	p.next = p.next.Add(cmp.Or(p.every, probeInterval))
	return s
}

// reply sends n probes answered after rtt.
func (p *probe) reply(n int, rtt time.Duration) {
	for range n {
		p.tr.Add(p.sample(rtt, false))
	}
}

// lose sends n probes that are reported lost.
func (p *probe) lose(n int) {
	for range n {
		p.tr.Add(p.sample(0, true))
	}
}

// until sends answered probes up to, not including, at.
func (p *probe) until(at time.Time, rtt time.Duration) {
	for p.next.Before(at) {
		p.tr.Add(p.sample(rtt, false))
	}
}

// pause sends nothing for d, as a stalled sender would: sequence numbers
// are taken only by probes actually sent.
func (p *probe) pause(d time.Duration) { p.next = p.next.Add(d) }

// sec is t0 plus s seconds.
func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

package sla

import (
	"testing"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

// benchStream is a 10 Hz probe stream with RTTs spread over 8-12 ms, one
// loss in 500 and one reply in 250 overtaken, as a busy but healthy slice
// would give.
func benchStream(n int) []stamp.Sample {
	out := make([]stamp.Sample, 0, n)
	x := uint32(1)
	for i := range n {
		x = x*1664525 + 1013904223 // LCG: deterministic spread without math/rand
		sent := t0.Add(time.Duration(i) * probeInterval)
		s := stamp.Sample{Seq: uint32(i), Sent: sent}
		switch {
		case i%500 == 499:
			s.Lost = true
		default:
			s.RTT = 8*time.Millisecond + time.Duration(x>>20)*time.Microsecond
			s.Received = sent.Add(s.RTT)
		}
		out = append(out, s)
	}
	for i := 250; i+1 < n; i += 250 {
		out[i], out[i+1] = out[i+1], out[i]
		out[i+1].Reordered = !out[i+1].Lost
	}
	return out
}

// BenchmarkAdd measures the per-sample cost of the probe side. DESIGN §10
// B3 runs 1,000 sessions at 10 Hz, 10,000 samples/s: the cores metric is
// the share of one core that many samples take here.
func BenchmarkAdd(b *testing.B) {
	const streamLen = 1 << 16 // 1.8 h of samples, replayed shifted in time
	stream := benchStream(streamLen)
	tr := newTracker(b, Config{})
	span := time.Duration(streamLen) * probeInterval
	b.ReportAllocs()
	var shift time.Duration
	for i := 0; b.Loop(); i++ {
		j := i % streamLen
		if j == 0 && i > 0 {
			shift += span
		}
		s := stream[j]
		s.Sent = s.Sent.Add(shift)
		s.Seq += uint32(i - j)
		tr.Add(s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*10_000/1e9, "cores/1000x10Hz")
}

// BenchmarkEvaluate measures the reconciler side with a full history: "met"
// with a healthy open window, "early_breach" with a loss in it, which fails
// the 1e-4 loss target before the window closes.
func BenchmarkEvaluate(b *testing.B) {
	for _, bc := range []struct {
		name string
		n    int // samples fed; the 40,000th is lost
	}{{"met", 39_999}, {"early_breach", 40_000}} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTracker(b, Config{Targets: func() Targets {
				tg := urllcTargets()
				tg.VerificationPeriod = 30 * time.Second
				return tg
			}()})
			stream := benchStream(bc.n) // over an hour: the rollup history is full
			for _, s := range stream {
				tr.Add(s)
			}
			now := stream[len(stream)-1].Sent
			b.ReportAllocs()
			for b.Loop() {
				tr.Evaluate(now)
			}
		})
	}
}

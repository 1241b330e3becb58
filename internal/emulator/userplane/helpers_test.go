package userplane

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

// Timeouts of the tests.
const (
	// sessionDeadline bounds one probe session, far above its nominal
	// length so that only a hang trips it.
	sessionDeadline = 30 * time.Second
	// probeLossTimeout is the probes' loss timeout: above the worst queueing
	// a loaded link adds (two queue limits), so that loss means loss.
	probeLossTimeout = time.Second
	// waitFor bounds polling for a condition; pollEvery is its interval.
	waitFor   = 5 * time.Second
	pollEvery = time.Millisecond
)

const testUE = "10.45.0.11"

var (
	testUEAddr      = netip.MustParseAddr(testUE)
	testProbeSource = netip.MustParseAddr("10.100.0.254")
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newForwarder starts a forwarder for the test, closed at its end.
func newForwarder(t testing.TB, cfg Config) *Forwarder {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard()
	}
	if !cfg.ProbeSource.IsValid() {
		cfg.ProbeSource = testProbeSource
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// startReflector runs a STAMP Session-Reflector on a loopback port for the
// test and returns its address.
func startReflector(t testing.TB) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&stamp.Reflector{}).Serve(ctx, conn)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = conn.Close()
	})
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// probe runs a STAMP session of count packets to target and returns the
// samples ordered by sequence number.
func probe(t testing.TB, target netip.AddrPort, count uint32, interval time.Duration) []stamp.Sample {
	t.Helper()
	var samples []stamp.Sample
	s, err := stamp.NewSender(stamp.SenderConfig{
		Target:   target,
		Interval: interval,
		Timeout:  probeLossTimeout,
		Count:    count,
		// Run calls OnSample from its goroutines one at a time and
		// returns after the last, so the slice needs no lock.
		OnSample: func(s stamp.Sample) { samples = append(samples, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sessionDeadline)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("probe session of %d packets did not end within %s", count, sessionDeadline)
	}
	slices.SortFunc(samples, func(a, b stamp.Sample) int { return int(int64(a.Seq) - int64(b.Seq)) })
	return samples
}

// rtts are the round trips of the answered, non-duplicate samples, sorted.
func rtts(samples []stamp.Sample) []time.Duration {
	var out []time.Duration
	for _, s := range samples {
		if !s.Lost && !s.Duplicate {
			out = append(out, s.RTT)
		}
	}
	slices.Sort(out)
	return out
}

func lost(samples []stamp.Sample) int {
	n := 0
	for _, s := range samples {
		if s.Lost {
			n++
		}
	}
	return n
}

// quantile is the q-quantile of sorted values (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitFor)
		}
		time.Sleep(pollEvery)
	}
}

package probe

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

const (
	waitTimeout = 15 * time.Second
	poll        = 10 * time.Millisecond
)

var key = types.NamespacedName{Namespace: "or-1", Name: "surgery"}

// jumpClock is the wall clock plus an offset a test can step.
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *jumpClock) jump(d time.Duration) { c.offset.Add(int64(d)) }

func reflector(t *testing.T) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = (&stamp.Reflector{}).Serve(ctx, conn) }()
	t.Cleanup(func() { cancel(); conn.Close() })
	return netip.MustParseAddrPort(conn.LocalAddr().String())
}

func startManager(t *testing.T, now func() time.Time) *Manager {
	t.Helper()
	m := &Manager{Now: now, EvalInterval: 10 * time.Millisecond, Log: logr.Discard()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for m.Ensure(types.NamespacedName{Name: "warmup"}, Spec{}) != nil {
		time.Sleep(poll) // Start has not set the context yet
	}
	m.Stop(types.NamespacedName{Name: "warmup"})
	return m
}

func fastSpec(targets ...Target) Spec {
	return Spec{Targets: targets, Interval: 10 * time.Millisecond, SLA: sla.Targets{
		RTTP99: 20 * time.Millisecond, LossRatio: 0.05, Window: 200 * time.Millisecond, VerificationPeriod: 600 * time.Millisecond,
	}}
}

func waitVerdict(t *testing.T, m *Manager, what string, ok func(sla.Verdict) bool) sla.Verdict {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		v, probed := m.Verdict(key)
		if probed && ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last verdict %+v", what, v)
		}
		time.Sleep(poll)
	}
}

// A clock that jumps, either way, makes the slice NO-GO until fresh
// measurements say otherwise: time is an input too.
func TestClockJumpsAreNoGo(t *testing.T) {
	clk := &jumpClock{}
	m := startManager(t, clk.now)
	if err := m.Ensure(key, fastSpec(Target{Device: "arm", Addr: reflector(t)})); err != nil {
		t.Fatal(err)
	}
	waitVerdict(t, m, "GO", func(v sla.Verdict) bool { return v.Go })

	clk.jump(10 * time.Second)
	v := waitVerdict(t, m, "NO-GO after the clock jumped forward", func(v sla.Verdict) bool { return !v.Go })
	t.Logf("forward jump: %s: %s", v.Reason, v.Message)
	if v.Reason != sla.Stale && v.Reason != sla.Violated {
		t.Errorf("reason %s after a forward jump, want Stale or Violated", v.Reason)
	}
	waitVerdict(t, m, "GO again", func(v sla.Verdict) bool { return v.Go })

	clk.jump(-20 * time.Second)
	v = waitVerdict(t, m, "NO-GO after the clock jumped back", func(v sla.Verdict) bool { return !v.Go })
	t.Logf("backward jump: %s: %s", v.Reason, v.Message)
	if v.Reason != sla.ClockAnomaly {
		t.Errorf("reason %s after a backward jump, want %s", v.Reason, sla.ClockAnomaly)
	}
}

// A slice is GO only when every device is: one silent device is NO-GO for all.
func TestEveryDeviceMustBeGo(t *testing.T) {
	m := startManager(t, time.Now)
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := m.Ensure(key, fastSpec(
		Target{Device: "arm", Addr: reflector(t)},
		Target{Device: "cam", Addr: netip.MustParseAddrPort(dead.LocalAddr().String())},
	)); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, m, "a verdict naming the silent device", func(v sla.Verdict) bool { return v.Reason == sla.Violated })
	if v.Go || v.SLAMet {
		t.Fatalf("GO or SLAMet with a silent device: %+v", v)
	}
	t.Logf("%s", v.Message)
}

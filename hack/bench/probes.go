package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/probe"
	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

// B3: n probe sessions at 10 packets/s through the emulated user plane, as
// the operator runs them (probe.Manager: STAMP senders and SLA trackers):
// the CPU they cost this process, and how far their RTT is from the delay
// the emulator injects.
func runB3(n int) error {
	const (
		injected = 5 * time.Millisecond
		interval = 100 * time.Millisecond
		warmup   = 3 * time.Second
		measure  = 10 * time.Second
	)
	ctx := context.Background()
	// No base delay and no operator: the only delay on the path is the one
	// injected, so the error is the user plane's and the probes' own.
	stack, stop, err := stack(ctx, devstack.Options{NoOperator: true, EmulatorArgs: []string{"--link-delay", "0", "--timer-spin", "0"}})
	if err != nil {
		return err
	}
	defer stop()
	if err := post(stack.EmulatorURL+"/admin/v1/impairments", map[string]string{"target": "*", "delay": injected.String(), "direction": "both"}, nil); err != nil {
		return err
	}
	var mu sync.Mutex
	var rtts []time.Duration
	recording := false
	obs := &rttObserver{on: func(s stamp.Sample) {
		mu.Lock()
		if recording && !s.Lost && !s.Duplicate {
			rtts = append(rtts, s.RTT)
		}
		mu.Unlock()
	}}
	m := &probe.Manager{Now: time.Now, EvalInterval: 100 * time.Millisecond, Observer: obs, Log: logr.Discard()}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = m.Start(mctx) }()
	time.Sleep(100 * time.Millisecond)
	for i := range n {
		ue := fmt.Sprintf("10.49.%d.%d", i/250, i%250+1)
		var route struct {
			Network string `json:"network"`
		}
		if err := post(stack.EmulatorURL+"/admin/v1/routes", map[string]string{"ue": ue, "target": stack.ReflectorAddr}, &route); err != nil {
			return err
		}
		addr, err := netip.ParseAddrPort(route.Network)
		if err != nil {
			return err
		}
		spec := probe.Spec{Interval: interval, SLA: sla.Targets{RTTP99: 20 * time.Millisecond, LossRatio: -1, Window: time.Second, VerificationPeriod: 30 * time.Second},
			Targets: []probe.Target{{Device: "dev", Addr: addr}}}
		if err := m.Ensure(types.NamespacedName{Namespace: "b3", Name: ue}, spec); err != nil {
			return err
		}
	}
	time.Sleep(warmup)
	mu.Lock()
	recording = true
	mu.Unlock()
	cpu0, wall0 := cpuTime(), time.Now()
	time.Sleep(measure)
	cpu1, wall1 := cpuTime(), time.Now()
	mu.Lock()
	recording = false
	errs := make([]time.Duration, len(rtts))
	for i, r := range rtts {
		errs[i] = r - 2*injected
		if errs[i] < 0 {
			errs[i] = -errs[i]
		}
	}
	got := len(rtts)
	mu.Unlock()
	slices.Sort(errs)
	cores := (cpu1 - cpu0).Seconds() / wall1.Sub(wall0).Seconds()
	fmt.Printf("\nB3 %d probe sessions at %s intervals through the emulated user plane (%s injected each way)\n", n, interval, injected)
	fmt.Printf("  probe side (STAMP senders + SLA trackers): %.3f cores (target <= 0.5); %d samples in %s (%.0f/s)\n", cores, got, measure, float64(got)/measure.Seconds())
	if got > 0 {
		fmt.Printf("  |RTT - injected| p50 %s, p99 %s (target p50 <= 50µs: %s)\n", errs[got/2], errs[got*99/100], verdict(errs[got/2] <= 50*time.Microsecond))
	}
	return nil
}

type rttObserver struct{ on func(stamp.Sample) }

func (o *rttObserver) Sample(_ types.NamespacedName, _ string, s stamp.Sample) { o.on(s) }
func (o *rttObserver) Verdict(types.NamespacedName, sla.Verdict)               {}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func post(url string, body, out any) error {
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var pd struct {
			Detail string `json:"detail"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&pd)
		return fmt.Errorf("POST %s: %s %s", url, resp.Status, pd.Detail)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

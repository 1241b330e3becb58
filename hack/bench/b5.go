package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"runtime"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

// b5Target is DESIGN §10's bound on generating and verifying a day's report.
const b5Target = time.Second

// runB5 measures the evidence of a 24 h slice probed at 10 Hz (DESIGN §10,
// B5): 864,000 STAMP samples judged by a real SLA tracker into 86,400
// one-second windows, then the report built from every raw window (the
// most work Build can be given: the operator hands it windows already
// merged into intervals), sealed, verified, and exported as JSON and PDF.
// It prints each step's time and the heap it needed.
func runB5() error {
	const (
		day      = 24 * time.Hour
		interval = 100 * time.Millisecond
		window   = time.Second
	)
	targets := sla.Targets{RTTP99: 20 * time.Millisecond, JitterP99: 5 * time.Millisecond, LossRatio: 0.001,
		AvailabilityPercent: 99.9, Window: window, VerificationPeriod: 30 * time.Second}
	n := int(day / interval)
	tr, err := sla.NewTracker(sla.Config{Targets: targets, ProbeInterval: interval, MaxRollups: int(day / window), MaxViolations: 1000})
	if err != nil {
		return err
	}
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

	// A day of a surgical slice: RTT around 8–12 ms, one loss in 2,000
	// probes, and a 30 ms spike every 1,000 s (86 bad windows).
	runtime.GC()
	base := heap()
	t0 := time.Now()
	for i := range n {
		sent := start.Add(time.Duration(i) * interval)
		rtt := time.Duration(8000+(i*37)%4000) * time.Microsecond
		if i%10000 == 7 {
			rtt = 30 * time.Millisecond
		}
		s := stamp.Sample{Seq: uint32(i), Sent: sent, Received: sent.Add(rtt), RTT: rtt, TTL: 255}
		if i%2000 == 3 {
			s = stamp.Sample{Seq: uint32(i), Sent: sent, Lost: true}
		}
		tr.Add(s)
	}
	tr.Evaluate(start.Add(day + 5*time.Second))
	track := time.Since(t0)
	rollups, violations := tr.Rollups(), tr.Violations()
	trackHeap := heap() - base

	slice := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "or3-day", Namespace: "or-3", UID: "b5b5b5b5-0000-4000-8000-000000000005"}}
	slice.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "surgery-urllc", CoreRef: "emulator-pcf", Purpose: "B5: a day of robotic surgery",
		Devices:     []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}, Protocol: v1alpha1.ProtocolUDP},
	}
	signer, err := report.GenerateEd25519Signer(rand.Reader)
	if err != nil {
		return err
	}
	ring := report.KeyRing{}
	ring.Add(signer.Public())

	var peak int64
	note := func() { peak = max(peak, heap()) }
	runtime.GC()
	before := heap()
	t1 := time.Now()
	spec, err := report.Build(slice, rollups, violations, targets, report.Period{Start: start, End: start.Add(day)}, nil)
	if err != nil {
		return err
	}
	note()
	if err := report.Seal(spec, signer); err != nil {
		return err
	}
	build := time.Since(t1)
	note()
	t2 := time.Now()
	if ps := report.Verify(spec, ring); len(ps) != 0 {
		return fmt.Errorf("B5: the sealed report does not verify: %v", ps)
	}
	verify := time.Since(t2)
	note()
	r := &v1alpha1.SLAReport{ObjectMeta: metav1.ObjectMeta{Name: "or3-day-20261120", Namespace: "or-3"}, Spec: *spec}
	var js, pdf bytes.Buffer
	t3 := time.Now()
	if err := report.WriteJSON(&js, r); err != nil {
		return err
	}
	jsonTime := time.Since(t3)
	t4 := time.Now()
	if err := report.WritePDF(&pdf, r); err != nil {
		return err
	}
	pdfTime := time.Since(t4)
	note()

	fmt.Printf("B5: 24 h slice at 10 Hz: %d samples -> %d windows (%d violations) by the SLA tracker in %s, %s of heap\n",
		n, len(rollups), len(violations), track.Round(time.Millisecond), mib(trackHeap))
	fmt.Printf("  report from every raw window: %d rollups of %s, measured compliance %s, %d bytes JSON, %d bytes PDF\n",
		len(spec.Rollups), spec.Interval, spec.Measured.Compliance, js.Len(), pdf.Len())
	fmt.Printf("  build+seal %s, verify %s (together %s, target ≤ %s: %s); JSON %s, PDF %s; heap above the windows at most %s\n",
		build.Round(time.Millisecond), verify.Round(time.Millisecond), (build + verify).Round(time.Millisecond), b5Target,
		verdict(build+verify <= b5Target), jsonTime.Round(time.Millisecond), pdfTime.Round(time.Millisecond), mib(max(0, peak-before)))
	return nil
}

// heap is the live heap in KiB (as mib reads it).
func heap() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc / 1024)
}

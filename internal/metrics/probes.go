package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/stamp"
)

var (
	probeRTT = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "medslice_probe_rtt_seconds",
		Help:    "Round-trip time of STAMP probe packets (reflector residence subtracted), per slice.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .015, .02, .03, .05, .1, .15, .25, .5, 1},
	}, []string{"namespace", "slice"})
	probePackets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medslice_probe_packets_total",
		Help: "STAMP probe packets per slice by outcome (received, lost, duplicate).",
	}, []string{"namespace", "slice", "outcome"})
	slaCompliance = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "medslice_sla_compliance_ratio",
		Help: "Good SLA windows / windows since probing started, per slice (worst device).",
	}, []string{"namespace", "slice"})
	slaWindows = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "medslice_sla_windows",
		Help: "SLA windows closed since probing started, per slice and result (good, bad).",
	}, []string{"namespace", "slice", "result"})
	slaViolations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medslice_sla_violations_total",
		Help: "SLA violations (runs of consecutive bad windows) per slice and metric.",
	}, []string{"namespace", "slice", "metric"})
	sliceGo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "medslice_slice_go",
		Help: "1 when the slice is GO (SLA verified by measurement), 0 when NO-GO.",
	}, []string{"namespace", "slice"})
	slaRTTP99 = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "medslice_sla_rtt_p99_seconds",
		Help: "RTT p99 over the verification period, per slice (worst device).",
	}, []string{"namespace", "slice"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(probeRTT, probePackets, slaCompliance, slaWindows, slaViolations, sliceGo, slaRTTP99)
}

// ProbeObserver feeds probe samples and SLA verdicts into the metrics.
type ProbeObserver struct {
	mu            sync.Mutex
	lastViolation map[types.NamespacedName]int64 // start of the last violation counted
}

// Sample records one probe sample.
func (o *ProbeObserver) Sample(slice types.NamespacedName, _ string, s stamp.Sample) {
	switch {
	case s.Duplicate:
		probePackets.WithLabelValues(slice.Namespace, slice.Name, "duplicate").Inc()
	case s.Lost:
		probePackets.WithLabelValues(slice.Namespace, slice.Name, "lost").Inc()
	default:
		probePackets.WithLabelValues(slice.Namespace, slice.Name, "received").Inc()
		probeRTT.WithLabelValues(slice.Namespace, slice.Name).Observe(s.RTT.Seconds())
	}
}

// Verdict records a slice's verdict.
func (o *ProbeObserver) Verdict(slice types.NamespacedName, v sla.Verdict) {
	sum := v.Summary
	ns, name := slice.Namespace, slice.Name
	g := 0.0
	if v.Go {
		g = 1
	}
	sliceGo.WithLabelValues(ns, name).Set(g)
	slaCompliance.WithLabelValues(ns, name).Set(sum.Compliance)
	slaWindows.WithLabelValues(ns, name, "good").Set(float64(sum.GoodWindows))
	slaWindows.WithLabelValues(ns, name, "bad").Set(float64(sum.Windows - sum.GoodWindows))
	slaRTTP99.WithLabelValues(ns, name).Set(sum.RTTP99.Seconds())
	if lv := sum.LastViolation; lv != nil {
		o.mu.Lock()
		if o.lastViolation == nil {
			o.lastViolation = map[types.NamespacedName]int64{}
		}
		if o.lastViolation[slice] != lv.Start.UnixNano() {
			o.lastViolation[slice] = lv.Start.UnixNano()
			slaViolations.WithLabelValues(ns, name, lv.Metric).Inc()
		}
		o.mu.Unlock()
	}
}

// Forget drops a deleted slice's series.
func (o *ProbeObserver) Forget(slice types.NamespacedName) {
	l := prometheus.Labels{"namespace": slice.Namespace, "slice": slice.Name}
	for _, v := range []*prometheus.GaugeVec{slaCompliance, slaWindows, sliceGo, slaRTTP99} {
		v.DeletePartialMatch(l)
	}
	probeRTT.DeletePartialMatch(l)
	probePackets.DeletePartialMatch(l)
	o.mu.Lock()
	delete(o.lastViolation, slice)
	o.mu.Unlock()
}

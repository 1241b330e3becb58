// Package metrics declares medslice's Prometheus metrics. They are registered
// with controller-runtime's registry, so the operator's metrics endpoint
// serves them beside the controller metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// CoreRequests counts calls to a 5G core by core, operation and result.
	CoreRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medslice_core_requests_total",
		Help: "Requests sent to a 5G core (NEF or PCF), by core, operation and result.",
	}, []string{"core", "operation", "result"})

	// CoreRequestDuration observes the latency of calls to a 5G core.
	CoreRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "medslice_core_request_duration_seconds",
		Help:    "Latency of requests to a 5G core, by core, operation and result.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"core", "operation", "result"})

	// Notifications counts callbacks from cores by outcome.
	Notifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medslice_notifications_total",
		Help: "Notifications received from 5G cores, by outcome (accepted, unauthorized, malformed).",
	}, []string{"outcome"})

	// OrphansDeleted counts core sessions the sweep deleted because no slice owned them.
	OrphansDeleted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medslice_orphan_sessions_deleted_total",
		Help: "Core sessions deleted by the sweep because no slice owned them, by core.",
	}, []string{"core"})

	// medslice_slices (MedicalSlices by condition) is counted at scrape
	// time by SliceCollector, which the operator registers with its cache.
)

func init() {
	ctrlmetrics.Registry.MustRegister(CoreRequests, CoreRequestDuration, Notifications, OrphansDeleted)
}

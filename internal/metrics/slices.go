package metrics

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/medslice/medslice/api/v1alpha1"
)

// slicesDesc is medslice_slices. The PrometheusRule's MedSliceAdmissionDeclines
// sums it for condition="Admitted", status="False"; the dashboard plots
// every series.
var slicesDesc = prometheus.NewDesc("medslice_slices",
	"MedicalSlices by condition type (Admitted, Provisioned, SLAMet, Ready) and status (True, False, Unknown; a condition not yet set counts as Unknown).",
	[]string{"condition", "status"}, nil)

// sliceConditions are the conditions counted, in the order of the
// MedicalSlice lifecycle.
var sliceConditions = []string{
	v1alpha1.ConditionAdmitted, v1alpha1.ConditionProvisioned, v1alpha1.ConditionSLAMet, v1alpha1.ConditionReady,
}

var conditionStatuses = []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown}

// DefaultSliceListTimeout bounds one scrape's List, which waits for the
// cache to sync the first time.
const DefaultSliceListTimeout = 5 * time.Second

// SliceCollector serves medslice_slices. It counts MedicalSlices by
// condition when Prometheus scrapes, from the manager's cache, so the
// reconciler does no extra work and the counts cannot drift from the
// objects: a slice deleted, or changed by another replica, is counted as
// it is now.
//
// Only the elected leader reports: every replica's cache holds the same
// slices, so reports from all of them would multiply the sums the alerts
// and the dashboard take over replicas. A replica without leader election
// is its own leader.
type SliceCollector struct {
	// Reader lists MedicalSlices, normally the manager's cache.
	Reader client.Reader
	// Elected is closed once this replica leads (manager.Elected()); nil
	// means it always leads.
	Elected <-chan struct{}
	// Timeout bounds one List; zero means DefaultSliceListTimeout.
	Timeout time.Duration
	// Log receives list errors.
	Log logr.Logger
}

var _ prometheus.Collector = (*SliceCollector)(nil)

// RegisterSliceCollector registers c with controller-runtime's registry,
// which the operator's metrics endpoint serves.
func RegisterSliceCollector(c *SliceCollector) error {
	return ctrlmetrics.Registry.Register(c)
}

// Describe implements prometheus.Collector.
func (c *SliceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- slicesDesc }

// Collect implements prometheus.Collector. Every condition and status is
// reported, zeros included, so that a count falling to zero is a zero and
// not a series that vanishes. When the slices cannot be listed nothing is
// reported: a missing series is honest where a stale count would not be.
func (c *SliceCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.leads() {
		return
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultSliceListTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var list v1alpha1.MedicalSliceList
	// Read only: the cache's objects are not copied for this.
	if err := c.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		c.Log.Error(err, "listing MedicalSlices for medslice_slices; the scrape omits it")
		return
	}
	for cond, byStatus := range CountSliceConditions(list.Items) {
		for st, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(slicesDesc, prometheus.GaugeValue, float64(n), cond, string(st))
		}
	}
}

func (c *SliceCollector) leads() bool {
	if c.Elected == nil {
		return true
	}
	select {
	case <-c.Elected:
		return true
	default:
		return false
	}
}

// CountSliceConditions counts slices by condition type and status; each
// of Admitted, Provisioned, SLAMet and Ready has an entry for True, False
// and Unknown, and a slice without the condition counts as Unknown.
func CountSliceConditions(slices []v1alpha1.MedicalSlice) map[string]map[metav1.ConditionStatus]int {
	out := make(map[string]map[metav1.ConditionStatus]int, len(sliceConditions))
	for _, cond := range sliceConditions {
		out[cond] = make(map[metav1.ConditionStatus]int, len(conditionStatuses))
		for _, st := range conditionStatuses {
			out[cond][st] = 0
		}
	}
	for i := range slices {
		for _, cond := range sliceConditions {
			st := metav1.ConditionUnknown
			if c := meta.FindStatusCondition(slices[i].Status.Conditions, cond); c != nil {
				switch c.Status {
				case metav1.ConditionTrue, metav1.ConditionFalse:
					st = c.Status
				}
			}
			out[cond][st]++
		}
	}
	return out
}

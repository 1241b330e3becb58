package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// sliceLister is a client.Reader that lists a fixed set of slices, as the
// manager's cache would, or fails.
type sliceLister struct {
	client.Reader
	slices []v1alpha1.MedicalSlice
	err    error
	lists  int
}

func (l *sliceLister) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	l.lists++
	if l.err != nil {
		return l.err
	}
	list.(*v1alpha1.MedicalSliceList).Items = l.slices
	return nil
}

func sliceWith(conds ...metav1.Condition) v1alpha1.MedicalSlice {
	return v1alpha1.MedicalSlice{Status: v1alpha1.MedicalSliceStatus{Conditions: conds}}
}

func condition(typ string, st metav1.ConditionStatus) metav1.Condition {
	return metav1.Condition{Type: typ, Status: st, Reason: "Test"}
}

// gather scrapes c in a registry of its own and returns medslice_slices as
// "condition/status" -> value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("scrape failed: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "medslice_slices" {
			t.Errorf("unexpected family %s", mf.GetName())
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[labels["condition"]+"/"+labels["status"]] = m.GetGauge().GetValue()
		}
	}
	return out
}

// zeros is every series the collector reports, at zero.
func zeros() map[string]float64 {
	out := map[string]float64{}
	for _, c := range []string{"Admitted", "Provisioned", "SLAMet", "Ready"} {
		for _, s := range []string{"True", "False", "Unknown"} {
			out[c+"/"+s] = 0
		}
	}
	return out
}

func closed() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// The counts are what the admission-decline alert and the dashboard read:
// one declined booking must show as Admitted/False.
func TestSliceCollectorCountsByCondition(t *testing.T) {
	go1 := sliceWith(
		condition(v1alpha1.ConditionAdmitted, metav1.ConditionTrue),
		condition(v1alpha1.ConditionProvisioned, metav1.ConditionTrue),
		condition(v1alpha1.ConditionSLAMet, metav1.ConditionTrue),
		condition(v1alpha1.ConditionReady, metav1.ConditionTrue),
	)
	declined := sliceWith(
		condition(v1alpha1.ConditionAdmitted, metav1.ConditionFalse),
		condition(v1alpha1.ConditionReady, metav1.ConditionFalse),
	)
	verifying := sliceWith(
		condition(v1alpha1.ConditionAdmitted, metav1.ConditionTrue),
		condition(v1alpha1.ConditionProvisioned, metav1.ConditionTrue),
		condition(v1alpha1.ConditionSLAMet, metav1.ConditionUnknown),
		condition(v1alpha1.ConditionReady, metav1.ConditionFalse),
	)
	fresh := sliceWith() // not reconciled yet

	tests := map[string]struct {
		slices []v1alpha1.MedicalSlice
		want   map[string]float64
	}{
		"no slices: every series at zero": {want: zeros()},
		"one of each": {
			slices: []v1alpha1.MedicalSlice{go1, declined, verifying, fresh},
			want: func() map[string]float64 {
				w := zeros()
				w["Admitted/True"], w["Admitted/False"], w["Admitted/Unknown"] = 2, 1, 1
				w["Provisioned/True"], w["Provisioned/Unknown"] = 2, 2
				w["SLAMet/True"], w["SLAMet/Unknown"] = 1, 3
				w["Ready/True"], w["Ready/False"], w["Ready/Unknown"] = 1, 2, 1
				return w
			}(),
		},
		"two declined bookings": {
			slices: []v1alpha1.MedicalSlice{declined, declined},
			want: func() map[string]float64 {
				w := zeros()
				w["Admitted/False"], w["Ready/False"] = 2, 2
				w["Provisioned/Unknown"], w["SLAMet/Unknown"] = 2, 2
				return w
			}(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := &SliceCollector{Reader: &sliceLister{slices: tc.slices}, Elected: closed(), Log: logr.Discard()}
			if diff := cmp.Diff(tc.want, gather(t, c)); diff != "" {
				t.Errorf("medslice_slices (-want +got):\n%s", diff)
			}
		})
	}
}

// Each scrape counts anew: a slice admitted later leaves the decline count.
func TestSliceCollectorReadsAtScrapeTime(t *testing.T) {
	l := &sliceLister{slices: []v1alpha1.MedicalSlice{sliceWith(condition(v1alpha1.ConditionAdmitted, metav1.ConditionFalse))}}
	c := &SliceCollector{Reader: l, Log: logr.Discard()}
	if got := gather(t, c)["Admitted/False"]; got != 1 {
		t.Fatalf("Admitted/False = %v, want 1", got)
	}
	l.slices = []v1alpha1.MedicalSlice{sliceWith(condition(v1alpha1.ConditionAdmitted, metav1.ConditionTrue))}
	got := gather(t, c)
	if got["Admitted/False"] != 0 || got["Admitted/True"] != 1 {
		t.Errorf("after admission: Admitted/False = %v, Admitted/True = %v; want 0 and 1", got["Admitted/False"], got["Admitted/True"])
	}
	if l.lists != 2 {
		t.Errorf("%d lists for 2 scrapes", l.lists)
	}
}

// A replica that does not lead reports nothing, and does not even list;
// it starts reporting once elected.
func TestSliceCollectorOnlyOnTheLeader(t *testing.T) {
	elected := make(chan struct{})
	l := &sliceLister{slices: []v1alpha1.MedicalSlice{sliceWith()}}
	c := &SliceCollector{Reader: l, Elected: elected, Log: logr.Discard()}
	if got := gather(t, c); len(got) != 0 || l.lists != 0 {
		t.Fatalf("a follower reported %v after %d lists", got, l.lists)
	}
	close(elected)
	if got := gather(t, c); got["Admitted/Unknown"] != 1 {
		t.Errorf("the leader reported %v", got)
	}
}

// A cache that cannot list omits the family rather than failing the whole
// scrape (the metrics server answers 500 on any collector error) or
// reporting stale counts.
func TestSliceCollectorListErrorOmitsTheFamily(t *testing.T) {
	var logged []string
	log := logr.New(&recordSink{lines: &logged})
	c := &SliceCollector{Reader: &sliceLister{err: errors.New("informer not synced")}, Log: log}
	if got := gather(t, c); len(got) != 0 {
		t.Errorf("reported %v although the list failed", got)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "informer not synced") {
		t.Errorf("logged %q, want the list error once", logged)
	}
}

// recordSink is a logr sink that keeps error lines.
type recordSink struct {
	logr.LogSink
	lines *[]string
}

func (s *recordSink) Init(logr.RuntimeInfo)    {}
func (s *recordSink) Enabled(int) bool         { return true }
func (s *recordSink) Info(int, string, ...any) {}
func (s *recordSink) Error(err error, msg string, _ ...any) {
	*s.lines = append(*s.lines, msg+": "+err.Error())
}
func (s *recordSink) WithValues(...any) logr.LogSink { return s }
func (s *recordSink) WithName(string) logr.LogSink   { return s }

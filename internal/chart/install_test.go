package chart

import (
	"context"
	"fmt"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	installTimeout = 60 * time.Second
	pollInterval   = 200 * time.Millisecond
	fieldManager   = "medslice-chart-test"
)

// Kinds of the Prometheus Operator: a real cluster with it serves them, the
// local API server does not. They are skipped, and the test checks that they
// are indeed not served (so that nothing else is skipped by accident).
var notServedKinds = map[string]bool{"ServiceMonitor": true, "PrometheusRule": true}

// installChart renders the chart with every optional part on and applies it
// (server-side apply) to the local API server, CRDs first.
func installChart(ctx context.Context, t *testing.T, c client.Client) []*unstructured.Unstructured {
	t.Helper()
	objs := render(t, true, allOnValues)
	for _, ns := range []string{releaseNamespace, "or-3", "or-4"} {
		err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("namespace %s: %v", ns, err)
		}
	}
	var crds, rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	for _, o := range crds {
		apply(ctx, t, c, o)
		waitEstablished(ctx, t, c, o.GetName())
	}
	var installed []*unstructured.Unstructured
	for _, o := range rest {
		gvk := o.GroupVersionKind()
		_, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if notServedKinds[gvk.Kind] {
			if !meta.IsNoMatchError(err) {
				t.Errorf("%s is served by the local API server (err %v): install it instead of skipping it", gvk, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s %s: kind not served: %v", gvk.Kind, o.GetName(), err)
		}
		apply(ctx, t, c, o)
		installed = append(installed, o)
	}
	return installed
}

func apply(ctx context.Context, t *testing.T, c client.Client, o *unstructured.Unstructured) {
	t.Helper()
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(fieldManager), client.ForceOwnership); err != nil {
		t.Fatalf("applying %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
	}
}

func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(ctx, pollInterval, installTimeout, true, func(ctx context.Context) (bool, error) {
		// Unstructured: the client's scheme has no apiextensions types.
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == string(apiextensionsv1.Established) && m["status"] == string(apiextensionsv1.ConditionTrue) {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v", name, err)
	}
}

// persona is a user as the API server sees them after authentication.
type persona struct {
	user   string
	groups []string
}

// The subjects the example bindings of testdata/all-on.yaml name.
var (
	engineer       = persona{"erin", []string{"hospital:engineers", "system:authenticated"}}
	requester      = persona{"rita", []string{"or-3:team", "system:authenticated"}}
	auditorByGroup = persona{"alex", []string{"carrier:auditors", "system:authenticated"}}
	auditorByUser  = persona{"auditor@carrier.example", []string{"system:authenticated"}}
	unbound        = persona{"mallory", []string{"system:authenticated"}}
	operatorSA     = persona{"system:serviceaccount:" + releaseNamespace + ":" + releaseName, []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"}}
)

func TestInstallAndPersonas(t *testing.T) {
	helmBinary(t)
	e := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()

	installed := installChart(ctx, t, e.Client)
	for _, o := range installed {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(o.GroupVersionKind())
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
			t.Errorf("%s %s/%s not stored after install: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	if len(installed) < 30 {
		t.Errorf("only %d objects installed, want the whole chart", len(installed))
	}

	const group = "medslice.io"
	checks := []struct {
		name                   string
		who                    persona
		verb, group, resource  string
		subresource, namespace string
		wantAllowed            bool
	}{
		{"requester books a slice in its namespace", requester, "create", group, "medicalslices", "", "or-3", true},
		{"requester cancels a slice in its namespace", requester, "delete", group, "medicalslices", "", "or-3", true},
		{"requester watches slices in its namespace", requester, "watch", group, "medicalslices", "", "or-3", true},
		{"requester cannot book in another team's namespace", requester, "create", group, "medicalslices", "", "or-4", false},
		{"requester cannot write a slice's status", requester, "update", group, "medicalslices", "status", "or-3", false},
		{"requester reads profiles", requester, "get", group, "sliceprofiles", "", "", true},
		{"requester lists cores", requester, "list", group, "corenetworks", "", "", true},
		{"requester cannot edit profiles", requester, "update", group, "sliceprofiles", "", "", false},
		{"requester cannot create profiles", requester, "create", group, "sliceprofiles", "", "", false},
		{"requester cannot edit cores", requester, "update", group, "corenetworks", "", "", false},
		{"requester cannot delete cores", requester, "delete", group, "corenetworks", "", "", false},
		{"requester reads events in its namespace", requester, "list", "", "events", "", "or-3", true},
		{"requester cannot read the core credentials", requester, "get", "", "secrets", "", releaseNamespace, false},
		{"auditor reads SLA reports", auditorByGroup, "get", group, "slareports", "", "or-3", true},
		{"auditor lists SLA reports everywhere", auditorByUser, "list", group, "slareports", "", "", true},
		{"auditor reads slices", auditorByGroup, "get", group, "medicalslices", "", "or-3", true},
		{"auditor reads profiles and cores", auditorByUser, "get", group, "corenetworks", "", "", true},
		{"auditor cannot read secrets", auditorByGroup, "get", "", "secrets", "", releaseNamespace, false},
		{"auditor cannot read a team's secrets", auditorByUser, "list", "", "secrets", "", "or-3", false},
		{"auditor cannot book slices", auditorByGroup, "create", group, "medicalslices", "", "or-3", false},
		{"auditor cannot alter SLA reports", auditorByUser, "update", group, "slareports", "", "or-3", false},
		{"engineer edits profiles", engineer, "update", group, "sliceprofiles", "", "", true},
		{"engineer creates profiles", engineer, "create", group, "sliceprofiles", "", "", true},
		{"engineer edits cores", engineer, "update", group, "corenetworks", "", "", true},
		{"engineer deletes any slice", engineer, "delete", group, "medicalslices", "", "or-4", true},
		{"engineer reads SLA reports", engineer, "list", group, "slareports", "", "", true},
		{"engineer cannot forge SLA reports", engineer, "create", group, "slareports", "", "or-3", false},
		{"engineer manages core credentials in the operator's namespace", engineer, "create", "", "secrets", "", releaseNamespace, true},
		{"engineer cannot read other namespaces' secrets", engineer, "get", "", "secrets", "", "or-3", false},
		{"unbound user cannot read slices", unbound, "get", group, "medicalslices", "", "or-3", false},
		{"unbound user cannot read profiles", unbound, "list", group, "sliceprofiles", "", "", false},
		{"operator writes slice status", operatorSA, "update", group, "medicalslices", "status", "or-3", true},
		{"operator keeps its leader lease", operatorSA, "update", "coordination.k8s.io", "leases", "", releaseNamespace, true},
		{"operator reads no team's secrets", operatorSA, "get", "", "secrets", "", "or-3", false},
		{"operator cannot edit profiles", operatorSA, "update", group, "sliceprofiles", "", "", false},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   tc.who.user,
				Groups: tc.who.groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: tc.namespace, Verb: tc.verb, Group: tc.group,
					Resource: tc.resource, Subresource: tc.subresource,
				},
			}}
			if err := e.Client.Create(ctx, sar); err != nil {
				t.Fatalf("SubjectAccessReview: %v", err)
			}
			if sar.Status.Allowed != tc.wantAllowed {
				t.Errorf("%s %s %s %s in %q: allowed = %v, want %v (%s)", tc.who.user, tc.verb, tc.resource,
					tc.subresource, tc.namespace, sar.Status.Allowed, tc.wantAllowed, reason(sar))
			}
		})
	}
}

func reason(s *authorizationv1.SubjectAccessReview) string {
	return fmt.Sprintf("reason %q, error %q", s.Status.Reason, s.Status.EvaluationError)
}

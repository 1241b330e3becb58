package console

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// What a user may see and do is found by asking the API server as the
// user: a list that is forbidden is a namespace the user does not see, a
// SelfSubjectAccessReview that is denied is a namespace the form does not
// offer. The console's own identity only lists namespace names, to know
// where to ask.

// parallelism bounds the per-namespace requests of one page.
const parallelism = 8

// visible is the slices a user may list, by namespace.
type visible struct {
	byNamespace map[string][]v1alpha1.MedicalSlice
	// everywhere is true when the user may list slices in every
	// namespace; false when only in the namespaces of byNamespace.
	everywhere bool
	// errs are namespaces that could not be read for another reason than
	// a refusal.
	errs []string
}

// visibleSlices lists what the user may see: every namespace at once if
// RBAC allows it, else namespace by namespace, skipping those it refuses.
func (s *Server) visibleSlices(ctx context.Context, sess *session) (visible, error) {
	_, c := sess.identity()
	var all v1alpha1.MedicalSliceList
	err := c.List(ctx, &all)
	if err == nil {
		v := visible{byNamespace: map[string][]v1alpha1.MedicalSlice{}, everywhere: true}
		for _, sl := range all.Items {
			v.byNamespace[sl.Namespace] = append(v.byNamespace[sl.Namespace], sl)
		}
		return v, nil
	}
	if !apierrors.IsForbidden(err) || impersonationRefused(err) {
		return visible{}, fmt.Errorf("listing slices: %w", err)
	}

	now := s.now()
	candidates, cached := sess.cachedListable(now)
	if !cached {
		if candidates, err = s.namespaces(ctx); err != nil {
			return visible{}, err
		}
	}
	v := visible{byNamespace: map[string][]v1alpha1.MedicalSlice{}}
	var mu sync.Mutex
	forEach(candidates, func(ns string) {
		var list v1alpha1.MedicalSliceList
		err := c.List(ctx, &list, client.InNamespace(ns))
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			v.byNamespace[ns] = list.Items
		case apierrors.IsForbidden(err), apierrors.IsNotFound(err):
		default:
			v.errs = append(v.errs, fmt.Sprintf("namespace %s: %v", ns, err))
		}
	})
	slices.Sort(v.errs)
	if !cached {
		listable := make([]string, 0, len(v.byNamespace))
		for ns := range v.byNamespace {
			listable = append(listable, ns)
		}
		slices.Sort(listable)
		sess.setListable(listable, now)
	}
	return v, nil
}

// impersonationRefused tells whether the API server refused the console
// itself to act as the user, rather than the user: a problem of the
// console's own permissions, which must not read as the user's.
func impersonationRefused(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(statusMessage(err), "cannot impersonate")
}

// namespaces lists every namespace's name, as the console.
func (s *Server) namespaces(ctx context.Context) ([]string, error) {
	var list corev1.NamespaceList
	if err := s.self.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing namespaces (the console's own permission): %w", err)
	}
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		if ns.DeletionTimestamp.IsZero() {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// allowed asks the API server, as the user, whether the user may do verb
// on medicalslices in namespace ns.
func allowed(ctx context.Context, c client.Client, verb, ns string) (bool, error) {
	r := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: v1alpha1.GroupVersion.Group, Resource: "medicalslices",
		},
	}}
	if err := c.Create(ctx, r); err != nil {
		return false, err
	}
	return r.Status.Allowed, nil
}

// bookable is the namespaces where the user may create slices, sorted.
// They are what the booking form offers; the create itself is what RBAC
// decides on.
func (s *Server) bookable(ctx context.Context, sess *session) ([]string, error) {
	all, err := s.namespaces(ctx)
	if err != nil {
		return nil, err
	}
	_, c := sess.identity()
	var (
		mu   sync.Mutex
		out  []string
		errs []error
	)
	forEach(all, func(ns string) {
		ok, err := allowed(ctx, c, "create", ns)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs = append(errs, err)
		case ok:
			out = append(out, ns)
		}
	})
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("asking where you may book: %w", errs[0])
	}
	slices.Sort(out)
	return out, nil
}

// catalog reads the profiles and cores as the user. A list the user may
// not read leaves that part of the catalog unknown (nil).
func (s *Server) catalog(ctx context.Context, sess *session) (Catalog, []string) {
	_, c := sess.identity()
	var (
		cat      Catalog
		problems []string
		profiles v1alpha1.SliceProfileList
		cores    v1alpha1.CoreNetworkList
	)
	if err := c.List(ctx, &profiles); err == nil {
		cat.Profiles = profiles.Items
		if cat.Profiles == nil {
			cat.Profiles = []v1alpha1.SliceProfile{}
		}
	} else if !apierrors.IsForbidden(err) {
		problems = append(problems, fmt.Sprintf("The profiles could not be read: %v", err))
	}
	if err := c.List(ctx, &cores); err == nil {
		cat.Cores = cores.Items
		if cat.Cores == nil {
			cat.Cores = []v1alpha1.CoreNetwork{}
		}
	} else if !apierrors.IsForbidden(err) {
		problems = append(problems, fmt.Sprintf("The cores could not be read: %v", err))
	}
	slices.SortFunc(cat.Profiles, func(a, b v1alpha1.SliceProfile) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(cat.Cores, func(a, b v1alpha1.CoreNetwork) int { return cmp.Compare(a.Name, b.Name) })
	return cat, problems
}

// forEach runs f for every item, at most parallelism at a time.
func forEach(items []string, f func(string)) {
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(it)
		}()
	}
	wg.Wait()
}

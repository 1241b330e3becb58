package plugin

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// CancelOptions are cancel's arguments.
type CancelOptions struct {
	Name string
	// Force releases an active surgical slice before its booked end.
	Force bool
}

// Cancel deletes a slice. An active surgical slice (inside its provisioned
// window, of a URLLC or not pre-emptable profile) is refused unless Force:
// deleting it would tear down a running operation's guarantee (DESIGN §6).
// With Force, the slice is first annotated medslice.io/force-release=true,
// the explicit request the operator needs to release it early. The delete
// is bound to the UID read, so a slice created again under the same name
// meanwhile is never deleted by mistake.
func Cancel(ctx context.Context, env Env, o CancelOptions) error {
	s, err := getSlice(ctx, env, o.Name)
	if err != nil {
		return err
	}
	now := env.Now()
	profile, _ := lookupProfile(ctx, env, s.Spec.Profile) // unknown counts as surgical
	active := activeWindow(s, now) && surgical(s, profile)
	sc := s.Spec.Schedule
	if active && !o.Force {
		what := "profile " + s.Spec.Profile
		if profile == nil {
			what += ", which cannot be read, so it counts as surgical"
		}
		return fmt.Errorf("slice %q is an active surgical slice (%s, %s): cancelling would tear down its guarantee before %s; if that is intended, add --force",
			o.Name, longWindow(sc.Start.Time, sc.End.Time, env.Location), what, longMoment(sc.End.Time, env.Location))
	}
	if o.Force && s.Annotations[v1alpha1.ForceReleaseAnnotation] != "true" {
		patch := client.MergeFrom(s.DeepCopy())
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[v1alpha1.ForceReleaseAnnotation] = "true"
		if err := env.Client.Patch(ctx, s, patch); err != nil {
			return apiError(err, fmt.Sprintf("annotate slice %q with %s", o.Name, v1alpha1.ForceReleaseAnnotation))
		}
	}
	uid := s.UID
	if err := env.Client.Delete(ctx, s, client.Preconditions{UID: &uid}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("slice %q was already deleted", o.Name)
		}
		if apierrors.IsConflict(err) {
			return fmt.Errorf("slice %q was deleted and created again meanwhile: nothing cancelled; look at it again first", o.Name)
		}
		return apiError(err, fmt.Sprintf("delete slice %q", o.Name))
	}

	switch {
	case active:
		fmt.Fprintf(env.Out, "Set %s=true on %s and deleted it: the operator releases its core sessions now, before the booked end %s.\n",
			v1alpha1.ForceReleaseAnnotation, o.Name, longMoment(sc.End.Time, env.Location))
	case sc != nil && !now.Before(sc.End.Time):
		fmt.Fprintf(env.Out, "Deleted %s; its window %s had ended.\n", o.Name, longWindow(sc.Start.Time, sc.End.Time, env.Location))
	case sc != nil:
		fmt.Fprintf(env.Out, "Deleted %s: the booking %s is cancelled and the capacity it held is free again.\n", o.Name, longWindow(sc.Start.Time, sc.End.Time, env.Location))
	default:
		fmt.Fprintf(env.Out, "Deleted %s: the operator releases its core sessions and the capacity it held is free again.\n", o.Name)
	}
	if o.Force && !active {
		fmt.Fprintf(env.Out, "(%s=true was set first, as --force asks; it was not needed.)\n", v1alpha1.ForceReleaseAnnotation)
	}
	return nil
}

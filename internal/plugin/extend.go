package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// ExtendOptions say how far to move a slice's end: By, or to Until.
type ExtendOptions struct {
	Name  string
	By    time.Duration
	Until time.Time
	// Wait is how long to wait for the admission decision; 0 does not wait.
	Wait time.Duration
}

// Extend moves spec.schedule.end later, never earlier, and reports whether
// the operator admitted the longer window. The update carries the
// resourceVersion it read, so a concurrent change is never overwritten: on
// a conflict the slice is read again and the same new end applied, so
// retrying never extends twice.
func Extend(ctx context.Context, env Env, o ExtendOptions) error {
	if (o.By > 0) == !o.Until.IsZero() {
		return errors.New("extend needs --by D (e.g. 30m) or --until TIME, one of them")
	}
	s, err := getSlice(ctx, env, o.Name)
	if err != nil {
		return err
	}
	sc := s.Spec.Schedule
	if sc == nil {
		return fmt.Errorf("slice %q is open-ended (no schedule): there is no end to extend", o.Name)
	}
	now := env.Now()
	oldEnd := sc.End.Time
	if !oldEnd.After(now) {
		return fmt.Errorf("slice %q ended at %s: book a new slice instead", o.Name, longMoment(oldEnd, env.Location))
	}
	newEnd := o.Until
	if o.By > 0 {
		newEnd = oldEnd.Add(o.By)
	}
	newEnd = newEnd.Truncate(time.Second)
	if !newEnd.After(oldEnd) {
		return fmt.Errorf("the new end %s is not after the current end %s: extend only moves the end later", longMoment(newEnd, env.Location), longMoment(oldEnd, env.Location))
	}
	if p, err := lookupProfile(ctx, env, s.Spec.Profile); err == nil && p != nil && p.Spec.MaxDuration != nil {
		if d, max := newEnd.Sub(sc.Start.Time), p.Spec.MaxDuration.Duration; d > max {
			return fmt.Errorf("the window would last %s; profile %s allows at most %s: extend to %s at the latest", FormatDuration(d), s.Spec.Profile, FormatDuration(max), longMoment(sc.Start.Add(max), env.Location))
		}
	}

	var updated *v1alpha1.MedicalSlice
	already := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := getSlice(ctx, env, o.Name)
		if err != nil {
			return err
		}
		if cur.UID != s.UID {
			return fmt.Errorf("slice %q was deleted and created again meanwhile: nothing extended", o.Name)
		}
		if cur.Spec.Schedule == nil {
			return fmt.Errorf("slice %q lost its schedule meanwhile: nothing extended", o.Name)
		}
		if !cur.Spec.Schedule.End.Time.Before(newEnd) {
			already, updated = true, cur
			return nil
		}
		cur.Spec.Schedule.End = metav1.NewTime(newEnd)
		if err := env.Client.Update(ctx, cur); err != nil {
			return err
		}
		updated = cur
		return nil
	})
	if err != nil {
		return extendError(err, o.Name)
	}
	if already {
		fmt.Fprintf(env.Out, "Slice %s already ends at %s; nothing changed.\n", o.Name, longMoment(updated.Spec.Schedule.End.Time, env.Location))
		newEnd = updated.Spec.Schedule.End.Time
	}

	before := s.Status.Admission
	generation := updated.Generation
	got, decided, err := waitForSlice(ctx, env, client.ObjectKeyFromObject(updated), o.Wait, func(s *v1alpha1.MedicalSlice) bool {
		return extensionDecided(s, before, generation, newEnd)
	})
	if err != nil {
		return err
	}
	if env.Output != FormatTable {
		if err := printObject(env.Out, env.Output, got); err != nil {
			return err
		}
	} else if !already {
		fmt.Fprintf(env.Out, "Extended %s: ends %s instead of %s.\n", o.Name, longMoment(newEnd, env.Location), longMoment(oldEnd, env.Location))
	}
	a := got.Status.Admission
	switch {
	case !decided:
		if env.Output == FormatTable {
			if o.Wait <= 0 {
				fmt.Fprintf(env.Out, "Pending: not waited for the decision on the extension; see kubectl medslice describe %s\n", o.Name)
			} else {
				fmt.Fprintf(env.Out, "Pending: no decision on the extension within %s; see kubectl medslice describe %s\n", FormatDuration(o.Wait), o.Name)
			}
		}
		return nil
	case a.Decision == v1alpha1.AdmissionAdmitted && !a.ExtensionDeclined:
		if env.Output == FormatTable {
			fmt.Fprintf(env.Out, "Admitted: %s held %s.\n", reservation(a.Reserved), heldWindow(a, env.Location))
		}
		return nil
	}
	if env.Output == FormatTable {
		fmt.Fprintf(env.Out, "Declined: %s\n", oneLine(a.Message))
	}
	e := &NotAdmittedError{Name: o.Name, Extension: true, Decision: a.Decision, loc: env.Location}
	if a.Until != nil {
		e.Until = a.Until.Time
	}
	return e
}

// extensionDecided tells whether the operator has answered the extension
// to end: admitted (it holds exactly until end), or not (the status was
// computed for the extended generation, or changed since before, and says
// the extension or the whole booking is refused).
func extensionDecided(s *v1alpha1.MedicalSlice, before *v1alpha1.AdmissionStatus, generation int64, end time.Time) bool {
	a := s.Status.Admission
	if a == nil {
		return false
	}
	if a.Decision == v1alpha1.AdmissionAdmitted && !a.ExtensionDeclined && a.Until != nil && a.Until.Time.Equal(end) {
		return true
	}
	refused := a.ExtensionDeclined || a.Decision != v1alpha1.AdmissionAdmitted
	if !refused {
		return false
	}
	if s.Status.ObservedGeneration >= generation {
		return true
	}
	// An operator that does not record observedGeneration: a refusal is
	// new when it differs from what the slice said before the update.
	return before == nil || before.ExtensionDeclined != a.ExtensionDeclined || before.Message != a.Message || before.Decision != a.Decision
}

func extendError(err error, name string) error {
	var ae interface{ Status() metav1.Status }
	if errors.As(err, &ae) {
		return apiError(err, fmt.Sprintf("extend slice %q", name))
	}
	return err
}

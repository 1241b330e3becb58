package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/medslice/medslice/api/v1alpha1"
)

// Env is what a command runs with. Commands read the clock and the time
// zone only from here, so that tests can fix both.
type Env struct {
	// Client talks to the API server; its scheme knows medslice's kinds
	// and the built-in ones (internal/scheme).
	Client client.Client
	// Out is where the command writes its result.
	Out io.Writer
	// Now is the clock.
	Now func() time.Time
	// Location is where times are shown and local times were read.
	Location *time.Location
	// Namespace is the namespace of the slices the command is about.
	Namespace string
	// Output is the output format.
	Output Format
	// OutIsTerminal says that Out is a terminal, where report does not
	// write a PDF.
	OutIsTerminal bool
}

// pollInterval is how often book and extend look for the operator's
// decision while they wait.
const pollInterval = 100 * time.Millisecond

// Run runs the parsed command.
func (inv *Invocation) Run(ctx context.Context, env Env) error {
	switch {
	case inv.Book != nil:
		return Book(ctx, env, *inv.Book)
	case inv.List != nil:
		return List(ctx, env, *inv.List)
	case inv.Describe != nil:
		return Describe(ctx, env, *inv.Describe)
	case inv.Extend != nil:
		return Extend(ctx, env, *inv.Extend)
	case inv.Cancel != nil:
		return Cancel(ctx, env, *inv.Cancel)
	case inv.Capacity != nil:
		return Capacity(ctx, env, *inv.Capacity)
	case inv.Report != nil:
		return Report(ctx, env, *inv.Report)
	case inv.Verify != nil:
		return Verify(ctx, env, *inv.Verify)
	}
	return fmt.Errorf("nothing to run")
}

// NotAdmittedError says that a booking or an extension was decided and not
// admitted. The slice exists; what the operator said was printed.
type NotAdmittedError struct {
	Name      string
	Extension bool
	// Decision is Declined or Preempted; Admitted for an extension that did
	// not fit (the slice keeps what it held until Until).
	Decision v1alpha1.AdmissionDecision
	Until    time.Time
	loc      *time.Location
}

func (e *NotAdmittedError) Error() string {
	if e.Extension && e.Decision == v1alpha1.AdmissionAdmitted {
		return fmt.Sprintf("the extension of slice %q is not admitted; it stays guaranteed until %s", e.Name, longMoment(e.Until, e.loc))
	}
	return fmt.Sprintf("slice %q is booked but not admitted (%s)", e.Name, e.Decision)
}

// printObject writes obj as YAML or JSON, as kubectl -o does: with its
// apiVersion and kind, without managedFields.
func printObject(w io.Writer, f Format, obj client.Object) error {
	obj.GetObjectKind().SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kindOf(obj)))
	obj.SetManagedFields(nil)
	return printData(w, f, obj)
}

// printData writes any value as YAML or JSON.
func printData(w io.Writer, f Format, v any) error {
	var (
		out []byte
		err error
	)
	if f == FormatJSON {
		out, err = json.MarshalIndent(v, "", "    ")
		out = append(out, '\n')
	} else {
		out, err = yaml.Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", f, err)
	}
	_, err = w.Write(out)
	return err
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *v1alpha1.MedicalSlice:
		return "MedicalSlice"
	case *v1alpha1.CoreNetwork:
		return "CoreNetwork"
	case *v1alpha1.SliceProfile:
		return "SliceProfile"
	}
	return ""
}

// printSliceList writes a list as kubectl -o yaml does.
func printSliceList(w io.Writer, f Format, list *v1alpha1.MedicalSliceList) error {
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("MedicalSliceList"))
	for i := range list.Items {
		list.Items[i].SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("MedicalSlice"))
		list.Items[i].SetManagedFields(nil)
	}
	list.ResourceVersion = ""
	return printData(w, f, list)
}

// apiError says what the API server answered, on one line. A refusal by
// validation (the schema, its CEL rules) is shown verbatim: its message is
// written for the person who made the request.
func apiError(err error, action string) error {
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return fmt.Errorf("the API server refused to %s: %s", action, oneLine(err.Error()))
	case apierrors.IsForbidden(err):
		return fmt.Errorf("not allowed to %s: %s", action, oneLine(err.Error()))
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("cannot %s: the API server does not accept your credentials (%s)", action, oneLine(err.Error()))
	}
	return fmt.Errorf("cannot %s: %s", action, oneLine(err.Error()))
}

// getSlice reads a slice, saying which namespace it was looked for in
// and, when the name looks like a typo, which slice was meant.
func getSlice(ctx context.Context, env Env, name string) (*v1alpha1.MedicalSlice, error) {
	var s v1alpha1.MedicalSlice
	err := env.Client.Get(ctx, types.NamespacedName{Namespace: env.Namespace, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		var list v1alpha1.MedicalSliceList
		if env.Client.List(ctx, &list, client.InNamespace(env.Namespace)) == nil {
			names := make([]string, len(list.Items))
			for i := range list.Items {
				names[i] = list.Items[i].Name
			}
			if c := closest(name, names); c != "" {
				return nil, fmt.Errorf("slice %q not found in namespace %s: did you mean %s?", name, env.Namespace, c)
			}
		}
		return nil, fmt.Errorf("slice %q not found in namespace %s (kubectl medslice list shows its slices; -n picks another namespace)", name, env.Namespace)
	}
	if err != nil {
		return nil, apiError(err, fmt.Sprintf("read slice %q", name))
	}
	return &s, nil
}

// waitForSlice reads the slice until decided says the operator has
// answered, or for at most d. It returns the last version read and whether
// it was decided. A slice that disappears meanwhile is an error.
func waitForSlice(ctx context.Context, env Env, key types.NamespacedName, d time.Duration, decided func(*v1alpha1.MedicalSlice) bool) (*v1alpha1.MedicalSlice, bool, error) {
	var last v1alpha1.MedicalSlice
	if err := env.Client.Get(ctx, key, &last); err != nil {
		return nil, false, apiError(err, fmt.Sprintf("read slice %q", key.Name))
	}
	if decided(&last) || d <= 0 {
		return &last, decided(&last), nil
	}
	var readErr error
	err := wait.PollUntilContextTimeout(ctx, pollInterval, d, false, func(ctx context.Context) (bool, error) {
		var s v1alpha1.MedicalSlice
		if err := env.Client.Get(ctx, key, &s); err != nil {
			if apierrors.IsNotFound(err) {
				readErr = fmt.Errorf("slice %q was deleted while waiting for its admission decision", key.Name)
				return false, readErr
			}
			return false, nil // transient: the next poll may succeed
		}
		last = s
		return decided(&s), nil
	})
	if readErr != nil {
		return nil, false, readErr
	}
	if err != nil && !wait.Interrupted(err) {
		return nil, false, err
	}
	return &last, decided(&last), nil
}

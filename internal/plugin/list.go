package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// ListOptions are list's flags.
type ListOptions struct {
	AllNamespaces bool
}

// List writes the slices of the namespace (or of all) with their window,
// admission and GO / NO-GO.
func List(ctx context.Context, env Env, o ListOptions) error {
	var list v1alpha1.MedicalSliceList
	var opts []client.ListOption
	if !o.AllNamespaces {
		opts = append(opts, client.InNamespace(env.Namespace))
	}
	if err := env.Client.List(ctx, &list, opts...); err != nil {
		where := "namespace " + env.Namespace
		if o.AllNamespaces {
			where = "all namespaces"
		}
		return apiError(err, "list slices in "+where)
	}
	if env.Output != FormatTable {
		return printSliceList(env.Out, env.Output, &list)
	}
	if len(list.Items) == 0 {
		if o.AllNamespaces {
			_, err := fmt.Fprintln(env.Out, "No slices in any namespace.")
			return err
		}
		_, err := fmt.Fprintf(env.Out, "No slices in namespace %s.\n", env.Namespace)
		return err
	}
	return renderList(env.Out, list.Items, o.AllNamespaces, env.Now(), env.Location)
}

// renderList writes the table of list.
func renderList(w io.Writer, items []v1alpha1.MedicalSlice, allNamespaces bool, now time.Time, loc *time.Location) error {
	tw := newTable(w)
	header := []string{"NAME", "PROFILE", "CORE", "WINDOW", "ADMISSION", "GO", "RTT-P99", "REASON"}
	if allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for i := range items {
		s := &items[i]
		v := VerdictOf(s)
		var rtt *string
		if s.Status.SLA != nil {
			l := latency(s.Status.SLA.RTTP99)
			rtt = &l
		}
		row := []string{s.Name, s.Spec.Profile, s.Spec.CoreRef, windowCell(s, now, loc), admissionCell(s), v.String(), deref(rtt, "-"), orDash(v.Reason)}
		if allNamespaces {
			row = append([]string{s.Namespace}, row...)
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func windowCell(s *v1alpha1.MedicalSlice, now time.Time, loc *time.Location) string {
	start, end, ok := window(s)
	if !ok {
		return "open-ended"
	}
	return shortWindow(start, end, now, loc)
}

func deref(p *string, otherwise string) string {
	if p == nil {
		return otherwise
	}
	return *p
}

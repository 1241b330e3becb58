package hostile

import (
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hostileInput is one row: an input, what its sender must be told, and
// (checked for every row) that nothing changed.
type hostileInput struct {
	// area is the part of medslice the input reaches: api, notification
	// or console.
	area string
	name string
	// try sends the input and returns the answer.
	try func(t *testing.T, f *fixture) answer
	// wantStatus is the HTTP status of the refusal.
	wantStatus int
	// want is part of the message the sender reads: what is wrong, in
	// words that say what to do.
	want string
}

// minInputs is issue 6's floor for the table.
const minInputs = 40

// TestHostileInputs sends every hostile input and checks that it is
// refused with its message and that no state changed: no medslice object
// created, changed or deleted, no notification delivered, no console
// session opened.
func TestHostileInputs(t *testing.T) {
	f := setup(t)
	inputs := append(append(apiInputs(), notificationInputs()...), consoleInputs()...)
	if len(inputs) < minInputs {
		t.Errorf("%d hostile inputs, want at least %d", len(inputs), minInputs)
	}
	perArea := map[string]int{}
	seen := map[string]bool{}
	for _, in := range inputs {
		perArea[in.area]++
		name := in.area + "/" + in.name
		if seen[name] {
			t.Errorf("two rows named %q", name)
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			before := f.state(t)
			got := in.try(t, f)
			t.Logf("answered %d: %s", got.status, clip(got.message))
			if got.status != in.wantStatus {
				t.Errorf("status %d, want %d; message: %s", got.status, in.wantStatus, clip(got.message))
			}
			if !strings.Contains(got.message, in.want) {
				t.Errorf("message %q\ndoes not say %q", clip(got.message), in.want)
			}
			if got.session {
				t.Errorf("the console opened a session")
			}
			if diff := cmp.Diff(before, f.state(t), cmp.AllowUnexported(state{})); diff != "" {
				t.Errorf("state changed (-before +after):\n%s", diff)
			}
		})
	}
	t.Logf("%d hostile inputs: %d to the API server, %d notifications, %d to the console",
		len(inputs), perArea["api"], perArea["notification"], perArea["console"])
}

// clip shortens a long answer (a page, a 4 MiB echo) for the log.
func clip(s string) string {
	const max = 600
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

func newJar(t *testing.T) *cookiejar.Jar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}

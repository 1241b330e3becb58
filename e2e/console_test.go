//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	_ "time/tzdata" // the console's location without the system's zone database

	"github.com/chromedp/chromedp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/console"
	"github.com/medslice/medslice/internal/devstack"
)

// The console end to end, in headless Chromium against the whole stack
// (real control plane, operator, core emulator with its user plane): a
// surgery team signs in with a service account token, books a slice,
// watches the board turn GO as the operator measures it, extends it and
// cancels it; a team bound to another namespace sees none of it and cannot
// book there. The board's screenshot is written where the log says.

const (
	// chromiumPath is the Debian package chromium's binary.
	chromiumPath = "/usr/bin/chromium"
	// consoleGoTimeout bounds booking → GO: provisioning plus the
	// iot-mmtc profile's 30 s verification period.
	consoleGoTimeout = 120 * time.Second
	// staleTimeout bounds how long the board takes to show NO-GO once it
	// cannot refresh (the script's 15 s) and GO again once it can.
	staleTimeout = 30 * time.Second
	// boardPoll is how often the test reads the board, as a person glancing at it.
	boardPoll = time.Second
	// browserTimeout bounds one page action in the browser.
	browserTimeout = 30 * time.Second
	// consoleTestTimeout bounds the whole test.
	consoleTestTimeout = 6 * time.Minute

	consoleNamespace = "e2e-console"
	otherNamespace   = "e2e-console-other"
	consoleSlice     = "vitals-or7"
	consoleDeviceIP  = "10.45.200.7"
	// screenshotDirEnv, when set, keeps the screenshots there instead of
	// the test's temporary directory (which is removed after the test).
	screenshotDirEnv = "MEDSLICE_E2E_SCREENSHOTS"
)

func TestConsoleInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: install the Debian package chromium (apt-get install -y chromium) to run the console's browser test", chromiumPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), consoleTestTimeout)
	defer cancel()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv(screenshotDirEnv)
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	surgeonToken := consoleTeam(ctx, t, consoleNamespace, "surgeon")
	otherToken := consoleTeam(ctx, t, otherNamespace, "other-team")

	logger := zap.New(zap.WriteTo(os.Stdout), zap.UseDevMode(true))
	ctrllog.SetLogger(logger) // the clients' own warnings, as the operator would log them
	srv, err := console.New(console.Config{
		RestConfig: stack.Config,
		Location:   loc,
		Log:        logger.WithName("console"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// down, when set, makes the console answer 503, as one that cannot be reached.
	var down atomic.Bool
	handler := srv.Handler()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "console down for the test", http.StatusServiceUnavailable)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	defer web.Close()

	surgeon := newBrowser(ctx, t)
	other := newBrowser(ctx, t)

	// Sign in and book.
	browse(t, surgeon, "sign in as the surgery team", signIn(web.URL, surgeonToken))
	start := time.Now().In(loc).Format("2006-01-02T15:04") // this minute: provisioned now
	var flash string
	browse(t, surgeon, "book a slice",
		chromedp.Navigate(web.URL+"/book"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SetValue(chromedp.CSS("#name"), consoleSlice),
		chromedp.SetValue(chromedp.CSS("#namespace"), consoleNamespace),
		chromedp.SetValue(chromedp.CSS("#profile"), "iot-mmtc"),
		chromedp.SetValue(chromedp.CSS("#core"), devstack.CorePCF),
		chromedp.SetValue(chromedp.CSS("#purpose"), "vital-signs monitor, OR-7"),
		chromedp.SetValue(chromedp.CSS("#devices"), "monitor="+consoleDeviceIP),
		chromedp.SetValue(chromedp.CSS("#servers"), "10.100.0.10"),
		chromedp.SetValue(chromedp.CSS("#ports"), "5000-5010"),
		chromedp.SetValue(chromedp.CSS("#start"), start),
		chromedp.SetValue(chromedp.CSS("#duration"), "1h"),
		chromedp.Click(chromedp.CSS(`form[action="/book"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(&flash, chromedp.Text(chromedp.CSS(".flash"))),
	)
	if !strings.Contains(flash, "Booked "+consoleSlice) {
		t.Fatalf("after booking the page says %q", flash)
	}
	var booked v1alpha1.MedicalSlice
	if err := stack.Client.Get(ctx, client.ObjectKey{Namespace: consoleNamespace, Name: consoleSlice}, &booked); err != nil {
		t.Fatalf("the booked slice: %v", err)
	}
	t.Logf("booked %s/%s: %s–%s", booked.Namespace, booked.Name, booked.Spec.Schedule.Start.In(loc), booked.Spec.Schedule.End.In(loc))

	// Watch the board, as a person would: its own script refreshes it.
	verdict := fmt.Sprintf(`[data-slice="%s/%s"] .verdict-text`, consoleNamespace, consoleSlice)
	why := fmt.Sprintf(`[data-slice="%s/%s"] .why`, consoleNamespace, consoleSlice)
	browse(t, surgeon, "open the board", chromedp.Navigate(web.URL+"/"), chromedp.WaitVisible(chromedp.CSS(verdict)))
	waitVerdict(t, surgeon, verdict, why, v1alpha1.VerdictGo, "", consoleGoTimeout, filepath.Join(shots, "console-board-not-go.png"))
	var rtt string
	browse(t, surgeon, "read the RTT", into(&rtt, chromedp.Text(chromedp.CSS(fmt.Sprintf(`[data-slice="%s/%s"] dl.facts div:nth-child(2) dd`, consoleNamespace, consoleSlice)))))
	if rtt == "" || rtt == "–" {
		t.Errorf("GO without a measured RTT on the board: %q", rtt)
	}
	screenshot(t, surgeon, filepath.Join(shots, "console-board-go.png"))

	// The core's capacity timeline counts the booking.
	var stretches string
	browse(t, surgeon, "open the capacity timeline",
		chromedp.Navigate(web.URL+"/capacity/"+devstack.CorePCF),
		chromedp.WaitVisible(chromedp.CSS("table.timeline")),
		into(&stretches, chromedp.Text(chromedp.CSS("main"))),
	)
	if !strings.Contains(stretches, consoleNamespace+"/"+consoleSlice) {
		t.Errorf("the capacity timeline of %s does not name the booking:\n%s", devstack.CorePCF, stretches)
	}
	screenshot(t, surgeon, filepath.Join(shots, "console-capacity.png"))
	browse(t, surgeon, "back to the board", chromedp.Navigate(web.URL+"/"), chromedp.WaitVisible(chromedp.CSS(verdict)))

	// A board that can no longer refresh stops showing GO: stale is NO-GO.
	down.Store(true)
	waitVerdict(t, surgeon, verdict, why, v1alpha1.VerdictNoGo, "Stale", staleTimeout, filepath.Join(shots, "console-board-not-stale.png"))
	screenshot(t, surgeon, filepath.Join(shots, "console-board-stale.png"))
	down.Store(false)
	waitVerdict(t, surgeon, verdict, why, v1alpha1.VerdictGo, "", staleTimeout, filepath.Join(shots, "console-board-not-back.png"))

	// Another team sees none of it and cannot book in the surgeon's namespace.
	browse(t, other, "sign in as the other team", signIn(web.URL, otherToken))
	var board string
	var showsNamespace bool
	browse(t, other, "read the other team's board", chromedp.Navigate(web.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#board")),
		into(&board, chromedp.Text(chromedp.CSS("body"))),
		into(&showsNamespace, chromedp.Evaluate[bool](fmt.Sprintf(`document.getElementById(%q) !== null`, "ns-"+consoleNamespace))))
	if strings.Contains(board, consoleSlice) || showsNamespace {
		t.Errorf("the other team's board shows the surgeon's namespace or slice:\n%s", board)
	}
	var denied string
	browse(t, other, "open the surgeon's slice", chromedp.Navigate(web.URL+"/slices/"+consoleNamespace+"/"+consoleSlice), into(&denied, chromedp.Text(chromedp.CSS("main"))))
	if !strings.Contains(denied, "You may not see slices in namespace "+consoleNamespace) {
		t.Errorf("the other team opening the surgeon's slice sees: %s", denied)
	}
	var offered []string
	browse(t, other, "read the namespaces offered", chromedp.Navigate(web.URL+"/book"), chromedp.WaitVisible(chromedp.CSS("#namespace")),
		into(&offered, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#namespace option')).map(o => o.value).filter(v => v)`)))
	if strings.Join(offered, ",") != otherNamespace {
		t.Errorf("the form offers the other team %v, want only %s", offered, otherNamespace)
	}
	var summary string
	browse(t, other, "book in the surgeon's namespace anyway",
		// A tampered form: the namespace the form does not offer.
		into(new(string), chromedp.Evaluate[string](fmt.Sprintf(`(() => { const s = document.querySelector('#namespace'); s.add(new Option(%q, %q, true, true)); return s.value; })()`, consoleNamespace, consoleNamespace))),
		chromedp.SetValue(chromedp.CSS("#name"), "intruder"),
		chromedp.SetValue(chromedp.CSS("#profile"), "iot-mmtc"),
		chromedp.SetValue(chromedp.CSS("#core"), devstack.CorePCF),
		chromedp.SetValue(chromedp.CSS("#devices"), "monitor=10.45.200.8"),
		chromedp.SetValue(chromedp.CSS("#servers"), "10.100.0.10"),
		chromedp.SetValue(chromedp.CSS("#duration"), "1h"),
		chromedp.Click(chromedp.CSS(`form[action="/book"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".error-summary")),
		into(&summary, chromedp.Text(chromedp.CSS(".error-summary"))),
	)
	if !strings.Contains(summary, "You may not book slices in namespace "+consoleNamespace) {
		t.Errorf("the refusal says: %s", summary)
	}
	screenshot(t, other, filepath.Join(shots, "console-other-team-refused.png"))
	var intruder v1alpha1.MedicalSlice
	if err := stack.Client.Get(ctx, client.ObjectKey{Namespace: consoleNamespace, Name: "intruder"}, &intruder); !apierrors.IsNotFound(err) {
		t.Errorf("the other team's booking exists in %s: %v", consoleNamespace, err)
	}

	// Extend by 30 minutes; the operator admits the longer window.
	browse(t, surgeon, "extend",
		chromedp.Navigate(web.URL+"/slices/"+consoleNamespace+"/"+consoleSlice),
		chromedp.WaitVisible(chromedp.CSS("#by")),
		chromedp.SetValue(chromedp.CSS("#by"), "30m"),
		chromedp.Click(chromedp.CSS(`form[action$="/extend"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(&flash, chromedp.Text(chromedp.CSS(".flash"))),
	)
	if !strings.Contains(flash, "Extended "+consoleSlice) {
		t.Errorf("after extending the page says %q", flash)
	}
	wantEnd := booked.Spec.Schedule.End.Add(30 * time.Minute)
	eventually(t, settleTimeout, "extension admitted", func() (bool, string) {
		var s v1alpha1.MedicalSlice
		if err := stack.Client.Get(ctx, client.ObjectKeyFromObject(&booked), &s); err != nil {
			return false, err.Error()
		}
		a := s.Status.Admission
		if !s.Spec.Schedule.End.Time.Equal(wantEnd) || a == nil || a.Until == nil {
			return false, fmt.Sprintf("end %s, admission %+v", s.Spec.Schedule.End, a)
		}
		return a.Decision == v1alpha1.AdmissionAdmitted && a.Until.Time.Equal(wantEnd), fmt.Sprintf("%s until %s: %s", a.Decision, a.Until, a.Message)
	})

	// Cancel, through the confirmation step.
	var confirm string
	browse(t, surgeon, "cancel",
		chromedp.Navigate(web.URL+"/slices/"+consoleNamespace+"/"+consoleSlice),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/cancel"]`)),
		chromedp.Click(chromedp.CSS(`a[href$="/cancel"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/cancel"]`)),
		into(&confirm, chromedp.Text(chromedp.CSS(`form[action$="/cancel"]`))),
		chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(&flash, chromedp.Text(chromedp.CSS(".flash"))),
	)
	if !strings.Contains(confirm, "Cancel "+consoleSlice) {
		t.Errorf("the confirmation step says: %s", confirm)
	}
	if !strings.Contains(flash, "Cancelled "+consoleSlice) {
		t.Errorf("after cancelling the page says %q", flash)
	}
	eventually(t, settleTimeout, "slice gone and its core session released", func() (bool, string) {
		var s v1alpha1.MedicalSlice
		err := stack.Client.Get(ctx, client.ObjectKeyFromObject(&booked), &s)
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("slice still there (%v)", err)
		}
		for _, es := range emulatorSessions(t) {
			if strings.HasPrefix(es.Correlation, string(booked.UID)+"/") {
				return false, "emulator session " + es.ID + " still held"
			}
		}
		return true, ""
	})
}

// waitVerdict waits until the board's own refreshes show want, with a
// reason containing because; failing, it keeps a screenshot at failShot.
func waitVerdict(t *testing.T, browser context.Context, verdict, why, want, because string, timeout time.Duration, failShot string) {
	t.Helper()
	began := time.Now()
	var text, reason string
	for {
		browse(t, browser, "read the verdict", into(&text, chromedp.Text(chromedp.CSS(verdict))), into(&reason, chromedp.Text(chromedp.CSS(why))))
		if text == want && strings.Contains(reason, because) {
			t.Logf("the board shows %s after %s: %s", want, time.Since(began).Round(time.Second), reason)
			return
		}
		if time.Since(began) > timeout {
			screenshot(t, browser, failShot)
			t.Fatalf("the board did not show %s (%q) within %s: %s (%s)", want, because, timeout, text, reason)
		}
		time.Sleep(boardPoll)
	}
}

// consoleTeam creates namespace ns with a service account that may manage
// slices there and read the catalog, as a surgery team's, and returns a
// token for it.
func consoleTeam(ctx context.Context, t *testing.T, ns, name string) string {
	t.Helper()
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	objs := []client.Object{
		nsObject(ns),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "requester", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{"medslice.io"}, Resources: []string{"medicalslices"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
			}},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "requester"},
			Subjects:   []rbacv1.Subject{subject},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-console-catalog-" + ns},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"medslice.io"}, Resources: []string{"sliceprofiles", "corenetworks"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "e2e-console-catalog-" + ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "e2e-console-catalog-" + ns},
			Subjects:   []rbacv1.Subject{subject},
		},
	}
	for _, o := range objs {
		if err := stack.Client.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	cs, err := kubernetes.NewForConfig(stack.Config)
	if err != nil {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

// newBrowser starts a headless Chromium with a fresh profile of its own.
func newBrowser(ctx context.Context, t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1400),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil { // start the browser now, without a timeout
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return bctx
}

// browse runs browser steps with a timeout, failing the test with what was
// being done.
func browse(t *testing.T, browser context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// into is a step that runs a and keeps its value in dst.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

func signIn(base, token string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SetValue(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#board-summary")),
	)
}

// screenshot writes the whole page as a PNG and logs where.
func screenshot(t *testing.T, browser context.Context, path string) {
	t.Helper()
	var png []byte
	browse(t, browser, "screenshot", into(&png, chromedp.FullScreenshot(100)))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/testenv"
)

// These tests run the console on the real API server (internal/testenv)
// with service account tokens issued by it (TokenRequest), so that what
// they protect is Kubernetes' own answer: TokenReview for sign-in,
// impersonation and RBAC for every read and write, the CRD's validation
// for what is booked. No operator runs here: status is written by the
// tests where a page needs it.

// env is the control plane, started by the first test that needs it, so
// that unit tests and fuzz workers (each a process running TestMain) do
// not start one.
var env *testenv.Env

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // the clients' warnings are not what these tests read
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop:", err)
		}
	}
	os.Exit(code)
}

const (
	// requestTimeout bounds one test's calls to the API server.
	requestTimeout = 30 * time.Second
	// revocationTimeout bounds how long the API server takes to refuse the
	// token of a deleted service account.
	revocationTimeout = 20 * time.Second
	pollInterval      = 100 * time.Millisecond

	nsA      = "or-a"
	nsB      = "or-b"
	testCore = "campus-core"
)

// fixture is what every integration test shares: two namespaces with a
// surgery team each, the profiles, one core and a console.
type fixture struct {
	console *httptest.Server
	srv     *Server
	// offset moves the console's clock (Config.Now) ahead of real time.
	offset    atomic.Int64
	clientset *kubernetes.Clientset
}

var (
	fix     *fixture
	fixOnce sync.Once
	fixErr  error
)

func setup(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() { fix, fixErr = newFixture() })
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fix
}

func newFixture() (*fixture, error) {
	var err error
	// Start fails, never skips, without bin/etcd and bin/kube-apiserver.
	if env, err = testenv.Start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	c := env.Client
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := devstack.ApplyDir(ctx, c, filepath.Join(root, "config", "profiles")); err != nil {
		return nil, err
	}
	core := &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: testCore}}
	core.Spec = v1alpha1.CoreNetworkSpec{
		API: v1alpha1.CoreAPIPCF, Endpoint: "http://pcf.campus.example:8080", NotificationBaseURL: "http://medslice-notify.medslice-system:8082",
		Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 100_000, GBRDownlinkKbps: 100_000, MaxSessions: 10},
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsA}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsB}},
		core,
		// What the requester persona may read cluster-wide: the catalog.
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "medslice-catalog-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"medslice.io"}, Resources: []string{"sliceprofiles", "corenetworks"}, Verbs: []string{"get", "list", "watch"}}},
		},
	}
	for _, ns := range []string{nsA, nsB} {
		objs = append(objs, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "requester", Namespace: ns},
			Rules: []rbacv1.PolicyRule{{
				APIGroups: []string{"medslice.io"}, Resources: []string{"medicalslices"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
			}},
		})
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	for _, sa := range []struct{ ns, name string }{{nsA, "user-a"}, {nsB, "user-b"}} {
		if err := createRequester(ctx, c, sa.ns, sa.name); err != nil {
			return nil, err
		}
	}

	f := &fixture{}
	if f.clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		return nil, err
	}
	f.srv, err = New(Config{
		RestConfig: env.Config,
		Location:   berlin,
		Now:        func() time.Time { return time.Now().Add(time.Duration(f.offset.Load())) },
		Log:        logr.Discard(),
	})
	if err != nil {
		return nil, err
	}
	f.console = httptest.NewServer(f.srv.Handler())
	env.OnStop(f.console.Close)
	return f, nil
}

// createRequester creates a service account bound to the requester Role
// of its namespace and to the catalog reader, as a surgery team's.
func createRequester(ctx context.Context, c client.Client, ns, name string) error {
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name + "-requester", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "requester"},
			Subjects:   []rbacv1.Subject{subject},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name + "-catalog"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "medslice-catalog-reader"},
			Subjects:   []rbacv1.Subject{subject},
		},
	} {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

// token asks the API server for a token of a service account (TokenRequest).
func (f *fixture) token(t *testing.T, ns, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	tr, err := f.clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

func ptr[T any](v T) *T { return &v }

// browser is a user agent for the console: it keeps cookies, follows
// redirects, and posts forms with the CSRF token of the last page it saw
// and an Origin header, as a browser does.
type browser struct {
	t    *testing.T
	base string
	jar  http.CookieJar
	csrf string
}

func (f *fixture) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: f.console.URL, jar: jar}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page is one answer: its status, where the redirects ended, its body.
type page struct {
	status int
	path   string
	body   string
}

func (b *browser) do(method, path string, form url.Values, follow bool) (page, *http.Response) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	hc := &http.Client{Jar: b.jar, Timeout: requestTimeout}
	if !follow {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfField.FindStringSubmatch(string(raw)); m != nil {
		b.csrf = m[1]
	}
	p := page{status: resp.StatusCode, path: resp.Request.URL.RequestURI(), body: string(raw)}
	return p, resp
}

func (b *browser) get(path string) page {
	b.t.Helper()
	p, _ := b.do("GET", path, nil, true)
	return p
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	form.Set("csrf", b.csrf)
	p, _ := b.do("POST", path, form, true)
	return p
}

// signIn signs the browser in with token and checks it lands on the board.
func (b *browser) signIn(token string) *http.Response {
	b.t.Helper()
	b.get("/signin")
	_, resp := b.do("POST", "/signin", url.Values{"csrf": {b.csrf}, "token": {token}}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		b.t.Fatalf("sign-in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if p := b.get("/"); p.status != http.StatusOK || p.path != "/" {
		b.t.Fatalf("after sign-in: %d at %s", p.status, p.path)
	}
	return resp
}

func (b *browser) wantStatus(p page, status int, contains ...string) {
	b.t.Helper()
	if p.status != status {
		b.t.Errorf("%s: status %d, want %d", p.path, p.status, status)
	}
	for _, s := range contains {
		if !strings.Contains(p.body, s) {
			b.t.Errorf("%s: the page does not say %q", p.path, s)
		}
	}
}

// bookingIn is a valid booking form for namespace ns starting in an hour.
func (f *fixture) bookingIn(ns, name string) url.Values {
	start := time.Now().In(berlin).Add(time.Hour)
	return url.Values{
		fieldName: {name}, fieldNamespace: {ns}, fieldProfile: {"surgery-urllc"}, fieldCore: {testCore},
		fieldDevices: {"robot-arm=10.45.0.7\nconsole=2001:db8::8"}, fieldServers: {"10.100.0.5"}, fieldPorts: {"5000-5010"},
		fieldProtocol: {"UDP"}, fieldStart: {start.Format(inputLayout)}, fieldDuration: {"2h"}, fieldLeadTime: {"15m"},
		fieldPurpose: {"robotic prostatectomy, " + ns},
	}
}

func getSlice(t *testing.T, ns, name string) (*v1alpha1.MedicalSlice, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var s v1alpha1.MedicalSlice
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
	return &s, err
}

func mustGetSlice(t *testing.T, ns, name string) *v1alpha1.MedicalSlice {
	t.Helper()
	s, err := getSlice(t, ns, name)
	if err != nil {
		t.Fatalf("slice %s/%s: %v", ns, name, err)
	}
	return s
}

func TestSignInWithAServiceAccountToken(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	resp := b.signIn(f.token(t, nsA, "user-a"))
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", session)
	}
	if len(session.Value) < 43 {
		t.Errorf("session identifier %q is shorter than 256 random bits", session.Value)
	}
	b.wantStatus(b.get("/"), http.StatusOK, "Signed in as <strong>system:serviceaccount:or-a:user-a</strong>")
}

func TestSignInRefusesATokenKubernetesDoesNotAccept(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.get("/signin")
	p, resp := b.do("POST", "/signin", url.Values{"csrf": {b.csrf}, "token": {"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2ln"}}, false)
	b.wantStatus(p, http.StatusUnauthorized, "Kubernetes does not accept this token.")
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie && c.Value != "" {
			t.Errorf("a session cookie was set for a refused token")
		}
	}
	b.wantStatus(b.get("/"), http.StatusOK, "Kubernetes token") // still the sign-in page
}

// A user bound to or-a books there; the same user cannot book in or-b:
// the API server refuses it as that user, and nothing is created.
func TestBookInOwnNamespaceOnly(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.signIn(f.token(t, nsA, "user-a"))

	form := b.get("/book")
	b.wantStatus(form, http.StatusOK, `<option value="or-a"`)
	if strings.Contains(form.body, `<option value="or-b"`) {
		t.Errorf("the form offers or-b, where user-a may not book")
	}

	booked := b.post("/book", f.bookingIn(nsA, "or-a-prostatectomy"))
	b.wantStatus(booked, http.StatusOK, "Booked or-a-prostatectomy in or-a")
	if booked.path != "/slices/or-a/or-a-prostatectomy" {
		t.Errorf("after booking the browser is at %s", booked.path)
	}
	s := mustGetSlice(t, nsA, "or-a-prostatectomy")
	if got := s.Spec.Devices; len(got) != 2 || got[0].IPv4 != "10.45.0.7" || got[1].IPv6 != "2001:db8::8" {
		t.Errorf("devices %+v", got)
	}
	if sc := s.Spec.Schedule; sc == nil || sc.End.Sub(sc.Start.Time) != 2*time.Hour || sc.LeadTime.Duration != 15*time.Minute {
		t.Errorf("schedule %+v", sc)
	}

	refused := b.post("/book", f.bookingIn(nsB, "sneaky"))
	// The API server's answer names the user it evaluated: user-a, by impersonation.
	b.wantStatus(refused, http.StatusForbidden,
		"You may not book slices in namespace or-b.",
		`User &#34;system:serviceaccount:or-a:user-a&#34; cannot create resource &#34;medicalslices&#34;`,
		`value="sneaky"`) // the form keeps what was typed
	if _, err := getSlice(t, nsB, "sneaky"); !apierrors.IsNotFound(err) {
		t.Errorf("a slice was created in or-b: %v", err)
	}

	again := b.post("/book", f.bookingIn(nsA, "or-a-prostatectomy"))
	b.wantStatus(again, http.StatusConflict, "A slice named or-a-prostatectomy already exists in or-a")
}

// The board shows only the namespaces RBAC lets the user list; a slice in
// another namespace cannot be read, extended or cancelled.
func TestBoardShowsOnlyWhatRBACAllows(t *testing.T) {
	f := setup(t)
	secret := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "secret-surgery", Namespace: nsB}}
	secret.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "surgery-urllc", CoreRef: testCore, Purpose: "or-b only",
		Devices:     []v1alpha1.Device{{Name: "robot", IPv4: "10.45.9.9"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.9"}},
		Schedule:    &v1alpha1.Schedule{Start: metav1.NewTime(time.Now().Add(3 * time.Hour).Truncate(time.Second)), End: metav1.NewTime(time.Now().Add(5 * time.Hour).Truncate(time.Second))},
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	a := f.browser(t)
	a.signIn(f.token(t, nsA, "user-a"))
	mine := a.post("/book", f.bookingIn(nsA, "or-a-visible"))
	a.wantStatus(mine, http.StatusOK)

	board := a.get("/")
	a.wantStatus(board, http.StatusOK, "or-a-visible", `<h2 id="ns-or-a">`)
	for _, hidden := range []string{"secret-surgery", "or-b only", `id="ns-or-b"`} {
		if strings.Contains(board.body, hidden) {
			t.Errorf("user-a's board shows %q", hidden)
		}
	}
	a.wantStatus(a.get("/slices/or-b/secret-surgery"), http.StatusForbidden, "You may not see slices in namespace or-b.")
	a.get("/") // a page with a CSRF token
	a.wantStatus(a.post("/slices/or-b/secret-surgery/extend", url.Values{fieldBy: {"1h"}, fieldUID: {string(secret.UID)}}), http.StatusForbidden)
	a.wantStatus(a.post("/slices/or-b/secret-surgery/cancel", url.Values{fieldUID: {string(secret.UID)}, fieldRelease: {"yes"}}), http.StatusForbidden)
	after := mustGetSlice(t, nsB, "secret-surgery")
	if !after.DeletionTimestamp.IsZero() || !after.Spec.Schedule.End.Equal(&secret.Spec.Schedule.End) || after.Annotations[v1alpha1.ForceReleaseAnnotation] != "" {
		t.Errorf("user-a changed or-b's slice: %+v", after)
	}

	b := f.browser(t)
	b.signIn(f.token(t, nsB, "user-b"))
	boardB := b.get("/")
	b.wantStatus(boardB, http.StatusOK, "secret-surgery", "or-b only")
	if strings.Contains(boardB.body, "or-a-visible") {
		t.Errorf("user-b's board shows or-a's slice")
	}
}

func TestExtendAndCancel(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.signIn(f.token(t, nsA, "user-a"))
	b.wantStatus(b.post("/book", f.bookingIn(nsA, "or-a-extend")), http.StatusOK)
	before := mustGetSlice(t, nsA, "or-a-extend")

	extended := b.post("/slices/or-a/or-a-extend/extend", url.Values{fieldBy: {"30m"}, fieldUID: {string(before.UID)}})
	b.wantStatus(extended, http.StatusOK, "Extended or-a-extend: it now ends")
	after := mustGetSlice(t, nsA, "or-a-extend")
	if d := after.Spec.Schedule.End.Sub(before.Spec.Schedule.End.Time); d != 30*time.Minute {
		t.Errorf("the end moved by %s, want 30m", d)
	}

	earlier := after.Spec.Schedule.End.Add(-time.Hour).In(berlin).Format(inputLayout)
	b.wantStatus(b.post("/slices/or-a/or-a-extend/extend", url.Values{fieldUntil: {earlier}, fieldUID: {string(before.UID)}}),
		http.StatusUnprocessableEntity, "extending only moves the end later")
	b.wantStatus(b.post("/slices/or-a/or-a-extend/extend", url.Values{fieldBy: {"30m"}, fieldUID: {"another-uid"}}),
		http.StatusConflict, "deleted and booked again since the page was loaded")

	confirm := b.get("/slices/or-a/or-a-extend/cancel")
	b.wantStatus(confirm, http.StatusOK, "Cancel the booking")
	if strings.Contains(confirm.body, `name="release"`) {
		t.Errorf("a booking that has not started asks for release now")
	}
	cancelled := b.post("/slices/or-a/or-a-extend/cancel", url.Values{fieldUID: {string(before.UID)}})
	b.wantStatus(cancelled, http.StatusOK, "Cancelled or-a-extend in or-a")
	if cancelled.path != "/" {
		t.Errorf("after cancelling the browser is at %s", cancelled.path)
	}
	if _, err := getSlice(t, nsA, "or-a-extend"); !apierrors.IsNotFound(err) {
		t.Errorf("the slice still exists: %v", err)
	}
}

// An active surgical slice is cancelled only with the explicit "release
// now", which sets the force-release annotation before the delete.
func TestCancelActiveSurgicalSliceNeedsReleaseNow(t *testing.T) {
	f := setup(t)
	b := f.browser(t)
	b.signIn(f.token(t, nsA, "user-a"))
	form := f.bookingIn(nsA, "or-a-running")
	form.Set(fieldStart, time.Now().In(berlin).Format(inputLayout)) // this minute: active now
	b.wantStatus(b.post("/book", form), http.StatusOK)

	// Hold the slice on delete, as the operator's finalizer does, so the
	// annotation can be read after the delete.
	const hold = "test.medslice.io/hold"
	s := mustGetSlice(t, nsA, "or-a-running")
	s.Finalizers = append(s.Finalizers, hold)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	defer func() {
		s := mustGetSlice(t, nsA, "or-a-running")
		s.Finalizers = nil
		if err := env.Client.Update(ctx, s); err != nil {
			t.Error(err)
		}
	}()

	confirm := b.get("/slices/or-a/or-a-running/cancel")
	b.wantStatus(confirm, http.StatusOK, "This slice is guaranteeing a surgery now", `name="release"`)

	refused := b.post("/slices/or-a/or-a-running/cancel", url.Values{fieldUID: {string(s.UID)}})
	b.wantStatus(refused, http.StatusUnprocessableEntity, "is guaranteeing a surgery until", "tick “Release now”")
	if got := mustGetSlice(t, nsA, "or-a-running"); !got.DeletionTimestamp.IsZero() || got.Annotations[v1alpha1.ForceReleaseAnnotation] != "" {
		t.Fatalf("cancelled without release now: deletion %v, annotations %v", got.DeletionTimestamp, got.Annotations)
	}

	released := b.post("/slices/or-a/or-a-running/cancel", url.Values{fieldUID: {string(s.UID)}, fieldRelease: {"yes"}})
	b.wantStatus(released, http.StatusOK, "asked for its release now")
	got := mustGetSlice(t, nsA, "or-a-running")
	if got.DeletionTimestamp.IsZero() || got.Annotations[v1alpha1.ForceReleaseAnnotation] != "true" {
		t.Errorf("after release now: deletion %v, annotations %v", got.DeletionTimestamp, got.Annotations)
	}
}

// What the API server's validation says reaches the form verbatim.
func TestAPIServerRefusalIsShownVerbatim(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	u, err := f.srv.review(ctx, f.token(t, nsA, "user-a"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.srv.clientFor(u)
	if err != nil {
		t.Fatal(err)
	}
	// What the form refuses itself, sent as the user straight to the API server.
	s, errs := ParseBookingForm(BookingFormFrom(f.bookingIn(nsA, "or-a-verbatim")), Catalog{}, time.Now(), berlin)
	if errs != nil {
		t.Fatal(errs)
	}
	s.Spec.Purpose = "prostatectomy <OR-3>"
	s.Spec.Devices = append(s.Spec.Devices, v1alpha1.Device{Name: "no-address"})
	err = c.Create(ctx, s)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("the API server accepted it or refused otherwise: %v", err)
	}
	got, status := createErrors(err, s)
	if status != http.StatusUnprocessableEntity {
		t.Errorf("status %d", status)
	}
	for field, want := range map[string]string{
		fieldPurpose: "purpose is plain text: remove < and >",
		fieldDevices: "a device needs ipv4 or ipv6: the core finds the UE's PDU session by its IP address (gpsi and supi only add to it)",
	} {
		if !strings.Contains(got[field], want) || !strings.HasPrefix(got[field], "spec.") {
			t.Errorf("%s: %q does not carry the CRD's message %q", field, got[field], want)
		}
	}
}

// A token the API server stops accepting ends the session at the next
// review, without waiting for the session to expire.
func TestRevokedTokenEndsTheSession(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := createRequester(ctx, env.Client, nsA, "user-revoked"); err != nil {
		t.Fatal(err)
	}
	defer f.offset.Store(0)
	b := f.browser(t)
	b.signIn(f.token(t, nsA, "user-revoked"))
	if err := env.Client.Delete(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "user-revoked", Namespace: nsA}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(revocationTimeout)
	for {
		f.offset.Add(int64(reviewInterval)) // the next request reviews the token
		p := b.get("/")
		if p.path == "/signin?ended=1" {
			b.wantStatus(p, http.StatusOK, "Your session ended: Kubernetes no longer accepts your token.")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still signed in %s after the service account was deleted (at %s)", revocationTimeout, p.path)
		}
		time.Sleep(pollInterval)
	}
}

func TestCapacityTimelineShowsAdmittedReservations(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	start := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Name: "or-a-capacity", Namespace: nsA}}
	s.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "surgery-urllc", CoreRef: testCore,
		Devices:     []v1alpha1.Device{{Name: "a", IPv4: "10.45.7.1"}, {Name: "b", IPv4: "10.45.7.2"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.5"}},
		Schedule:    &v1alpha1.Schedule{Start: metav1.NewTime(start), End: metav1.NewTime(start.Add(2 * time.Hour))},
	}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	// What the operator's admission would persist.
	s.Status.Admission = &v1alpha1.AdmissionStatus{
		Decision: v1alpha1.AdmissionAdmitted,
		Reserved: v1alpha1.Reservation{GBRUplinkKbps: 40_000, GBRDownlinkKbps: 40_000, Sessions: 2},
		From:     ptr(metav1.NewTime(start)), Until: ptr(metav1.NewTime(start.Add(2 * time.Hour))),
	}
	if err := env.Client.Status().Update(ctx, s); err != nil {
		t.Fatal(err)
	}

	a := f.browser(t)
	a.signIn(f.token(t, nsA, "user-a"))
	a.wantStatus(a.get("/capacity"), http.StatusOK, `href="/capacity/campus-core"`)
	timeline := a.get("/capacity/campus-core")
	a.wantStatus(timeline, http.StatusOK,
		"uplink GBR 100 Mbps, downlink GBR 100 Mbps, 10 sessions",
		`<meter min="0" max="100000" value="40000"`,
		"40 of 100 Mbps", "2 of 10", "or-a/or-a-capacity",
		"bookings in other namespaces hold capacity on this core too") // user-a cannot list every namespace
	a.wantStatus(a.get("/capacity/no-such-core"), http.StatusNotFound, "There is no 5G core no-such-core.")

	b := f.browser(t)
	b.signIn(f.token(t, nsB, "user-b"))
	if p := b.get("/capacity/campus-core"); strings.Contains(p.body, "or-a-capacity") {
		t.Errorf("user-b's timeline names or-a's booking")
	}
}

// Whatever the form accepts, the API server accepts: every accepted fuzz
// seed is created (dry run) on the real API server.
func TestAcceptedSeedsPassTheAPIServer(t *testing.T) {
	setup(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzParseBookingForm")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		body, err := corpusString(string(raw))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		values, _ := url.ParseQuery(body)
		s, errs := ParseBookingForm(BookingFormFrom(values), Catalog{}, formNow, berlin)
		if errs != nil {
			continue
		}
		accepted++
		s.Namespace = nsA
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		err = env.Client.Create(ctx, s, client.DryRunAll)
		cancel()
		if err != nil {
			t.Errorf("seed %s: the form accepted it, the API server refused: %v", e.Name(), err)
		}
	}
	if accepted < 5 {
		t.Errorf("only %d seeds are accepted: the test checks too little", accepted)
	}
}

// consoleRole is what the console's own identity needs, as the package
// documentation says: no access to slices at all.
var consoleRole = []rbacv1.PolicyRule{
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
	{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
	{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"uids"}, Verbs: []string{"impersonate"}},
	{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}},
}

// The console works with only the permissions its documentation asks for,
// and with them a user still reaches only what RBAC grants the user.
func TestConsoleNeedsOnlyItsDocumentedPermissions(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	const ns, name = "medslice-system", "medslice-console"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: consoleRole},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}},
		},
	} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg := rest.AnonymousClientConfig(env.Config)
	cfg.BearerToken = f.token(t, ns, name)
	srv, err := New(Config{RestConfig: cfg, Location: berlin, Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(srv.Handler())
	defer h.Close()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: h.URL, jar: jar}
	b.signIn(f.token(t, nsA, "user-a"))
	b.wantStatus(b.get("/book"), http.StatusOK, `<option value="or-a"`, `<option value="surgery-urllc"`, `<option value="campus-core"`)
	b.wantStatus(b.post("/book", f.bookingIn(nsA, "or-a-least-privilege")), http.StatusOK, "Booked or-a-least-privilege in or-a")
	b.wantStatus(b.post("/book", f.bookingIn(nsB, "or-b-least-privilege")), http.StatusForbidden, "You may not book slices in namespace or-b.")
	board := b.get("/")
	b.wantStatus(board, http.StatusOK, "or-a-least-privilege")
	if strings.Contains(board.body, "The slices could not be read") || strings.Contains(board.body, `id="ns-or-b"`) {
		t.Errorf("board with the console's least privilege: %s", board.body)
	}
}

// corpusString reads a one-string fuzz corpus file ("go test fuzz v1").
func corpusString(file string) (string, error) {
	lines := strings.SplitN(strings.TrimSpace(file), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		return "", fmt.Errorf("not a corpus file")
	}
	arg := strings.TrimSpace(lines[1])
	if !strings.HasPrefix(arg, "string(") || !strings.HasSuffix(arg, ")") {
		return "", fmt.Errorf("not a string argument: %s", arg)
	}
	return strconv.Unquote(arg[len("string(") : len(arg)-1])
}

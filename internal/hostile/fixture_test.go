package hostile

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
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
	"github.com/medslice/medslice/internal/console"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
	"github.com/medslice/medslice/internal/testenv"
)

const (
	// requestTimeout bounds one row's calls.
	requestTimeout = 30 * time.Second

	nsA        = "or-a"
	nsB        = "or-b"
	userA      = "user-a"
	userB      = "user-b"
	campusCore = "campus-core"
	// bookedA and bookedB are a booking of each team; the rows attack them.
	bookedA = "or-a-prostatectomy"
	bookedB = "or-b-cholecystectomy"
	// reportA is a sealed SLA report of bookedA.
	reportA = "or-a-prostatectomy-report"
	device  = "robot-arm"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard()) // client warnings are not what these tests read
	testenv.Main(m, func(e *testenv.Env) { env = e })
}

// fixture is what the rows attack: two surgery teams (service accounts
// or-a/user-a and or-b/user-b, each a requester in its own namespace only,
// as the chart's medslice-requester persona), a booking of each, a sealed
// SLA report, the default profiles and a core; the notification receiver
// with its own key; and the console with user-a signed in.
type fixture struct {
	admin     client.Client
	clientset *kubernetes.Clientset
	// asA acts as user-a, by impersonation, as the console does.
	asA client.Client
	// apiHTTP is an HTTP client of the admin identity, for raw requests.
	apiHTTP *http.Client

	sliceA, sliceB *v1alpha1.MedicalSlice

	signer, otherSigner *notify.Signer
	receiver            http.Handler
	mu                  sync.Mutex
	delivered           []notify.Event

	console *httptest.Server
	// a and b are user-a's and user-b's signed-in browsers.
	a, b *browser
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*requestTimeout)
	defer cancel()
	f := &fixture{admin: env.Client}
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, err
	}
	if err := devstack.ApplyDir(ctx, f.admin, filepath.Join(root, "config", "profiles")); err != nil {
		return nil, err
	}
	core := &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: campusCore}}
	core.Spec = v1alpha1.CoreNetworkSpec{
		API: v1alpha1.CoreAPIPCF, Endpoint: "http://pcf.campus.example:8080", NotificationBaseURL: "http://medslice-notify.medslice-system:8082",
		Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 100_000, GBRDownlinkKbps: 100_000, MaxSessions: 10},
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsA}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsB}},
		core,
		// The chart's medslice-requester-catalog and, per namespace, medslice-requester.
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "medslice-requester-catalog"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"medslice.io"}, Resources: []string{"sliceprofiles", "corenetworks"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "medslice-requester"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"medslice.io"}, Resources: []string{"medicalslices"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
				{APIGroups: []string{"medslice.io"}, Resources: []string{"medicalslices/status"}, Verbs: []string{"get", "list", "watch"}},
				{APIGroups: []string{"medslice.io"}, Resources: []string{"sliceprofiles", "corenetworks"}, Verbs: []string{"get", "list", "watch"}},
			},
		},
	}
	for _, o := range objs {
		if err := f.admin.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	for _, sa := range []struct{ ns, name string }{{nsA, userA}, {nsB, userB}} {
		if err := createRequester(ctx, f.admin, sa.ns, sa.name); err != nil {
			return nil, err
		}
	}
	if f.clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		return nil, err
	}
	if f.apiHTTP, err = rest.HTTPClientFor(env.Config); err != nil {
		return nil, err
	}
	asA := rest.CopyConfig(env.Config)
	asA.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + nsA + ":" + userA,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + nsA, "system:authenticated"},
	}
	if f.asA, err = client.New(asA, client.Options{Scheme: env.Scheme}); err != nil {
		return nil, err
	}

	f.sliceA, f.sliceB = validSlice(nsA, bookedA), validSlice(nsB, bookedB)
	for _, s := range []*v1alpha1.MedicalSlice{f.sliceA, f.sliceB} {
		if err := f.admin.Create(ctx, s); err != nil {
			return nil, fmt.Errorf("creating slice %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	rep, err := sealedReport(f.sliceA)
	if err != nil {
		return nil, err
	}
	if err := f.admin.Create(ctx, rep); err != nil {
		return nil, fmt.Errorf("creating report: %w", err)
	}

	// The receiver, wired as the operator wires it: what it delivers is
	// recorded here.
	if f.signer, err = notify.NewSigner(randomKey()); err != nil {
		return nil, err
	}
	if f.otherSigner, err = notify.NewSigner(randomKey()); err != nil {
		return nil, err
	}
	f.receiver = &notify.Receiver{
		Signer: f.signer,
		Now:    time.Now,
		Log:    logr.Discard(),
		Deliver: func(ev notify.Event) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.delivered = append(f.delivered, ev)
		},
	}

	srv, err := console.New(console.Config{RestConfig: env.Config, Location: time.UTC, Log: logr.Discard()})
	if err != nil {
		return nil, err
	}
	f.console = httptest.NewServer(srv.Handler())
	env.OnStop(f.console.Close)
	if f.a, err = f.signedIn(ctx, nsA, userA); err != nil {
		return nil, err
	}
	if f.b, err = f.signedIn(ctx, nsB, userB); err != nil {
		return nil, err
	}
	return f, nil
}

// createRequester creates a service account bound to medslice-requester
// in its namespace and to the catalog cluster-wide, as a surgery team's.
func createRequester(ctx context.Context, c client.Client, ns, name string) error {
	subject := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}
	for _, o := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "medslice-requester", Namespace: ns},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "medslice-requester"},
			Subjects:   []rbacv1.Subject{subject},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + name + "-catalog"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "medslice-requester-catalog"},
			Subjects:   []rbacv1.Subject{subject},
		},
	} {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func randomKey() []byte {
	k := make([]byte, notify.MinKeyLen)
	_, _ = rand.Read(k)
	return k
}

func ptr[T any](v T) *T { return &v }

// validSlice is a booking the API server accepts: tomorrow, two hours.
func validSlice(ns, name string) *v1alpha1.MedicalSlice {
	start := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Minute)
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec = v1alpha1.MedicalSliceSpec{
		Profile: "surgery-urllc", CoreRef: campusCore, Purpose: "robotic surgery, " + ns,
		Devices:     []v1alpha1.Device{{Name: device, IPv4: "10.45.0.7"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.5"}, Ports: []string{"5000-5010"}, Protocol: v1alpha1.ProtocolUDP},
		Schedule: &v1alpha1.Schedule{
			Start: metav1.NewTime(start), End: metav1.NewTime(start.Add(2 * time.Hour)),
			LeadTime: &metav1.Duration{Duration: 15 * time.Minute},
		},
	}
	return s
}

// sealedReport is a signed one-minute SLA report of s, as the operator
// writes one.
func sealedReport(s *v1alpha1.MedicalSlice) (*v1alpha1.SLAReport, error) {
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var rollups []sla.WindowRollup
	for i := range 60 {
		rollups = append(rollups, sla.WindowRollup{
			Start: start.Add(time.Duration(i) * time.Second), End: start.Add(time.Duration(i+1) * time.Second),
			Sent: 10, Received: 10, RTTP50: 8 * time.Millisecond, RTTP99: 11 * time.Millisecond, RTTMax: 12 * time.Millisecond,
			JitterP99: time.Millisecond, Met: true,
		})
	}
	targets := sla.Targets{RTTP99: 20 * time.Millisecond, JitterP99: 5 * time.Millisecond, LossRatio: 1e-4,
		AvailabilityPercent: 99.99, Window: time.Second, VerificationPeriod: 30 * time.Second}
	spec, err := report.Build(s, rollups, nil, targets, report.Period{Start: start, End: start.Add(time.Minute)}, nil)
	if err != nil {
		return nil, fmt.Errorf("building report: %w", err)
	}
	signer, err := report.GenerateEd25519Signer(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := report.Seal(spec, signer); err != nil {
		return nil, fmt.Errorf("sealing report: %w", err)
	}
	return &v1alpha1.SLAReport{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: reportA}, Spec: *spec}, nil
}

// state is what no hostile input may change: every medslice object's
// resourceVersion, and the notifications delivered.
type state struct {
	objects   []string // kind namespace/name@resourceVersion, sorted
	delivered int
}

func (f *fixture) state(t *testing.T) state {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var st state
	lists := map[string]client.ObjectList{
		"MedicalSlice": &v1alpha1.MedicalSliceList{}, "SliceProfile": &v1alpha1.SliceProfileList{},
		"CoreNetwork": &v1alpha1.CoreNetworkList{}, "SLAReport": &v1alpha1.SLAReportList{},
	}
	for kind, l := range lists {
		if err := f.admin.List(ctx, l); err != nil {
			t.Fatalf("listing %s: %v", kind, err)
		}
		items, err := metaItems(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range items {
			st.objects = append(st.objects, fmt.Sprintf("%s %s/%s@%s", kind, o.GetNamespace(), o.GetName(), o.GetResourceVersion()))
		}
	}
	sort.Strings(st.objects)
	f.mu.Lock()
	st.delivered = len(f.delivered)
	f.mu.Unlock()
	return st
}

func metaItems(l client.ObjectList) ([]metav1.Object, error) {
	var out []metav1.Object
	switch l := l.(type) {
	case *v1alpha1.MedicalSliceList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.SliceProfileList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.CoreNetworkList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.SLAReportList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	default:
		return nil, fmt.Errorf("no items of %T", l)
	}
	return out, nil
}

// answer is what the sender of an input was told.
type answer struct {
	status int
	// message is the error as the sender reads it (an API status message,
	// a ProblemDetails detail, a console page's text).
	message string
	// session is set when the console opened a session.
	session bool
}

// apiAnswer is the API server's answer to a typed request.
func apiAnswer(err error) answer {
	if err == nil {
		return answer{status: http.StatusOK, message: "accepted"}
	}
	if se, ok := err.(apierrors.APIStatus); ok {
		return answer{status: int(se.Status().Code), message: err.Error()}
	}
	return answer{message: err.Error()}
}

// apiRaw sends body as is to the API server (admin identity) and returns
// its answer: for inputs a typed client cannot express.
func (f *fixture) apiRaw(t *testing.T, method, path string, body []byte, contentType string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(env.Config.Host, "/")+path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := f.apiHTTP.Do(req)
	if err != nil {
		return answer{message: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	if json.Unmarshal(raw, &st) == nil && st.Message != "" {
		return answer{status: resp.StatusCode, message: st.Message}
	}
	return answer{status: resp.StatusCode, message: strings.TrimSpace(string(raw))}
}

// browser is a user agent for the console: cookies, the CSRF token of the
// last page it read, and an Origin header unless a row says otherwise.
type browser struct {
	base string
	jar  http.CookieJar
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// request is one request of a row to the console.
type request struct {
	method, path string
	form         url.Values
	// rawBody replaces the encoded form.
	rawBody string
	// header replaces the default headers (Origin = the console,
	// Content-Type = form) where set; an empty value removes the header.
	header map[string]string
	// noCookies sends no cookies at all.
	noCookies bool
	// cookie adds one cookie.
	cookie *http.Cookie
}

func (b *browser) send(rq request) (answer, error) {
	var body io.Reader
	switch {
	case rq.rawBody != "":
		body = strings.NewReader(rq.rawBody)
	case rq.form != nil:
		body = strings.NewReader(rq.form.Encode())
	}
	req, err := http.NewRequest(rq.method, b.base+rq.path, body)
	if err != nil {
		return answer{}, err
	}
	if rq.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
	}
	for k, v := range rq.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if rq.cookie != nil {
		req.AddCookie(rq.cookie)
	}
	hc := &http.Client{Timeout: requestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if !rq.noCookies {
		hc.Jar = b.jar
	}
	resp, err := hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	if m := csrfField.FindStringSubmatch(string(raw)); m != nil {
		b.csrf = m[1]
	}
	a := answer{status: resp.StatusCode, message: pageText(string(raw))}
	if loc := resp.Header.Get("Location"); loc != "" {
		a.message = "redirect to " + loc + " " + a.message
	}
	for _, c := range resp.Cookies() {
		if c.Name == "medslice_session" && c.Value != "" && c.MaxAge >= 0 {
			a.session = true
		}
	}
	return a, nil
}

var tags = regexp.MustCompile(`<[^>]*>`)

// pageText is a page's text as a person reads it: tags dropped, entities
// decoded, spaces collapsed.
func pageText(page string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tags.ReplaceAllString(page, " "))), " ")
}

// signedIn returns a browser signed in as the service account ns/name,
// with a token from the API server (TokenRequest).
func (f *fixture) signedIn(ctx context.Context, ns, name string) (*browser, error) {
	tr, err := f.clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("TokenRequest for %s/%s: %w", ns, name, err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	b := &browser{base: f.console.URL, jar: jar}
	if _, err := b.send(request{method: http.MethodGet, path: "/signin"}); err != nil {
		return nil, err
	}
	a, err := b.send(request{method: http.MethodPost, path: "/signin", form: url.Values{"csrf": {b.csrf}, "token": {tr.Status.Token}}})
	if err != nil {
		return nil, err
	}
	if a.status != http.StatusSeeOther || !a.session {
		return nil, fmt.Errorf("signing in as %s/%s: %d %s", ns, name, a.status, a.message)
	}
	// A page with the session's CSRF token.
	if a, err = b.send(request{method: http.MethodGet, path: "/book"}); err != nil || a.status != http.StatusOK || b.csrf == "" {
		return nil, fmt.Errorf("booking form as %s/%s: %d %v", ns, name, a.status, err)
	}
	return b, nil
}

package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/rest"

	"github.com/medslice/medslice/api/v1alpha1"
)

// These tests need no API server: what they protect is decided before the
// console talks to one (sign-in, CSRF and origin checks, session expiry,
// headers) or lies in rendering (escaping). The API server they are given
// answers every request with an error and counts them, so that a test can
// say that a refused request never reached Kubernetes. The behaviour that
// depends on the API server is in integration_test.go.

// unreachableAPI counts the requests that reach it and fails them all.
type unreachableAPI struct {
	srv   *httptest.Server
	calls atomic.Int64
}

func newUnreachableAPI(t *testing.T) *unreachableAPI {
	a := &unreachableAPI{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.calls.Add(1)
		http.Error(w, "test API server: unavailable", http.StatusServiceUnavailable)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type unitConsole struct {
	srv   *Server
	http  *httptest.Server
	api   *unreachableAPI
	clock *testClock
}

func newUnitConsole(t *testing.T) *unitConsole {
	t.Helper()
	api := newUnreachableAPI(t)
	clock := &testClock{now: formNow}
	srv, err := New(Config{RestConfig: &rest.Config{Host: api.srv.URL}, Location: berlin, Now: clock.Now, Log: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(h.Close)
	return &unitConsole{srv: srv, http: h, api: api, clock: clock}
}

// signIn puts a session in the store directly, as a successful sign-in
// would, and returns its cookie and CSRF token.
func (u *unitConsole) signIn(t *testing.T, name string) (*http.Cookie, string) {
	t.Helper()
	usr := user{Name: name, Groups: []string{"system:authenticated"}}
	c, err := u.srv.clientFor(usr)
	if err != nil {
		t.Fatal(err)
	}
	id, sess := u.srv.sessions.create(usr, "token-of-"+name, c, u.clock.Now())
	return &http.Cookie{Name: sessionCookie, Value: id}, sess.csrf
}

// noRedirects makes a client that reports redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (u *unitConsole) do(t *testing.T, method, path string, form url.Values, cookie *http.Cookie, headers map[string]string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.http.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestUnauthenticatedIsSentToSignIn(t *testing.T) {
	u := newUnitConsole(t)
	tests := []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/book"},
		{"POST", "/book"},
		{"GET", "/capacity"},
		{"GET", "/capacity/campus-core"},
		{"GET", "/slices/or-3/robotic-surgery"},
		{"POST", "/slices/or-3/robotic-surgery/extend"},
		{"GET", "/slices/or-3/robotic-surgery/cancel"},
		{"POST", "/slices/or-3/robotic-surgery/cancel"},
		{"POST", "/signout"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for _, cookie := range []*http.Cookie{nil, {Name: sessionCookie, Value: "forged"}} {
				resp, _ := u.do(t, tt.method, tt.path, url.Values{"csrf": {"x"}}, cookie, map[string]string{"Origin": u.http.URL})
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
					t.Errorf("cookie %v: got %s to %q, want 303 to /signin", cookie, resp.Status, resp.Header.Get("Location"))
				}
			}
		})
	}
	if n := u.api.calls.Load(); n != 0 {
		t.Errorf("%d requests reached the API server for unauthenticated requests", n)
	}
}

func TestPostsWithoutCSRFTokenOrFromAnotherOriginAreRefused(t *testing.T) {
	u := newUnitConsole(t)
	cookie, token := u.signIn(t, "alice")
	_, otherToken := u.signIn(t, "mallory")
	same := u.http.URL
	tests := []struct {
		name    string
		token   string
		headers map[string]string
		want    string
	}{
		{"no token", "", map[string]string{"Origin": same}, "security token is missing or does not match"},
		{"another session's token", otherToken, map[string]string{"Origin": same}, "security token is missing or does not match"},
		{"a truncated token", token[:len(token)-1], map[string]string{"Origin": same}, "security token is missing or does not match"},
		{"another origin", token, map[string]string{"Origin": "http://evil.example"}, "comes from another site (Origin http://evil.example)"},
		{"same host, other scheme", token, map[string]string{"Origin": strings.Replace(same, "http:", "https:", 1)}, "comes from another site"},
		{"a Referer from another site", token, map[string]string{"Referer": "http://evil.example/page"}, "comes from another site (Referer http://evil.example/page)"},
		{"the null origin", token, map[string]string{"Origin": "null"}, "comes from another site"},
		{"neither Origin nor Referer", token, nil, "neither an Origin nor a Referer header"},
	}
	for _, path := range []string{"/book", "/slices/or-3/x/extend", "/slices/or-3/x/cancel", "/signout"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				form := validForm().values()
				if tt.token != "" {
					form.Set("csrf", tt.token)
				}
				resp, body := u.do(t, "POST", path, form, cookie, tt.headers)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("got %s, want 403 Forbidden", resp.Status)
				}
				if !strings.Contains(body, tt.want) {
					t.Errorf("page does not say %q", tt.want)
				}
			})
		}
	}
	if n := u.api.calls.Load(); n != 0 {
		t.Errorf("%d requests reached the API server for refused POSTs", n)
	}
	// The session survives refused requests: signing out with the token works.
	resp, _ := u.do(t, "POST", "/signout", url.Values{"csrf": {token}}, cookie, map[string]string{"Referer": same + "/"})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("sign-out with a valid token and a same-origin Referer: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := u.do(t, "GET", "/", nil, cookie, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after sign-out the old cookie still works: %s", resp.Status)
	}
}

func TestSignInFormIsProtected(t *testing.T) {
	u := newUnitConsole(t)
	resp, page := u.do(t, "GET", "/signin", nil, nil, nil)
	var signin *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == signinCookie {
			signin = c
		}
	}
	if signin == nil || !signin.HttpOnly || signin.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in cookie %+v: want HttpOnly, SameSite=Strict", signin)
	}
	if !strings.Contains(page, `name="csrf" value="`+signin.Value+`"`) {
		t.Fatalf("the sign-in form does not carry the cookie's token")
	}
	same := map[string]string{"Origin": u.http.URL}
	tests := []struct {
		name    string
		cookie  *http.Cookie
		token   string
		headers map[string]string
		want    string
	}{
		{"no cookie", nil, signin.Value, same, "has expired or did not come from this console"},
		{"token does not match the cookie", signin, "x" + signin.Value[1:], same, "has expired or did not come from this console"},
		{"another origin", signin, signin.Value, map[string]string{"Origin": "http://evil.example"}, "comes from another site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := u.do(t, "POST", "/signin", url.Values{"csrf": {tt.token}, "token": {"some-token"}}, tt.cookie, tt.headers)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, tt.want) {
				t.Errorf("got %s, want 403 saying %q", resp.Status, tt.want)
			}
			for _, c := range resp.Cookies() {
				if c.Name == sessionCookie && c.Value != "" {
					t.Errorf("a session cookie was set")
				}
			}
		})
	}
	if n := u.api.calls.Load(); n != 0 {
		t.Errorf("%d TokenReviews were made for refused sign-ins", n)
	}
	// An empty token is told so without asking Kubernetes.
	resp, body := u.do(t, "POST", "/signin", url.Values{"csrf": {signin.Value}, "token": {"  "}}, signin, same)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Paste your Kubernetes token.") {
		t.Errorf("empty token: %s", resp.Status)
	}
	// A token Kubernetes cannot be asked about signs nobody in.
	resp, body = u.do(t, "POST", "/signin", url.Values{"csrf": {signin.Value}, "token": {"abc.def"}}, signin, same)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "could not reach the Kubernetes API server") {
		t.Errorf("API server down: %s", resp.Status)
	}
	if u.srv.sessions.len() != 0 {
		t.Errorf("%d sessions exist", u.srv.sessions.len())
	}
}

func TestSecurityHeaders(t *testing.T) {
	u := newUnitConsole(t)
	cookie, _ := u.signIn(t, "alice")
	for _, path := range []string{"/signin", "/", "/static/console.css", "/nowhere"} {
		resp, _ := u.do(t, "GET", path, nil, cookie, nil)
		h := resp.Header
		want := map[string]string{
			"Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		if path != "/static/console.css" && h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, h.Get("Cache-Control"))
		}
	}
}

func TestSessionsExpire(t *testing.T) {
	u := newUnitConsole(t)
	tests := []struct {
		name  string
		steps []time.Duration // time between requests
		want  []int
	}{
		{"idle for an hour", []time.Duration{0, sessionIdle}, []int{http.StatusOK, http.StatusSeeOther}},
		{"in use, up to its lifetime", inUse(), append(repeat(http.StatusOK, 15), http.StatusSeeOther)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cookie, _ := u.signIn(t, "alice")
			for i, d := range tt.steps {
				u.clock.Advance(d)
				// Keep the token review out of the way: it is tested on the API server.
				u.srv.sessions.mu.Lock()
				for _, s := range u.srv.sessions.m {
					s.mu.Lock()
					s.reviewed = u.clock.Now()
					s.mu.Unlock()
				}
				u.srv.sessions.mu.Unlock()
				resp, _ := u.do(t, "GET", "/", nil, cookie, nil)
				if resp.StatusCode != tt.want[i] {
					t.Fatalf("request %d after %s: %s, want %d", i, d, resp.Status, tt.want[i])
				}
			}
		})
	}
}

// inUse is a request every 50 minutes for 11h40m, then one at 12h: never
// idle, until the session's lifetime is over.
func inUse() []time.Duration {
	steps := append([]time.Duration{0}, repeat(50*time.Minute, 14)...)
	return append(steps, sessionLifetime-14*50*time.Minute)
}

func repeat[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestBookingFormKeepsInputAndEscapesIt(t *testing.T) {
	u := newUnitConsole(t)
	cookie, token := u.signIn(t, "alice")
	form := validForm().values()
	form.Set("purpose", `<script>alert("x")</script>`)
	form.Set("devices", "robot-arm=10.45.0.7\n\"><img src=x onerror=alert(1)>=1.2.3.4")
	form.Set("csrf", token)
	resp, body := u.do(t, "POST", "/book", form, cookie, map[string]string{"Origin": u.http.URL})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("got %s, want 422", resp.Status)
	}
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{
		`value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"`, // the purpose, kept and escaped
		"&#34;&gt;&lt;img src=x onerror=alert(1)&gt;=1.2.3.4",     // the devices, kept and escaped
		"Purpose is plain text: remove &lt; and &gt;.",
		`<a href="#purpose">`, // the error summary links to the field
		`aria-invalid="true"`,
		`value="or3-prostatectomy"`, // valid fields keep their input too
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not contain %s", want)
		}
	}
}

func TestBoardEscapesWhatTheAPIServerSays(t *testing.T) {
	u := newUnitConsole(t)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	view := boardView{Groups: []namespaceGroup{{Namespace: "or-3", Slices: []sliceRow{{
		Namespace: "or-3", Name: "x", Purpose: "<script>alert(1)</script>",
		Verdict: "NO-GO", Reason: "<b>Verifying</b>", Why: `SLA met for 12s of 30s" onmouseover="alert(1)`,
		AdmissionMessage: "<iframe src=//evil>", URL: "/slices/or-3/x",
	}}}}}
	u.srv.render(rec, req, nil, http.StatusOK, "board", "Board", view)
	body := rec.Body.String()
	for _, bad := range []string{"<script>alert", "<b>Verifying", "<iframe", `" onmouseover="`} {
		if strings.Contains(body, bad) {
			t.Errorf("the board contains %q unescaped", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the purpose is not shown escaped")
	}
}

func TestCreateErrorsGoNextToTheirFields(t *testing.T) {
	s := &v1alpha1.MedicalSlice{}
	s.Name, s.Namespace = "or3", "or-b"
	gk := schema.GroupKind{Group: "medslice.io", Kind: "MedicalSlice"}
	gr := schema.GroupResource{Group: "medslice.io", Resource: "medicalslices"}
	tests := []struct {
		name       string
		err        error
		want       FieldErrors
		wantStatus int
	}{
		{
			name: "CEL messages, verbatim, by field",
			err: apierrors.NewInvalid(gk, "or3", field.ErrorList{
				field.Invalid(field.NewPath("spec", "purpose"), "a<b", "purpose is plain text: remove < and >"),
				field.Invalid(field.NewPath("spec", "devices").Index(0), "x", "a device needs ipv4 or ipv6"),
				field.Invalid(field.NewPath("spec", "schedule"), "x", "schedule.end must be after schedule.start"),
				field.Invalid(field.NewPath("spec", "sla"), "x", "something the form does not have"),
			}),
			want: FieldErrors{
				fieldPurpose: `spec.purpose: Invalid value: "a<b": purpose is plain text: remove < and >`,
				fieldDevices: `spec.devices[0]: Invalid value: "x": a device needs ipv4 or ipv6`,
				fieldEnd:     `spec.schedule: Invalid value: "x": schedule.end must be after schedule.start`,
				fieldForm:    `spec.sla: Invalid value: "x": something the form does not have`,
			},
			wantStatus: http.StatusUnprocessableEntity,
		},
		{
			name:       "RBAC refusal",
			err:        apierrors.NewForbidden(gr, "", errFake("User \"bob\" cannot create resource")),
			want:       FieldErrors{fieldNamespace: `You may not book slices in namespace or-b. Kubernetes said: medicalslices.medslice.io is forbidden: User "bob" cannot create resource`},
			wantStatus: http.StatusForbidden,
		},
		{
			name:       "name taken",
			err:        apierrors.NewAlreadyExists(gr, "or3"),
			want:       FieldErrors{fieldName: "A slice named or3 already exists in or-b: choose another name, or extend that one from its page."},
			wantStatus: http.StatusConflict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, status := createErrors(tt.err, s)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
		})
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

// values is the form as url.Values.
func (f BookingForm) values() url.Values {
	v, err := url.ParseQuery(f.encode())
	if err != nil {
		panic(err)
	}
	return v
}

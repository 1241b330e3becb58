package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/medslice/medslice/api/v1alpha1"
)

// FuzzParseExtension feeds the extend form's two fields as anyone may
// POST them, for a booked slice and an active one, with and without the
// profile's limit. It protects what an extension may do: either messages
// for the extend form's fields or a new end, never both; a new end is
// later than the old one, on a whole second, within a year of the start
// and within the profile's maximum duration. Seeds are in
// testdata/fuzz/FuzzParseExtension.
func FuzzParseExtension(f *testing.F) {
	f.Add("30m", "")
	f.Add("", "2026-11-20T14:00")
	f.Fuzz(func(t *testing.T, by, until string) {
		// The handler trims both fields before parsing.
		by, until = strings.TrimSpace(by), strings.TrimSpace(until)
		profile := &v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: "surgery-urllc"}}
		profile.Spec.MaxDuration = &metav1.Duration{Duration: 12 * time.Hour}
		for _, sl := range []*v1alpha1.MedicalSlice{
			extensionSlice(formNow.Add(time.Hour), 2*time.Hour),                    // booked
			extensionSlice(formNow.Add(-time.Hour), 2*time.Hour),                   // active
			extensionSlice(formNow.Add(-3*time.Hour), 11*time.Hour+59*time.Minute), // near the profile's limit
		} {
			for _, p := range []*v1alpha1.SliceProfile{profile, nil} {
				end, errs := parseExtension(sl, by, until, p, formNow, berlin)
				old, start := sl.Spec.Schedule.End.Time, sl.Spec.Schedule.Start.Time
				switch {
				case end.IsZero() && len(errs) == 0:
					t.Fatalf("neither a new end nor errors for by %q until %q", by, until)
				case !end.IsZero() && len(errs) > 0:
					t.Fatalf("a new end %s and errors %v for by %q until %q", end, errs, by, until)
				case len(errs) > 0:
					for field, msg := range errs {
						if !slices.Contains([]string{fieldBy, fieldUntil, fieldForm}, field) || strings.TrimSpace(msg) == "" {
							t.Fatalf("error %q for field %q", msg, field)
						}
					}
					continue
				}
				if (by == "") == (until == "") {
					t.Fatalf("extended with by %q and until %q: exactly one is needed", by, until)
				}
				if !end.After(old) {
					t.Fatalf("new end %s is not after %s", end, old)
				}
				if !end.Equal(end.Truncate(time.Second)) {
					t.Fatalf("new end %s is not on a whole second", end)
				}
				if d := end.Sub(start); d > maxWindow || (p != nil && d > p.Spec.MaxDuration.Duration) {
					t.Fatalf("window of %s accepted (profile %v)", d, p != nil)
				}
				if _, err := metav1.NewTime(end).MarshalJSON(); err != nil {
					t.Fatalf("new end %s does not marshal: %v", end, err)
				}
			}
		}
	})
}

func extensionSlice(start time.Time, length time.Duration) *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "or-3", Name: "or3-prostatectomy", UID: "uid-1"}}
	s.Spec.Profile = "surgery-urllc"
	s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.NewTime(start), End: metav1.NewTime(start.Add(length))}
	return s
}

var (
	offlineConsole     *Server
	offlineConsoleOnce sync.Once
	offlineConsoleErr  error
)

// offline is a console whose API server cannot be reached: a sign-in that
// gets as far as the TokenReview fails there.
func offline(t *testing.T) *Server {
	t.Helper()
	offlineConsoleOnce.Do(func() {
		offlineConsole, offlineConsoleErr = New(Config{
			RestConfig: &rest.Config{Host: "http://127.0.0.1:1", Timeout: 2 * time.Second},
			Location:   berlin, Now: func() time.Time { return formNow }, Log: logr.Discard(),
		})
	})
	if offlineConsoleErr != nil {
		t.Fatal(offlineConsoleErr)
	}
	return offlineConsole
}

// unauthenticatedPaths are where the console takes forms.
var unauthenticatedPaths = []string{"/signin", "/book", "/signout", "/slices/or-3/or3-prostatectomy/extend", "/slices/or-3/or3-prostatectomy/cancel"}

// FuzzUnauthenticatedForms posts any body, with any Origin and any
// cookies, to every form of the console without a session: the sign-in,
// booking, sign-out, extend and cancel forms. Nothing is ever done: no
// session is opened, a signed-in form only redirects to the sign-in page,
// and the sign-in form is refused with a page (or fails at the
// TokenReview, which this console cannot reach). Seeds are in
// testdata/fuzz/FuzzUnauthenticatedForms.
func FuzzUnauthenticatedForms(f *testing.F) {
	f.Add(uint8(0), "csrf=abc&token=eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "", "medslice_signin=abc")
	f.Add(uint8(3), "csrf=abc&uid=uid-1&by=30m", "https://evil.example", "medslice_session=AAAA")
	f.Fuzz(func(t *testing.T, path uint8, body, origin, cookies string) {
		srv := offline(t)
		target := unauthenticatedPaths[int(path)%len(unauthenticatedPaths)]
		req := httptest.NewRequest(http.MethodPost, "http://console.example"+target, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if cookies != "" {
			req.Header.Set("Cookie", cookies)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		res := rec.Result()
		for _, c := range res.Cookies() {
			if c.Name == sessionCookie && c.Value != "" && c.MaxAge >= 0 {
				t.Fatalf("a session was opened by %s %q", target, body)
			}
		}
		if target != "/signin" {
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin" {
				t.Fatalf("%s without a session answered %d to %q", target, res.StatusCode, res.Header.Get("Location"))
			}
			return
		}
		switch res.StatusCode {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusServiceUnavailable:
		default:
			t.Fatalf("sign-in answered %d (Location %q) for %q", res.StatusCode, res.Header.Get("Location"), body)
		}
		if strings.TrimSpace(rec.Body.String()) == "" {
			t.Fatalf("sign-in refused (%d) without saying why", res.StatusCode)
		}
	})
}

// The offline console refuses like the real one: a valid sign-in form
// fails at the TokenReview with 503, not with a session.
func TestOfflineSignInFailsAtTheTokenReview(t *testing.T) {
	srv := offline(t)
	form := url.Values{"csrf": {"abc"}, "token": {"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}}
	req := httptest.NewRequest(http.MethodPost, "http://console.example/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://console.example")
	req.AddCookie(&http.Cookie{Name: signinCookie, Value: "abc"})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "could not reach the Kubernetes API server") {
		t.Errorf("sign-in with an unreachable API server: %d %s", rec.Code, rec.Body.String())
	}
}

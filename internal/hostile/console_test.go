package hostile

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Inputs to the web console: forms as a browser, another site or a script
// would post them.

// bookingForm is a valid booking form of or-a, tomorrow, for a row to spoil.
func bookingForm(name string) url.Values {
	start := time.Now().UTC().Add(26 * time.Hour)
	return url.Values{
		"name": {name}, "namespace": {nsA}, "profile": {"surgery-urllc"}, "core": {campusCore},
		"devices": {"robot-arm=10.45.0.8"}, "servers": {"10.100.0.5"}, "ports": {"5000-5010"},
		"protocol": {"UDP"}, "start": {start.Format("2006-01-02T15:04")}, "duration": {"2h"}, "leadtime": {"15m"},
		"purpose": {"robotic prostatectomy"},
	}
}

// post sends form as b, with b's CSRF token unless the form has one.
func post(b *browser, path string, form url.Values, header map[string]string) (answer, error) {
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	return b.send(request{method: http.MethodPost, path: path, form: form, header: header})
}

// book posts a booking form as user-a, changed by change.
func book(change func(url.Values)) func(*testing.T, *fixture) answer {
	return func(t *testing.T, f *fixture) answer {
		t.Helper()
		form := bookingForm("hostile-booking")
		change(form)
		a, err := post(f.a, "/book", form, nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

// sliceAction posts the extend or cancel form of a slice as user-a.
func sliceAction(ns, name, action string, form func(*fixture) url.Values) func(*testing.T, *fixture) answer {
	return func(t *testing.T, f *fixture) answer {
		t.Helper()
		a, err := post(f.a, "/slices/"+ns+"/"+name+"/"+action, form(f), nil)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

// signIn posts the sign-in form from a new browser that loaded the
// sign-in page, changed by change.
func signIn(token string, change func(*request)) func(*testing.T, *fixture) answer {
	return func(t *testing.T, f *fixture) answer {
		t.Helper()
		b := &browser{base: f.console.URL}
		b.jar = newJar(t)
		if _, err := b.send(request{method: http.MethodGet, path: "/signin"}); err != nil {
			t.Fatal(err)
		}
		rq := request{method: http.MethodPost, path: "/signin", form: url.Values{"csrf": {b.csrf}, "token": {token}}}
		if change != nil {
			change(&rq)
		}
		a, err := b.send(rq)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

func consoleInputs() []hostileInput {
	const area = "console"
	const refusedCSRF = "The form's security token is missing or does not match this session. Reload the page and try again."
	return []hostileInput{
		{
			area: area, name: "booking without the CSRF token",
			try:        book(func(v url.Values) { v.Set("csrf", "") }),
			wantStatus: http.StatusForbidden, want: refusedCSRF,
		},
		{
			area: area, name: "booking with another session's CSRF token",
			try: func(t *testing.T, f *fixture) answer {
				form := bookingForm("hostile-booking")
				form.Set("csrf", f.b.csrf)
				a, err := post(f.a, "/book", form, nil)
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusForbidden, want: refusedCSRF,
		},
		{
			area: area, name: "booking posted from another site (Origin)",
			try: func(t *testing.T, f *fixture) answer {
				a, err := post(f.a, "/book", bookingForm("hostile-booking"), map[string]string{"Origin": "https://evil.example"})
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusForbidden, want: "The request comes from another site (Origin https://evil.example): only forms of this console may change anything.",
		},
		{
			area: area, name: "booking posted from another site (Referer, no Origin)",
			try: func(t *testing.T, f *fixture) answer {
				a, err := post(f.a, "/book", bookingForm("hostile-booking"), map[string]string{"Origin": "", "Referer": "https://evil.example/book"})
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusForbidden, want: "The request comes from another site (Referer https://evil.example/book)",
		},
		{
			area: area, name: "booking posted by a script without Origin or Referer",
			try: func(t *testing.T, f *fixture) answer {
				a, err := post(f.a, "/book", bookingForm("hostile-booking"), map[string]string{"Origin": ""})
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusForbidden, want: "The request carries neither an Origin nor a Referer header",
		},
		{
			area: area, name: "booking without a session",
			try: func(t *testing.T, f *fixture) answer {
				a, err := f.a.send(request{method: http.MethodPost, path: "/book", form: bookingForm("hostile-booking"), noCookies: true})
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusSeeOther, want: "redirect to /signin",
		},
		{
			area: area, name: "booking with a forged session cookie",
			try: func(t *testing.T, f *fixture) answer {
				form := bookingForm("hostile-booking")
				form.Set("csrf", f.a.csrf)
				a, err := f.a.send(request{method: http.MethodPost, path: "/book", form: form, noCookies: true,
					cookie: &http.Cookie{Name: "medslice_session", Value: strings.Repeat("A", 43)}})
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusSeeOther, want: "redirect to /signin",
		},
		{
			area: area, name: "booking whose purpose is a script",
			try:        book(func(v url.Values) { v.Set("purpose", `<script>fetch("/signout",{method:"POST"})</script>`) }),
			wantStatus: http.StatusUnprocessableEntity, want: "Purpose is plain text: remove < and >.",
		},
		{
			area: area, name: "booking whose purpose spans lines",
			try:        book(func(v url.Values) { v.Set("purpose", "prostatectomy\nX-Injected: 1") }),
			wantStatus: http.StatusUnprocessableEntity, want: "Purpose is one line of plain text.",
		},
		{
			area: area, name: "booking with a 1,000-character purpose",
			try:        book(func(v url.Values) { v.Set("purpose", strings.Repeat("é", 1000)) }),
			wantStatus: http.StatusUnprocessableEntity, want: "Purpose: at most 256 characters; this has 1000.",
		},
		{
			area: area, name: "booking in another team's namespace",
			try:        book(func(v url.Values) { v.Set("namespace", nsB) }),
			wantStatus: http.StatusForbidden, want: "You may not book slices in namespace or-b.",
		},
		{
			area: area, name: "booking in a namespace given as a path",
			try:        book(func(v url.Values) { v.Set("namespace", "../or-b") }),
			wantStatus: http.StatusUnprocessableEntity, want: `"../or-b" is not a namespace name.`,
		},
		{
			area: area, name: "booking over another booking's name",
			try:        book(func(v url.Values) { v.Set("name", bookedA) }),
			wantStatus: http.StatusConflict, want: "A slice named " + bookedA + " already exists in or-a",
		},
		{
			area: area, name: "booking with markup in a device line",
			try:        book(func(v url.Values) { v.Set("devices", `robot-arm=10.45.0.8"><script>alert(1)</script>`) }),
			wantStatus: http.StatusUnprocessableEntity, want: "Devices",
		},
		{
			area: area, name: "booking with 40 devices",
			try: book(func(v url.Values) {
				var lines []string
				for i := range 40 {
					lines = append(lines, fmt.Sprintf("d%d=10.45.1.%d", i, i+1))
				}
				v.Set("devices", strings.Join(lines, "\n"))
			}),
			wantStatus: http.StatusUnprocessableEntity, want: "At most 32 devices per slice; this has 40.",
		},
		{
			area: area, name: "booking form of 1 MiB",
			try:        book(func(v url.Values) { v.Set("padding", strings.Repeat("x", 1<<20)) }),
			wantStatus: http.StatusRequestEntityTooLarge, want: "The form is larger than 64 KiB",
		},
		{
			area: area, name: "extending another team's slice",
			try: sliceAction(nsB, bookedB, "extend", func(f *fixture) url.Values {
				return url.Values{"uid": {string(f.sliceB.UID)}, "by": {"1h"}}
			}),
			wantStatus: http.StatusForbidden, want: "You may not see slices in namespace or-b.",
		},
		{
			area: area, name: "cancelling another team's slice",
			try: sliceAction(nsB, bookedB, "cancel", func(f *fixture) url.Values {
				return url.Values{"uid": {string(f.sliceB.UID)}, "release": {"yes"}}
			}),
			wantStatus: http.StatusForbidden, want: "You may not see slices in namespace or-b.",
		},
		{
			area: area, name: "extending a slice by the UID of another",
			try: sliceAction(nsA, bookedA, "extend", func(f *fixture) url.Values {
				return url.Values{"uid": {string(f.sliceB.UID)}, "by": {"1h"}}
			}),
			wantStatus: http.StatusConflict, want: "This slice was deleted and booked again since the page was loaded",
		},
		{
			area: area, name: "cancelling a slice by the UID of another",
			try: sliceAction(nsA, bookedA, "cancel", func(f *fixture) url.Values {
				return url.Values{"uid": {string(f.sliceB.UID)}}
			}),
			wantStatus: http.StatusConflict, want: "This slice was deleted and booked again since the page was loaded",
		},
		{
			area: area, name: "extending by a negative duration",
			try: sliceAction(nsA, bookedA, "extend", func(f *fixture) url.Values {
				return url.Values{"uid": {string(f.sliceA.UID)}, "by": {"-1h"}}
			}),
			wantStatus: http.StatusUnprocessableEntity, want: `"-1h":`,
		},
		{
			area: area, name: "extending by ten years",
			try: sliceAction(nsA, bookedA, "extend", func(f *fixture) url.Values {
				return url.Values{"uid": {string(f.sliceA.UID)}, "by": {"87600h"}}
			}),
			wantStatus: http.StatusUnprocessableEntity, want: `"87600h":`,
		},
		{
			area: area, name: "signing out without the CSRF token",
			try: func(t *testing.T, f *fixture) answer {
				a, err := post(f.a, "/signout", url.Values{"csrf": {""}}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return a
			},
			wantStatus: http.StatusForbidden, want: refusedCSRF,
		},
		{
			area: area, name: "sign-in without the sign-in form's token",
			try:        signIn("some-token", func(rq *request) { rq.form.Set("csrf", "") }),
			wantStatus: http.StatusForbidden, want: "The sign-in form has expired or did not come from this console.",
		},
		{
			area: area, name: "sign-in posted from another site",
			try:        signIn("some-token", func(rq *request) { rq.header = map[string]string{"Origin": "https://evil.example"} }),
			wantStatus: http.StatusForbidden, want: "The request comes from another site (Origin https://evil.example)",
		},
		{
			area: area, name: "sign-in with a forged token",
			try:        signIn("eyJhbGciOiJSUzI1NiIsImtpZCI6ImZvcmdlZCJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6b3ItYjp1c2VyLWIifQ.c2lnbmF0dXJl", nil),
			wantStatus: http.StatusUnauthorized, want: "Kubernetes does not accept this token.",
		},
		{
			area: area, name: "sign-in with a token and a header on two lines",
			try:        signIn("token\r\nImpersonate-User: system:admin", nil),
			wantStatus: http.StatusUnprocessableEntity, want: "That is not a Kubernetes bearer token: paste the token alone, on one line.",
		},
		{
			area: area, name: "sign-in form of 1 MiB",
			try:        signIn("some-token", func(rq *request) { rq.form.Set("padding", strings.Repeat("x", 1<<20)) }),
			wantStatus: http.StatusRequestEntityTooLarge, want: "The form is larger than 64 KiB",
		},
		{
			area: area, name: "sign-in with a 20 KiB token",
			try:        signIn(strings.Repeat("A", 20<<10), nil),
			wantStatus: http.StatusUnprocessableEntity, want: "That is not a Kubernetes bearer token: paste the token alone, on one line.",
		},
	}
}

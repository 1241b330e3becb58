package emulator

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAdminSessionsShape protects the admin API contract the e2e suite and
// the demo read: field names, RFC 3339 times, and that it says it is an
// emulator.
func TestAdminSessionsShape(t *testing.T) {
	e := newEnv(t)
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF("http://op/notify/v1/ns/n/uid-1/robot/tok")), http.StatusCreated)
	a := call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/sessions", "", nil)
	wantStatus(t, a, http.StatusOK)
	if got := a.header.Get(emulatorHeader); got == "" {
		t.Errorf("no %s header: the admin API must say it is an emulator", emulatorHeader)
	}
	var raw []map[string]any
	if err := json.Unmarshal(a.body, &raw); err != nil || len(raw) != 1 {
		t.Fatalf("sessions = %s (%v)", a.body, err)
	}
	for _, k := range []string{"id", "api", "scsAsId", "ueAddress", "flowDescriptions", "correlation", "createdAt", "expiresAt",
		"fiveQI", "gbrUl", "gbrDl", "notificationUri", "resourceUri"} {
		if _, ok := raw[0][k]; !ok {
			t.Errorf("session has no %q: %s", k, a.body)
		}
	}
	want := map[string]any{"api": "nef", "scsAsId": "af-1", "ueAddress": "10.45.0.2", "correlation": "uid-1/robot",
		"fiveQI": 82.0, "gbrUl": "10 Mbps", "gbrDl": "20 Mbps", "createdAt": "2026-03-02T08:00:00Z", "expiresAt": "2026-03-02T08:10:00Z"}
	for k, v := range want {
		if raw[0][k] != v {
			t.Errorf("%s = %v, want %v", k, raw[0][k], v)
		}
	}
}

// TestAdminReset protects the "core restart" fault: every session is
// forgotten, silently (no notification), ids do not come back, and the
// emulator keeps serving.
func TestAdminReset(t *testing.T) {
	e := newEnv(t)
	rcv := newSink(t, false, nil)
	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF(rcv.notifyURI("u", "d")))
	wantStatus(t, a, http.StatusCreated)
	nefLoc := a.header.Get("Location")
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, validPCF(rcv.notifyURI("u", "d")))
	wantStatus(t, a, http.StatusCreated)
	pcfLoc := a.header.Get("Location")
	rcv.next(t)
	rcv.next(t)

	a = call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/reset", "", nil)
	wantStatus(t, a, http.StatusOK)
	if got := decode[resetAnswer](t, a); got.Forgotten != 2 || !strings.Contains(got.Emulator, "test double") {
		t.Errorf("reset answer = %+v", got)
	}
	if n := len(e.sessions(t)); n != 0 {
		t.Fatalf("%d sessions after reset", n)
	}
	wantStatus(t, call(t, nil, http.MethodGet, nefLoc, "", nil), http.StatusNotFound)
	wantStatus(t, call(t, nil, http.MethodGet, pcfLoc, "", nil), http.StatusNotFound)
	// Nothing is left to expire, so nothing is ever told.
	e.clock.Advance(24 * time.Hour)
	if n := e.srv.ExpireSessions(); n != 0 {
		t.Errorf("%d sessions expired after reset", n)
	}
	e.waitIdle(t)
	rcv.empty(t)

	// The same create works again, under a new id (a 303 would be wrong:
	// the core forgot).
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, validPCF(rcv.notifyURI("u", "d")))
	wantStatus(t, a, http.StatusCreated)
	if a.header.Get("Location") == pcfLoc {
		t.Errorf("id %s reused after reset", pcfLoc)
	}
}

// TestAdminResetDropsPendingNotifications protects "a restart forgets":
// notifications still being retried when the reset comes are not delivered.
func TestAdminResetDropsPendingNotifications(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	rcv := newSink(t, false, func(n int) int {
		if n == 1 {
			<-gate // hold the first attempt until the reset happened
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF(rcv.notifyURI("u", "d"))), http.StatusCreated)
	deadline := time.Now().Add(notifyWait)
	for func() bool { rcv.mu.Lock(); defer rcv.mu.Unlock(); return rcv.n == 0 }() {
		if time.Now().After(deadline) {
			t.Fatal("first notification attempt never arrived")
		}
		time.Sleep(pollInterval)
	}
	wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/reset", "", nil), http.StatusOK)
	close(gate)
	e.waitIdle(t)
	rcv.empty(t)
}

// TestAdminFaultsValidation protects the admin input checks: a typo must be
// a clear 400, never a silently ignored fault.
func TestAdminFaultsValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		body        string
		contentType string
		wantStatus  int
		wantDetail  string
	}{
		"rate above 1":       {body: `{"errorRate": 1.5}`, wantStatus: http.StatusBadRequest, wantDetail: "between 0 and 1"},
		"negative rate":      {body: `{"errorRate": -0.1}`, wantStatus: http.StatusBadRequest, wantDetail: "between 0 and 1"},
		"unknown field":      {body: `{"errorrate": 0.1}`, wantStatus: http.StatusBadRequest, wantDetail: "unknown field"},
		"rate as string":     {body: `{"errorRate": "10%"}`, wantStatus: http.StatusBadRequest, wantDetail: "errorRate"},
		"bad latency":        {body: `{"latency": "fast"}`, wantStatus: http.StatusBadRequest, wantDetail: "duration"},
		"latency as number":  {body: `{"latency": 50}`, wantStatus: http.StatusBadRequest, wantDetail: "latency"},
		"negative latency":   {body: `{"latency": "-1s"}`, wantStatus: http.StatusBadRequest, wantDetail: "between 0"},
		"huge latency":       {body: `{"latency": "2h"}`, wantStatus: http.StatusBadRequest, wantDetail: "between 0"},
		"status 418":         {body: `{"errorStatus": 418}`, wantStatus: http.StatusBadRequest, wantDetail: "500, 503 or 504"},
		"delay rate above 1": {body: `{"delayRate": 2, "maxDelay": "1s"}`, wantStatus: http.StatusBadRequest, wantDetail: "delayRate must be between 0 and 1"},
		"delay rate alone":   {body: `{"delayRate": 0.5}`, wantStatus: http.StatusBadRequest, wantDetail: "needs maxDelay"},
		"bad max delay":      {body: `{"delayRate": 0.5, "maxDelay": "soon"}`, wantStatus: http.StatusBadRequest, wantDetail: "maxDelay must be a duration"},
		"huge max delay":     {body: `{"delayRate": 0.5, "maxDelay": "1h"}`, wantStatus: http.StatusBadRequest, wantDetail: "maxDelay must be between 0"},
		"trailing data":      {body: `{} {}`, wantStatus: http.StatusBadRequest, wantDetail: "after the JSON"},
		"not JSON":           {body: `errorRate=0.1`, wantStatus: http.StatusBadRequest, wantDetail: "body must be"},
		"form content type":  {body: `{"errorRate": 0.1}`, contentType: "application/x-www-form-urlencoded", wantStatus: http.StatusUnsupportedMediaType, wantDetail: "application/json"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			ct := contentTypeJSON
			if tc.contentType != "" {
				ct = tc.contentType
			}
			a := call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/faults", ct, tc.body)
			wantStatus(t, a, tc.wantStatus)
			p := decode[adminProblem](t, a)
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail %q, want it to mention %q", p.Detail, tc.wantDetail)
			}
			if got := decode[faultsAnswer](t, call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/faults", "", nil)).Faults; got != (Faults{Latency: "0s", ErrorStatus: 500, MaxDelay: "0s"}) {
				t.Errorf("faults after a refused set = %+v, want none", got)
			}
		})
	}
}

// TestAdminFaultsSetAndClear protects setting, reading back and clearing.
func TestAdminFaultsSetAndClear(t *testing.T) {
	e := newEnv(t)
	a := call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/faults", contentTypeJSON, `{"errorRate": 0.25, "latency": "50ms", "errorStatus": 503, "delayRate": 0.5, "maxDelay": "2s"}`)
	wantStatus(t, a, http.StatusOK)
	want := Faults{ErrorRate: 0.25, Latency: "50ms", ErrorStatus: 503, DelayRate: 0.5, MaxDelay: "2s"}
	if got := decode[faultsAnswer](t, a); got.Faults != want || got.Emulator == "" {
		t.Errorf("set answer = %+v, want %+v", got, want)
	}
	if got := decode[faultsAnswer](t, call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/faults", "", nil)).Faults; got != want {
		t.Errorf("GET = %+v, want %+v", got, want)
	}
	for _, clear := range []string{"", `{}`, `{"errorRate": 0, "latency": "", "delayRate": 0}`} {
		wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/faults", "", `{"errorRate": 1}`), http.StatusOK)
		wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/faults", contentTypeJSON, clear), http.StatusOK)
		if got := decode[faultsAnswer](t, call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/faults", "", nil)).Faults; got != (Faults{Latency: "0s", ErrorStatus: 500, MaxDelay: "0s"}) {
			t.Errorf("after clearing with %q: %+v", clear, got)
		}
	}
}

// TestFaultErrorRate protects the error injection: the share of failed NEF
// and PCF calls matches the rate, failures are 5xx ProblemDetails in the
// API's flavour and change nothing, admin calls never fail, and a seed
// reproduces the same sequence.
func TestFaultErrorRate(t *testing.T) {
	const (
		calls = 2000
		rate  = 0.2
		// Binomial(2000, 0.2) has a standard deviation of about 18 calls;
		// 5 sigma makes a wrong implementation fail and a right one pass.
		tolerance = 5 * 17.9
	)
	pattern := func(seed uint64) []bool {
		e := newEnv(t, withSeed(seed))
		wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/faults", contentTypeJSON, `{"errorRate": 0.2, "errorStatus": 503}`), http.StatusOK)
		out := make([]bool, 0, calls)
		for i := range calls {
			var a answer
			switch i % 4 {
			case 0, 1:
				a = call(t, nil, http.MethodGet, e.nefURL("af-1"), "", nil)
			case 2:
				a = call(t, nil, http.MethodGet, e.pcfURL()+"/unknown", "", nil)
			case 3:
				a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, validPCF("http://127.0.0.1:9/n/"+itoa(i)))
			}
			switch a.status {
			case http.StatusOK, http.StatusCreated, http.StatusNotFound:
				out = append(out, false)
			case http.StatusServiceUnavailable:
				if p := problemOf(t, a); p.Cause != causeNFCongestion {
					t.Fatalf("injected failure cause = %q, want %s", p.Cause, causeNFCongestion)
				}
				out = append(out, true)
			default:
				t.Fatalf("call %d: status %d: %s", i, a.status, a.body)
			}
		}
		// Failed creates created nothing.
		created := 0
		for i, failed := range out {
			if i%4 == 3 && !failed {
				created++
			}
		}
		if n := len(e.sessions(t)); n != created {
			t.Errorf("%d sessions, want %d (one per successful create)", n, created)
		}
		for range 200 {
			wantStatus(t, call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/faults", "", nil), http.StatusOK)
		}
		return out
	}
	first := pattern(42)
	failed := 0
	for _, f := range first {
		if f {
			failed++
		}
	}
	if math.Abs(float64(failed)-rate*calls) > tolerance {
		t.Errorf("%d of %d calls failed, want %v ± %v", failed, calls, rate*calls, tolerance)
	}
	if diff := cmp.Diff(first, pattern(42)); diff != "" {
		t.Errorf("same seed, different failures:\n%s", diff)
	}
	if cmp.Equal(first, pattern(43)) {
		t.Errorf("different seeds gave the same failures")
	}
}

// TestFaultLatency protects the latency injection, and that it delays the
// answer after the request took effect: a client that gives up still leaves
// the session on the core, the case 303 recovery exists for.
func TestFaultLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	e := newEnv(t)
	wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/faults", contentTypeJSON, `{"latency": "300ms"}`), http.StatusOK)

	start := time.Now()
	wantStatus(t, call(t, nil, http.MethodGet, e.nefURL("af-1"), "", nil), http.StatusOK)
	if d := time.Since(start); d < latency {
		t.Errorf("answer after %s, want at least %s", d, latency)
	}
	start = time.Now()
	wantStatus(t, call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/sessions", "", nil), http.StatusOK)
	if d := time.Since(start); d >= latency {
		t.Errorf("admin answer after %s: admin calls must not be delayed", d)
	}

	impatient := &http.Client{Timeout: latency / 3}
	req, _ := http.NewRequest(http.MethodPost, e.pcfURL(), strings.NewReader(mustJSON(t, validPCF("http://127.0.0.1:9/n"))))
	req.Header.Set("Content-Type", contentTypeJSON)
	if resp, err := impatient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answer within %s despite %s latency", latency/3, latency)
	}
	if n := len(e.sessions(t)); n != 1 {
		t.Errorf("%d sessions after a create whose answer was lost, want 1", n)
	}
	// The retry finds it: 303.
	wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, validPCF("http://127.0.0.1:9/n")), http.StatusSeeOther)
}

// TestFaultDelayRate protects the occasional delay: about delayRate of the
// calls get a further delay, each within (0, maxDelay], on top of latency;
// the others get latency alone; a seed reproduces the same delays.
func TestFaultDelayRate(t *testing.T) {
	const (
		calls = 2000
		rate  = 0.3
		// Binomial(2000, 0.3) has a standard deviation of about 20.5.
		tolerance = 5 * 20.5
		latency   = 10 * time.Millisecond
		maxDelay  = 2 * time.Second
	)
	delays := func(seed uint64) []time.Duration {
		f := newFaults(seed)
		in, err := checkFaults(Faults{Latency: "10ms", DelayRate: rate, MaxDelay: "2s"})
		if err != nil {
			t.Fatal(err)
		}
		f.set(in)
		out := make([]time.Duration, calls)
		for i := range out {
			fail, _, d := f.decide()
			if fail {
				t.Fatalf("call %d failed without an error rate", i)
			}
			out[i] = d
		}
		return out
	}
	first := delays(7)
	delayed := 0
	for i, d := range first {
		switch {
		case d == latency:
		case d > latency && d <= latency+maxDelay:
			delayed++
		default:
			t.Fatalf("call %d delayed %s, want %s or within (%s, %s]", i, d, latency, latency, latency+maxDelay)
		}
	}
	if math.Abs(float64(delayed)-rate*calls) > tolerance {
		t.Errorf("%d of %d calls delayed further, want %v ± %v", delayed, calls, rate*calls, tolerance)
	}
	if diff := cmp.Diff(first, delays(7)); diff != "" {
		t.Errorf("same seed, different delays:\n%s", diff)
	}
}

// TestRouting protects the answers to requests no operation handles.
func TestRouting(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		method, path string
		wantStatus   int
		wantAllow    string
	}{
		"PCF has no collection GET": {http.MethodGet, "/npcf-policyauthorization/v1/app-sessions", http.StatusMethodNotAllowed, "POST"},
		"NEF DELETE collection":     {http.MethodDelete, "/3gpp-as-session-with-qos/v1/af/subscriptions", http.StatusMethodNotAllowed, "GET, POST"},
		"PCF DELETE individual":     {http.MethodDelete, "/npcf-policyauthorization/v1/app-sessions/x", http.StatusMethodNotAllowed, "GET, PATCH"},
		"unknown NEF resource":      {http.MethodGet, "/3gpp-as-session-with-qos/v1/af/other", http.StatusNotFound, ""},
		"unknown PCF version":       {http.MethodGet, "/npcf-policyauthorization/v2/app-sessions/x", http.StatusNotFound, ""},
		"unknown admin resource":    {http.MethodGet, "/admin/v1/nothing", http.StatusNotFound, ""},
		"admin wrong method":        {http.MethodDelete, "/admin/v1/sessions", http.StatusMethodNotAllowed, "GET"},
		"healthz":                   {http.MethodGet, "/healthz", http.StatusOK, ""},
	} {
		t.Run(name, func(t *testing.T) {
			a := call(t, nil, tc.method, e.ts.URL+tc.path, "", nil)
			wantStatus(t, a, tc.wantStatus)
			if got := a.header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
			if a.header.Get(emulatorHeader) == "" {
				t.Errorf("no %s header", emulatorHeader)
			}
			if tc.wantStatus >= 400 && a.header.Get("Content-Type") != contentTypeProblem {
				t.Errorf("Content-Type = %q, want %s", a.header.Get("Content-Type"), contentTypeProblem)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

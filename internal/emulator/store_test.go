package emulator

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
)

// TestCapacity protects admission on the core side: a create or patch that
// would exceed the GBR budget or the session count is refused synchronously
// with the API's cause, leaves nothing behind, and freed capacity is
// usable again.
func TestCapacity(t *testing.T) {
	// Each valid request asks 10 Mbps uplink, 20 Mbps downlink.
	e := newEnv(t, withCapacity(Capacity{GBRUplink: 25_000_000, GBRDownlink: 45_000_000, MaxSessions: 3}))

	nef := func(ue string) models.Nef_AsSessQoS_AsSessionWithQoSSubscription {
		s := validNEF("http://127.0.0.1:9/n")
		s.UeIpv4Addr = ue
		return s
	}
	pcf := func(ue string) models.Pcf_PolAuth_AppSessionContext {
		a := validPCF("http://127.0.0.1:9/n")
		a.AscReqData.UeIpv4 = ue
		return a
	}

	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, nef("10.45.0.1"))
	wantStatus(t, a, http.StatusCreated)
	first := a.header.Get("Location")
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, pcf("10.45.0.2"))
	wantStatus(t, a, http.StatusCreated)
	second := a.header.Get("Location")

	// A third 10 Mbps uplink does not fit 25 Mbps: NEF 500 INSUFFICIENT_RESOURCES.
	a = call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, nef("10.45.0.3"))
	wantStatus(t, a, http.StatusInternalServerError)
	if p := problemOf(t, a); p.Cause != causeInsufficientResources {
		t.Errorf("NEF cause = %q, want %s", p.Cause, causeInsufficientResources)
	}
	// PCF 403 REQUESTED_SERVICE_NOT_AUTHORIZED, with what is left.
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, pcf("10.45.0.3"))
	wantStatus(t, a, http.StatusForbidden)
	p := problemOf(t, a)
	if p.Cause != causeServiceNotAuthorized {
		t.Errorf("PCF cause = %q, want %s", p.Cause, causeServiceNotAuthorized)
	}
	if diff := cmp.Diff(&models.Pcf_PolAuth_AcceptableServiceInfo{MarBwUl: "5 Mbps", MarBwDl: "5 Mbps"}, p.AcceptableServInfo); diff != "" {
		t.Errorf("acceptableServInfo (-want +got):\n%s", diff)
	}
	if n := len(e.sessions(t)); n != 2 {
		t.Fatalf("%d sessions after refusals, want 2", n)
	}

	// A patch that would exceed is refused and changes nothing; one that
	// fits (lower, or within what is left) passes.
	before := e.sessions(t)
	wantStatus(t, call(t, nil, http.MethodPatch, first, contentTypeMergePatch, `{"tscQosReq": {"reqGbrUl": "16 Mbps"}}`), http.StatusInternalServerError)
	wantStatus(t, call(t, nil, http.MethodPatch, second, contentTypeMergePatch,
		`{"ascReqData": {"medComponents": {"1": {"medCompN": 1, "mirBwUl": "16 Mbps"}}}}`), http.StatusForbidden)
	if diff := cmp.Diff(before, e.sessions(t)); diff != "" {
		t.Errorf("refused patches changed sessions (-before +after):\n%s", diff)
	}
	wantStatus(t, call(t, nil, http.MethodPatch, first, contentTypeMergePatch, `{"tscQosReq": {"reqGbrUl": "15 Mbps"}}`), http.StatusOK)

	// Freed capacity is usable again.
	wantStatus(t, call(t, nil, http.MethodDelete, first, "", nil), http.StatusNoContent)
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, nef("10.45.0.3")), http.StatusCreated)

	// The session count: a third session fits the rates but not MaxSessions
	// once a fourth is asked.
	small := pcf("10.45.0.4")
	m := small.AscReqData.MedComponents["1"]
	m.MirBwUl, m.MirBwDl, m.MarBwUl, m.MarBwDl = "1 Kbps", "1 Kbps", "1 Kbps", "1 Kbps"
	small.AscReqData.MedComponents["1"] = m
	wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, small), http.StatusCreated)
	small.AscReqData.UeIpv4 = "10.45.0.5"
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, small)
	wantStatus(t, a, http.StatusForbidden)
	if p := problemOf(t, a); p.AcceptableServInfo != nil {
		t.Errorf("acceptableServInfo %+v for a session-count refusal, want none: bandwidth is not the problem", p.AcceptableServInfo)
	}
}

// TestCapacityConcurrent protects the capacity check against races: of many
// concurrent creates, exactly as many succeed as fit.
func TestCapacityConcurrent(t *testing.T) {
	const fit, tries = 5, 40
	e := newEnv(t, withCapacity(Capacity{MaxSessions: fit}))
	var wg sync.WaitGroup
	codes := make(chan int, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := validNEF("http://127.0.0.1:9/n")
			s.UeIpv4Addr = "10.45.1." + itoa(i+1)
			codes <- call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, s).status
		}()
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		if c == http.StatusCreated {
			created++
		}
	}
	if created != fit || len(e.sessions(t)) != fit {
		t.Errorf("%d created, %d stored; want %d", created, len(e.sessions(t)), fit)
	}
}

// TestExpiry protects the time bound: a session ends at expiresAt (the
// usage threshold duration, else the default TTL), is then unknown to every
// API, and the AF is told: NEF SESSION_TERMINATION to the
// notificationDestination, PCF TerminationInfo to {notifUri}/terminate.
func TestExpiry(t *testing.T) {
	e := newEnv(t)
	rcv := newSink(t, false, nil)

	nef := validNEF(rcv.notifyURI("uid-n", "dev"))
	nef.UsageThreshold.Duration = 60
	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, nef)
	wantStatus(t, a, http.StatusCreated)
	nefLoc := a.header.Get("Location")
	rcv.next(t)

	pcf := validPCF(rcv.notifyURI("uid-p", "dev"))
	pcf.AscReqData.EvSubsc.UsgThres.Duration = 30
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, pcf)
	wantStatus(t, a, http.StatusCreated)
	pcfLoc := a.header.Get("Location")
	rcv.next(t)

	unbounded := validNEF(rcv.notifyURI("uid-u", "dev"))
	unbounded.UeIpv4Addr = "10.45.0.9"
	unbounded.UsageThreshold = nil
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, unbounded), http.StatusCreated)
	rcv.next(t)

	e.clock.Advance(29 * time.Second)
	if n := e.srv.ExpireSessions(); n != 0 {
		t.Fatalf("%d sessions ended before their time", n)
	}
	e.clock.Advance(time.Second)
	if n := e.srv.ExpireSessions(); n != 1 {
		t.Fatalf("%d sessions ended at 30s, want the PCF one", n)
	}
	got := rcv.next(t)
	if got.path != "/notify/v1/or-3/robotic-surgery/uid-p/dev/s3cr3t/terminate" {
		t.Errorf("termination went to %s, want {notifUri}/terminate", got.path)
	}
	if diff := cmp.Diff(models.Pcf_PolAuth_TerminationInfo{TermCause: models.Pcf_PolAuth_TerminationCause_ALL_SDF_DEACTIVATION, ResUri: pcfLoc},
		decode[models.Pcf_PolAuth_TerminationInfo](t, answer{body: got.body})); diff != "" {
		t.Errorf("TerminationInfo (-want +got):\n%s", diff)
	}
	wantStatus(t, call(t, nil, http.MethodGet, pcfLoc, "", nil), http.StatusNotFound)

	// The NEF one is renewed by a patch carrying a duration, then ends.
	e.clock.Advance(20 * time.Second) // t0+50s
	wantStatus(t, call(t, nil, http.MethodPatch, nefLoc, contentTypeMergePatch, `{"usageThreshold": {"duration": 60}}`), http.StatusOK)
	rcv.next(t)
	e.clock.Advance(30 * time.Second) // t0+80s: past the original bound
	if n := e.srv.ExpireSessions(); n != 0 {
		t.Fatalf("renewed session ended at its old bound")
	}
	// No explicit scan: the next API call ends what is due before answering.
	e.clock.Advance(30 * time.Second) // t0+110s: past the renewed bound
	wantStatus(t, call(t, nil, http.MethodGet, nefLoc, "", nil), http.StatusNotFound)
	got = rcv.next(t)
	if diff := cmp.Diff(models.Nef_AsSessQoS_UserPlaneNotificationData{
		Transaction:  nefLoc,
		EventReports: []models.Nef_AsSessQoS_UserPlaneEventReport{{Event: models.Nef_AsSessQoS_UserPlaneEvent_SESSION_TERMINATION}},
	}, decode[models.Nef_AsSessQoS_UserPlaneNotificationData](t, answer{body: got.body})); diff != "" {
		t.Errorf("NEF termination (-want +got):\n%s", diff)
	}

	// The unbounded one lives for the default TTL.
	ss := e.sessions(t)
	if len(ss) != 1 || !ss[0].ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("sessions = %+v, want the unbounded one, expiring at %s", ss, t0.Add(time.Hour))
	}
	e.clock.Advance(time.Hour)
	if n := e.srv.ExpireSessions(); n != 1 {
		t.Fatalf("default TTL: %d ended, want 1", n)
	}
	rcv.next(t)
	e.waitIdle(t)
	rcv.empty(t)
}

// TestServeExpiresOnItsOwn protects the background scan of Serve: with the
// real clock, a one-second session ends without any API call.
func TestServeExpiresOnItsOwn(t *testing.T) {
	srv, err := New(Config{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 10*time.Millisecond) }()
	base := APIRootFor(ln.Addr())
	s := validNEF("http://127.0.0.1:9/n")
	s.UsageThreshold.Duration = 1
	wantStatus(t, call(t, nil, http.MethodPost, base+"/3gpp-as-session-with-qos/v1/af/subscriptions", contentTypeJSON, s), http.StatusCreated)
	deadline := time.Now().Add(notifyWait)
	for len(srv.store.list(nil)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("session still there %s after its 1s bound", notifyWait)
		}
		time.Sleep(pollInterval)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
)

// Timeouts and polling of the tests.
const (
	// notifyWait bounds how long a test waits for a notification.
	notifyWait = 5 * time.Second
	// pollInterval is how often a test re-checks a condition it waits for.
	pollInterval = 5 * time.Millisecond
	// testBackoff keeps notification retries fast in tests.
	testBackoff = 5 * time.Millisecond
)

// t0 is the fake clock's start.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// fakeClock is an injectable clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is an emulator served over h2c and HTTP/1.1 on a local port.
type env struct {
	srv   *Server
	ts    *httptest.Server
	clock *fakeClock
}

type envOption func(*Config)

func withCapacity(c Capacity) envOption { return func(cfg *Config) { cfg.Capacity = c } }
func withSeed(seed uint64) envOption    { return func(cfg *Config) { cfg.Seed = seed } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	clock := newFakeClock()
	cfg := Config{
		DefaultSessionTTL: time.Hour,
		Now:               clock.Now,
		Logger:            slog.New(slog.NewTextHandler(io.Discard, nil)),
		Notify:            NotifyConfig{Backoff: testBackoff, Timeout: time.Second},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config = NewHTTPServer(srv.Handler(), cfg.Logger)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &env{srv: srv, ts: ts, clock: clock}
}

func (e *env) nefURL(scsAsID string) string {
	return e.ts.URL + "/3gpp-as-session-with-qos/v1/" + scsAsID + "/subscriptions"
}

func (e *env) pcfURL() string { return e.ts.URL + "/npcf-policyauthorization/v1/app-sessions" }

// waitIdle waits until every queued notification has been delivered or
// given up.
func (e *env) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(notifyWait)
	for e.srv.notifier.pending.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("notifications still pending after %s", notifyWait)
		}
		time.Sleep(pollInterval)
	}
}

// answer is an HTTP answer, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
	proto  int
}

// call sends body (encoded as JSON unless it is a string or []byte) and
// reads the answer.
func call(t *testing.T, c *http.Client, method, url, contentType string, body any) answer {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encoding request: %v", err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c == nil {
		c = noRedirectClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b, proto: resp.ProtoMajor}
}

// noRedirectClient shows a 303 as it is, as medslice's clients see it.
var noRedirectClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("decoding %T from %d %s: %v", v, a.status, a.body, err)
	}
	return v
}

func wantStatus(t *testing.T, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status = %d, want %d; body %s", a.status, status, a.body)
	}
}

// problemOf reads any of the ProblemDetails flavours.
func problemOf(t *testing.T, a answer) models.Pcf_PolAuth_ExtendedProblemDetails {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != contentTypeProblem {
		t.Fatalf("Content-Type = %q, want %s; body %s", ct, contentTypeProblem, a.body)
	}
	return decode[models.Pcf_PolAuth_ExtendedProblemDetails](t, a)
}

// received is a notification as the sink saw it.
type received struct {
	path  string
	proto int
	body  []byte
}

// sink receives notifications like medslice's notification endpoint does.
type sink struct {
	*httptest.Server
	ch chan received
	mu sync.Mutex
	n  int
	// status answers the n-th notification (from 1); 204 when nil.
	status func(n int) int
}

func newSink(t *testing.T, h2c bool, status func(n int) int) *sink {
	t.Helper()
	s := &sink{ch: make(chan received, 100), status: status}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PRI" {
			// An HTTP/1.1-only Go server hands the h2c preface to the
			// handler; the notifier then falls back to HTTP/1.1.
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.n++
		n := s.n
		s.mu.Unlock()
		code := http.StatusNoContent
		if s.status != nil {
			code = s.status(n)
		}
		w.WriteHeader(code)
		if code < 300 {
			s.ch <- received{path: r.URL.Path, proto: r.ProtoMajor, body: b}
		}
	}))
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		s.Config.Protocols = &p
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// notifyURI is a notification URI of medslice's shape.
func (s *sink) notifyURI(slice, device string) string {
	return s.URL + "/notify/v1/or-3/robotic-surgery/" + slice + "/" + device + "/s3cr3t"
}

// next waits for the next acknowledged notification.
func (s *sink) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-s.ch:
		return r
	case <-time.After(notifyWait):
		t.Fatalf("no notification within %s", notifyWait)
		return received{}
	}
}

// empty fails when a notification was received.
func (s *sink) empty(t *testing.T) {
	t.Helper()
	select {
	case r := <-s.ch:
		t.Fatalf("unexpected notification to %s: %s", r.path, r.body)
	default:
	}
}

// Flow descriptions as medslice builds them: a downlink/uplink pair.
const (
	fdDown = "permit out 17 from 192.0.2.10 5000-5001 to 10.45.0.2"
	fdUp   = "permit in 17 from 10.45.0.2 to 192.0.2.10 5000-5001"
)

func validNEF(notify string) models.Nef_AsSessQoS_AsSessionWithQoSSubscription {
	return models.Nef_AsSessQoS_AsSessionWithQoSSubscription{
		NotificationDestination: notify,
		UeIpv4Addr:              "10.45.0.2",
		Dnn:                     "internet",
		Snssai:                  &models.Snssai{Sst: 2, Sd: "000001"},
		FlowInfo:                []models.Nef_FlowInfo{{FlowId: 1, FlowDescriptions: []string{fdDown, fdUp}}},
		QosReference:            "5qi-82",
		TscQosReq:               &models.Nef_AsSessQoS_TscQosRequirement{ReqGbrUl: "10 Mbps", ReqGbrDl: "20 Mbps", ReqMbrUl: "20 Mbps", ReqMbrDl: "40 Mbps", Req5Gsdelay: 10},
		UsageThreshold:          &models.Nef_UsageThreshold{Duration: 600},
		Events: []models.Nef_AsSessQoS_UserPlaneEvent{
			models.Nef_AsSessQoS_UserPlaneEvent_SUCCESSFUL_RESOURCES_ALLOCATION,
			models.Nef_AsSessQoS_UserPlaneEvent_SESSION_TERMINATION,
		},
	}
}

func validPCF(notify string) models.Pcf_PolAuth_AppSessionContext {
	return models.Pcf_PolAuth_AppSessionContext{AscReqData: &models.Pcf_PolAuth_AppSessionContextReqData{
		NotifUri:  notify,
		SuppFeat:  "0",
		UeIpv4:    "10.45.0.2",
		Dnn:       "internet",
		SliceInfo: &models.Snssai{Sst: 2, Sd: "000001"},
		MedComponents: map[string]models.Pcf_PolAuth_MediaComponent{"1": {
			MedCompN: 1,
			MedType:  models.Pcf_PolAuth_MediaType_APPLICATION,
			MarBwUl:  "20 Mbps", MarBwDl: "40 Mbps", MirBwUl: "10 Mbps", MirBwDl: "20 Mbps",
			MedSubComps: map[string]models.Pcf_PolAuth_MediaSubComponent{
				"1": {FNum: 1, FDescs: []string{fdDown, fdUp}},
			},
		}},
		EvSubsc: &models.Pcf_PolAuth_EventsSubscReqData{
			Events:   []models.Pcf_PolAuth_AfEventSubscription{{Event: models.Pcf_PolAuth_AfEvent_SUCCESSFUL_RESOURCES_ALLOCATION}},
			NotifUri: notify,
			UsgThres: &models.Nef_UsageThreshold{Duration: 600},
		},
	}}
}

// sessions reads the admin API's session list.
func (e *env) sessions(t *testing.T) []Session {
	t.Helper()
	a := call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/sessions", "", nil)
	wantStatus(t, a, http.StatusOK)
	return decode[[]Session](t, a)
}

func itoa(i int) string { return strconv.Itoa(i) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}

// session reads one session from the admin API by its resource URI.
func (e *env) session(t *testing.T, resourceURI string) Session {
	t.Helper()
	for _, s := range e.sessions(t) {
		if s.ResourceURI == resourceURI {
			return s
		}
	}
	t.Fatalf("no session %s in the admin API", resourceURI)
	return Session{}
}

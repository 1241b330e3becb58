package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/emulator"
	"github.com/medslice/medslice/internal/spec3gpp"
)

// The contract tests drive medslice's real NEF and PCF clients against the
// real emulator through spec3gpp's validating transport: every request the
// clients send and every answer the emulator gives is checked against the
// 3GPP Release 17 schemas, and so is every notification body the emulator
// sends (against the callback schemas). A mismatch on either side fails.

const (
	contractTimeout = 10 * time.Second
	contractWait    = 5 * time.Second
	contractPoll    = 5 * time.Millisecond
)

var contractT0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

type contractClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *contractClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *contractClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// contractEnv is an emulator on h2c, clients for it, and a notification
// receiver that checks what it gets against the callback schemas.
type contractEnv struct {
	specs  *spec3gpp.Specs
	srv    *emulator.Server
	ts     *httptest.Server
	clock  *contractClock
	hc     *http.Client
	notify *schemaSink
}

func newContractEnv(t *testing.T, capacity emulator.Capacity, opts ...func(*emulator.Config)) *contractEnv {
	t.Helper()
	specs := spec3gpp.Load(t)
	clock := &contractClock{now: contractT0}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := emulator.Config{
		Capacity: capacity,
		Now:      clock.Now,
		Logger:   logger,
		Notify:   emulator.NotifyConfig{Backoff: 5 * time.Millisecond, Timeout: time.Second},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config = emulator.NewHTTPServer(srv.Handler(), logger)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &contractEnv{
		specs:  specs,
		srv:    srv,
		ts:     ts,
		clock:  clock,
		hc:     &http.Client{Timeout: contractTimeout, Transport: specs.Transport(core.NewTransport(nil), t)},
		notify: newSchemaSink(t, specs),
	}
}

func (e *contractEnv) nef(t *testing.T) *core.NEFClient {
	t.Helper()
	c, err := core.NewNEFClient(e.ts.URL, "medslice-or3", e.hc, core.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *contractEnv) pcf(t *testing.T) *core.PCFClient {
	t.Helper()
	c, err := core.NewPCFClient(e.ts.URL, e.hc, core.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sessions reads the admin API (not a 3GPP API, so not validated).
func (e *contractEnv) sessions(t *testing.T) []emulator.Session {
	t.Helper()
	resp, err := http.Get(e.ts.URL + "/admin/v1/sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []emulator.Session
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// spec is a session as the operator would ask for it: the surgery-urllc
// profile's QoS for one device, probe flow included.
func (e *contractEnv) spec(device, ue string, gbrKbps int64) core.SessionSpec {
	u := core.UE{IPv4: ue, SUPI: "imsi-001010000000001"}
	return core.SessionSpec{
		NotificationURI: e.notify.URL + "/notify/v1/or-3/robotic-surgery/6f1c2b7e-uid/" + device + "/tok3n",
		UE:              u,
		DNN:             "internet",
		SNSSAI:          core.SNSSAI{SST: 2, SD: "000001"},
		FlowDescriptions: core.FlowDescriptions(u, []string{"192.0.2.10"}, []string{"5000-5001"}, "UDP",
			&core.ProbeFlow{Source: "192.0.2.50", Target: ue + ":862"}),
		QoS: core.QoS{
			FiveQI: 82, ARP: core.ARP{PriorityLevel: 1, PreemptCap: "NOT_PREEMPT", PreemptVuln: "NOT_PREEMPTABLE"},
			GBRUplinkKbps: gbrKbps, GBRDownlinkKbps: 2 * gbrKbps, MBRUplinkKbps: 2 * gbrKbps, MBRDownlinkKbps: 4 * gbrKbps,
			PacketDelayBudgetMs: 10, PacketErrorRate: "1E-4", MaxDataBurstVolume: 4096,
			QoSReference: "5qi-82", MediaType: "APPLICATION",
		},
		ExpiresAt: e.clock.Now().Add(10 * time.Minute),
	}
}

// schemaSink receives notifications and checks each body against the 3GPP
// callback schema its path implies.
type schemaSink struct {
	*httptest.Server
	ch chan sunk
}

type sunk struct {
	path   string
	schema string
	body   map[string]any
}

func newSchemaSink(t *testing.T, specs *spec3gpp.Specs) *schemaSink {
	s := &schemaSink{ch: make(chan sunk, 64)}
	schemas := map[string]*spec3gpp.API{}
	for _, api := range specs.APIs {
		schemas[api.BasePath] = api
	}
	nef, pcf := schemas["/3gpp-as-session-with-qos/v1"], schemas["/npcf-policyauthorization/v1"]
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("notification to %s: not JSON: %v", r.URL.Path, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		api, schema := nef, "UserPlaneNotificationData" // TS 29.122 notificationDestination callback
		switch {
		case strings.HasSuffix(r.URL.Path, "/notify"):
			api, schema = pcf, "EventsNotification" // TS 29.514 eventNotification callback
		case strings.HasSuffix(r.URL.Path, "/terminate"):
			api, schema = pcf, "TerminationInfo" // TS 29.514 terminationRequest callback
		}
		if err := api.Doc.Components.Schemas[schema].Value.VisitJSON(body); err != nil {
			t.Errorf("notification to %s is not a valid %s: %v", r.URL.Path, schema, err)
		}
		if r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("notification Content-Type = %q", r.Header.Get("Content-Type"))
		}
		w.WriteHeader(http.StatusNoContent)
		s.ch <- sunk{path: r.URL.Path, schema: schema, body: body}
	}))
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true) // as the operator's receiver
	s.Config.Protocols = &p
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// next waits for a notification and checks its schema and event.
func (s *schemaSink) next(t *testing.T, wantSchema, wantEvent string) sunk {
	t.Helper()
	select {
	case n := <-s.ch:
		if n.schema != wantSchema {
			t.Errorf("notification to %s is a %s, want %s", n.path, n.schema, wantSchema)
		}
		if wantEvent != "" {
			b, _ := json.Marshal(n.body)
			if !strings.Contains(string(b), `"`+wantEvent+`"`) {
				t.Errorf("notification %s does not carry %s", b, wantEvent)
			}
		}
		return n
	case <-time.After(contractWait):
		t.Fatalf("no %s notification within %s", wantSchema, contractWait)
		return sunk{}
	}
}

func wantCoreError(t *testing.T, err error, status int, cause string) *core.Error {
	t.Helper()
	var ce *core.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a *core.Error %d %s", err, status, cause)
	}
	if ce.StatusCode != status || ce.Cause != cause {
		t.Errorf("core error %d %q, want %d %q (%s)", ce.StatusCode, ce.Cause, status, cause, ce.Detail)
	}
	return ce
}

// TestContractNEF: NEFClient ping, create, get, list, update, delete, and
// the notifications, all schema-checked.
func TestContractNEF(t *testing.T) {
	e := newContractEnv(t, emulator.Capacity{})
	c := e.nef(t)
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	spec := e.spec("robot-arm", "10.45.0.2", 10_000)
	s, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if s.ID == "" || s.NotificationURI != spec.NotificationURI || s.UE.IPv4 != "10.45.0.2" {
		t.Errorf("Create = %+v", s)
	}
	e.notify.next(t, "UserPlaneNotificationData", "SUCCESSFUL_RESOURCES_ALLOCATION")

	got, err := c.Get(ctx, s.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("Get (-created +got):\n%s", diff)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("List = %+v, want the one session", list)
	}

	// The emulator understood what the client meant.
	ss := e.sessions(t)
	if len(ss) != 1 {
		t.Fatalf("admin sessions = %+v", ss)
	}
	want := emulator.Session{
		API: emulator.APINEF, SCSASID: "medslice-or3", UEAddress: "10.45.0.2", DNN: "internet",
		SNSSAI: &emulator.SNSSAI{SST: 2, SD: "000001"}, FlowDescriptions: spec.FlowDescriptions,
		QoSReference: "5qi-82", FiveQI: 82, GBRUplink: 10_000_000, GBRDownlink: 20_000_000,
		MBRUplink: 20_000_000, MBRDownlink: 40_000_000, NotificationURI: spec.NotificationURI,
		Correlation: "6f1c2b7e-uid/robot-arm", CreatedAt: contractT0, UpdatedAt: contractT0,
		ExpiresAt: contractT0.Add(10 * time.Minute),
	}
	if diff := cmp.Diff(want, ss[0], cmpIgnoreIDs); diff != "" {
		t.Errorf("emulator's view (-want +got):\n%s", diff)
	}

	// Update: more bandwidth, the bound renewed from now.
	e.clock.Advance(time.Minute)
	spec2 := e.spec("robot-arm", "10.45.0.2", 20_000)
	if _, err := c.Update(ctx, s.ID, spec2); err != nil {
		t.Fatalf("Update: %v", err)
	}
	e.notify.next(t, "UserPlaneNotificationData", "SUCCESSFUL_RESOURCES_ALLOCATION")
	if got := e.sessions(t)[0]; got.GBRUplink != 20_000_000 || !got.ExpiresAt.Equal(spec2.ExpiresAt) {
		t.Errorf("after Update: gbrUl %s, expiresAt %s; want 20 Mbps, %s", got.GBRUplink, got.ExpiresAt, spec2.ExpiresAt)
	}

	if err := c.Delete(ctx, s.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, s.ID); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, s.ID); err != nil {
		t.Errorf("second Delete: %v, want nil (already gone)", err)
	}
	if _, err := c.Update(ctx, s.ID, spec2); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Update after Delete: %v, want ErrNotFound", err)
	}
}

// TestContractNEFExpiryAndRefusals: the termination notification, and the
// error answers the client must read (capacity, injected faults).
func TestContractNEFExpiryAndRefusals(t *testing.T) {
	e := newContractEnv(t, emulator.Capacity{GBRUplink: 15_000_000})
	c := e.nef(t)
	ctx := context.Background()

	s, err := c.Create(ctx, e.spec("robot-arm", "10.45.0.2", 10_000))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.notify.next(t, "UserPlaneNotificationData", "SUCCESSFUL_RESOURCES_ALLOCATION")

	_, err = c.Create(ctx, e.spec("camera", "10.45.0.3", 10_000))
	if ce := wantCoreError(t, err, http.StatusInternalServerError, "INSUFFICIENT_RESOURCES"); ce != nil && !ce.Retryable() {
		t.Errorf("capacity refusal not retryable for the client; a 500 should be")
	}

	setFaults(t, e, `{"errorRate": 1, "errorStatus": 503}`)
	wantCoreError(t, c.Ping(ctx), http.StatusServiceUnavailable, "NF_CONGESTION")
	setFaults(t, e, `{}`)

	e.clock.Advance(10*time.Minute + time.Second)
	if n := e.srv.ExpireSessions(); n != 1 {
		t.Fatalf("ExpireSessions = %d, want 1", n)
	}
	n := e.notify.next(t, "UserPlaneNotificationData", "SESSION_TERMINATION")
	if !strings.HasSuffix(n.body["transaction"].(string), "/subscriptions/"+s.ID) {
		t.Errorf("transaction %v does not name subscription %s", n.body["transaction"], s.ID)
	}
	if _, err := c.Get(ctx, s.ID); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Get after expiry: %v, want ErrNotFound", err)
	}
}

// TestContractPCF: PCFClient ping, create, 303 re-create, get, update,
// list (not supported), delete, and the notifications, all schema-checked.
func TestContractPCF(t *testing.T) {
	e := newContractEnv(t, emulator.Capacity{})
	c := e.pcf(t)
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	spec := e.spec("robot-arm", "10.45.0.2", 10_000)
	s, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.notify.next(t, "EventsNotification", "SUCCESSFUL_RESOURCES_ALLOCATION")

	// A retry after a lost answer: 303, the same session, nothing new.
	again, err := c.Create(ctx, spec)
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}
	if again.ID != s.ID {
		t.Errorf("second Create gave %q, want the existing %q (303 See Other)", again.ID, s.ID)
	}
	if n := len(e.sessions(t)); n != 1 {
		t.Errorf("%d sessions after a repeated create, want 1", n)
	}

	got, err := c.Get(ctx, s.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("Get (-created +got):\n%s", diff)
	}
	ss := e.sessions(t)
	want := emulator.Session{
		API: emulator.APIPCF, UEAddress: "10.45.0.2", DNN: "internet",
		SNSSAI: &emulator.SNSSAI{SST: 2, SD: "000001"}, FlowDescriptions: spec.FlowDescriptions,
		QoSReference: "5qi-82", FiveQI: 2, GBRUplink: 10_000_000, GBRDownlink: 20_000_000,
		MBRUplink: 20_000_000, MBRDownlink: 40_000_000, NotificationURI: spec.NotificationURI,
		Correlation: "6f1c2b7e-uid/robot-arm", CreatedAt: contractT0, UpdatedAt: contractT0,
		ExpiresAt: contractT0.Add(10 * time.Minute),
	}
	if diff := cmp.Diff(want, ss[0], cmpIgnoreIDs); diff != "" {
		t.Errorf("emulator's view (-want +got):\n%s", diff)
	}

	if _, err := c.List(ctx); !errors.Is(err, core.ErrNotSupported) {
		t.Errorf("List: %v, want ErrNotSupported", err)
	}

	// Update with one server fewer: the client nulls the dropped
	// sub-component; the bound is renewed from now.
	e.clock.Advance(time.Minute)
	spec2 := e.spec("robot-arm", "10.45.0.2", 20_000)
	spec2.FlowDescriptions = spec2.FlowDescriptions[:2]
	if _, err := c.Update(ctx, s.ID, spec2); err != nil {
		t.Fatalf("Update: %v", err)
	}
	e.notify.next(t, "EventsNotification", "SUCCESSFUL_RESOURCES_ALLOCATION")
	after := e.sessions(t)[0]
	if !cmp.Equal(after.FlowDescriptions, spec2.FlowDescriptions) || after.GBRUplink != 20_000_000 || !after.ExpiresAt.Equal(spec2.ExpiresAt) {
		t.Errorf("after Update: flows %q, gbrUl %s, expiresAt %s; want %q, 20 Mbps, %s",
			after.FlowDescriptions, after.GBRUplink, after.ExpiresAt, spec2.FlowDescriptions, spec2.ExpiresAt)
	}

	if err := c.Delete(ctx, s.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Get(ctx, s.ID); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, s.ID); err != nil {
		t.Errorf("second Delete: %v, want nil (already gone)", err)
	}
}

// TestContractPCFExpiryAndRefusals: the terminationRequest callback, the
// capacity refusal (403 ExtendedProblemDetails) and injected faults.
func TestContractPCFExpiryAndRefusals(t *testing.T) {
	e := newContractEnv(t, emulator.Capacity{GBRDownlink: 30_000_000})
	c := e.pcf(t)
	ctx := context.Background()

	s, err := c.Create(ctx, e.spec("robot-arm", "10.45.0.2", 10_000))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	e.notify.next(t, "EventsNotification", "SUCCESSFUL_RESOURCES_ALLOCATION")

	_, err = c.Create(ctx, e.spec("camera", "10.45.0.3", 10_000))
	if ce := wantCoreError(t, err, http.StatusForbidden, "REQUESTED_SERVICE_NOT_AUTHORIZED"); ce != nil && ce.Retryable() {
		t.Errorf("a 403 must not be retryable unchanged")
	}

	setFaults(t, e, `{"errorRate": 1}`)
	_, err = c.Create(ctx, e.spec("camera", "10.45.0.4", 1))
	wantCoreError(t, err, http.StatusInternalServerError, "SYSTEM_FAILURE")
	setFaults(t, e, `{}`)

	e.clock.Advance(10*time.Minute + time.Second)
	if n := e.srv.ExpireSessions(); n != 1 {
		t.Fatalf("ExpireSessions = %d, want 1", n)
	}
	n := e.notify.next(t, "TerminationInfo", "")
	if !strings.HasSuffix(n.path, "/tok3n/terminate") || !strings.HasSuffix(n.body["resUri"].(string), "/app-sessions/"+s.ID) {
		t.Errorf("termination to %s with %v", n.path, n.body)
	}
	// The AF's delete after a termination request finds nothing: not an error.
	if err := c.Delete(ctx, s.ID); err != nil {
		t.Errorf("Delete after termination: %v", err)
	}
}

var cmpIgnoreIDs = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".ID", ".ResourceURI":
		return true
	}
	return false
}, cmp.Ignore())

func setFaults(t *testing.T, e *contractEnv, body string) {
	t.Helper()
	resp, err := http.Post(e.ts.URL+"/admin/v1/faults", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting faults %s: %s", body, resp.Status)
	}
}

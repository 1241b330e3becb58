package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"

	"github.com/medslice/medslice/internal/emulator/userplane"
	"github.com/medslice/medslice/internal/stamp"
)

// Probe sessions of the user plane tests.
const (
	upProbeInterval = 5 * time.Millisecond
	upProbeCount    = 200
	upLossTimeout   = time.Second
	upSessionLimit  = 30 * time.Second
	// upSurgeryRTT is the surgery-urllc RTT p99 target (DESIGN §2).
	upSurgeryRTT = 20 * time.Millisecond
	// upProvisionedRTT bounds a provisioned probe's p99 under load, with
	// room for the scheduling noise of a shared test machine.
	upProvisionedRTT = 8 * time.Millisecond
)

var upProbeSource = netip.MustParseAddr("10.100.0.254")

func withUserPlane(c UserPlaneConfig) envOption {
	return func(cfg *Config) {
		c.Enabled = true
		if !c.ProbeSource.IsValid() {
			c.ProbeSource = upProbeSource
		}
		cfg.UserPlane = c
	}
}

// userPlaneView reads GET /admin/v1/userplane.
func (e *env) userPlaneView(t *testing.T) userPlaneView {
	t.Helper()
	a := call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/userplane", "", nil)
	wantStatus(t, a, http.StatusOK)
	return decode[userPlaneView](t, a)
}

// flowsOf is the flows the user plane schedules for a session.
func (e *env) flowsOf(t *testing.T, id string) (userplane.Flow, bool) {
	t.Helper()
	for _, f := range e.userPlaneView(t).Flows {
		if f.Session == id {
			return f, true
		}
	}
	return userplane.Flow{}, false
}

func idOf(location string) string { return location[strings.LastIndex(location, "/")+1:] }

// TestUserPlaneFollowsSessions protects the wiring of sessions to the flow
// table: create, update, delete, expiry and reset each leave the scheduler
// with what the store holds, before the answer leaves.
func TestUserPlaneFollowsSessions(t *testing.T) {
	e := newEnv(t, withUserPlane(UserPlaneConfig{DefaultTarget: netip.MustParseAddrPort("127.0.0.1:8620")}))

	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF("http://127.0.0.1:9/n"))
	wantStatus(t, a, http.StatusCreated)
	nefLoc := a.header.Get("Location")
	f, ok := e.flowsOf(t, idOf(nefLoc))
	if !ok {
		t.Fatal("NEF session created, no flows in the user plane")
	}
	if f.UE.String() != "10.45.0.2" || f.FiveQI != 82 || f.PriorityLevel != 19 || !slices.Equal(f.Rules, []string{fdDown, fdUp}) {
		t.Errorf("flow = %+v, want UE 10.45.0.2, 5QI 82 at level 19 with the session's rules", f)
	}
	// The UE had no route; DefaultTarget opened one.
	if r := e.userPlaneView(t).Routes; len(r) != 1 || r[0].UE.String() != "10.45.0.2" || r[0].Target.String() != "127.0.0.1:8620" {
		t.Errorf("routes = %+v, want one for 10.45.0.2 to the default target", r)
	}

	patch := `{"qosReference": "5qi-2", "flowInfo": [{"flowId": 1, "flowDescriptions": ["permit out 17 from 192.0.2.99 to 10.45.0.2"]}]}`
	wantStatus(t, call(t, nil, http.MethodPatch, nefLoc, contentTypeMergePatch, patch), http.StatusOK)
	if f, _ := e.flowsOf(t, idOf(nefLoc)); f.PriorityLevel != 40 || len(f.Rules) != 1 || f.Rules[0] != "permit out 17 from 192.0.2.99 to 10.45.0.2" {
		t.Errorf("flow after PATCH = %+v, want 5QI 2 (level 40) and the new rule", f)
	}
	wantStatus(t, call(t, nil, http.MethodDelete, nefLoc, "", nil), http.StatusNoContent)
	if _, ok := e.flowsOf(t, idOf(nefLoc)); ok {
		t.Error("NEF session deleted, its flows still scheduled")
	}

	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, validPCF("http://127.0.0.1:9/n"))
	wantStatus(t, a, http.StatusCreated)
	pcfID := idOf(a.header.Get("Location"))
	if f, ok := e.flowsOf(t, pcfID); !ok || f.FiveQI != 2 || f.PriorityLevel != 40 {
		t.Errorf("PCF flow = %+v (%v), want 5QI 2 as free5GC derives it for APPLICATION, level 40", f, ok)
	}
	e.clock.Advance(601 * time.Second)
	if n := e.srv.ExpireSessions(); n != 1 {
		t.Fatalf("%d sessions expired, want 1", n)
	}
	if _, ok := e.flowsOf(t, pcfID); ok {
		t.Error("PCF session expired, its flows still scheduled")
	}

	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF("http://127.0.0.1:9/n")), http.StatusCreated)
	wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/reset", "", nil), http.StatusOK)
	if fl := e.userPlaneView(t).Flows; len(fl) != 0 {
		t.Errorf("flows after a reset = %+v, want none", fl)
	}
}

// TestUserPlaneAdminValidation protects the admin API against bodies it
// must refuse, with a detail a person can act on, and leaves state alone.
func TestUserPlaneAdminValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		method, path, body string
		contentType        string
		wantStatus         int
		wantDetail         string
	}{
		"impairment unknown field":      {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "Delay": "1ms"}`, "", 400, `unknown field "Delay"`},
		"impairment without target":     {http.MethodPost, "/admin/v1/impairments", `{"delay": "20ms"}`, "", 400, "target is required"},
		"impairment bad target":         {http.MethodPost, "/admin/v1/impairments", `{"target": "ue-7", "delay": "20ms"}`, "", 400, "UE's IP address"},
		"impairment bad delay":          {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "delay": "20"}`, "", 400, `delay must be a duration such as "20ms"`},
		"impairment delay as number":    {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "delay": 20}`, "", 400, "delay"},
		"impairment negative jitter":    {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "jitter": "-1ms"}`, "", 400, "jitter must be between 0"},
		"impairment huge delay":         {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "delay": "1h"}`, "", 400, "between 0 and 10s"},
		"impairment loss above 1":       {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "loss": 1.5}`, "", 400, "loss must be between 0 and 1"},
		"impairment loss as string":     {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "loss": "1%"}`, "", 400, "loss"},
		"impairment bad direction":      {http.MethodPost, "/admin/v1/impairments", `{"target": "*", "delay": "1ms", "direction": "up"}`, "", 400, `"downlink", "uplink" or "both"`},
		"impairment trailing data":      {http.MethodPost, "/admin/v1/impairments", `{"target": "*"} {}`, "", 400, "after the JSON"},
		"impairment form content type":  {http.MethodPost, "/admin/v1/impairments", `{"target": "*"}`, "application/x-www-form-urlencoded", 415, "application/json"},
		"load not a 3GPP bit rate":      {http.MethodPost, "/admin/v1/load", `{"rate": "95Mbps"}`, "", 400, "TS 29.571 BitRate"},
		"load unknown field":            {http.MethodPost, "/admin/v1/load", `{"rate": "95 Mbps", "bps": 1}`, "", 400, `unknown field "bps"`},
		"load far beyond the link":      {http.MethodPost, "/admin/v1/load", `{"rate": "2 Gbps"}`, "", 400, "at most 10 times the link rate"},
		"load burst beyond the queue":   {http.MethodPost, "/admin/v1/load", `{"rate": "95 Mbps", "burst": "1s"}`, "", 400, "burst must be between 0 and 100ms"},
		"load tiny burst":               {http.MethodPost, "/admin/v1/load", `{"rate": "95 Mbps", "burst": "10us"}`, "", 400, "burst must be between 1ms"},
		"load bad direction":            {http.MethodPost, "/admin/v1/load", `{"rate": "95 Mbps", "direction": "sideways"}`, "", 400, "direction"},
		"route empty body":              {http.MethodPost, "/admin/v1/routes", ``, "", 400, "body must be"},
		"route bad UE":                  {http.MethodPost, "/admin/v1/routes", `{"ue": "robot-1", "target": "127.0.0.1:8620"}`, "", 400, "ue must be the UE's IP address"},
		"route target without port":     {http.MethodPost, "/admin/v1/routes", `{"ue": "10.45.0.11", "target": "127.0.0.1"}`, "", 400, "target must be the device side's address and port"},
		"route bad listen":              {http.MethodPost, "/admin/v1/routes", `{"ue": "10.45.0.11", "target": "127.0.0.1:8620", "listen": "localhost"}`, "", 400, "listen must be an address and port"},
		"route unknown field":           {http.MethodPost, "/admin/v1/routes", `{"ue": "10.45.0.11", "device": "127.0.0.1:8620"}`, "", 400, `unknown field "device"`},
		"remove a route that is absent": {http.MethodDelete, "/admin/v1/routes/10.45.0.99", ``, "", 404, "no route"},
		"remove a route of no IP":       {http.MethodDelete, "/admin/v1/routes/robot", ``, "", 400, "not an IP address"},
		"wrong method":                  {http.MethodPut, "/admin/v1/load", ``, "", 405, "allowed: GET, POST"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, withUserPlane(UserPlaneConfig{}))
			ct := contentTypeJSON
			if tc.contentType != "" {
				ct = tc.contentType
			}
			a := call(t, nil, tc.method, e.ts.URL+tc.path, ct, tc.body)
			wantStatus(t, a, tc.wantStatus)
			if p := decode[adminProblem](t, a); !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail %q, want it to mention %q", p.Detail, tc.wantDetail)
			}
			v := e.userPlaneView(t)
			if len(v.Impairments) != 0 || v.Load.Rate != 0 || len(v.Routes) != 0 {
				t.Errorf("state after a refused request: impairments %v, load %+v, routes %v", v.Impairments, v.Load, v.Routes)
			}
		})
	}
}

// TestUserPlaneAdminShapes protects the admin API answers the demo and the
// e2e suite read.
func TestUserPlaneAdminShapes(t *testing.T) {
	e := newEnv(t, withUserPlane(UserPlaneConfig{}))

	a := call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/routes", contentTypeJSON, `{"ue": "10.45.0.11", "target": "127.0.0.1:8620"}`)
	wantStatus(t, a, http.StatusCreated)
	var route map[string]any
	if err := json.Unmarshal(a.body, &route); err != nil {
		t.Fatal(err)
	}
	network, _ := route["network"].(string)
	if ap, err := netip.ParseAddrPort(network); err != nil || ap.Addr().String() != "127.0.0.1" || ap.Port() == 0 {
		t.Errorf("route answer %s: network %q is not 127.0.0.1:<port>", a.body, network)
	}
	if route["ue"] != "10.45.0.11" || route["target"] != "127.0.0.1:8620" || route["emulator"] == nil {
		t.Errorf("route answer = %s", a.body)
	}
	// The same route again: 200, the same address. Another target: 409.
	a = call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/routes", contentTypeJSON, `{"ue": "10.45.0.11", "target": "127.0.0.1:8620"}`)
	wantStatus(t, a, http.StatusOK)
	if got := decode[map[string]any](t, a)["network"]; got != network {
		t.Errorf("network = %v on the second add, want %v", got, network)
	}
	wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/routes", contentTypeJSON, `{"ue": "10.45.0.11", "target": "127.0.0.1:8621"}`), http.StatusConflict)

	a = call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/load", contentTypeJSON, `{"rate": "95 Mbps"}`)
	wantStatus(t, a, http.StatusOK)
	if got := decode[loadAnswer](t, a).Load; got != (loadView{Rate: 95_000_000, Burst: "50ms", Direction: "both"}) {
		t.Errorf("load = %+v", got)
	}
	a = call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/impairments", contentTypeJSON, `{"target": "10.45.0.11", "delay": "20ms", "jitter": "5ms", "loss": 0.01}`)
	wantStatus(t, a, http.StatusOK)
	want := []impairmentView{{Target: "10.45.0.11", Delay: "20ms", Jitter: "5ms", Loss: 0.01, Direction: "downlink"}}
	if got := decode[impairmentsAnswer](t, a).Impairments; !slices.Equal(got, want) {
		t.Errorf("impairments = %+v, want %+v", got, want)
	}

	var raw map[string]json.RawMessage
	if err := json.Unmarshal(call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/userplane", "", nil).body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"emulator", "probeSource", "link", "load", "impairments", "routes", "flows", "downlink", "uplink"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET /admin/v1/userplane has no %q", k)
		}
	}
	v := e.userPlaneView(t)
	if v.Link != (linkView{Rate: 100_000_000, Delay: "1ms", QueueLimit: "100ms", TimerSpin: "50µs"}) || v.ProbeSource != "10.100.0.254" {
		t.Errorf("link = %+v, probe source %s", v.Link, v.ProbeSource)
	}
	if q := v.Downlink.Queues; len(q) == 0 || q[len(q)-1].Name != "best-effort" {
		t.Errorf("downlink queues = %+v, want a best-effort queue", q)
	}

	// Zero values and empty bodies clear.
	a = call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/impairments", contentTypeJSON, `{"target": "10.45.0.11"}`)
	if got := decode[impairmentsAnswer](t, a).Impairments; len(got) != 0 {
		t.Errorf("impairments after a zero one = %+v", got)
	}
	wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/impairments", contentTypeJSON, `{"target": "*", "loss": 0.5}`), http.StatusOK)
	if got := decode[impairmentsAnswer](t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/impairments", "", nil)).Impairments; len(got) != 0 {
		t.Errorf("impairments after an empty body = %+v", got)
	}
	if got := decode[loadAnswer](t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/load", contentTypeJSON, `{"rate": "0 bps"}`)).Load; got.Rate != 0 {
		t.Errorf("load after 0 bps = %+v", got)
	}
	wantStatus(t, call(t, nil, http.MethodDelete, e.ts.URL+"/admin/v1/routes/10.45.0.11", "", nil), http.StatusNoContent)
	if r := decode[routesAnswer](t, call(t, nil, http.MethodGet, e.ts.URL+"/admin/v1/routes", "", nil)).Routes; len(r) != 0 {
		t.Errorf("routes after DELETE = %+v", r)
	}
}

// TestUserPlaneOff protects the answer when the user plane is not
// emulated: 404 saying how to turn it on.
func TestUserPlaneOff(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/admin/v1/userplane", "/admin/v1/impairments", "/admin/v1/load", "/admin/v1/routes"} {
		a := call(t, nil, http.MethodGet, e.ts.URL+path, "", nil)
		wantStatus(t, a, http.StatusNotFound)
		if p := decode[adminProblem](t, a); !strings.Contains(p.Detail, "--userplane") {
			t.Errorf("%s: detail %q does not say how to turn it on", path, p.Detail)
		}
	}
	// The control plane works as before.
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF("http://127.0.0.1:9/n")), http.StatusCreated)
}

// qosEvent reads the event a QoS notification reports: the NEF event, or
// for PCF "QOS_NOTIF <notifType>".
func qosEvent(t *testing.T, r received) string {
	t.Helper()
	if strings.HasSuffix(r.path, "/notify") {
		var en models.Pcf_PolAuth_EventsNotification
		if err := json.Unmarshal(r.body, &en); err != nil || len(en.EvNotifs) != 1 || len(en.QncReports) != 1 {
			t.Fatalf("PCF notification %s (%v): want one event and one qncReports entry", r.body, err)
		}
		return string(en.EvNotifs[0].Event) + " " + string(en.QncReports[0].NotifType)
	}
	var un models.Nef_AsSessQoS_UserPlaneNotificationData
	if err := json.Unmarshal(r.body, &un); err != nil || len(un.EventReports) != 1 {
		t.Fatalf("NEF notification %s (%v): want one event report", r.body, err)
	}
	return string(un.EventReports[0].Event)
}

// TestImpairmentNotifiesQoS protects the QoS notifications an impairment
// causes: the sessions of the impaired UE (NEF and PCF) are told their QoS
// is not guaranteed, once, and guaranteed again when it is cleared; other
// UEs' sessions are told nothing.
func TestImpairmentNotifiesQoS(t *testing.T) {
	e := newEnv(t, withUserPlane(UserPlaneConfig{}))
	nefSink := newSink(t, false, nil)
	pcfSink := newSink(t, false, nil)

	nef := validNEF(nefSink.notifyURI("u1", "robot"))
	nef.Events = append(nef.Events, models.Nef_AsSessQoS_UserPlaneEvent_QOS_NOT_GUARANTEED, models.Nef_AsSessQoS_UserPlaneEvent_QOS_GUARANTEED)
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, nef), http.StatusCreated)
	pcf := validPCF(pcfSink.notifyURI("u2", "robot"))
	pcf.AscReqData.EvSubsc.Events = append(pcf.AscReqData.EvSubsc.Events, models.Pcf_PolAuth_AfEventSubscription{Event: models.Pcf_PolAuth_AfEvent_QOS_NOTIF})
	wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, pcf), http.StatusCreated)
	nefSink.next(t) // SUCCESSFUL_RESOURCES_ALLOCATION
	pcfSink.next(t)

	set := func(body string) qosTransitions {
		t.Helper()
		a := call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/impairments", contentTypeJSON, body)
		wantStatus(t, a, http.StatusOK)
		return *decode[impairmentsAnswer](t, a).Notified
	}
	if n := set(`{"target": "10.45.0.99", "delay": "20ms"}`); n != (qosTransitions{}) {
		t.Errorf("impairing another UE notified %+v", n)
	}
	if n := set(`{"target": "10.45.0.2", "delay": "20ms"}`); n != (qosTransitions{NotGuaranteed: 2}) {
		t.Errorf("impairing the UE notified %+v, want 2 sessions not guaranteed", n)
	}
	if got := qosEvent(t, nefSink.next(t)); got != "QOS_NOT_GUARANTEED" {
		t.Errorf("NEF got %s, want QOS_NOT_GUARANTEED", got)
	}
	if got := qosEvent(t, pcfSink.next(t)); got != "QOS_NOTIF NOT_GUARANTEED" {
		t.Errorf("PCF got %s, want QOS_NOTIF NOT_GUARANTEED", got)
	}
	// A harsher impairment of the same UE says nothing new; "*" does not
	// matter to a UE with its own.
	if n := set(`{"target": "10.45.0.2", "delay": "50ms", "loss": 0.1}`); n != (qosTransitions{}) {
		t.Errorf("changing the impairment notified %+v", n)
	}
	if n := set(`{"target": "10.45.0.2"}`); n != (qosTransitions{Guaranteed: 2}) {
		t.Errorf("clearing notified %+v, want 2 sessions guaranteed again", n)
	}
	if got := qosEvent(t, nefSink.next(t)); got != "QOS_GUARANTEED" {
		t.Errorf("NEF got %s, want QOS_GUARANTEED", got)
	}
	if got := qosEvent(t, pcfSink.next(t)); got != "QOS_NOTIF GUARANTEED" {
		t.Errorf("PCF got %s, want QOS_NOTIF GUARANTEED", got)
	}
	// "*" reaches every UE; a session created under it is told after its
	// creation.
	if n := set(`{"target": "*", "loss": 0.01}`); n != (qosTransitions{NotGuaranteed: 2}) {
		t.Errorf("impairing every UE notified %+v", n)
	}
	nefSink.next(t)
	pcfSink.next(t)
	nef2 := nef
	nef2.UeIpv4Addr = "10.45.0.3"
	nef2.FlowInfo = []models.Nef_FlowInfo{{FlowId: 1, FlowDescriptions: []string{"permit out 17 from any to 10.45.0.3"}}}
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, nef2), http.StatusCreated)
	events := []string{qosEvent(t, nefSink.next(t)), qosEvent(t, nefSink.next(t))}
	slices.Sort(events)
	if want := []string{"QOS_NOT_GUARANTEED", "SUCCESSFUL_RESOURCES_ALLOCATION"}; !slices.Equal(events, want) {
		t.Errorf("new session under an impairment got %v, want %v", events, want)
	}
	if n := set(``); n != (qosTransitions{Guaranteed: 3}) {
		t.Errorf("clearing everything notified %+v, want 3", n)
	}
	e.waitIdle(t)
}

// TestUserPlaneProvisionedFlowUnderLoad is the emulated user plane seen
// through the API medslice uses: with 95 Mbps of background on the 100
// Mbps link, a STAMP probe is best effort and far beyond the surgery SLA
// until a NEF session carries its 5-tuple with 5QI 82; then it is served
// first.
func TestUserPlaneProvisionedFlowUnderLoad(t *testing.T) {
	reflector := startReflector(t)
	e := newEnv(t, withUserPlane(UserPlaneConfig{Routes: map[netip.Addr]netip.AddrPort{netip.MustParseAddr("10.45.0.2"): reflector}}))
	network := e.userPlaneView(t).Routes[0].Network
	wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/load", contentTypeJSON, `{"rate": "95 Mbps"}`), http.StatusOK)

	bestEffort := probeRTTs(t, network)

	// The probe's flow, as medslice adds it to the session (DESIGN §3).
	sub := validNEF("http://127.0.0.1:9/n")
	sub.FlowInfo = append(sub.FlowInfo, models.Nef_FlowInfo{FlowId: 2, FlowDescriptions: []string{
		fmt.Sprintf("permit out 17 from %s to 10.45.0.2 %d", upProbeSource, reflector.Port()),
		fmt.Sprintf("permit in 17 from 10.45.0.2 %d to %s", reflector.Port(), upProbeSource),
	}})
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, sub), http.StatusCreated)
	provisioned := probeRTTs(t, network)

	t.Logf("95 Mbps on 100 Mbps: best effort RTT p50 %v p99 %v; NEF session with 5QI 82: RTT p50 %v p99 %v",
		quantileOf(bestEffort, 0.5), quantileOf(bestEffort, 0.99), quantileOf(provisioned, 0.5), quantileOf(provisioned, 0.99))
	if p := quantileOf(bestEffort, 0.99); p <= upSurgeryRTT {
		t.Errorf("best-effort RTT p99 %v under load, want above %v", p, upSurgeryRTT)
	}
	if p := quantileOf(provisioned, 0.99); p > upProvisionedRTT {
		t.Errorf("provisioned RTT p99 %v under load, want at most %v", p, upProvisionedRTT)
	}
	v := e.userPlaneView(t)
	if q := v.Downlink.Queues[0]; q.Name != "priority-19" || q.Forwarded != upProbeCount {
		t.Errorf("downlink queues = %+v, want the probe's %d datagrams in priority-19", v.Downlink.Queues, upProbeCount)
	}
}

func startReflector(t *testing.T) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&stamp.Reflector{}).Serve(ctx, conn)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = conn.Close()
	})
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// probeRTTs runs a STAMP session through target and returns its RTTs,
// sorted.
func probeRTTs(t *testing.T, target netip.AddrPort) []time.Duration {
	t.Helper()
	var out []time.Duration
	s, err := stamp.NewSender(stamp.SenderConfig{
		Target: target, Interval: upProbeInterval, Timeout: upLossTimeout, Count: upProbeCount,
		OnSample: func(s stamp.Sample) {
			if !s.Lost && !s.Duplicate {
				out = append(out, s.RTT)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), upSessionLimit)
	defer cancel()
	if err := s.Run(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("probe session: %v %v", err, ctx.Err())
	}
	slices.Sort(out)
	return out
}

func quantileOf(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TestFlowDescriptionsTheAPIAcceptsAreScheduled protects the agreement of
// the two parsers: every flow description the NEF and PCF APIs accept, the
// scheduler can match, and the other way round.
func TestFlowDescriptionsTheAPIAcceptsAreScheduled(t *testing.T) {
	for _, fd := range []string{
		fdDown, fdUp,
		"permit out 17 from 192.0.2.10 5000-5001 to 10.45.0.2",
		"permit in 17 from 10.45.0.2 to 192.0.2.10 5000,5002-5003",
		"permit out ip from 192.0.2.0/24 to 10.45.0.2",
		"permit out 6 from any to 10.45.0.2 443",
		"permit out 17 from 2001:db8::10 5000 to 2001:db8:1::2",
		"permit out 17 from 0.0.0.0/0 to 10.45.0.2 862",
		"permit inout 17 from any to any",
		"deny out 17 from any to any",
		"permit out udp from any to 10.45.0.2",
		"permit out 17 from any to assigned",
		"permit out 17 from !192.0.2.1 to 10.45.0.2",
		"permit out 17 from any to 10.45.0.2 5000 frag",
		"permit out 17 from any 5001-5000 to 10.45.0.2",
		"permit out 17 from any 70000 to 10.45.0.2",
		"permit out 17 from 2001:db8::1 to 10.45.0.2",
		"permit out 17 from any",
		"permit out 17 from 300.1.1.1 to 10.45.0.2",
		"",
	} {
		apiErr := checkFlowDescription(fd)
		_, upErr := userplane.ParseIPFilterRule(fd)
		if (apiErr == nil) != (upErr == nil) {
			t.Errorf("%q: the API says %v, the scheduler %v", fd, apiErr, upErr)
		}
	}
}

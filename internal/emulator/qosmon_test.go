package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
)

// qosMonLinkDelay is the base delay of the QoS monitoring tests' link.
const qosMonLinkDelay = 3 * time.Millisecond

var allDelays = []models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter{
	models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_UPLINK,
	models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_DOWNLINK,
	models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_ROUND_TRIP,
}

// monitoredNEF is a NEF subscription for ue asking for periodic delay
// reports every period seconds, as medslice's NEF client asks.
func monitoredNEF(notify, ue string, period int32) models.Nef_AsSessQoS_AsSessionWithQoSSubscription {
	sub := validNEF(notify)
	sub.UeIpv4Addr = ue
	sub.FlowInfo = []models.Nef_FlowInfo{{FlowId: 1, FlowDescriptions: []string{"permit out 17 from any to " + ue}}}
	sub.QosMonInfo = &models.Nef_AsSessQoS_QosMonitoringInformation{
		ReqQosMonParams: allDelays,
		RepFreqs:        []models.Pcf_SMPolCtrl_ReportingFrequency{models.Pcf_SMPolCtrl_ReportingFrequency_PERIODIC},
		RepPeriod:       period,
	}
	sub.Events = append(slices.Clone(sub.Events), models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING)
	return sub
}

// monitoredPCF is a PCF app session for ue subscribing to QOS_MONITORING,
// reported periodically every period seconds, as medslice's PCF client
// asks.
func monitoredPCF(notify, ue string, period int32) models.Pcf_PolAuth_AppSessionContext {
	asc := validPCF(notify)
	rd := asc.AscReqData
	rd.UeIpv4 = ue
	rd.MedComponents = map[string]models.Pcf_PolAuth_MediaComponent{"1": {
		MedCompN: 1, MedType: models.Pcf_PolAuth_MediaType_APPLICATION, MarBwUl: "20 Mbps", MarBwDl: "40 Mbps",
		MedSubComps: map[string]models.Pcf_PolAuth_MediaSubComponent{
			"1": {FNum: 1, FDescs: []string{"permit out 17 from any to " + ue}},
			"2": {FNum: 2, FDescs: []string{"permit in 17 from " + ue + " to any"}},
		},
	}}
	rd.EvSubsc.Events = append(slices.Clone(rd.EvSubsc.Events), models.Pcf_PolAuth_AfEventSubscription{
		Event: models.Pcf_PolAuth_AfEvent_QOS_MONITORING, NotifMethod: models.Pcf_PolAuth_AfNotifMethod_PERIODIC, RepPeriod: period,
	})
	rd.EvSubsc.ReqQosMonParams = allDelays
	return asc
}

// delays is what one QoS monitoring report says, in ms.
type delays struct{ UL, DL, RT []int32 }

// qosMonReport reads a QoS monitoring report, NEF or PCF, failing on any
// other notification.
func qosMonReport(t *testing.T, r received) delays {
	t.Helper()
	if strings.HasSuffix(r.path, "/notify") {
		var en models.Pcf_PolAuth_EventsNotification
		if err := json.Unmarshal(r.body, &en); err != nil || len(en.EvNotifs) != 1 || en.EvNotifs[0].Event != models.Pcf_PolAuth_AfEvent_QOS_MONITORING || len(en.QosMonReports) != 1 {
			t.Fatalf("PCF notification %s (%v): want one QOS_MONITORING event and one report", r.body, err)
		}
		m := en.QosMonReports[0]
		return delays{m.UlDelays, m.DlDelays, m.RtDelays}
	}
	var un models.Nef_AsSessQoS_UserPlaneNotificationData
	if err := json.Unmarshal(r.body, &un); err != nil || len(un.EventReports) != 1 || un.EventReports[0].Event != models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING || len(un.EventReports[0].QosMonReports) != 1 {
		t.Fatalf("NEF notification %s (%v): want one QOS_MONITORING report", r.body, err)
	}
	m := un.EventReports[0].QosMonReports[0]
	return delays{m.UlDelays, m.DlDelays, m.RtDelays}
}

func oneWay(ul, dl time.Duration) delays {
	u, d := int32(ul/time.Millisecond), int32(dl/time.Millisecond)
	return delays{[]int32{u}, []int32{d}, []int32{u + d}}
}

// drain returns what a sink has received once every queued notification
// is settled.
func (e *env) drain(t *testing.T, s *sink) []received {
	t.Helper()
	e.waitIdle(t)
	var out []received
	for {
		select {
		case r := <-s.ch:
			out = append(out, r)
		default:
			return out
		}
	}
}

// report runs the reporter at the fake clock's time and checks how many
// reports it queued.
func (e *env) report(t *testing.T, want int) {
	t.Helper()
	if n := e.srv.ReportQoSMonitoring(); n != want {
		t.Fatalf("at %s: %d QoS monitoring reports queued, want %d", e.clock.Now().Sub(t0), n, want)
	}
}

// TestQoSMonitoringReports protects the periodic QoS monitoring reports:
// a NEF and a PCF session that ask get one every period they asked for, with
// the delays the link imposes on their UE (base delay, then the impairment
// set through the admin API); sessions that did not ask get none; late ticks
// do not burst; reports stop when a session ends.
func TestQoSMonitoringReports(t *testing.T) {
	e := newEnv(t, withUserPlane(UserPlaneConfig{LinkDelay: qosMonLinkDelay}))
	s := newSink(t, true, nil)

	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, monitoredNEF(s.notifyURI("u1", "robot"), "10.45.0.2", 2))
	wantStatus(t, a, http.StatusCreated)
	nefLoc := a.header.Get("Location")
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, monitoredPCF(s.notifyURI("u2", "camera"), "10.45.0.5", 1))
	wantStatus(t, a, http.StatusCreated)
	pcfLoc := a.header.Get("Location")

	// Sessions that did not ask, or not for periodic reports.
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF(s.notifyURI("u3", "a"))), http.StatusCreated)
	plain := validPCF(s.notifyURI("u4", "b"))
	plain.AscReqData.UeIpv4 = "10.45.0.6"
	wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, plain), http.StatusCreated)
	triggered := monitoredNEF(s.notifyURI("u5", "c"), "10.45.0.7", 1)
	triggered.QosMonInfo.RepFreqs = []models.Pcf_SMPolCtrl_ReportingFrequency{models.Pcf_SMPolCtrl_ReportingFrequency_EVENT_TRIGGERED}
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, triggered), http.StatusCreated)
	unsubscribed := monitoredNEF(s.notifyURI("u6", "d"), "10.45.0.8", 1)
	unsubscribed.Events = []models.Nef_AsSessQoS_UserPlaneEvent{models.Nef_AsSessQoS_UserPlaneEvent_SESSION_TERMINATION}
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, unsubscribed), http.StatusCreated)
	for _, r := range e.drain(t, s) {
		if strings.Contains(string(r.body), "QOS_MONITORING") {
			t.Fatalf("a report on creation: %s", r.body)
		}
	}

	// reports collects one round of reports by the session they name.
	reports := func() map[string]delays {
		t.Helper()
		out := map[string]delays{}
		for _, r := range e.drain(t, s) {
			d := qosMonReport(t, r)
			loc := ""
			switch {
			case strings.Contains(r.path, "/u1/") && strings.Contains(string(r.body), `"transaction":"`+nefLoc+`"`):
				loc = nefLoc
			case strings.Contains(r.path, "/u2/") && strings.Contains(string(r.body), `"evSubsUri":"`+pcfLoc+`/events-subscription"`):
				loc = pcfLoc
			default:
				t.Fatalf("report to %s does not name a monitored session: %s", r.path, r.body)
			}
			if _, dup := out[loc]; dup {
				t.Fatalf("two reports for %s in one period", loc)
			}
			out[loc] = d
		}
		return out
	}
	base := oneWay(qosMonLinkDelay, qosMonLinkDelay)

	e.report(t, 0) // first seen: due one period on
	e.clock.Advance(time.Second)
	e.report(t, 1)
	if diff := cmp.Diff(map[string]delays{pcfLoc: base}, reports()); diff != "" {
		t.Errorf("after 1s (-want +got):\n%s", diff)
	}
	e.clock.Advance(time.Second)
	e.report(t, 2)
	e.report(t, 0) // one per period
	if diff := cmp.Diff(map[string]delays{nefLoc: base, pcfLoc: base}, reports()); diff != "" {
		t.Errorf("after 2s (-want +got):\n%s", diff)
	}

	// The reported delay follows the impairments of each UE and direction.
	for _, body := range []string{
		`{"target": "10.45.0.2", "delay": "20ms", "direction": "downlink"}`,
		`{"target": "10.45.0.5", "delay": "10ms", "jitter": "4ms", "direction": "both"}`,
	} {
		wantStatus(t, call(t, nil, http.MethodPost, e.ts.URL+"/admin/v1/impairments", contentTypeJSON, body), http.StatusOK)
	}
	e.drain(t, s) // QoS notifications, if any
	e.clock.Advance(2 * time.Second)
	e.report(t, 2)
	want := map[string]delays{
		nefLoc: oneWay(qosMonLinkDelay, qosMonLinkDelay+20*time.Millisecond),
		pcfLoc: oneWay(qosMonLinkDelay+10*time.Millisecond, qosMonLinkDelay+10*time.Millisecond),
	}
	if diff := cmp.Diff(want, reports()); diff != "" {
		t.Errorf("under impairments (-want +got):\n%s", diff)
	}

	// A late tick sends one report per session, not the ones it missed.
	e.clock.Advance(10 * time.Second)
	e.report(t, 2)
	e.report(t, 0)
	reports()

	// A deleted session gets no more reports.
	wantStatus(t, call(t, nil, http.MethodDelete, nefLoc, "", nil), http.StatusNoContent)
	e.clock.Advance(2 * time.Second)
	e.report(t, 1)
	if got := reports(); len(got) != 1 || got[pcfLoc].DL == nil {
		t.Errorf("after the NEF delete: reports %v, want the PCF session's only", got)
	}
	wantStatus(t, call(t, nil, http.MethodPost, pcfLoc+"/delete", "", nil), http.StatusNoContent)
	e.clock.Advance(2 * time.Second)
	e.report(t, 0)
	s.empty(t)
}

// TestQoSMonitoringPeriod protects the period: the session's, the
// default, the one Config imposes, none when Config switches reports off or
// the user plane is off, and the delays a session asked for only.
func TestQoSMonitoringPeriod(t *testing.T) {
	for name, tc := range map[string]struct {
		configPeriod time.Duration
		userPlaneOff bool
		repPeriod    int32
		params       []models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter
		// wantAt are the seconds, from 1 to 6, at which a report is due.
		wantAt []int
		want   delays
	}{
		"as asked":          {repPeriod: 3, wantAt: []int{3, 6}, want: oneWay(qosMonLinkDelay, qosMonLinkDelay)},
		"default period":    {wantAt: []int{1, 2, 3, 4, 5, 6}, want: oneWay(qosMonLinkDelay, qosMonLinkDelay)},
		"imposed period":    {configPeriod: 2 * time.Second, repPeriod: 1, wantAt: []int{2, 4, 6}, want: oneWay(qosMonLinkDelay, qosMonLinkDelay)},
		"switched off":      {configPeriod: -1, repPeriod: 1},
		"no user plane":     {userPlaneOff: true, repPeriod: 1},
		"round trip only":   {repPeriod: 2, params: allDelays[2:], wantAt: []int{2, 4, 6}, want: delays{RT: []int32{6}}},
		"uplink only":       {repPeriod: 2, params: allDelays[:1], wantAt: []int{2, 4, 6}, want: delays{UL: []int32{3}}},
		"nothing it knows":  {repPeriod: 1, params: []models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter{"JITTER"}},
		"period from flags": {configPeriod: 1500 * time.Millisecond, repPeriod: 1, wantAt: []int{2, 3, 5, 6}, want: oneWay(qosMonLinkDelay, qosMonLinkDelay)},
	} {
		t.Run(name, func(t *testing.T) {
			opts := []envOption{func(c *Config) { c.QoSMonitoringPeriod = tc.configPeriod }}
			if !tc.userPlaneOff {
				opts = append(opts, withUserPlane(UserPlaneConfig{LinkDelay: qosMonLinkDelay}))
			}
			e := newEnv(t, opts...)
			s := newSink(t, false, nil)
			sub := monitoredNEF(s.notifyURI("u1", "robot"), "10.45.0.2", tc.repPeriod)
			sub.Events = []models.Nef_AsSessQoS_UserPlaneEvent{models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING}
			if tc.params != nil {
				sub.QosMonInfo.ReqQosMonParams = tc.params
			}
			wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, sub), http.StatusCreated)
			e.report(t, 0)
			var at []int
			for sec := 1; sec <= 6; sec++ {
				e.clock.Advance(time.Second)
				if e.srv.ReportQoSMonitoring() > 0 {
					at = append(at, sec)
					for _, r := range e.drain(t, s) {
						if got := qosMonReport(t, r); !cmp.Equal(got, tc.want) {
							t.Errorf("report %+v, want %+v", got, tc.want)
						}
					}
				}
			}
			if !slices.Equal(at, tc.wantAt) {
				t.Errorf("reports at %v s, want %v", at, tc.wantAt)
			}
			s.empty(t)
		})
	}
}

// TestQoSMonitoringNeverCrowdsEvents protects event notifications from
// reports: with the only worker stuck on a slow receiver, a session's next
// report waits for its last one, reports stop at half the queue while an
// event notification still gets in, and a queued report of a session that
// ended is dropped.
func TestQoSMonitoringNeverCrowdsEvents(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PRI" { // the h2c preface, to an HTTP/1.1 server
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			return
		}
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(func() {
		releaseOnce.Do(func() { close(release) })
		slow.Close()
	})
	e := newEnv(t, withUserPlane(UserPlaneConfig{}), func(c *Config) { c.Notify.Workers, c.Notify.Queue = 1, 4 })
	s := newSink(t, false, nil)

	stuck := monitoredNEF(slow.URL+"/n", "10.45.0.9", 1)
	stuck.Events = []models.Nef_AsSessQoS_UserPlaneEvent{models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING}
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, stuck), http.StatusCreated)
	e.report(t, 0)
	e.clock.Advance(500 * time.Millisecond)
	var locs []string
	for i, ue := range []string{"10.45.0.2", "10.45.0.3", "10.45.0.4"} {
		e.clock.Advance(time.Millisecond) // reported in this order
		a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, monitoredNEF(s.notifyURI("u"+itoa(i), "robot"), ue, 1))
		wantStatus(t, a, http.StatusCreated)
		locs = append(locs, a.header.Get("Location"))
	}
	e.drain(t, s) // SUCCESSFUL_RESOURCES_ALLOCATION
	e.report(t, 0)

	e.clock.Advance(500 * time.Millisecond)
	e.report(t, 1) // the stuck session's, which takes the only worker
	<-entered
	e.clock.Advance(500 * time.Millisecond)
	e.report(t, 2) // two of three: the queue of 4 is then half full
	// An event notification still gets in.
	wantStatus(t, call(t, nil, http.MethodPatch, locs[0], contentTypeMergePatch, `{"qosReference": "5qi-2"}`), http.StatusOK)
	// The stuck session's report is still out: no second one.
	e.clock.Advance(500 * time.Millisecond)
	e.report(t, 0)
	// The second session ends with its report queued.
	wantStatus(t, call(t, nil, http.MethodDelete, locs[1], "", nil), http.StatusNoContent)

	releaseOnce.Do(func() { close(release) })
	var got []string
	for _, r := range e.drain(t, s) {
		var un models.Nef_AsSessQoS_UserPlaneNotificationData
		if err := json.Unmarshal(r.body, &un); err != nil || len(un.EventReports) != 1 {
			t.Fatalf("notification %s: %v", r.body, err)
		}
		got = append(got, idOf(un.Transaction)+" "+string(un.EventReports[0].Event))
	}
	slices.Sort(got)
	want := []string{idOf(locs[0]) + " QOS_MONITORING", idOf(locs[0]) + " SUCCESSFUL_RESOURCES_ALLOCATION"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v: the first session's report and event, no report of the ended session, none beyond half the queue", got, want)
	}
}

// TestServeReportsQoSMonitoring protects the reporter's wiring into Serve:
// with the real clock, reports arrive on their own, one per period.
func TestServeReportsQoSMonitoring(t *testing.T) {
	const period = 200 * time.Millisecond
	srv, err := New(Config{
		Logger:              discardLogger(),
		UserPlane:           UserPlaneConfig{Enabled: true, LinkDelay: qosMonLinkDelay},
		QoSMonitoringPeriod: period,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	ctx, cancel := contextWithCancel(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, time.Second) }()
	s := newSink(t, false, nil)
	sub := monitoredNEF(s.notifyURI("u1", "robot"), "10.45.0.2", 1)
	sub.Events = []models.Nef_AsSessQoS_UserPlaneEvent{models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING}
	start := time.Now()
	wantStatus(t, call(t, nil, http.MethodPost, APIRootFor(ln.Addr())+"/3gpp-as-session-with-qos/v1/af/subscriptions", contentTypeJSON, sub), http.StatusCreated)
	const want = 3
	for range want {
		if got := qosMonReport(t, s.next(t)); !cmp.Equal(got, oneWay(qosMonLinkDelay, qosMonLinkDelay)) {
			t.Errorf("report %+v", got)
		}
	}
	elapsed := time.Since(start)
	if elapsed < want*period {
		t.Errorf("%d reports within %v, want one per %v", want, elapsed, period)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
)

type appSession = models.Pcf_PolAuth_AppSessionContext

// TestPCFLifecycle protects the TS 29.514 contract medslice relies on: 201
// with Location, GET, PATCH as a merge patch (null removes a sub-component)
// that renews the bound, POST …/delete 204 and 404 afterwards, and
// SUCCESSFUL_RESOURCES_ALLOCATION to {evSubsc.notifUri}/notify.
func TestPCFLifecycle(t *testing.T) {
	e := newEnv(t)
	rcv := newSink(t, false, nil)
	asc := validPCF(rcv.notifyURI("uid-1", "robot"))

	a := call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, asc)
	wantStatus(t, a, http.StatusCreated)
	loc := a.header.Get("Location")
	if !strings.HasPrefix(loc, e.pcfURL()+"/") {
		t.Fatalf("Location %q, want under %s", loc, e.pcfURL())
	}
	want := asc
	want.AscRespData = &models.Pcf_PolAuth_AppSessionContextRespData{SuppFeat: "0"}
	if diff := cmp.Diff(want, decode[appSession](t, a)); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	n := rcv.next(t)
	if n.path != "/notify/v1/or-3/robotic-surgery/uid-1/robot/s3cr3t/notify" {
		t.Errorf("event went to %s, want {notifUri}/notify", n.path)
	}
	if diff := cmp.Diff(models.Pcf_PolAuth_EventsNotification{
		EvSubsUri: loc + "/events-subscription",
		EvNotifs:  []models.Pcf_PolAuth_AfEventNotification{{Event: models.Pcf_PolAuth_AfEvent_SUCCESSFUL_RESOURCES_ALLOCATION}},
	}, decode[models.Pcf_PolAuth_EventsNotification](t, answer{body: n.body})); diff != "" {
		t.Errorf("notification (-want +got):\n%s", diff)
	}

	a = call(t, nil, http.MethodGet, loc, "", nil)
	wantStatus(t, a, http.StatusOK)
	if diff := cmp.Diff(want, decode[appSession](t, a)); diff != "" {
		t.Errorf("GET (-want +got):\n%s", diff)
	}

	ss := e.sessions(t)
	wantSession := Session{
		ID: loc[strings.LastIndex(loc, "/")+1:], API: APIPCF, ResourceURI: loc, UEAddress: "10.45.0.2",
		DNN: "internet", SNSSAI: &SNSSAI{SST: 2, SD: "000001"}, FlowDescriptions: []string{fdDown, fdUp},
		FiveQI: 2, GBRUplink: 10_000_000, GBRDownlink: 20_000_000, MBRUplink: 20_000_000, MBRDownlink: 40_000_000,
		NotificationURI: asc.AscReqData.NotifUri, Correlation: "uid-1/robot",
		CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(600 * time.Second),
	}
	if diff := cmp.Diff([]Session{wantSession}, ss); diff != "" {
		t.Errorf("admin sessions (-want +got):\n%s", diff)
	}

	// Patch: a second sub-component, mirBwDl dropped (marBwDl then counts as
	// the GBR, as free5GC does), renewed bound.
	e.clock.Advance(time.Minute)
	patch := `{"ascReqData": {"medComponents": {"1": {"medCompN": 1, "mirBwDl": null,
		"medSubComps": {"2": {"fNum": 2, "fDescs": ["permit out 17 from 192.0.2.20 to 10.45.0.2"]}}}},
		"evSubsc": {"events": [{"event": "SUCCESSFUL_RESOURCES_ALLOCATION"}], "notifUri": "` + asc.AscReqData.NotifUri + `", "usgThres": {"duration": 120}}}}`
	a = call(t, nil, http.MethodPatch, loc, contentTypeMergePatch, patch)
	wantStatus(t, a, http.StatusOK)
	got := decode[appSession](t, a)
	if mc := got.AscReqData.MedComponents["1"]; len(mc.MedSubComps) != 2 || mc.MirBwDl != "" || mc.MirBwUl != "10 Mbps" {
		t.Errorf("patched media component = %+v", mc)
	}
	rcv.next(t)
	s := e.session(t, loc)
	if s.GBRDownlink != 40_000_000 || !s.ExpiresAt.Equal(t0.Add(time.Minute+120*time.Second)) || len(s.FlowDescriptions) != 3 {
		t.Errorf("after patch: gbrDl %s, expiresAt %s, %d flows; want 40 Mbps, %s, 3",
			s.GBRDownlink, s.ExpiresAt, len(s.FlowDescriptions), t0.Add(time.Minute+120*time.Second))
	}

	// Null removes a sub-component.
	wantStatus(t, call(t, nil, http.MethodPatch, loc, contentTypeMergePatch,
		`{"ascReqData": {"medComponents": {"1": {"medCompN": 1, "medSubComps": {"2": null}}}}}`), http.StatusOK)
	rcv.next(t)
	if got := e.session(t, loc).FlowDescriptions; !cmp.Equal(got, []string{fdDown, fdUp}) {
		t.Errorf("flows after removing sub-component 2 = %q", got)
	}

	// Delete.
	wantStatus(t, call(t, nil, http.MethodPost, loc+"/delete", "", nil), http.StatusNoContent)
	a = call(t, nil, http.MethodGet, loc, "", nil)
	wantStatus(t, a, http.StatusNotFound)
	if p := problemOf(t, a); p.Cause != causeAppSessionCtxNotFound {
		t.Errorf("cause = %q, want %s", p.Cause, causeAppSessionCtxNotFound)
	}
	wantStatus(t, call(t, nil, http.MethodPost, loc+"/delete", "", nil), http.StatusNotFound)
	e.waitIdle(t)
	rcv.empty(t)
}

// TestPCFSeeOther protects crash recovery without duplicates: a create
// equivalent to an existing context (same UE address, same notifUri) gets
// 303 See Other with that context's Location and creates nothing; a
// different notifUri or UE is a new context.
func TestPCFSeeOther(t *testing.T) {
	e := newEnv(t)
	first := validPCF("http://127.0.0.1:9/notify/v1/ns/n/uid-1/dev/tok")
	a := call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, first)
	wantStatus(t, a, http.StatusCreated)
	loc := a.header.Get("Location")

	retry := validPCF(first.AscReqData.NotifUri)
	retry.AscReqData.MedComponents["1"] = func() models.Pcf_PolAuth_MediaComponent {
		mc := retry.AscReqData.MedComponents["1"]
		mc.MarBwDl = "50 Mbps" // different QoS, same intent: still equivalent
		return mc
	}()
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, retry)
	wantStatus(t, a, http.StatusSeeOther)
	if got := a.header.Get("Location"); got != loc {
		t.Errorf("303 Location = %q, want %q", got, loc)
	}
	if n := len(e.sessions(t)); n != 1 {
		t.Fatalf("%d sessions after an equivalent create, want 1", n)
	}

	otherDevice := validPCF("http://127.0.0.1:9/notify/v1/ns/n/uid-1/dev-2/tok")
	wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, otherDevice), http.StatusCreated)
	otherUE := validPCF(first.AscReqData.NotifUri)
	otherUE.AscReqData.UeIpv4 = "10.45.0.3"
	wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, otherUE), http.StatusCreated)
	if n := len(e.sessions(t)); n != 3 {
		t.Fatalf("%d sessions, want 3", n)
	}

	// Once deleted, the same request creates again.
	wantStatus(t, call(t, nil, http.MethodPost, loc+"/delete", "", nil), http.StatusNoContent)
	a = call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, first)
	wantStatus(t, a, http.StatusCreated)
	if a.header.Get("Location") == loc {
		t.Errorf("re-created context reuses the deleted id %s", loc)
	}
}

// TestPCFEventsSubscription protects the Events Subscription sub-resource:
// PUT creates (201 with Location) or replaces (200), DELETE removes (204),
// and no events go out once it is gone.
func TestPCFEventsSubscription(t *testing.T) {
	e := newEnv(t)
	rcv := newSink(t, false, nil)
	asc := validPCF(rcv.notifyURI("uid-1", "robot"))
	asc.AscReqData.EvSubsc = nil
	a := call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, asc)
	wantStatus(t, a, http.StatusCreated)
	loc := a.header.Get("Location")
	if got, want := e.session(t, loc).ExpiresAt, t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("expiresAt without usgThres = %s, want the default TTL %s", got, want)
	}

	es := models.Pcf_PolAuth_EventsSubscReqData{
		Events:   []models.Pcf_PolAuth_AfEventSubscription{{Event: models.Pcf_PolAuth_AfEvent_QOS_NOTIF}},
		NotifUri: asc.AscReqData.NotifUri,
		UsgThres: &models.Nef_UsageThreshold{Duration: 60},
	}
	a = call(t, nil, http.MethodPut, loc+"/events-subscription", contentTypeJSON, es)
	wantStatus(t, a, http.StatusCreated)
	if got := a.header.Get("Location"); got != loc+"/events-subscription" {
		t.Errorf("Location = %q", got)
	}
	if got := decode[models.Pcf_PolAuth_EventsSubscPutData](t, a); got.NotifUri != es.NotifUri || len(got.Events) != 1 {
		t.Errorf("PUT answer = %+v", got)
	}
	if got, want := e.session(t, loc).ExpiresAt, t0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("expiresAt = %s, want %s from usgThres", got, want)
	}
	wantStatus(t, call(t, nil, http.MethodPut, loc+"/events-subscription", contentTypeJSON, es), http.StatusOK)
	wantStatus(t, call(t, nil, http.MethodPut, loc+"/events-subscription", contentTypeJSON, `{"events": []}`), http.StatusBadRequest)
	wantStatus(t, call(t, nil, http.MethodDelete, loc+"/events-subscription", "", nil), http.StatusNoContent)
	a = call(t, nil, http.MethodGet, loc, "", nil)
	if decode[appSession](t, a).AscReqData.EvSubsc != nil {
		t.Errorf("evSubsc still there after DELETE")
	}
	// Not subscribed: an update sends nothing.
	wantStatus(t, call(t, nil, http.MethodPatch, loc, contentTypeMergePatch, `{"ascReqData": {}}`), http.StatusOK)
	wantStatus(t, call(t, nil, http.MethodDelete, e.pcfURL()+"/unknown/events-subscription", "", nil), http.StatusNotFound)
	e.waitIdle(t)
	rcv.empty(t)
}

// TestPCFValidation protects the 400 answers of Npcf_PolicyAuthorization_Create.
func TestPCFValidation(t *testing.T) {
	mc := func(f func(*models.Pcf_PolAuth_MediaComponent)) func(*appSession) {
		return func(a *appSession) {
			m := a.AscReqData.MedComponents["1"]
			f(&m)
			a.AscReqData.MedComponents["1"] = m
		}
	}
	sub := func(f func(*models.Pcf_PolAuth_MediaSubComponent)) func(*appSession) {
		return mc(func(m *models.Pcf_PolAuth_MediaComponent) {
			s := m.MedSubComps["1"]
			f(&s)
			m.MedSubComps = map[string]models.Pcf_PolAuth_MediaSubComponent{"1": s}
		})
	}
	for name, tc := range map[string]struct {
		mutate      func(*appSession)
		raw         string
		contentType string
		wantStatus  int
		wantCause   string
		wantParam   string
	}{
		"no ascReqData":         {mutate: func(a *appSession) { a.AscReqData = nil }, wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData"},
		"no notifUri":           {mutate: func(a *appSession) { a.AscReqData.NotifUri = "" }, wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/notifUri"},
		"no suppFeat":           {mutate: func(a *appSession) { a.AscReqData.SuppFeat = "" }, wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/suppFeat"},
		"bad suppFeat":          {mutate: func(a *appSession) { a.AscReqData.SuppFeat = "xyz" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/ascReqData/suppFeat"},
		"no UE":                 {mutate: func(a *appSession) { a.AscReqData.UeIpv4 = "" }, wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/ueIpv4"},
		"IPv4 and IPv6 (oneOf)": {mutate: func(a *appSession) { a.AscReqData.UeIpv6 = "2001:db8::2" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/ascReqData/ueIpv4"},
		"bad IPv6":              {mutate: func(a *appSession) { a.AscReqData.UeIpv4, a.AscReqData.UeIpv6 = "", "2001:db8::zz" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/ascReqData/ueIpv6"},
		"no media components":   {mutate: func(a *appSession) { a.AscReqData.MedComponents = nil }, wantCause: causeInvalidServiceInfo, wantParam: "/ascReqData/medComponents"},
		"key is not medCompN": {mutate: func(a *appSession) {
			a.AscReqData.MedComponents = map[string]models.Pcf_PolAuth_MediaComponent{"2": a.AscReqData.MedComponents["1"]}
		}, wantCause: causeMandatoryIEIncorrect, wantParam: "/ascReqData/medComponents/2/medCompN"},
		"medCompN 0":          {mutate: mc(func(m *models.Pcf_PolAuth_MediaComponent) { m.MedCompN = 0 }), wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/medComponents/1/medCompN"},
		"bad marBwUl":         {mutate: mc(func(m *models.Pcf_PolAuth_MediaComponent) { m.MarBwUl = "fast" }), wantCause: causeInvalidServiceInfo, wantParam: "/ascReqData/medComponents/1/marBwUl"},
		"mirBw above marBw":   {mutate: mc(func(m *models.Pcf_PolAuth_MediaComponent) { m.MirBwDl = "1 Gbps" }), wantCause: causeInvalidServiceInfo, wantParam: "/ascReqData/medComponents/1/mirBwDl"},
		"no flows":            {mutate: mc(func(m *models.Pcf_PolAuth_MediaComponent) { m.MedSubComps = nil }), wantCause: causeInvalidServiceInfo, wantParam: "/ascReqData/medComponents"},
		"fNum 0":              {mutate: sub(func(s *models.Pcf_PolAuth_MediaSubComponent) { s.FNum = 0 }), wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/medComponents/1/medSubComps/1/fNum"},
		"inout":               {mutate: sub(func(s *models.Pcf_PolAuth_MediaSubComponent) { s.FDescs = []string{"permit inout 17 from any to any"} }), wantCause: causeFilterRestrictions, wantParam: "/ascReqData/medComponents/1/medSubComps/1/fDescs/0"},
		"three fDescs":        {mutate: sub(func(s *models.Pcf_PolAuth_MediaSubComponent) { s.FDescs = []string{fdDown, fdUp, fdUp} }), wantCause: causeFilterRestrictions, wantParam: "/ascReqData/medComponents/1/medSubComps/1/fDescs"},
		"evSubsc no events":   {mutate: func(a *appSession) { a.AscReqData.EvSubsc.Events = nil }, wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/evSubsc/events"},
		"evSubsc no notifUri": {mutate: func(a *appSession) { a.AscReqData.EvSubsc.NotifUri = "" }, wantCause: causeMandatoryIEMissing, wantParam: "/ascReqData/evSubsc/notifUri"},
		"sliceInfo sst 0":     {mutate: func(a *appSession) { a.AscReqData.SliceInfo.Sst = 0 }, wantCause: causeOptionalIEIncorrect, wantParam: "/ascReqData/sliceInfo/sst"},
		"unknown attribute":   {raw: `{"ascReqData": {"notifUri": "http://x/n", "suppFeat": "0", "ueIpv4Addr": "10.0.0.1"}}`, wantCause: causeInvalidMsgFormat},
		"malformed":           {raw: `{"ascReqData": [}`, wantCause: causeInvalidMsgFormat},
		"wrong content type":  {raw: `{}`, contentType: "application/xml", wantStatus: http.StatusUnsupportedMediaType},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			var body any = tc.raw
			if tc.raw == "" {
				asc := validPCF("http://127.0.0.1:9/notify/v1/ns/n/uid/dev/tok")
				tc.mutate(&asc)
				body = asc
			}
			ct := contentTypeJSON
			if tc.contentType != "" {
				ct = tc.contentType
			}
			status := http.StatusBadRequest
			if tc.wantStatus != 0 {
				status = tc.wantStatus
			}
			a := call(t, nil, http.MethodPost, e.pcfURL(), ct, body)
			wantStatus(t, a, status)
			var p models.ProblemDetails
			if err := json.Unmarshal(a.body, &p); err != nil {
				t.Fatalf("not a ProblemDetails: %s", a.body)
			}
			if p.Cause != tc.wantCause || p.Status != int32(status) {
				t.Errorf("problem = %+v, want cause %q status %d", p, tc.wantCause, status)
			}
			if tc.wantParam != "" && (len(p.InvalidParams) == 0 || p.InvalidParams[0].Param != tc.wantParam) {
				t.Errorf("invalidParams = %+v, want first %q", p.InvalidParams, tc.wantParam)
			}
			if got := len(e.sessions(t)); got != 0 {
				t.Errorf("%d sessions after a refused create, want 0", got)
			}
		})
	}
}

// TestPCFPatchValidation protects PATCH: what the Rm schemas require, the
// patched whole validated, nothing changed on refusal.
func TestPCFPatchValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		patch      string
		wantStatus int
		wantCause  string
	}{
		"UE not patchable":           {patch: `{"ascReqData": {"ueIpv4": "10.45.0.9"}}`, wantStatus: http.StatusBadRequest, wantCause: causeInvalidMsgFormat},
		"evSubsc without events":     {patch: `{"ascReqData": {"evSubsc": {"notifUri": "http://x/n"}}}`, wantStatus: http.StatusBadRequest, wantCause: causeMandatoryIEMissing},
		"component without medCompN": {patch: `{"ascReqData": {"medComponents": {"1": {"marBwUl": "1 Mbps"}}}}`, wantStatus: http.StatusBadRequest, wantCause: causeMandatoryIEMissing},
		"every flow removed":         {patch: `{"ascReqData": {"medComponents": {"1": null}}}`, wantStatus: http.StatusBadRequest, wantCause: causeInvalidServiceInfo},
		"bad flow":                   {patch: `{"ascReqData": {"medComponents": {"1": {"medCompN": 1, "medSubComps": {"1": {"fNum": 1, "fDescs": ["permit out 17 from any to assigned"]}}}}}}`, wantStatus: http.StatusBadRequest, wantCause: causeFilterRestrictions},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			a := call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, validPCF("http://127.0.0.1:9/n"))
			wantStatus(t, a, http.StatusCreated)
			loc := a.header.Get("Location")
			before := e.sessions(t)
			a = call(t, nil, http.MethodPatch, loc, contentTypeMergePatch, tc.patch)
			wantStatus(t, a, tc.wantStatus)
			if p := problemOf(t, a); p.Cause != tc.wantCause {
				t.Errorf("cause = %q, want %q (%s)", p.Cause, tc.wantCause, p.Detail)
			}
			if diff := cmp.Diff(before, e.sessions(t)); diff != "" {
				t.Errorf("session changed by a refused patch (-before +after):\n%s", diff)
			}
		})
	}
}

// TestPCFFiveQI protects the 5QI the admin API reports: free5GC's choice
// from the media type of the lowest-numbered component.
func TestPCFFiveQI(t *testing.T) {
	for medType, want := range map[models.Pcf_PolAuth_MediaType]int32{
		models.Pcf_PolAuth_MediaType_AUDIO:       1,
		models.Pcf_PolAuth_MediaType_VIDEO:       2,
		models.Pcf_PolAuth_MediaType_APPLICATION: 2,
		models.Pcf_PolAuth_MediaType_DATA:        9,
		"":                                       9,
	} {
		t.Run(string(medType), func(t *testing.T) {
			e := newEnv(t)
			asc := validPCF("http://127.0.0.1:9/n")
			m := asc.AscReqData.MedComponents["1"]
			m.MedType = medType
			asc.AscReqData.MedComponents["1"] = m
			wantStatus(t, call(t, nil, http.MethodPost, e.pcfURL(), contentTypeJSON, asc), http.StatusCreated)
			if got := e.sessions(t)[0].FiveQI; got != want {
				t.Errorf("fiveQI = %d, want %d", got, want)
			}
		})
	}
}

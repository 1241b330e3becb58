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

type nefSub = models.Nef_AsSessQoS_AsSessionWithQoSSubscription

// TestNEFLifecycle protects the TS 29.122 §5.14 contract medslice relies on:
// 201 with Location and self link, GET individual and collection (only this
// SCS/AS's), PATCH as a merge patch that renews the bound, PUT, DELETE 204
// and 404 afterwards, and SUCCESSFUL_RESOURCES_ALLOCATION to the
// notificationDestination after each change.
func TestNEFLifecycle(t *testing.T) {
	e := newEnv(t)
	rcv := newSink(t, false, nil)
	sub := validNEF(rcv.notifyURI("uid-1", "robot"))

	// Create.
	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, sub)
	wantStatus(t, a, http.StatusCreated)
	created := decode[nefSub](t, a)
	loc := a.header.Get("Location")
	if !strings.HasPrefix(loc, e.nefURL("af-1")+"/") || created.Self != loc {
		t.Fatalf("Location %q and self %q: want equal, under %s", loc, created.Self, e.nefURL("af-1"))
	}
	want := sub
	want.Self = loc
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created subscription (-want +got):\n%s", diff)
	}
	n := rcv.next(t)
	if got := decode[models.Nef_AsSessQoS_UserPlaneNotificationData](t, answer{body: n.body}); !cmp.Equal(got, models.Nef_AsSessQoS_UserPlaneNotificationData{
		Transaction:  loc,
		EventReports: []models.Nef_AsSessQoS_UserPlaneEventReport{{Event: models.Nef_AsSessQoS_UserPlaneEvent_SUCCESSFUL_RESOURCES_ALLOCATION, AppliedQosRef: "5qi-82"}},
	}) {
		t.Errorf("notification = %s", n.body)
	}
	if n.path != "/notify/v1/or-3/robotic-surgery/uid-1/robot/s3cr3t" {
		t.Errorf("notification went to %s, want the notificationDestination itself", n.path)
	}

	// Get.
	a = call(t, nil, http.MethodGet, loc, "", nil)
	wantStatus(t, a, http.StatusOK)
	if diff := cmp.Diff(want, decode[nefSub](t, a)); diff != "" {
		t.Errorf("GET (-want +got):\n%s", diff)
	}

	// Collection: this SCS/AS only.
	other := validNEF(rcv.notifyURI("uid-2", "camera"))
	other.UeIpv4Addr = "10.45.0.3"
	wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-2"), contentTypeJSON, other), http.StatusCreated)
	rcv.next(t)
	a = call(t, nil, http.MethodGet, e.nefURL("af-1"), "", nil)
	wantStatus(t, a, http.StatusOK)
	if diff := cmp.Diff([]nefSub{want}, decode[[]nefSub](t, a)); diff != "" {
		t.Errorf("collection of af-1 (-want +got):\n%s", diff)
	}
	a = call(t, nil, http.MethodGet, e.nefURL("af-3"), "", nil)
	wantStatus(t, a, http.StatusOK)
	if string(a.body) != "[]" {
		t.Errorf("empty collection = %s, want []", a.body)
	}
	// Another SCS/AS cannot read it either.
	wantStatus(t, call(t, nil, http.MethodGet, strings.Replace(loc, "/af-1/", "/af-2/", 1), "", nil), http.StatusNotFound)

	// Patch: new GBR, renewed bound, tscQosReq.reqMbrUl removed with null.
	e.clock.Advance(time.Minute)
	patch := `{"tscQosReq": {"reqGbrUl": "15 Mbps", "reqMbrUl": null}, "usageThreshold": {"duration": 900}}`
	a = call(t, nil, http.MethodPatch, loc, contentTypeMergePatch, patch)
	wantStatus(t, a, http.StatusOK)
	patched := decode[nefSub](t, a)
	if q := patched.TscQosReq; q.ReqGbrUl != "15 Mbps" || q.ReqMbrUl != "" || q.ReqGbrDl != "20 Mbps" {
		t.Errorf("patched tscQosReq = %+v, want reqGbrUl 15 Mbps, no reqMbrUl, reqGbrDl kept", q)
	}
	rcv.next(t)
	s := e.session(t, loc)
	if got, want := s.ExpiresAt, t0.Add(time.Minute+900*time.Second); !got.Equal(want) {
		t.Errorf("expiresAt after patch = %s, want %s", got, want)
	}
	if s.GBRUplink != 15_000_000 {
		t.Errorf("gbrUl after patch = %s, want 15 Mbps", s.GBRUplink)
	}

	// A patch without a duration keeps the bound.
	e.clock.Advance(time.Minute)
	wantStatus(t, call(t, nil, http.MethodPatch, loc, contentTypeMergePatch, `{"qosReference": "5qi-2"}`), http.StatusOK)
	rcv.next(t)
	if got, want := e.session(t, loc).ExpiresAt, t0.Add(time.Minute+900*time.Second); !got.Equal(want) {
		t.Errorf("expiresAt after a patch without duration = %s, want unchanged %s", got, want)
	}
	if got := e.session(t, loc).FiveQI; got != 2 {
		t.Errorf("fiveQI = %d, want 2 from qosReference 5qi-2", got)
	}

	// Put replaces.
	put := validNEF(rcv.notifyURI("uid-1", "robot"))
	put.QosReference = "5qi-83"
	put.TscQosReq = nil
	a = call(t, nil, http.MethodPut, loc, contentTypeJSON, put)
	wantStatus(t, a, http.StatusOK)
	if got := decode[nefSub](t, a); got.TscQosReq != nil || got.QosReference != "5qi-83" || got.Self != loc {
		t.Errorf("after PUT: %+v", got)
	}
	rcv.next(t)

	// Delete, then it is gone.
	a = call(t, nil, http.MethodDelete, loc, "", nil)
	wantStatus(t, a, http.StatusNoContent)
	a = call(t, nil, http.MethodGet, loc, "", nil)
	wantStatus(t, a, http.StatusNotFound)
	if p := problemOf(t, a); p.Cause != causeSubscriptionNotFound || p.Status != http.StatusNotFound {
		t.Errorf("404 problem = %+v", p)
	}
	wantStatus(t, call(t, nil, http.MethodDelete, loc, "", nil), http.StatusNotFound)
	wantStatus(t, call(t, nil, http.MethodPatch, loc, contentTypeMergePatch, `{}`), http.StatusNotFound)
	e.waitIdle(t)
	rcv.empty(t)
}

// TestNEFPutCannotMoveUE protects the one-UE-per-subscription rule.
func TestNEFPutCannotMoveUE(t *testing.T) {
	e := newEnv(t)
	rcv := newSink(t, false, nil)
	a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF(rcv.notifyURI("u", "d")))
	wantStatus(t, a, http.StatusCreated)
	moved := validNEF(rcv.notifyURI("u", "d"))
	moved.UeIpv4Addr = "10.45.0.99"
	a = call(t, nil, http.MethodPut, a.header.Get("Location"), contentTypeJSON, moved)
	wantStatus(t, a, http.StatusForbidden)
	if p := problemOf(t, a); p.Cause != causeModificationNotAllowed {
		t.Errorf("cause = %q, want %s", p.Cause, causeModificationNotAllowed)
	}
}

// TestNEFValidation protects the 400 answers: one ProblemDetails naming the
// cause and the offending attribute as a JSON pointer.
func TestNEFValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate      func(*nefSub)
		raw         string // sent instead of the mutated subscription
		contentType string
		wantStatus  int
		wantCause   string
		wantParam   string
	}{
		"no notificationDestination":       {mutate: func(s *nefSub) { s.NotificationDestination = "" }, wantCause: causeMandatoryIEMissing, wantParam: "/notificationDestination"},
		"relative notificationDestination": {mutate: func(s *nefSub) { s.NotificationDestination = "/notify" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/notificationDestination"},
		"no UE address":                    {mutate: func(s *nefSub) { s.UeIpv4Addr = "" }, wantCause: causeMandatoryIEMissing, wantParam: "/ueIpv4Addr"},
		"two UE addresses":                 {mutate: func(s *nefSub) { s.UeIpv6Addr = "2001:db8::2" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/ueIpv4Addr"},
		"bad IPv4":                         {mutate: func(s *nefSub) { s.UeIpv4Addr = "10.45.0.256" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/ueIpv4Addr"},
		"IPv6 not in RFC 5952 form":        {mutate: func(s *nefSub) { s.UeIpv4Addr, s.UeIpv6Addr = "", "2001:DB8:0:0::2" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/ueIpv6Addr"},
		"bad MAC":                          {mutate: func(s *nefSub) { s.UeIpv4Addr, s.MacAddr = "", "00:11:22:33:44:55" }, wantCause: causeMandatoryIEIncorrect, wantParam: "/macAddr"},
		"no flowInfo":                      {mutate: func(s *nefSub) { s.FlowInfo = nil }, wantCause: causeMandatoryIEMissing, wantParam: "/flowInfo"},
		"flowId 0":                         {mutate: func(s *nefSub) { s.FlowInfo[0].FlowId = 0 }, wantCause: causeMandatoryIEIncorrect, wantParam: "/flowInfo/0/flowId"},
		"three descriptions":               {mutate: func(s *nefSub) { s.FlowInfo[0].FlowDescriptions = []string{fdDown, fdUp, fdUp} }, wantCause: causeMandatoryIEIncorrect, wantParam: "/flowInfo/0/flowDescriptions"},
		"inout":                            {mutate: func(s *nefSub) { s.FlowInfo[0].FlowDescriptions = []string{"permit inout ip from any to any"} }, wantCause: causeMandatoryIEIncorrect, wantParam: "/flowInfo/0/flowDescriptions/0"},
		"no QoS":                           {mutate: func(s *nefSub) { s.QosReference, s.TscQosReq = "", nil }, wantCause: causeMandatoryIEMissing, wantParam: "/qosReference"},
		"bad bit rate":                     {mutate: func(s *nefSub) { s.TscQosReq.ReqGbrUl = "10 mbit/s" }, wantCause: causeOptionalIEIncorrect, wantParam: "/tscQosReq/reqGbrUl"},
		"GBR above MBR":                    {mutate: func(s *nefSub) { s.TscQosReq.ReqGbrDl = "50 Mbps" }, wantCause: causeOptionalIEIncorrect, wantParam: "/tscQosReq/reqGbrDl"},
		"TSC priority 9":                   {mutate: func(s *nefSub) { s.TscQosReq.Priority = 9 }, wantCause: causeOptionalIEIncorrect, wantParam: "/tscQosReq/priority"},
		"burst size too small":             {mutate: func(s *nefSub) { s.TscQosReq.MaxTscBurstSize = 255 }, wantCause: causeOptionalIEIncorrect, wantParam: "/tscQosReq/maxTscBurstSize"},
		"sst 0":                            {mutate: func(s *nefSub) { s.Snssai.Sst = 0 }, wantCause: causeOptionalIEIncorrect, wantParam: "/snssai/sst"},
		"sst 256":                          {mutate: func(s *nefSub) { s.Snssai.Sst = 256 }, wantCause: causeOptionalIEIncorrect, wantParam: "/snssai/sst"},
		"bad sd":                           {mutate: func(s *nefSub) { s.Snssai.Sd = "xyz" }, wantCause: causeOptionalIEIncorrect, wantParam: "/snssai/sd"},
		"bad dnn":                          {mutate: func(s *nefSub) { s.Dnn = "inter net" }, wantCause: causeOptionalIEIncorrect, wantParam: "/dnn"},
		"negative duration":                {mutate: func(s *nefSub) { s.UsageThreshold.Duration = -1 }, wantCause: causeOptionalIEIncorrect, wantParam: "/usageThreshold"},
		"Ethernet flows":                   {mutate: func(s *nefSub) { s.EthFlowInfo = []models.Pcf_PolAuth_EthFlowDescription{{EthType: "0800"}} }, wantCause: causeOptionalIEIncorrect, wantParam: "/ethFlowInfo"},
		"malformed JSON":                   {raw: `{"notificationDestination": `, wantCause: causeInvalidMsgFormat},
		"unknown attribute":                {raw: `{"notificationDestination": "http://x/n", "ueIpv4": "10.0.0.1"}`, wantCause: causeInvalidMsgFormat},
		"trailing data":                    {raw: `{} {}`, wantCause: causeInvalidMsgFormat},
		"empty body":                       {raw: " ", wantCause: causeInvalidMsgFormat},
		"wrong type":                       {raw: `{"flowInfo": {}}`, wantCause: causeInvalidMsgFormat},
		"wrong content type":               {raw: `{}`, contentType: "text/plain", wantStatus: http.StatusUnsupportedMediaType, wantParam: "header Content-Type"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			var body any = tc.raw
			if tc.raw == "" {
				sub := validNEF("http://127.0.0.1:9/notify/v1/ns/n/uid/dev/tok")
				tc.mutate(&sub)
				body = sub
			}
			ct := contentTypeJSON
			if tc.contentType != "" {
				ct = tc.contentType
			}
			status := http.StatusBadRequest
			if tc.wantStatus != 0 {
				status = tc.wantStatus
			}
			a := call(t, nil, http.MethodPost, e.nefURL("af-1"), ct, body)
			wantStatus(t, a, status)
			var p models.Nef_ProblemDetails
			if err := json.Unmarshal(a.body, &p); err != nil {
				t.Fatalf("not a ProblemDetails: %s", a.body)
			}
			if p.Cause != tc.wantCause || p.Status != int32(status) || p.Detail == "" {
				t.Errorf("problem = %+v, want cause %q, status %d and a detail", p, tc.wantCause, status)
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

// TestNEFPatchValidation protects PATCH: the patch schema is enforced (no UE
// address, merge-patch media type), and the patched result is validated as
// a whole, leaving the subscription unchanged when refused.
func TestNEFPatchValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		patch       string
		contentType string
		wantStatus  int
		wantCause   string
	}{
		"UE address not patchable": {patch: `{"ueIpv4Addr": "10.45.0.9"}`, wantStatus: http.StatusBadRequest, wantCause: causeInvalidMsgFormat},
		"flowInfo removed":         {patch: `{"flowInfo": null}`, wantStatus: http.StatusBadRequest, wantCause: causeMandatoryIEMissing},
		"GBR above MBR":            {patch: `{"tscQosReq": {"reqGbrDl": "1 Gbps"}}`, wantStatus: http.StatusBadRequest, wantCause: causeOptionalIEIncorrect},
		"not an object":            {patch: `[]`, wantStatus: http.StatusBadRequest, wantCause: causeInvalidMsgFormat},
		"JSON media type":          {patch: `{}`, contentType: contentTypeJSON, wantStatus: http.StatusUnsupportedMediaType},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			a := call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF("http://127.0.0.1:9/n"))
			wantStatus(t, a, http.StatusCreated)
			loc := a.header.Get("Location")
			before := e.sessions(t)
			ct := contentTypeMergePatch
			if tc.contentType != "" {
				ct = tc.contentType
			}
			a = call(t, nil, http.MethodPatch, loc, ct, tc.patch)
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

// TestNEFListFilter protects the ip-addrs and mac-addrs query parameters of
// GET …/subscriptions, which adoption can use to look up one device.
func TestNEFListFilter(t *testing.T) {
	e := newEnv(t)
	for _, ue := range []struct{ v4, v6 string }{{"10.45.0.2", ""}, {"10.45.0.3", ""}, {"", "2001:db8::3"}} {
		sub := validNEF("http://127.0.0.1:9/n")
		sub.UeIpv4Addr, sub.UeIpv6Addr = ue.v4, ue.v6
		if ue.v6 != "" {
			sub.FlowInfo[0].FlowDescriptions = []string{"permit out 17 from 2001:db8::10 to 2001:db8::3"}
		}
		wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, sub), http.StatusCreated)
		e.clock.Advance(time.Second) // the collection is ordered by creation
	}
	for name, tc := range map[string]struct {
		query  string
		wantUE []string
		status int
	}{
		"no filter":   {query: "", wantUE: []string{"10.45.0.2", "10.45.0.3", "2001:db8::3"}},
		"one IPv4":    {query: `?ip-addrs=[{"ipv4Addr":"10.45.0.3"}]`, wantUE: []string{"10.45.0.3"}},
		"IPv4 and v6": {query: `?ip-addrs=[{"ipv4Addr":"10.45.0.2"},{"ipv6Addr":"2001:db8::3"}]`, wantUE: []string{"10.45.0.2", "2001:db8::3"}},
		"no match":    {query: `?ip-addrs=[{"ipv4Addr":"10.45.0.9"}]`, wantUE: []string{}},
		"bad filter":  {query: `?ip-addrs=10.45.0.2`, status: http.StatusBadRequest},
	} {
		t.Run(name, func(t *testing.T) {
			u := e.nefURL("af-1") + strings.NewReplacer(`"`, "%22", "{", "%7B", "}", "%7D", "[", "%5B", "]", "%5D").Replace(tc.query)
			a := call(t, nil, http.MethodGet, u, "", nil)
			if tc.status != 0 {
				wantStatus(t, a, tc.status)
				return
			}
			wantStatus(t, a, http.StatusOK)
			got := []string{}
			for _, s := range decode[[]nefSub](t, a) {
				got = append(got, s.UeIpv4Addr+s.UeIpv6Addr)
			}
			if diff := cmp.Diff(tc.wantUE, got); diff != "" {
				t.Errorf("UEs (-want +got):\n%s", diff)
			}
		})
	}
}

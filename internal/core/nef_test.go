package core

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
)

const nefAF = "af-hospital"

// fakeNEF serves the AsSessionWithQoS API (TS 29.122 §5.14) from a fakeCore.
func fakeNEF(f *fakeCore) http.Handler {
	const base = "/3gpp-as-session-with-qos/v1/{scsAsId}/subscriptions"
	mux := http.NewServeMux()
	self := func(r *http.Request, id string) string {
		return "http://" + r.Host + "/3gpp-as-session-with-qos/v1/" + r.PathValue("scsAsId") + "/subscriptions/" + id
	}
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		var obj map[string]any
		if err := json.Unmarshal(f.record(r), &obj); err != nil {
			writeProblem(w, http.StatusBadRequest, "", err.Error())
			return
		}
		if f.answerOverride(w) {
			return
		}
		id := f.add(obj)
		obj["self"] = self(r, id)
		w.Header().Set("Location", self(r, id))
		writeJSON(w, http.StatusCreated, obj)
	})
	mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if f.answerOverride(w) {
			return
		}
		writeJSON(w, http.StatusOK, f.all())
	})
	mux.HandleFunc("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if f.answerOverride(w) {
			return
		}
		obj, ok := f.get(r.PathValue("id"))
		if !ok {
			writeProblem(w, http.StatusNotFound, "", "no such subscription")
			return
		}
		writeJSON(w, http.StatusOK, obj)
	})
	mux.HandleFunc("PATCH "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		if err := json.Unmarshal(f.record(r), &p); err != nil {
			writeProblem(w, http.StatusBadRequest, "", err.Error())
			return
		}
		if f.answerOverride(w) {
			return
		}
		obj, ok := f.patch(r.PathValue("id"), p)
		if !ok {
			writeProblem(w, http.StatusNotFound, "", "no such subscription")
			return
		}
		writeJSON(w, http.StatusOK, obj)
	})
	mux.HandleFunc("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if f.answerOverride(w) {
			return
		}
		if !f.remove(r.PathValue("id")) {
			writeProblem(w, http.StatusNotFound, "", "no such subscription")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// surgerySpec is one device of a surgery-urllc slice (DESIGN.md §2).
func surgerySpec() SessionSpec {
	return SessionSpec{
		NotificationURI: "http://operator.example/notify/or-3/uid-1/robot?token=t0k3n",
		UE:              UE{IPv4: "10.45.0.2", GPSI: "msisdn-4915112345678", SUPI: "imsi-001010000000001"},
		DNN:             "hospital",
		SNSSAI:          SNSSAI{SST: 2, SD: "0000A1"},
		FlowDescriptions: []string{
			"permit out 17 from 192.0.2.10 5000 to 10.45.0.2",
			"permit in 17 from 10.45.0.2 to 192.0.2.10 5000",
			"permit out 17 from 192.0.2.11 5000 to 10.45.0.2",
			"permit in 17 from 10.45.0.2 to 192.0.2.11 5000",
			"permit out 17 from 198.51.100.5 to 10.45.0.2 862",
			"permit in 17 from 10.45.0.2 862 to 198.51.100.5",
		},
		QoS: QoS{
			FiveQI: 82, ARP: ARP{PriorityLevel: 1, PreemptCap: "MAY_PREEMPT", PreemptVuln: "NOT_PREEMPTABLE"},
			GBRUplinkKbps: 20000, GBRDownlinkKbps: 20000, MBRUplinkKbps: 40000, MBRDownlinkKbps: 40000,
			PacketDelayBudgetMs: 10, PacketErrorRate: "1E-4", MaxDataBurstVolume: 255,
			QoSReference: "surgery-urllc", MediaType: "APPLICATION",
		},
		// 4 h and a half second ahead: the bound is rounded up to 14401 s.
		ExpiresAt: testNow.Add(4*time.Hour + 500*time.Millisecond),
	}
}

var wantNEFEvents = []models.Nef_AsSessQoS_UserPlaneEvent{
	"SUCCESSFUL_RESOURCES_ALLOCATION", "FAILED_RESOURCES_ALLOCATION", "QOS_GUARANTEED",
	"QOS_NOT_GUARANTEED", "QOS_MONITORING", "SESSION_TERMINATION", "USAGE_REPORT",
}

var wantQosMonParams = []models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter{"DOWNLINK", "UPLINK", "ROUND_TRIP"}

func newNEF(t *testing.T, f *fakeCore, hc *http.Client, opts ...Option) (*NEFClient, *httptest.Server) {
	t.Helper()
	srv := newH2CServer(t, fakeNEF(f))
	if hc == nil {
		hc = validatingClient(t)
	}
	c, err := NewNEFClient(srv.URL, nefAF, hc, append([]Option{WithClock(testClock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// TestNEFCreate protects the mapping of a SessionSpec to an
// AsSessionWithQoSSubscription (TS 29.122 §5.14.2.1.2).
func TestNEFCreate(t *testing.T) {
	f := newFakeCore()
	c, _ := newNEF(t, f, nil)

	got, err := c.Create(context.Background(), surgerySpec())
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	want := Session{ID: "s-1", NotificationURI: surgerySpec().NotificationURI, UE: UE{IPv4: "10.45.0.2"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Create() session mismatch (-want +got):\n%s", diff)
	}

	log := f.requests()
	if len(log) != 1 || log[0].Method != http.MethodPost || log[0].Path != "/3gpp-as-session-with-qos/v1/"+nefAF+"/subscriptions" {
		t.Fatalf("requests = %+v, want one POST to the subscriptions of %s", log, nefAF)
	}
	checkH2C(t, log)
	wantBody := models.Nef_AsSessQoS_AsSessionWithQoSSubscription{
		NotificationDestination: surgerySpec().NotificationURI,
		UeIpv4Addr:              "10.45.0.2",
		Dnn:                     "hospital",
		Snssai:                  &models.Snssai{Sst: 2, Sd: "0000A1"},
		FlowInfo: []models.Nef_FlowInfo{
			{FlowId: 1, FlowDescriptions: []string{"permit out 17 from 192.0.2.10 5000 to 10.45.0.2", "permit in 17 from 10.45.0.2 to 192.0.2.10 5000"}},
			{FlowId: 2, FlowDescriptions: []string{"permit out 17 from 192.0.2.11 5000 to 10.45.0.2", "permit in 17 from 10.45.0.2 to 192.0.2.11 5000"}},
			{FlowId: 3, FlowDescriptions: []string{"permit out 17 from 198.51.100.5 to 10.45.0.2 862", "permit in 17 from 10.45.0.2 862 to 198.51.100.5"}},
		},
		QosReference: "surgery-urllc",
		// The MDBV of 255 B is below ExtMaxDataBurstVol's 4096 and left out.
		TscQosReq: &models.Nef_AsSessQoS_TscQosRequirement{
			ReqGbrUl: "20 Mbps", ReqGbrDl: "20 Mbps", ReqMbrUl: "40 Mbps", ReqMbrDl: "40 Mbps",
			Req5Gsdelay: 10, Priority: 1,
		},
		UsageThreshold: &models.Nef_UsageThreshold{Duration: 14401},
		QosMonInfo: &models.Nef_AsSessQoS_QosMonitoringInformation{
			ReqQosMonParams: wantQosMonParams,
			RepFreqs:        []models.Pcf_SMPolCtrl_ReportingFrequency{"PERIODIC"},
			RepPeriod:       1,
		},
		Events: wantNEFEvents,
	}
	gotBody := decodeInto[models.Nef_AsSessQoS_AsSessionWithQoSSubscription](t, log[0].Body)
	if diff := cmp.Diff(wantBody, gotBody); diff != "" {
		t.Errorf("POST body mismatch (-want +got):\n%s", diff)
	}
	// The generated model's zero values must not leak into the JSON.
	for _, absent := range []string{"ueIpv6Addr", "gpsi", "maxTscBurstSize", "supportedFeatures"} {
		if _, ok := decodeObject(t, log[0].Body)[absent]; ok {
			t.Errorf("POST body has %q, want it absent", absent)
		}
	}
}

// TestNEFRefusesWhatItCannotSend protects the rule that a spec the NEF API
// cannot express fails before any request, and is not retried.
func TestNEFRefusesWhatItCannotSend(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*SessionSpec)
		want   string
	}{
		{"no IP address", func(s *SessionSpec) { s.UE = UE{GPSI: "msisdn-4915112345678"} }, "IP address"},
		{"no expiry", func(s *SessionSpec) { s.ExpiresAt = time.Time{} }, "bounded in time"},
		{"expiry in the past", func(s *SessionSpec) { s.ExpiresAt = testNow.Add(-time.Second) }, "not after now"},
		{"expiry now", func(s *SessionSpec) { s.ExpiresAt = testNow }, "not after now"},
		{"no notification URI", func(s *SessionSpec) { s.NotificationURI = "" }, "notificationDestination"},
		{"no flows", func(s *SessionSpec) { s.FlowDescriptions = nil }, "flowInfo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCore()
			c, _ := newNEF(t, f, nil)
			spec := surgerySpec()
			tt.modify(&spec)
			for _, call := range []func() error{
				func() error { _, err := c.Create(context.Background(), spec); return err },
				func() error { _, err := c.Update(context.Background(), "s-1", spec); return err },
			} {
				err := call()
				var ce *Error
				if !errors.As(err, &ce) || !ce.Invalid || !strings.Contains(ce.Detail, tt.want) {
					t.Fatalf("error = %v, want an invalid-spec *Error mentioning %q", err, tt.want)
				}
				if IsRetryable(err) {
					t.Errorf("IsRetryable(%v) = true, want false", err)
				}
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("the NEF got %d requests, want none", n)
			}
		})
	}
}

// TestNEFLifecycle protects create → get → update → list → delete against a
// NEF that applies merge patches, every message checked against TS 29.122.
func TestNEFLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFakeCore()
	now := testNow
	c, _ := newNEF(t, f, nil, WithClock(func() time.Time { return now }))

	created, err := c.Create(ctx, surgerySpec())
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	got, err := c.Get(ctx, created.ID)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get() mismatch with Create() (-create +get):\n%s", diff)
	}

	// An hour later the slice is extended and loses a server.
	now = testNow.Add(time.Hour)
	spec := surgerySpec()
	spec.FlowDescriptions = spec.FlowDescriptions[2:]
	spec.QoS.GBRUplinkKbps = 30000
	spec.ExpiresAt = testNow.Add(6 * time.Hour)
	spec.NotificationURI = "http://operator.example/notify/or-3/uid-1/robot?token=n3w"
	updated, err := c.Update(ctx, created.ID, spec)
	if err != nil {
		t.Fatalf("Update() error = %v", err)
	}
	if want := (Session{ID: created.ID, NotificationURI: spec.NotificationURI, UE: UE{IPv4: "10.45.0.2"}}); !cmp.Equal(want, updated) {
		t.Errorf("Update() = %+v, want %+v", updated, want)
	}
	log := f.requests()
	patch := log[len(log)-1]
	if patch.Method != http.MethodPatch || patch.ContentType != "application/merge-patch+json" {
		t.Fatalf("last request = %s with %q, want PATCH with application/merge-patch+json", patch.Method, patch.ContentType)
	}
	wantPatch := models.Nef_AsSessQoS_AsSessionWithQoSSubscriptionPatch{
		FlowInfo: []models.Nef_FlowInfo{
			{FlowId: 1, FlowDescriptions: []string{"permit out 17 from 192.0.2.11 5000 to 10.45.0.2", "permit in 17 from 10.45.0.2 to 192.0.2.11 5000"}},
			{FlowId: 2, FlowDescriptions: []string{"permit out 17 from 198.51.100.5 to 10.45.0.2 862", "permit in 17 from 10.45.0.2 862 to 198.51.100.5"}},
		},
		QosReference:            "surgery-urllc",
		NotificationDestination: spec.NotificationURI,
		Events:                  wantNEFEvents,
		UsageThreshold:          &models.Nef_UsageThresholdRm{Duration: 5 * 3600}, // counted from the PATCH
		QosMonInfo: &models.Nef_AsSessQoS_QosMonitoringInformationRm{
			ReqQosMonParams: wantQosMonParams,
			RepFreqs:        []models.Pcf_SMPolCtrl_ReportingFrequency{"PERIODIC"},
			RepPeriod:       1,
		},
		TscQosReq: &models.Nef_AsSessQoS_TscQosRequirementRm{
			ReqGbrUl: "30 Mbps", ReqGbrDl: "20 Mbps", ReqMbrUl: "40 Mbps", ReqMbrDl: "40 Mbps",
			Req5Gsdelay: 10, Priority: 1,
		},
	}
	if diff := cmp.Diff(wantPatch, decodeInto[models.Nef_AsSessQoS_AsSessionWithQoSSubscriptionPatch](t, patch.Body)); diff != "" {
		t.Errorf("PATCH body mismatch (-want +got):\n%s", diff)
	}

	list, err := c.List(ctx)
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	if diff := cmp.Diff([]Session{updated}, list); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping() = %v", err)
	}

	if err := c.Delete(ctx, created.ID); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	if _, err := c.Get(ctx, created.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get() after Delete() error = %v, want ErrNotFound", err)
	}
	if _, err := c.Update(ctx, created.ID, spec); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update() after Delete() error = %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, created.ID); err != nil {
		t.Errorf("second Delete() = %v, want nil for a session already gone", err)
	}
	if list, err := c.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List() after Delete() = %v, %v, want empty", list, err)
	}
	checkH2C(t, f.requests())
}

// TestNEFErrors protects the mapping of the NEF's answers to *Error,
// ErrNotFound and retryability, including answers that break the API.
func TestNEFErrors(t *testing.T) {
	ctx := context.Background()
	create := func(c *NEFClient) error { _, err := c.Create(ctx, surgerySpec()); return err }
	get := func(c *NEFClient) error { _, err := c.Get(ctx, "s-9"); return err }
	update := func(c *NEFClient) error { _, err := c.Update(ctx, "s-9", surgerySpec()); return err }
	del := func(c *NEFClient) error { return c.Delete(ctx, "s-9") }
	list := func(c *NEFClient) error { _, err := c.List(ctx); return err }
	ping := func(c *NEFClient) error { return c.Ping(ctx) }

	problem := func(status int, cause, detail string) cannedAnswer {
		b, _ := json.Marshal(map[string]any{"status": status, "cause": cause, "detail": detail})
		return cannedAnswer{status: status, contentType: "application/problem+json", body: string(b)}
	}
	tests := []struct {
		name          string
		answer        cannedAnswer
		nonConformant bool // the answer breaks TS 29.122: do not validate it
		call          func(*NEFClient) error
		want          *Error // nil: no error
		wantNotFound  bool
		wantRetryable bool
	}{
		{
			name: "create refused", answer: problem(403, "REQUEST_NOT_AUTHORIZED", "AF may not request QoS for this UE"), call: create,
			want: &Error{Op: "create", StatusCode: 403, Cause: "REQUEST_NOT_AUTHORIZED", Detail: "AF may not request QoS for this UE"},
		},
		{
			name: "create while the NEF is unavailable", answer: problem(503, "", "overloaded"), call: create,
			want: &Error{Op: "create", StatusCode: 503, Detail: "overloaded"}, wantRetryable: true,
		},
		{
			name: "create throttled", answer: problem(429, "", "slow down"), call: create,
			want: &Error{Op: "create", StatusCode: 429, Detail: "slow down"}, wantRetryable: true,
		},
		{
			name: "get unknown subscription", answer: problem(404, "", "no such subscription"), call: get,
			want: &Error{Op: "get", StatusCode: 404, Detail: "no such subscription"}, wantNotFound: true,
		},
		{
			name: "get unknown subscription, answered in plain text", nonConformant: true,
			answer: cannedAnswer{status: 404, contentType: "text/plain", body: "not here\n"}, call: get,
			want: &Error{Op: "get", StatusCode: 404, Detail: "not here"}, wantNotFound: true,
		},
		{
			name: "get fails with an HTML page", nonConformant: true,
			answer: cannedAnswer{status: 502, contentType: "text/html", body: "<html>bad gateway</html>"}, call: get,
			want: &Error{Op: "get", StatusCode: 502, Detail: "<html>bad gateway</html>"}, wantRetryable: true,
		},
		{
			name: "get answered 200 with a body the models cannot read", nonConformant: true,
			answer: cannedAnswer{status: 200, contentType: "application/json", body: `{"dnn": 5}`}, call: get,
			want: &Error{Op: "get", StatusCode: 200},
		},
		{
			name: "update unknown subscription", answer: problem(404, "", "gone"), call: update,
			want: &Error{Op: "update", StatusCode: 404, Detail: "gone"}, wantNotFound: true,
		},
		{
			name: "delete a subscription already gone", answer: problem(404, "", "gone"), call: del,
		},
		{
			name: "delete fails", answer: problem(500, "SYSTEM_FAILURE", "db down"), call: del,
			want: &Error{Op: "delete", StatusCode: 500, Cause: "SYSTEM_FAILURE", Detail: "db down"}, wantRetryable: true,
		},
		{
			name: "list fails", answer: problem(500, "", "db down"), call: list,
			want: &Error{Op: "list", StatusCode: 500, Detail: "db down"}, wantRetryable: true,
		},
		{
			name: "ping with refused credentials", answer: problem(401, "", "token expired"), call: ping,
			want: &Error{Op: "ping", StatusCode: 401, Detail: "token expired",
				Auth: &AuthFailure{Kind: AuthAccessDenied, Detail: "the core answered 401 token expired"}},
		},
		{
			name: "redirect is an answer, not a hop", nonConformant: true,
			answer: cannedAnswer{status: 307, location: "http://elsewhere.invalid/x"}, call: get,
			want: &Error{Op: "get", StatusCode: 307, Detail: "Temporary Redirect"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCore()
			f.override = &tt.answer
			var hc *http.Client
			if tt.nonConformant {
				hc = NewHTTPClient(testTimeout)
			}
			c, _ := newNEF(t, f, hc)
			err := tt.call(c)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("error = %v, want nil", err)
				}
				return
			}
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("error = %v (%T), want a *core.Error", err, err)
			}
			if tt.want.StatusCode == 200 {
				// Only the status is stable; the detail is the decoder's.
				got = &Error{Op: got.Op, StatusCode: got.StatusCode}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("*Error mismatch (-want +got):\n%s", diff)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.wantNotFound, tt.wantNotFound)
			}
			if IsRetryable(err) != tt.wantRetryable {
				t.Errorf("IsRetryable() = %v, want %v", !tt.wantRetryable, tt.wantRetryable)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("the NEF got %d requests, want exactly 1", n)
			}
		})
	}
}

// TestNEFUnreachable protects the mapping of a transport failure to a
// retryable *Error with StatusCode 0.
func TestNEFUnreachable(t *testing.T) {
	srv := newH2CServer(t, http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewNEFClient(url, nefAF, NewHTTPClient(testTimeout))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	var ce *Error
	if !errors.As(err, &ce) || ce.StatusCode != 0 || ce.Op != "ping" || ce.Detail == "" {
		t.Fatalf("Ping() error = %#v, want *Error{Op: ping, StatusCode: 0} with the transport error", err)
	}
	if !IsRetryable(err) {
		t.Errorf("IsRetryable() = false for an unreachable core, want true")
	}
}

// TestNEFCreateAnswers protects Create against 201 answers that are not
// what TS 29.122 says but still created a subscription, or that cannot be
// used.
func TestNEFCreateAnswers(t *testing.T) {
	tests := []struct {
		name    string
		answer  cannedAnswer
		want    Session
		wantErr bool
	}{
		{
			name:   "201 without a body still yields the ID",
			answer: cannedAnswer{status: 201, location: "http://nef.example/3gpp-as-session-with-qos/v1/af-hospital/subscriptions/sub-77"},
			want:   Session{ID: "sub-77", NotificationURI: surgerySpec().NotificationURI, UE: UE{IPv4: "10.45.0.2"}},
		},
		{
			name:   "201 with an escaped ID in Location",
			answer: cannedAnswer{status: 201, contentType: "application/json", location: "/3gpp-as-session-with-qos/v1/af-hospital/subscriptions/a%2Fb", body: `{"notificationDestination": "http://x"}`},
			want:   Session{ID: "a/b", NotificationURI: "http://x"},
		},
		{
			name:    "201 without Location or self link",
			answer:  cannedAnswer{status: 201, contentType: "application/json", body: `{"notificationDestination": "http://x"}`},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCore()
			f.override = &tt.answer
			c, _ := newNEF(t, f, NewHTTPClient(testTimeout))
			got, err := c.Create(context.Background(), surgerySpec())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Create() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Create() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// countingTransport counts the requests an injected client sends.
type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// TestInjectedClient protects that the caller's http.Client carries the
// requests (its transport, TLS and, later, OAuth2), not free5gc's default one,
// and that its redirect policy cannot make the client follow a redirect.
func TestInjectedClient(t *testing.T) {
	f := newFakeCore()
	f.override = &cannedAnswer{status: http.StatusSeeOther, location: "/3gpp-as-session-with-qos/v1/af-hospital/subscriptions"}
	srv := newH2CServer(t, fakeNEF(f))
	counting := &countingTransport{base: NewTransport(nil)}
	hc := &http.Client{Transport: counting} // default policy: follow redirects
	c, err := NewNEFClient(srv.URL+"/", nefAF, hc)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	var ce *Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusSeeOther {
		t.Errorf("Ping() = %v, want the 303 itself", err)
	}
	if n := counting.n.Load(); n != 1 {
		t.Errorf("injected transport saw %d requests, want 1 (no redirect followed)", n)
	}
	if hc.CheckRedirect != nil {
		t.Errorf("the caller's http.Client was modified")
	}
	checkH2C(t, f.requests())
}

// TestHTTPClientTLS protects HTTP/2 over TLS for https:// endpoints.
func TestHTTPClientTLS(t *testing.T) {
	f := newFakeCore()
	srv := httptest.NewUnstartedServer(fakeNEF(f))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	hc := &http.Client{Transport: NewTransport(&tls.Config{RootCAs: pool}), Timeout: testTimeout}

	c, err := NewNEFClient(srv.URL, nefAF, hc)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("Ping() = %v", err)
	}
	checkH2C(t, f.requests()) // HTTP/2.0 here means h2 over TLS
}

func TestNewNEFClientValidatesEndpoint(t *testing.T) {
	tests := []struct {
		endpoint, af string
		wantErr      bool
		wantRoot     string
	}{
		{endpoint: "http://nef.example:8080", af: "af", wantRoot: "http://nef.example:8080"},
		{endpoint: "https://nef.example/prefix/", af: "af", wantRoot: "https://nef.example/prefix"},
		{endpoint: "https://nef.example/3gpp-as-session-with-qos/v1", af: "af", wantRoot: "https://nef.example"},
		{endpoint: "ftp://nef.example", af: "af", wantErr: true},
		{endpoint: "nef.example", af: "af", wantErr: true},
		{endpoint: "http://nef.example?x=1", af: "af", wantErr: true},
		{endpoint: "http://nef.example", af: "", wantErr: true},
	}
	for _, tt := range tests {
		c, err := NewNEFClient(tt.endpoint, tt.af, nil)
		if (err != nil) != tt.wantErr {
			t.Errorf("NewNEFClient(%q, %q) error = %v, wantErr %v", tt.endpoint, tt.af, err, tt.wantErr)
			continue
		}
		if err == nil && c.root != tt.wantRoot {
			t.Errorf("NewNEFClient(%q) apiRoot = %q, want %q", tt.endpoint, c.root, tt.wantRoot)
		}
	}
}

package core

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/google/go-cmp/cmp"
)

const pcfAppSessionsPath = "/npcf-policyauthorization/v1/app-sessions"

// fakePCF serves Npcf_PolicyAuthorization (TS 29.514) from a fakeCore. A POST
// equivalent to a stored context (same UE address and media components) is
// answered 303 See Other with that context's URI.
func fakePCF(f *fakeCore) http.Handler {
	mux := http.NewServeMux()
	uri := func(r *http.Request, id string) string { return "http://" + r.Host + pcfAppSessionsPath + "/" + id }
	mux.HandleFunc("POST "+pcfAppSessionsPath, func(w http.ResponseWriter, r *http.Request) {
		var obj map[string]any
		if err := json.Unmarshal(f.record(r), &obj); err != nil {
			writeProblem(w, http.StatusBadRequest, "", err.Error())
			return
		}
		if f.answerOverride(w) {
			return
		}
		req, _ := obj["ascReqData"].(map[string]any)
		f.mu.Lock()
		for _, id := range f.order {
			old, ok := f.resources[id]
			if !ok {
				continue
			}
			o, _ := old["ascReqData"].(map[string]any)
			if o["ueIpv4"] == req["ueIpv4"] && o["ueIpv6"] == req["ueIpv6"] && reflect.DeepEqual(o["medComponents"], req["medComponents"]) {
				f.mu.Unlock()
				w.Header().Set("Location", uri(r, id))
				w.WriteHeader(http.StatusSeeOther)
				return
			}
		}
		f.mu.Unlock()
		id := f.add(obj)
		w.Header().Set("Location", uri(r, id))
		writeJSON(w, http.StatusCreated, obj)
	})
	mux.HandleFunc("GET "+pcfAppSessionsPath+"/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if f.answerOverride(w) {
			return
		}
		obj, ok := f.get(r.PathValue("id"))
		if !ok {
			writeProblem(w, http.StatusNotFound, "", "no such app session")
			return
		}
		writeJSON(w, http.StatusOK, obj)
	})
	mux.HandleFunc("PATCH "+pcfAppSessionsPath+"/{id}", func(w http.ResponseWriter, r *http.Request) {
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
			writeProblem(w, http.StatusNotFound, "", "no such app session")
			return
		}
		writeJSON(w, http.StatusOK, obj)
	})
	mux.HandleFunc("POST "+pcfAppSessionsPath+"/{id}/delete", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if f.answerOverride(w) {
			return
		}
		if !f.remove(r.PathValue("id")) {
			writeProblem(w, http.StatusNotFound, "", "no such app session")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

func newPCF(t *testing.T, f *fakeCore, hc *http.Client, opts ...Option) *PCFClient {
	t.Helper()
	srv := newH2CServer(t, fakePCF(f))
	if hc == nil {
		hc = validatingClient(t)
	}
	c, err := NewPCFClient(srv.URL, hc, append([]Option{WithClock(testClock)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var wantPCFEvents = []models.Pcf_PolAuth_AfEventSubscription{
	{Event: "SUCCESSFUL_RESOURCES_ALLOCATION"},
	{Event: "FAILED_RESOURCES_ALLOCATION"},
	{Event: "QOS_NOTIF"},
	{Event: "QOS_MONITORING", NotifMethod: "PERIODIC", RepPeriod: 1},
	{Event: "USAGE_REPORT"},
}

func subComponent(n int32, fDescs ...string) models.Pcf_PolAuth_MediaSubComponent {
	return models.Pcf_PolAuth_MediaSubComponent{FNum: n, FDescs: fDescs, FStatus: "ENABLED", FlowUsage: "NO_INFO"}
}

// TestPCFCreate protects the mapping of a SessionSpec to an AppSessionContext
// (TS 29.514 §5.6.2) and the reading of the answer.
func TestPCFCreate(t *testing.T) {
	f := newFakeCore()
	c := newPCF(t, f, nil)

	got, err := c.Create(context.Background(), surgerySpec())
	if err != nil {
		t.Fatalf("Create() error = %v", err)
	}
	spec := surgerySpec()
	want := Session{ID: "s-1", NotificationURI: spec.NotificationURI, UE: UE{IPv4: "10.45.0.2", GPSI: spec.UE.GPSI, SUPI: spec.UE.SUPI}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Create() session mismatch (-want +got):\n%s", diff)
	}
	log := f.requests()
	if len(log) != 1 || log[0].Method != http.MethodPost || log[0].Path != pcfAppSessionsPath {
		t.Fatalf("requests = %+v, want one POST to app-sessions", log)
	}
	checkH2C(t, log)
	wantBody := models.Pcf_PolAuth_AppSessionContext{AscReqData: &models.Pcf_PolAuth_AppSessionContextReqData{
		NotifUri:  spec.NotificationURI,
		SuppFeat:  "0",
		UeIpv4:    "10.45.0.2",
		Supi:      "imsi-001010000000001",
		Gpsi:      "msisdn-4915112345678",
		Dnn:       "hospital",
		SliceInfo: &models.Snssai{Sst: 2, Sd: "0000A1"},
		MedComponents: map[string]models.Pcf_PolAuth_MediaComponent{"1": {
			MedCompN:      1,
			MedType:       "APPLICATION",
			FStatus:       "ENABLED",
			QosReference:  "surgery-urllc",
			PreemptCap:    "MAY_PREEMPT",
			PreemptVuln:   "NOT_PREEMPTABLE",
			MarBwUl:       "40 Mbps",
			MarBwDl:       "40 Mbps",
			MirBwUl:       "20 Mbps",
			MirBwDl:       "20 Mbps",
			DesMaxLatency: 10,   // ms
			DesMaxLoss:    0.01, // percent: PER 1E-4
			MedSubComps: map[string]models.Pcf_PolAuth_MediaSubComponent{
				"1": subComponent(1, "permit out 17 from 192.0.2.10 5000 to 10.45.0.2", "permit in 17 from 10.45.0.2 to 192.0.2.10 5000"),
				"2": subComponent(2, "permit out 17 from 192.0.2.11 5000 to 10.45.0.2", "permit in 17 from 10.45.0.2 to 192.0.2.11 5000"),
				"3": subComponent(3, "permit out 17 from 198.51.100.5 to 10.45.0.2 862", "permit in 17 from 10.45.0.2 862 to 198.51.100.5"),
			},
		}},
		EvSubsc: &models.Pcf_PolAuth_EventsSubscReqData{
			Events:          wantPCFEvents,
			NotifUri:        spec.NotificationURI,
			ReqQosMonParams: wantQosMonParams,
			UsgThres:        &models.Nef_UsageThreshold{Duration: 14401},
		},
	}}
	if diff := cmp.Diff(wantBody, decodeInto[models.Pcf_PolAuth_AppSessionContext](t, log[0].Body)); diff != "" {
		t.Errorf("POST body mismatch (-want +got):\n%s", diff)
	}
}

// TestPCFCreateSeeOther protects adoption: a PCF that already holds an
// equivalent context answers 303 See Other, and Create returns that context
// without error and without following the redirect, even when the injected
// client would.
func TestPCFCreateSeeOther(t *testing.T) {
	for _, follow := range []bool{false, true} {
		name := "NewHTTPClient"
		if follow {
			name = "client that follows redirects"
		}
		t.Run(name, func(t *testing.T) {
			f := newFakeCore()
			hc := validatingClient(t)
			if follow {
				hc.CheckRedirect = nil
			}
			c := newPCF(t, f, hc)
			ctx := context.Background()
			first, err := c.Create(ctx, surgerySpec())
			if err != nil {
				t.Fatalf("first Create() error = %v", err)
			}
			// The answer was lost; the operator asks again.
			again, err := c.Create(ctx, surgerySpec())
			if err != nil {
				t.Fatalf("second Create() error = %v, want the existing session", err)
			}
			if diff := cmp.Diff(Session{ID: first.ID}, again); diff != "" {
				t.Errorf("second Create() mismatch (-want +got):\n%s", diff)
			}
			var methods []string
			for _, e := range f.requests() {
				methods = append(methods, e.Method+" "+e.Path)
			}
			want := []string{"POST " + pcfAppSessionsPath, "POST " + pcfAppSessionsPath}
			if diff := cmp.Diff(want, methods); diff != "" {
				t.Errorf("requests mismatch (-want +got), the 303 must not be followed:\n%s", diff)
			}
		})
	}
}

// TestPCFLifecycle protects create → get → update → delete against a PCF
// that applies merge patches, every message checked against TS 29.514.
func TestPCFLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFakeCore()
	now := testNow
	c := newPCF(t, f, nil, WithClock(func() time.Time { return now }))

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

	// Later the slice keeps one server and no probe, and is extended.
	now = testNow.Add(time.Hour)
	spec := surgerySpec()
	spec.FlowDescriptions = spec.FlowDescriptions[2:4]
	spec.QoS.MBRDownlinkKbps = 50000
	spec.ExpiresAt = testNow.Add(3 * time.Hour)
	updated, err := c.Update(ctx, created.ID, spec)
	if err != nil {
		t.Fatalf("Update() error = %v", err)
	}
	if diff := cmp.Diff(created, updated); diff != "" {
		t.Errorf("Update() session mismatch (-want +got):\n%s", diff)
	}
	log := f.requests()
	patch := log[len(log)-1]
	if patch.Method != http.MethodPatch || patch.ContentType != "application/merge-patch+json" {
		t.Fatalf("last request = %s with %q, want PATCH with application/merge-patch+json", patch.Method, patch.ContentType)
	}
	if prev := log[len(log)-2]; prev.Method != http.MethodGet {
		t.Errorf("request before PATCH = %s, want the GET that finds sub-components to remove", prev.Method)
	}
	sub := models.Pcf_PolAuth_MediaSubComponentRm(subComponent(1, "permit out 17 from 192.0.2.11 5000 to 10.45.0.2", "permit in 17 from 10.45.0.2 to 192.0.2.11 5000"))
	wantPatch := models.Pcf_PolAuth_AppSessionContextUpdateDataPatch{AscReqData: &models.Pcf_PolAuth_AppSessionContextUpdateData{
		MedComponents: map[string]*models.Pcf_PolAuth_MediaComponentRm{"1": {
			MedCompN: 1, MedType: "APPLICATION", FStatus: "ENABLED", QosReference: "surgery-urllc",
			PreemptCap: "MAY_PREEMPT", PreemptVuln: "NOT_PREEMPTABLE",
			MarBwUl: "40 Mbps", MarBwDl: "50 Mbps", MirBwUl: "20 Mbps", MirBwDl: "20 Mbps",
			DesMaxLatency: 10, DesMaxLoss: 0.01,
			MedSubComps: map[string]*models.Pcf_PolAuth_MediaSubComponentRm{"1": &sub, "2": nil, "3": nil},
		}},
		EvSubsc: &models.Pcf_PolAuth_EventsSubscReqDataRm{
			Events:          wantPCFEvents,
			NotifUri:        spec.NotificationURI,
			ReqQosMonParams: wantQosMonParams,
			UsgThres:        &models.Nef_UsageThresholdRm{Duration: 2 * 3600}, // counted from the PATCH
		},
	}}
	if diff := cmp.Diff(wantPatch, decodeInto[models.Pcf_PolAuth_AppSessionContextUpdateDataPatch](t, patch.Body)); diff != "" {
		t.Errorf("PATCH body mismatch (-want +got):\n%s", diff)
	}
	stored, _ := f.get(created.ID)
	subs := stored["ascReqData"].(map[string]any)["medComponents"].(map[string]any)["1"].(map[string]any)["medSubComps"].(map[string]any)
	if len(subs) != 1 {
		t.Errorf("after the merge patch the PCF holds %d sub-components, want 1", len(subs))
	}

	if _, err := c.List(ctx); !errors.Is(err, ErrNotSupported) {
		t.Errorf("List() error = %v, want ErrNotSupported", err)
	}
	if err := c.Delete(ctx, created.ID); err != nil {
		t.Fatalf("Delete() error = %v", err)
	}
	if last := f.requests()[len(f.requests())-1]; last.Method != http.MethodPost || last.Path != pcfAppSessionsPath+"/"+created.ID+"/delete" {
		t.Errorf("Delete() sent %s %s, want POST …/app-sessions/{id}/delete", last.Method, last.Path)
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
	checkH2C(t, f.requests())
}

// TestPCFErrors protects the mapping of the PCF's answers to *Error,
// ErrNotFound and retryability.
func TestPCFErrors(t *testing.T) {
	ctx := context.Background()
	create := func(c *PCFClient) error { _, err := c.Create(ctx, surgerySpec()); return err }
	get := func(c *PCFClient) error { _, err := c.Get(ctx, "s-9"); return err }
	update := func(c *PCFClient) error { _, err := c.Update(ctx, "s-9", surgerySpec()); return err }
	del := func(c *PCFClient) error { return c.Delete(ctx, "s-9") }

	tests := []struct {
		name          string
		answer        cannedAnswer
		nonConformant bool
		call          func(*PCFClient) error
		want          *Error
		wantNotFound  bool
		wantRetryable bool
	}{
		{
			name: "create forbidden with ExtendedProblemDetails",
			answer: cannedAnswer{status: 403, contentType: "application/problem+json",
				body: `{"status": 403, "cause": "REQUESTED_SERVICE_NOT_AUTHORIZED", "detail": "no such DNN", "acceptableServInfo": {}}`},
			call: create,
			want: &Error{Op: "create", StatusCode: 403, Cause: "REQUESTED_SERVICE_NOT_AUTHORIZED", Detail: "no such DNN"},
		},
		{
			name:   "create with a 400 that has only a title",
			answer: cannedAnswer{status: 400, contentType: "application/problem+json", body: `{"title": "Malformed request syntax", "status": 400}`},
			call:   create,
			want:   &Error{Op: "create", StatusCode: 400, Detail: "Malformed request syntax"},
		},
		{
			name:   "create fails inside the PCF",
			answer: cannedAnswer{status: 500, contentType: "application/problem+json", body: `{"status": 500, "cause": "SYSTEM_FAILURE"}`},
			call:   create,
			want:   &Error{Op: "create", StatusCode: 500, Cause: "SYSTEM_FAILURE", Detail: "Internal Server Error"}, wantRetryable: true,
		},
		{
			name: "303 without Location", nonConformant: true,
			answer: cannedAnswer{status: 303}, call: create,
			want: &Error{Op: "create", StatusCode: 303, Detail: `303 See Other without a usable Location ("")`},
		},
		{
			name:   "get unknown app session",
			answer: cannedAnswer{status: 404, contentType: "application/problem+json", body: `{"status": 404, "detail": "gone"}`},
			call:   get,
			want:   &Error{Op: "get", StatusCode: 404, Detail: "gone"}, wantNotFound: true,
		},
		{
			name:   "update unknown app session",
			answer: cannedAnswer{status: 404, contentType: "application/problem+json", body: `{"status": 404, "detail": "gone"}`},
			call:   update,
			want:   &Error{Op: "update", StatusCode: 404, Detail: "gone"}, wantNotFound: true,
		},
		{
			name:   "delete an app session already gone",
			answer: cannedAnswer{status: 404, contentType: "application/problem+json", body: `{"status": 404, "detail": "gone"}`},
			call:   del,
		},
		{
			name:   "delete while the PCF is unavailable",
			answer: cannedAnswer{status: 503, contentType: "application/problem+json", body: `{"status": 503, "detail": "restarting"}`},
			call:   del,
			want:   &Error{Op: "delete", StatusCode: 503, Detail: "restarting"}, wantRetryable: true,
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
			c := newPCF(t, f, hc)
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
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("*Error mismatch (-want +got):\n%s", diff)
			}
			if errors.Is(err, ErrNotFound) != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tt.wantNotFound, tt.wantNotFound)
			}
			if IsRetryable(err) != tt.wantRetryable {
				t.Errorf("IsRetryable() = %v, want %v", !tt.wantRetryable, tt.wantRetryable)
			}
		})
	}
}

// TestPCFPing protects what counts as "the PCF answers".
func TestPCFPing(t *testing.T) {
	tests := []struct {
		name          string
		answer        *cannedAnswer // nil: the fake PCF's own 404
		nonConformant bool
		unreachable   bool
		wantErr       bool
	}{
		{name: "404 ProblemDetails for an unknown session"},
		{name: "404 from something that is not a PCF", nonConformant: true,
			answer: &cannedAnswer{status: 404, contentType: "text/plain", body: "404 page not found"}, wantErr: true},
		{name: "400 from the API", answer: &cannedAnswer{status: 400, contentType: "application/problem+json", body: `{"status": 400, "detail": "bad id"}`}},
		{name: "credentials refused", answer: &cannedAnswer{status: 401, contentType: "application/problem+json", body: `{"status": 401}`}, wantErr: true},
		{name: "forbidden", answer: &cannedAnswer{status: 403, contentType: "application/problem+json", body: `{"status": 403}`}, wantErr: true},
		{name: "PCF failing", answer: &cannedAnswer{status: 500, contentType: "application/problem+json", body: `{"status": 500}`}, wantErr: true},
		{name: "unreachable", unreachable: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCore()
			f.override = tt.answer
			srv := newH2CServer(t, fakePCF(f))
			hc := validatingClient(t)
			if tt.nonConformant || tt.unreachable {
				hc = NewHTTPClient(testTimeout)
			}
			if tt.unreachable {
				srv.Close()
			}
			c, err := NewPCFClient(srv.URL, hc)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Ping(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Ping() = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.unreachable {
				return
			}
			log := f.requests()
			if len(log) != 1 || log[0].Method != http.MethodGet || !strings.HasPrefix(log[0].Path, pcfAppSessionsPath+"/medslice-ping-") {
				t.Fatalf("requests = %+v, want one GET of a made-up app session", log)
			}
		})
	}
}

func TestPCFRefusesWhatItCannotSend(t *testing.T) {
	f := newFakeCore()
	c := newPCF(t, f, nil)
	spec := surgerySpec()
	spec.UE = UE{SUPI: "imsi-001010000000001"}
	_, err := c.Create(context.Background(), spec)
	var ce *Error
	if !errors.As(err, &ce) || !ce.Invalid || IsRetryable(err) {
		t.Fatalf("Create() error = %v, want a non-retryable invalid-spec *Error", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("the PCF got %d requests, want none", n)
	}
}

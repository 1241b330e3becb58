package notify

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func testRef() Ref {
	return Ref{Slice: types.NamespacedName{Namespace: "or-3", Name: "robotic-surgery"}, UID: "7d0c6d2e-1111-4a4a-9b9b-000000000001", Device: "robot-arm"}
}

func TestURIRoundTrip(t *testing.T) {
	s, err := NewSigner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	uri := s.URI("http://operator.example:8082/", testRef())
	got, err := s.VerifyURI(uri)
	if err != nil {
		t.Fatalf("VerifyURI(%q): %v", uri, err)
	}
	if diff := cmp.Diff(testRef(), got); diff != "" {
		t.Errorf("ref (-want +got):\n%s", diff)
	}
	if got.Correlation() != "7d0c6d2e-1111-4a4a-9b9b-000000000001/robot-arm" {
		t.Errorf("Correlation() = %q", got.Correlation())
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Fatal("NewSigner accepted a 5-byte key")
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	s, _ := NewSigner(testKey)
	other, _ := NewSigner([]byte("ffffffffffffffffffffffffffffffff"))
	good, _ := url.Parse(s.URI("http://h", testRef()))
	path := good.EscapedPath()
	tests := map[string]struct {
		path string
		want error
	}{
		"other namespace":      {strings.Replace(path, "/or-3/", "/or-4/", 1), ErrBadToken},
		"other device":         {strings.Replace(path, "/robot-arm/", "/camera/", 1), ErrBadToken},
		"token of another key": {mustPath(other.URI("http://h", testRef())), ErrBadToken},
		"missing token":        {path[:strings.LastIndex(path, "/")], ErrMalformed},
		"unknown suffix":       {path + "/explode", ErrMalformed},
		"not ours":             {"/something/else", ErrMalformed},
		"empty segment":        {"/notify/v1/or-3//uid/dev/tok", ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, _, err := s.Verify(tc.path); err != tc.want {
				t.Errorf("Verify(%q) = %v, want %v", tc.path, err, tc.want)
			}
		})
	}
}

func mustPath(uri string) string {
	u, _ := url.Parse(uri)
	return u.EscapedPath()
}

func TestReceiver(t *testing.T) {
	s, _ := NewSigner(testKey)
	base := mustPath(s.URI("http://h", testRef()))
	tests := map[string]struct {
		path, contentType, body string
		wantStatus              int
		wantEvent               *Event
	}{
		"NEF allocation": {
			path: base, contentType: "application/json",
			body:       `{"transaction":"http://nef/x","eventReports":[{"event":"SUCCESSFUL_RESOURCES_ALLOCATION"}]}`,
			wantStatus: http.StatusNoContent,
			wantEvent:  &Event{Ref: testRef(), Events: []string{"SUCCESSFUL_RESOURCES_ALLOCATION"}},
		},
		"NEF termination": {
			path: base, contentType: "application/json; charset=utf-8",
			body:       `{"eventReports":[{"event":"SESSION_TERMINATION"}]}`,
			wantStatus: http.StatusNoContent,
			wantEvent:  &Event{Ref: testRef(), Events: []string{"SESSION_TERMINATION"}, Terminated: true},
		},
		"PCF notify": {
			path: base + "/notify", contentType: "application/json",
			body:       `{"evSubsUri":"http://pcf/app-sessions/1/events-subscription","evNotifs":[{"event":"QOS_NOTIF"}]}`,
			wantStatus: http.StatusNoContent,
			wantEvent:  &Event{Ref: testRef(), Events: []string{"QOS_NOTIF"}},
		},
		"PCF terminate": {
			path: base + "/terminate", contentType: "application/json",
			body:       `{"termCause":"ALL_SDF_DEACTIVATION","resUri":"http://pcf/app-sessions/1"}`,
			wantStatus: http.StatusNoContent,
			wantEvent:  &Event{Ref: testRef(), Events: []string{"ALL_SDF_DEACTIVATION"}, Terminated: true},
		},
		"NEF QoS not guaranteed": {
			path: base, contentType: "application/json",
			body:       `{"eventReports":[{"event":"QOS_NOT_GUARANTEED"}]}`,
			wantStatus: http.StatusNoContent,
			wantEvent:  &Event{Ref: testRef(), Events: []string{"QOS_NOT_GUARANTEED"}, Reports: []Report{{Kind: ReportQoSNotGuaranteed, Detail: "NEF user plane event"}}},
		},
		"PCF QoS notification control": {
			path: base + "/notify", contentType: "application/json",
			body:       `{"evNotifs":[{"event":"QOS_NOTIF"}],"qncReports":[{"notifType":"GUARANTEED"}],"qosMonReports":[{"rtDelays":[12]}]}`,
			wantStatus: http.StatusNoContent,
			wantEvent: &Event{Ref: testRef(), Events: []string{"QOS_NOTIF"}, Reports: []Report{
				{Kind: ReportQoSGuaranteed, Detail: "PCF QoS notification control"},
				{Kind: ReportQoSMonitoring, Detail: "packet delay ms: uplink [] downlink [] round trip [12]"},
			}},
		},
		"forged token":        {path: base[:len(base)-4] + "AAAA", contentType: "application/json", body: `{"eventReports":[{"event":"X"}]}`, wantStatus: http.StatusNotFound},
		"wrong content type":  {path: base, contentType: "text/plain", body: `{}`, wantStatus: http.StatusUnsupportedMediaType},
		"unknown field":       {path: base, contentType: "application/json", body: `{"eventReports":[{"event":"X"}],"evil":1}`, wantStatus: http.StatusBadRequest},
		"no events":           {path: base, contentType: "application/json", body: `{"eventReports":[]}`, wantStatus: http.StatusBadRequest},
		"not JSON":            {path: base, contentType: "application/json", body: `<xml/>`, wantStatus: http.StatusBadRequest},
		"trailing data":       {path: base, contentType: "application/json", body: `{"eventReports":[{"event":"X"}]} {}`, wantStatus: http.StatusBadRequest},
		"oversized":           {path: base, contentType: "application/json", body: `{"transaction":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, wantStatus: http.StatusRequestEntityTooLarge},
		"terminate w/o cause": {path: base + "/terminate", contentType: "application/json", body: `{}`, wantStatus: http.StatusBadRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []Event
			now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
			rc := &Receiver{Signer: s, Deliver: func(e Event) { got = append(got, e) }, Now: func() time.Time { return now }, Log: logr.Discard()}
			req := httptest.NewRequest(http.MethodPost, tc.path, bytes.NewBufferString(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			rec := httptest.NewRecorder()
			rc.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body)
			}
			if tc.wantEvent == nil {
				if len(got) != 0 {
					t.Fatalf("delivered %v for a refused notification", got)
				}
				return
			}
			tc.wantEvent.Received = now
			if diff := cmp.Diff([]Event{*tc.wantEvent}, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

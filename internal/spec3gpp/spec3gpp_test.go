package spec3gpp

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	nefBase = "http://nef.example:8080/3gpp-as-session-with-qos/v1"
	pcfBase = "http://pcf.example/npcf-policyauthorization/v1"
)

// A NEF AsSessionWithQoSSubscription as medslice sends it (TS 29.122 §5.14.2.1.2).
const validNEFBody = `{
  "notificationDestination": "http://operator.example/notify/uid-1",
  "ueIpv4Addr": "10.45.0.2",
  "dnn": "internet",
  "snssai": {"sst": 1, "sd": "010203"},
  "flowInfo": [{"flowId": 1, "flowDescriptions": [
    "permit out 17 from 192.0.2.10 5000 to 10.45.0.2",
    "permit in 17 from 10.45.0.2 to 192.0.2.10 5000"]}],
  "tscQosReq": {"reqGbrUl": "20 Mbps", "reqGbrDl": "20 Mbps", "req5Gsdelay": 10},
  "usageThreshold": {"duration": 3600}
}`

// A PCF AppSessionContext (TS 29.514 §5.6.2.2).
const validPCFBody = `{
  "ascReqData": {
    "notifUri": "http://operator.example/notify/uid-1",
    "suppFeat": "0",
    "ueIpv4": "10.45.0.2",
    "dnn": "internet",
    "sliceInfo": {"sst": 1, "sd": "010203"},
    "medComponents": {"1": {"medCompN": 1, "medType": "APPLICATION", "marBwUl": "20 Mbps"}}
  }
}`

func newRequest(t *testing.T, method, url, contentType, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func TestValidateRequest(t *testing.T) {
	s := Load(t)
	tests := []struct {
		name        string
		method      string
		url         string
		contentType string
		body        string
		wantErr     string // substring; empty means valid
	}{
		{
			name: "NEF create", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			contentType: "application/json", body: validNEFBody,
		},
		{
			name: "NEF create under an apiRoot with its own path", method: http.MethodPost,
			url:         "https://core.example/some/prefix/3gpp-as-session-with-qos/v1/af-1/subscriptions",
			contentType: "application/json", body: validNEFBody,
		},
		{
			name: "NEF create without notificationDestination", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			contentType: "application/json",
			body:        strings.Replace(validNEFBody, `"notificationDestination": "http://operator.example/notify/uid-1",`, "", 1),
			wantErr:     "notificationDestination",
		},
		{
			name: "NEF create with sst out of range", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			contentType: "application/json", body: strings.Replace(validNEFBody, `"sst": 1`, `"sst": 300`, 1),
			wantErr: "sst",
		},
		{
			name: "NEF create with a malformed bit rate", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			contentType: "application/json", body: strings.Replace(validNEFBody, `"reqGbrUl": "20 Mbps"`, `"reqGbrUl": "20Mbps"`, 1),
			wantErr: "reqGbrUl",
		},
		{
			name: "NEF create with three flow descriptions in one flow", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			contentType: "application/json",
			body:        strings.Replace(validNEFBody, `"permit in 17 from 10.45.0.2 to 192.0.2.10 5000"`, `"permit in 17 from 10.45.0.2 to 192.0.2.10 5000", "permit out 6 from any to 10.45.0.2"`, 1),
			wantErr:     "flowDescriptions",
		},
		{
			name: "NEF patch", method: http.MethodPatch, url: nefBase + "/af-1/subscriptions/sub-9",
			contentType: "application/merge-patch+json", body: `{"usageThreshold": {"duration": 60}}`,
		},
		{
			name: "NEF get collection", method: http.MethodGet, url: nefBase + "/af-1/subscriptions",
		},
		{
			name: "NEF delete", method: http.MethodDelete, url: nefBase + "/af-1/subscriptions/sub-9",
		},
		{
			name: "NEF method not in the API", method: http.MethodDelete, url: nefBase + "/af-1/subscriptions",
			wantErr: "method not allowed",
		},
		{
			name: "PCF create", method: http.MethodPost, url: pcfBase + "/app-sessions",
			contentType: "application/json", body: validPCFBody,
		},
		{
			name: "PCF create without suppFeat", method: http.MethodPost, url: pcfBase + "/app-sessions",
			contentType: "application/json", body: strings.Replace(validPCFBody, `"suppFeat": "0",`, "", 1),
			wantErr: "suppFeat",
		},
		{
			name: "PCF create with both UE addresses (oneOf)", method: http.MethodPost, url: pcfBase + "/app-sessions",
			contentType: "application/json",
			body:        strings.Replace(validPCFBody, `"ueIpv4": "10.45.0.2",`, `"ueIpv4": "10.45.0.2", "ueIpv6": "2001:db8::2",`, 1),
			wantErr:     "oneOf",
		},
		{
			name: "PCF delete", method: http.MethodPost, url: pcfBase + "/app-sessions/as-1/delete",
		},
		{
			name: "unknown API", method: http.MethodGet, url: "http://core.example/nsmf-pdusession/v1/sm-contexts",
			wantErr: "no known base path",
		},
		{
			name: "unknown resource", method: http.MethodGet, url: pcfBase + "/app-sessions",
			wantErr: "method not allowed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, tt.method, tt.url, tt.contentType, tt.body)
			err := s.ValidateRequest(req)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ValidateRequest() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ValidateRequest() = nil, want an error mentioning %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("ValidateRequest() = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if req.Body == nil {
				return
			}
			got, err := io.ReadAll(req.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.body {
				t.Errorf("request body after validation = %q, want it restored to %q", got, tt.body)
			}
		})
	}
}

func TestValidateResponse(t *testing.T) {
	s := Load(t)
	tests := []struct {
		name    string
		method  string
		url     string
		status  int
		header  map[string]string
		body    string
		wantErr string
	}{
		{
			name: "NEF 201 with Location", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			status: http.StatusCreated,
			header: map[string]string{"Content-Type": "application/json", "Location": nefBase + "/af-1/subscriptions/sub-1"},
			body:   validNEFBody,
		},
		{
			name: "NEF 201 without Location", method: http.MethodPost, url: nefBase + "/af-1/subscriptions",
			status: http.StatusCreated, header: map[string]string{"Content-Type": "application/json"},
			body: validNEFBody, wantErr: "Location",
		},
		{
			name: "NEF 404 with ProblemDetails", method: http.MethodGet, url: nefBase + "/af-1/subscriptions/sub-1",
			status: http.StatusNotFound, header: map[string]string{"Content-Type": "application/problem+json"},
			body: `{"status": 404, "cause": "SUBSCRIPTION_NOT_FOUND", "detail": "gone"}`,
		},
		{
			name: "NEF 404 as plain text", method: http.MethodGet, url: nefBase + "/af-1/subscriptions/sub-1",
			status: http.StatusNotFound, header: map[string]string{"Content-Type": "text/plain"},
			body: "not found", wantErr: "Content-Type",
		},
		{
			name: "NEF collection with an invalid element", method: http.MethodGet, url: nefBase + "/af-1/subscriptions",
			status: http.StatusOK, header: map[string]string{"Content-Type": "application/json"},
			body: `[{"self": "x"}]`, wantErr: "notificationDestination",
		},
		{
			name: "PCF 303 See Other", method: http.MethodPost, url: pcfBase + "/app-sessions",
			status: http.StatusSeeOther, header: map[string]string{"Location": pcfBase + "/app-sessions/as-1"},
		},
		{
			name: "PCF 204 on delete", method: http.MethodPost, url: pcfBase + "/app-sessions/as-1/delete",
			status: http.StatusNoContent,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, tt.method, tt.url, "", "")
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tt.body))}
			for k, v := range tt.header {
				resp.Header.Set(k, v)
			}
			err := s.ValidateResponse(req, resp)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ValidateResponse() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("ValidateResponse() = nil, want an error mentioning %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("ValidateResponse() = %v, want an error mentioning %q", err, tt.wantErr)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.body {
				t.Errorf("response body after validation = %q, want it restored to %q", got, tt.body)
			}
		})
	}
}

// recordingTB captures what the code under test reports, so that a test can
// check that a failure is reported without failing itself.
type recordingTB struct {
	testing.TB
	mu      sync.Mutex
	errors  []string
	skipped string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *recordingTB) Errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

func TestTransport(t *testing.T) {
	s := Load(t)
	tests := []struct {
		name       string
		body       string
		respStatus int
		respBody   string
		wantErrors []string // substrings, one per reported error, in order
	}{
		{
			name: "valid exchange", body: validNEFBody,
			respStatus: http.StatusCreated, respBody: validNEFBody,
		},
		{
			name: "invalid request", body: strings.Replace(validNEFBody, `"sst": 1`, `"sst": 300`, 1),
			respStatus: http.StatusCreated, respBody: validNEFBody,
			wantErrors: []string{"request"},
		},
		{
			name: "invalid response", body: validNEFBody,
			respStatus: http.StatusCreated, respBody: `{"dnn": "internet"}`,
			wantErrors: []string{"response"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotBody string
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				gotBody = string(b)
				if r.ProtoMajor != 2 {
					t.Errorf("server saw %s, want HTTP/2 cleartext", r.Proto)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Location", "http://nef.example/3gpp-as-session-with-qos/v1/af-1/subscriptions/sub-1")
				w.WriteHeader(tt.respStatus)
				_, _ = io.WriteString(w, tt.respBody)
			}))
			srv.Config.Protocols = new(http.Protocols)
			srv.Config.Protocols.SetHTTP1(true)
			srv.Config.Protocols.SetUnencryptedHTTP2(true)
			srv.Start()
			defer srv.Close()

			h2c := &http.Transport{Protocols: new(http.Protocols)}
			h2c.Protocols.SetUnencryptedHTTP2(true)
			defer h2c.CloseIdleConnections()
			rec := &recordingTB{TB: t}
			client := &http.Client{Transport: s.Transport(h2c, rec)}

			resp, err := client.Post(srv.URL+"/3gpp-as-session-with-qos/v1/af-1/subscriptions", "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			respBody, _ := io.ReadAll(resp.Body)
			resp.Body.Close()

			if gotBody != tt.body {
				t.Errorf("server received %q, want the request body unchanged %q", gotBody, tt.body)
			}
			if string(respBody) != tt.respBody {
				t.Errorf("client read %q, want the response body unchanged %q", respBody, tt.respBody)
			}
			errs := rec.Errors()
			if len(errs) != len(tt.wantErrors) {
				t.Fatalf("reported %d errors %q, want %d", len(errs), errs, len(tt.wantErrors))
			}
			for i, want := range tt.wantErrors {
				if !strings.Contains(errs[i], want) {
					t.Errorf("error %d = %q, want it to mention %q", i, errs[i], want)
				}
			}
		})
	}
}

func TestLoadSkipsWithoutFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nowhere")
	t.Setenv(EnvDir, missing)
	rec := &recordingTB{TB: t}
	if s := Load(rec); s != nil {
		t.Fatalf("Load() = %v, want nil when the folder is absent", s)
	}
	for _, want := range []string{missing, EnvDir, "5GC_APIs"} {
		if !strings.Contains(rec.skipped, want) {
			t.Errorf("skip message %q does not mention %q", rec.skipped, want)
		}
	}
}

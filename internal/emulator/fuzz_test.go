package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/emulator/userplane"
)

// adminFaultResources are the admin API's fault injections: what tests,
// benchmarks and a person at `make run` POST to the emulator.
var adminFaultResources = []string{"/admin/v1/faults", "/admin/v1/impairments", "/admin/v1/load", "/admin/v1/degrade"}

var (
	fuzzEmulator     *Server
	fuzzEmulatorOnce sync.Once
	fuzzEmulatorErr  error
)

// fuzzServer is one emulator with its user plane on for every input of a
// fuzz worker: state carries over from input to input, as it does for a
// long-running emulator.
func fuzzServer(t *testing.T) *Server {
	t.Helper()
	fuzzEmulatorOnce.Do(func() {
		fuzzEmulator, fuzzEmulatorErr = New(Config{
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			UserPlane: UserPlaneConfig{Enabled: true},
		})
	})
	if fuzzEmulatorErr != nil {
		t.Fatal(fuzzEmulatorErr)
	}
	return fuzzEmulator
}

// FuzzAdminFaultBodies posts any body to each fault injection (faults,
// impairments, background load, degradation). Every answer is 200 or a
// client error with a problem document that says why, never a server
// error; and whatever was accepted stays within the emulator's bounds
// (rates in [0, 1], delays within their maximum), so that no body can
// wedge the emulator for the tests that follow. Seeds are in
// testdata/fuzz/FuzzAdminFaultBodies.
func FuzzAdminFaultBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"errorRate": 0.1, "latency": "50ms", "errorStatus": 503, "delayRate": 0.05, "maxDelay": "2s"}`))
	f.Add(uint8(1), []byte(`{"target": "10.45.0.11", "delay": "30ms", "jitter": "5ms", "loss": 0.01, "direction": "both"}`))
	f.Fuzz(func(t *testing.T, resource uint8, body []byte) {
		srv := fuzzServer(t)
		path := adminFaultResources[int(resource)%len(adminFaultResources)]
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "http://emulator"+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentTypeJSON)
		srv.Handler().ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			var p adminProblem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Detail == "" || p.Status != rec.Code {
				t.Fatalf("%s refused %q without a problem document: %s", path, body, rec.Body.String())
			}
			return
		default:
			t.Fatalf("%s answered %d to %q: %s", path, rec.Code, body, rec.Body.String())
		}
		checkAdminBounds(t, srv)
	})
}

// checkAdminBounds reads back every fault in force and checks its bounds.
func checkAdminBounds(t *testing.T, srv *Server) {
	t.Helper()
	get := func(path string, v any) {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://emulator"+path, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	share := func(what string, v float64) {
		t.Helper()
		if math.IsNaN(v) || v < 0 || v > 1 {
			t.Fatalf("%s %v in force", what, v)
		}
	}
	delay := func(what, v string, most time.Duration) {
		t.Helper()
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > most {
			t.Fatalf("%s %q in force (at most %s)", what, v, most)
		}
	}
	var faults faultsAnswer
	get("/admin/v1/faults", &faults)
	share("errorRate", faults.ErrorRate)
	share("delayRate", faults.DelayRate)
	delay("latency", faults.Latency, maxLatency)
	delay("maxDelay", faults.MaxDelay, maxLatency)
	switch faults.ErrorStatus {
	case 0, http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		t.Fatalf("errorStatus %d in force", faults.ErrorStatus)
	}
	var imps impairmentsAnswer
	get("/admin/v1/impairments", &imps)
	for _, im := range imps.Impairments {
		share("loss of "+im.Target, im.Loss)
		delay("delay of "+im.Target, im.Delay, userplane.MaxImpairmentDelay)
		delay("jitter of "+im.Target, im.Jitter, userplane.MaxImpairmentDelay)
	}
	var load loadAnswer
	get("/admin/v1/load", &load)
	delay("burst", load.Load.Burst, time.Second)
}

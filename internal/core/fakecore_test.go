package core

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/spec3gpp"
)

// testTimeout bounds every request a test client makes.
const testTimeout = 5 * time.Second

// testNow is the clock of every client under test.
var testNow = time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)

func testClock() time.Time { return testNow }

// newH2CServer starts h on a server that accepts HTTP/1.1 and HTTP/2
// cleartext with prior knowledge, as a 5G core's SBI does.
func newH2CServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// validatingClient is NewHTTPClient with every request and response checked
// against the 3GPP OpenAPI descriptions; a mismatch fails t.
func validatingClient(t *testing.T) *http.Client {
	t.Helper()
	specs := spec3gpp.Load(t)
	hc := NewHTTPClient(testTimeout)
	hc.Transport = specs.Transport(hc.Transport, t)
	return hc
}

// exchangeLog is what a fake core saw.
type exchangeLog struct {
	Method      string
	Path        string
	Proto       string
	ContentType string
	Body        string
}

// fakeCore is the shared part of the fake NEF and PCF: resources kept as
// JSON objects (so that PATCH is a real RFC 7396 merge patch), a log of
// requests, and an override that answers every request with a canned
// response for error tests.
type fakeCore struct {
	mu        sync.Mutex
	resources map[string]map[string]any // id → resource
	order     []string                  // ids in creation order
	next      int
	log       []exchangeLog
	override  *cannedAnswer
}

// cannedAnswer is a fixed answer.
type cannedAnswer struct {
	status      int
	contentType string
	location    string
	body        string
}

func newFakeCore() *fakeCore { return &fakeCore{resources: map[string]map[string]any{}} }

func (f *fakeCore) record(r *http.Request) []byte {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, exchangeLog{Method: r.Method, Path: r.URL.Path, Proto: r.Proto, ContentType: r.Header.Get("Content-Type"), Body: string(body)})
	return body
}

func (f *fakeCore) requests() []exchangeLog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]exchangeLog(nil), f.log...)
}

func (f *fakeCore) answerOverride(w http.ResponseWriter) bool {
	f.mu.Lock()
	a := f.override
	f.mu.Unlock()
	if a == nil {
		return false
	}
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
	return true
}

func (f *fakeCore) add(obj map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("s-%d", f.next)
	f.resources[id] = obj
	f.order = append(f.order, id)
	return id
}

func (f *fakeCore) get(id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.resources[id]
	return obj, ok
}

func (f *fakeCore) remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.resources[id]; !ok {
		return false
	}
	delete(f.resources, id)
	return true
}

func (f *fakeCore) patch(id string, p map[string]any) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.resources[id]
	if !ok {
		return nil, false
	}
	obj = mergePatch(obj, p).(map[string]any)
	f.resources[id] = obj
	return obj, true
}

func (f *fakeCore) all() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for _, id := range f.order {
		if obj, ok := f.resources[id]; ok {
			out = append(out, obj)
		}
	}
	return out
}

// mergePatch applies an RFC 7396 JSON merge patch.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, cause, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "cause": cause, "detail": detail})
}

func decodeObject(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return m
}

// decodeInto decodes a logged request body into a model for comparison.
func decodeInto[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	return v
}

// checkH2C fails t unless every request reached the fake core over HTTP/2.
func checkH2C(t *testing.T, log []exchangeLog) {
	t.Helper()
	for _, e := range log {
		if e.Proto != "HTTP/2.0" {
			t.Errorf("%s %s arrived over %s, want HTTP/2 cleartext", e.Method, e.Path, e.Proto)
		}
	}
}

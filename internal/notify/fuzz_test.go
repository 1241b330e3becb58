package notify

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// FuzzReceiver feeds arbitrary bodies to every callback kind: the receiver
// must never panic, and must deliver only notifications it accepted (204).
func FuzzReceiver(f *testing.F) {
	for _, seed := range []struct {
		suffix string
		body   string
	}{
		{"", `{"transaction":"http://nef/x","eventReports":[{"event":"SUCCESSFUL_RESOURCES_ALLOCATION"}]}`},
		{"", `{"eventReports":[{"event":"QOS_NOT_GUARANTEED","qosMonReports":[{"rtDelays":[3]}]}]}`},
		{"/notify", `{"evNotifs":[{"event":"QOS_NOTIF"}],"qncReports":[{"notifType":"NOT_GUARANTEED"}]}`},
		{"/terminate", `{"termCause":"ALL_SDF_DEACTIVATION","resUri":"http://pcf/app-sessions/1"}`},
		{"", `{"eventReports":[{"event":""}]}`},
		{"/notify", `[]`},
	} {
		f.Add(seed.suffix, []byte(seed.body))
	}
	s, _ := NewSigner(testKey)
	base := mustPath(s.URI("http://h", testRef()))
	f.Fuzz(func(t *testing.T, suffix string, body []byte) {
		if len(suffix) > 16 {
			return
		}
		delivered := 0
		rc := &Receiver{Signer: s, Deliver: func(Event) { delivered++ }, Now: time.Now, Log: logr.Discard()}
		req, err := http.NewRequest(http.MethodPost, "http://h"+base+suffix, bytes.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		rc.ServeHTTP(rec, req)
		if (rec.Code == http.StatusNoContent) != (delivered == 1) || delivered > 1 {
			t.Fatalf("status %d but %d deliveries", rec.Code, delivered)
		}
	})
}

// FuzzVerify: no path is accepted unless it carries the token of exactly
// the ref it names.
func FuzzVerify(f *testing.F) {
	s, _ := NewSigner(testKey)
	f.Add(mustPath(s.URI("http://h", testRef())))
	f.Add("/notify/v1/a/b/c/d/e")
	f.Add("/notify/v1/%zz/b/c/d/e/notify")
	f.Fuzz(func(t *testing.T, path string) {
		ref, _, err := s.Verify(path)
		if err != nil {
			return
		}
		// Whatever spelling was accepted, it names a ref whose own URI
		// verifies to the same ref: the token bound exactly that ref.
		again, _, err := s.Verify(mustPath(s.URI("http://h", ref)))
		if err != nil || again != ref {
			t.Fatalf("accepted %q as %+v, whose canonical URI gives %+v, %v", path, ref, again, err)
		}
	})
}

package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The admin API (/admin/v1/) is the emulator's own, not 3GPP's: inspect
// sessions, forget them all as a core restart would, inject faults. Its
// errors are RFC 9457 problem documents with a detail a person can act on.

// maxLatency bounds the injected latency, so that a typo cannot hang tests
// for hours.
const maxLatency = time.Minute

// Faults is what the admin API injects into NEF and PCF calls (never into
// admin calls or /healthz).
type Faults struct {
	// ErrorRate is the share of calls, in [0, 1], answered with a 5xx
	// ProblemDetails before the request is applied.
	ErrorRate float64 `json:"errorRate"`
	// Latency delays every NEF and PCF answer, as a Go duration ("50ms").
	Latency string `json:"latency"`
	// ErrorStatus is the status of injected errors: 500 (SYSTEM_FAILURE,
	// the default), 503 (NF_CONGESTION) or 504 (TIMED_OUT_REQUEST).
	ErrorStatus int `json:"errorStatus,omitempty"`
	// DelayRate is the share of NEF and PCF calls, in [0, 1], whose answer
	// is delayed further, on top of Latency, by a random time up to
	// MaxDelay: a core that is slow now and then rather than always, so
	// that some clients give up after their request took effect and
	// others do not.
	DelayRate float64 `json:"delayRate,omitempty"`
	// MaxDelay bounds those further delays, as a Go duration ("2s").
	MaxDelay string `json:"maxDelay,omitempty"`
}

// faultsAnswer is Faults as the admin API answers it.
type faultsAnswer struct {
	Emulator string `json:"emulator"`
	Faults
}

// resetAnswer is the answer to POST /admin/v1/reset.
type resetAnswer struct {
	Emulator  string `json:"emulator"`
	Forgotten int    `json:"forgotten"`
}

// faults holds the injected faults and the seeded random numbers that decide
// which calls fail.
type faults struct {
	mu        sync.Mutex
	rng       *rand.Rand
	rate      float64
	latency   time.Duration
	status    int
	delayRate float64
	maxDelay  time.Duration
}

func newFaults(seed uint64) *faults {
	return &faults{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), status: http.StatusInternalServerError}
}

// decide tells whether this call fails, with which status, and how long its
// answer is delayed. The generator is drawn from only while an error or a
// delay rate is set, so that a seeded run is reproducible from the moment
// faults are set.
func (f *faults) decide() (fail bool, status int, latency time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rate > 0 {
		fail = f.rng.Float64() < f.rate
	}
	latency = f.latency
	if f.delayRate > 0 && f.maxDelay > 0 && f.rng.Float64() < f.delayRate {
		latency += time.Duration(f.rng.Int64N(int64(f.maxDelay))) + 1
	}
	return fail, f.status, latency
}

func (f *faults) get() Faults {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := Faults{ErrorRate: f.rate, Latency: f.latency.String(), ErrorStatus: f.status, DelayRate: f.delayRate, MaxDelay: f.maxDelay.String()}
	return out
}

func (f *faults) set(in faultSettings) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate, f.latency, f.status, f.delayRate, f.maxDelay = in.rate, in.latency, in.status, in.delayRate, in.maxDelay
}

// faultSettings are Faults once checked and parsed.
type faultSettings struct {
	rate      float64
	latency   time.Duration
	status    int
	delayRate float64
	maxDelay  time.Duration
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/v1/sessions", s.adminSessions)
	mux.HandleFunc("POST /admin/v1/reset", s.adminReset)
	mux.HandleFunc("GET /admin/v1/faults", s.adminGetFaults)
	mux.HandleFunc("POST /admin/v1/faults", s.adminSetFaults)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok: "+emulatorNote+"\n")
	})
	allowed := map[string]string{
		"/admin/v1/sessions": "GET",
		"/admin/v1/reset":    "POST",
		"/admin/v1/faults":   "GET, POST",
	}
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		if allow, ok := allowed[r.URL.Path]; ok {
			w.Header().Set("Allow", allow)
			adminError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
			return
		}
		adminError(w, http.StatusNotFound, fmt.Sprintf("no admin resource %s; there are GET /admin/v1/sessions, POST /admin/v1/reset, GET and POST /admin/v1/faults", r.URL.Path))
	})
}

// adminSessions lists every session, oldest first.
func (s *Server) adminSessions(w http.ResponseWriter, _ *http.Request) {
	s.ExpireSessions()
	recs := s.store.list(nil)
	out := make([]Session, 0, len(recs))
	for _, rec := range recs {
		out = append(out, rec.Session)
	}
	writeJSON(w, http.StatusOK, contentTypeJSON, out)
}

// adminReset forgets every session without telling anyone, as a core that
// restarts forgets its state; pending notifications are lost too.
func (s *Server) adminReset(w http.ResponseWriter, r *http.Request) {
	if _, ok := readAdminBody(w, r); !ok {
		return
	}
	s.notifier.forget()
	n := s.store.reset()
	s.log.Info("admin reset: every session forgotten", "sessions", n)
	writeJSON(w, http.StatusOK, contentTypeJSON, resetAnswer{Emulator: emulatorNote, Forgotten: n})
}

func (s *Server) adminGetFaults(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, contentTypeJSON, faultsAnswer{Emulator: emulatorNote, Faults: s.faults.get()})
}

// adminSetFaults replaces the injected faults; an empty body, or zero
// values, clears them.
func (s *Server) adminSetFaults(w http.ResponseWriter, r *http.Request) {
	body, ok := readAdminBody(w, r)
	if !ok {
		return
	}
	var in Faults
	if len(body) > 0 {
		if err := exactKeys(body, "errorRate", "latency", "errorStatus", "delayRate", "maxDelay"); err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf(`body must be {"errorRate": 0..1, "latency": "50ms", "errorStatus": 500|503|504, "delayRate": 0..1, "maxDelay": "2s"}: %v`, err))
			return
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			adminError(w, http.StatusBadRequest, "body has data after the JSON object")
			return
		}
	}
	set, err := checkFaults(in)
	if err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.faults.set(set)
	s.log.Info("admin faults set", "errorRate", set.rate, "latency", set.latency, "errorStatus", set.status, "delayRate", set.delayRate, "maxDelay", set.maxDelay)
	writeJSON(w, http.StatusOK, contentTypeJSON, faultsAnswer{Emulator: emulatorNote, Faults: s.faults.get()})
}

// checkFaults validates and parses what the admin API was sent.
func checkFaults(in Faults) (faultSettings, error) {
	rate := func(name string, v float64) error {
		if math.IsNaN(v) || v < 0 || v > 1 {
			return fmt.Errorf("%s must be between 0 and 1, got %v", name, v)
		}
		return nil
	}
	delay := func(name, v string) (time.Duration, error) {
		if v == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s must be a duration such as \"50ms\": %v", name, err)
		}
		if d < 0 || d > maxLatency {
			return 0, fmt.Errorf("%s must be between 0 and %s, got %s", name, maxLatency, d)
		}
		return d, nil
	}
	out := faultSettings{rate: in.ErrorRate, delayRate: in.DelayRate, status: in.ErrorStatus}
	if err := rate("errorRate", in.ErrorRate); err != nil {
		return out, err
	}
	if err := rate("delayRate", in.DelayRate); err != nil {
		return out, err
	}
	var err error
	if out.latency, err = delay("latency", in.Latency); err != nil {
		return out, err
	}
	if out.maxDelay, err = delay("maxDelay", in.MaxDelay); err != nil {
		return out, err
	}
	if out.delayRate > 0 && out.maxDelay == 0 {
		return out, fmt.Errorf(`delayRate %v needs maxDelay, the longest further delay, such as "2s"`, out.delayRate)
	}
	switch out.status {
	case 0:
		out.status = http.StatusInternalServerError
	case http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return out, fmt.Errorf("errorStatus must be 500, 503 or 504, got %d", out.status)
	}
	return out, nil
}

// exactKeys refuses keys of a JSON object other than allowed, compared
// exactly: encoding/json matches field names case-insensitively, so
// "errorrate" would otherwise set errorRate.
func exactKeys(body []byte, allowed ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil // the typed decode reports it with more context
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unknown field %q; the fields are %s", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// readAdminBody reads a small admin body, which must be JSON when present.
func readAdminBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes or unreadable: %v", maxAdminBody, err))
		return nil, false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != contentTypeJSON {
			adminError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("send the body as Content-Type: application/json, got %q", ct))
			return nil, false
		}
	}
	return body, true
}

// adminProblem is an RFC 9457 problem document.
type adminProblem struct {
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Emulator string `json:"emulator"`
}

func adminError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, contentTypeProblem, adminProblem{Title: http.StatusText(status), Status: status, Detail: detail, Emulator: emulatorNote})
}

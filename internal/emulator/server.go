package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Defaults for Config fields left zero.
const (
	DefaultSessionTTL     = time.Hour
	DefaultExpiryInterval = time.Second
	shutdownTimeout       = 5 * time.Second
	readHeaderTimeout     = 10 * time.Second
)

// Config configures a Server.
type Config struct {
	// APIRoot is the {apiRoot} of TS 29.501 §4.4 advertised in Location
	// headers, self links and notification bodies, e.g. "http://10.0.0.5:8090".
	// Empty: derived from each request's Host.
	APIRoot string
	// Capacity bounds what the emulated core grants at once.
	Capacity Capacity
	// DefaultSessionTTL bounds a session that carries no usage threshold
	// duration. A real core would keep it forever; the emulator bounds it so
	// that tests never accumulate sessions.
	DefaultSessionTTL time.Duration
	// Seed seeds the fault injection's random numbers, for reproducible runs.
	Seed uint64
	// Now is the clock; time.Now when nil. Tests inject one and call
	// ExpireSessions to run the expiry scan at the time they choose.
	Now func() time.Time
	// Logger receives the emulator's logs; slog.Default when nil.
	Logger *slog.Logger
	// Notify tunes notification delivery; zero values take defaults.
	Notify NotifyConfig
	// UserPlane configures the emulated user plane (userplane_wiring.go).
	UserPlane UserPlaneConfig
	// QoSMonitoringPeriod is the period of the QoS monitoring reports of
	// the sessions that ask for them, with the user plane on (qosmon.go):
	// zero, the period each session asks for; positive, this one for every
	// such session; negative, no reports.
	QoSMonitoringPeriod time.Duration
	// Auth makes the NEF and PCF APIs demand OAuth2 tokens and/or client
	// certificates (auth.go); the zero value demands nothing.
	Auth AuthConfig
}

// Server is the core emulator. Create it with New and stop it with Close.
type Server struct {
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
	store    *store
	faults   *faults
	notifier *notifier
	handler  http.Handler
	auth     authState

	// userPlane is nil when the user plane is not emulated.
	userPlane *userPlane
}

// New builds an emulator and starts its notification workers.
func New(cfg Config) (*Server, error) {
	if cfg.APIRoot != "" {
		cfg.APIRoot = strings.TrimSuffix(cfg.APIRoot, "/")
		if err := checkCallbackURI(cfg.APIRoot); err != nil {
			return nil, fmt.Errorf("api root: %w", err)
		}
	}
	if cfg.DefaultSessionTTL <= 0 {
		cfg.DefaultSessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Capacity.MaxSessions < 0 {
		return nil, errors.New("max sessions must not be negative")
	}
	s := &Server{
		cfg:    cfg,
		now:    cfg.Now,
		log:    cfg.Logger,
		store:  newStore(cfg.Capacity),
		faults: newFaults(cfg.Seed),
	}
	s.notifier = newNotifier(cfg.Notify, cfg.Logger)
	if err := s.startUserPlane(); err != nil {
		s.notifier.close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler serves the NEF, PCF and admin APIs and /healthz.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the notification workers and the user plane; queued
// notifications are dropped, as a core that stops would drop them.
func (s *Server) Close() {
	s.notifier.close()
	s.stopUserPlane()
}

// ExpireSessions ends every session whose time bound has passed, sends their
// termination notifications and tells how many ended. Serve runs it
// periodically; tests with an injected clock call it directly.
func (s *Server) ExpireSessions() int {
	gone := s.store.expire(s.now())
	for _, rec := range gone {
		s.log.Info("session expired", "id", rec.ID, "api", rec.API, "correlation", rec.Correlation, "expiresAt", rec.ExpiresAt)
		s.forgetUserPlane(rec.ID)
		s.notifyTermination(rec)
	}
	return len(gone)
}

// NewHTTPServer returns an http.Server for h that speaks HTTP/1.1 and
// HTTP/2 over cleartext (h2c, prior knowledge) on the same port, as SBI
// producers do (TS 29.500 §5.2.2 mandates HTTP/2).
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx ends, running the expiry scan every interval
// (DefaultExpiryInterval when zero) and the QoS monitoring reports every
// QoSMonitoringTick, then shuts down gracefully and stops the notification
// workers.
func (s *Server) Serve(ctx context.Context, ln net.Listener, interval time.Duration) error {
	if interval <= 0 {
		interval = DefaultExpiryInterval
	}
	hs := NewHTTPServer(s.handler, s.log)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	tick := time.NewTicker(interval)
	defer tick.Stop()
	var qosTick <-chan time.Time
	if s.qosMonitoringOn() {
		t := time.NewTicker(QoSMonitoringTick)
		defer t.Stop()
		qosTick = t.C
	}
	defer s.Close()
	for {
		select {
		case err := <-errc:
			return err
		case <-tick.C:
			s.ExpireSessions()
		case <-qosTick:
			s.ReportQoSMonitoring()
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutting down: %w", err)
			}
			return nil
		}
	}
}

// APIRootFor derives an {apiRoot} from a listener address, replacing an
// unspecified host (0.0.0.0, ::) with the loopback address.
func APIRootFor(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()

	const nefBase = "/3gpp-as-session-with-qos/v1/{scsAsId}/subscriptions"
	route(mux, APINEF, nefBase, map[string]http.HandlerFunc{
		http.MethodGet:  s.nefList,
		http.MethodPost: s.nefCreate,
	}, s.api)
	route(mux, APINEF, nefBase+"/{subscriptionId}", map[string]http.HandlerFunc{
		http.MethodGet:    s.nefGet,
		http.MethodPut:    s.nefPut,
		http.MethodPatch:  s.nefPatch,
		http.MethodDelete: s.nefDelete,
	}, s.api)

	const pcfBase = "/npcf-policyauthorization/v1/app-sessions"
	route(mux, APIPCF, pcfBase, map[string]http.HandlerFunc{
		http.MethodPost: s.pcfCreate,
	}, s.api)
	route(mux, APIPCF, pcfBase+"/{appSessionId}", map[string]http.HandlerFunc{
		http.MethodGet:   s.pcfGet,
		http.MethodPatch: s.pcfPatch,
	}, s.api)
	route(mux, APIPCF, pcfBase+"/{appSessionId}/delete", map[string]http.HandlerFunc{
		http.MethodPost: s.pcfDelete,
	}, s.api)
	route(mux, APIPCF, pcfBase+"/{appSessionId}/events-subscription", map[string]http.HandlerFunc{
		http.MethodPut:    s.pcfPutEventsSubscription,
		http.MethodDelete: s.pcfDeleteEventsSubscription,
	}, s.api)

	// Anything else under an API prefix is answered in that API's flavour.
	for prefix, api := range map[string]API{"/3gpp-as-session-with-qos/": APINEF, "/npcf-policyauthorization/": APIPCF} {
		mux.Handle(prefix, s.api(api, func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, api, newProblem(http.StatusNotFound, causeResourceURINotFound, "no resource %s on this API", r.URL.Path))
		}))
	}

	s.adminRoutes(mux)
	s.authRoutes(mux)
	s.userPlaneRoutes(mux)
	return withEmulatorHeader(s.withUserPlaneReset(mux))
}

// route registers one handler per method on path and answers any other
// method with 405 and an Allow header (TS 29.500 §5.2.7.1).
func route(mux *http.ServeMux, api API, path string, byMethod map[string]http.HandlerFunc, wrap func(API, http.HandlerFunc) http.Handler) {
	allow := make([]string, 0, len(byMethod))
	for method, h := range byMethod {
		mux.Handle(method+" "+path, wrap(api, h))
		allow = append(allow, method)
	}
	slices.Sort(allow)
	mux.Handle(path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, api, newProblem(http.StatusMethodNotAllowed, "", "%s is not allowed on this resource; allowed: %s", r.Method, strings.Join(allow, ", ")))
	}))
}

// withEmulatorHeader marks every answer as coming from a test double.
func withEmulatorHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(emulatorHeader, emulatorHeaderValue)
		h.ServeHTTP(w, r)
	})
}

// api wraps a NEF or PCF handler: it checks the caller's credentials when
// authentication is on (auth.go), bounds the body, ends sessions whose
// time has come (so that no request sees one), injects the admin API's
// faults and delays the answer by the configured latency. The latency is
// applied after the request took effect, so that a client that gives up
// early meets the case that matters: the core did it, the answer was lost.
func (s *Server) api(api API, h http.HandlerFunc) http.Handler {
	h = s.withUserPlaneSync(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorize(w, r, api) {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		s.ExpireSessions()
		fail, status, latency := s.faults.decide()
		if latency <= 0 {
			if fail {
				writeProblem(w, api, injectedProblem(status))
				return
			}
			h(w, r)
			return
		}
		buf := &bufferedResponse{header: http.Header{}}
		if fail {
			writeProblem(buf, api, injectedProblem(status))
		} else {
			h(buf, r)
		}
		t := time.NewTimer(latency)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		buf.flushTo(w)
	})
}

// injectedProblem is the answer to a call the admin API asked to fail.
func injectedProblem(status int) *problem {
	cause := map[int]string{
		http.StatusInternalServerError: causeSystemFailure,
		http.StatusServiceUnavailable:  causeNFCongestion,
		http.StatusGatewayTimeout:      causeTimedOutRequest,
	}[status]
	return newProblem(status, cause, "fault injected through the core emulator's admin API (errorRate)")
}

// bufferedResponse holds an answer until the injected latency has passed.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// apiRoot is the {apiRoot} for answers to r.
func (s *Server) apiRoot(r *http.Request) string {
	if s.cfg.APIRoot != "" {
		return s.cfg.APIRoot
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// newID returns an unguessable resource id. Ids are random rather than
// sequential so that, after a reset, a stale id never names a new session.
func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// expiresAt is the end of a session's lease: the usage threshold duration
// when the request carries one, the default TTL otherwise.
func (s *Server) expiresAt(now time.Time, durationSec int32) time.Time {
	if durationSec > 0 {
		return now.Add(time.Duration(durationSec) * time.Second)
	}
	return now.Add(s.cfg.DefaultSessionTTL)
}

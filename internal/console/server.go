package console

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/medslice/medslice/internal/scheme"
)

// Config configures the console.
type Config struct {
	// RestConfig is the console's own identity towards the API server. It
	// must be allowed to create TokenReviews, to impersonate users, groups,
	// service accounts and uids, and to list namespaces; everything else
	// runs as the signed-in user.
	RestConfig *rest.Config
	// Location is where times are shown and local times are read: the
	// hospital's. Nil means time.Local.
	Location *time.Location
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Log receives sign-ins, bookings, extensions, cancellations and
	// errors, with the user's name.
	Log logr.Logger
}

// Server is the web console. Its zero value is not usable: use New.
type Server struct {
	restConfig *rest.Config
	loc        *time.Location
	now        func() time.Time
	log        logr.Logger
	scheme     *runtime.Scheme
	mapper     meta.RESTMapper
	// self is the console's own identity: TokenReviews and the list of
	// namespaces, nothing a user reads or writes.
	self     client.Client
	sessions *sessionStore
	pages    *pages
	mux      *http.ServeMux
}

// Timeouts.
const (
	// apiTimeout bounds the API calls one page makes.
	apiTimeout = 15 * time.Second
	// maxFormBytes bounds a POST body: the booking form is far smaller.
	maxFormBytes = 64 << 10
	// refreshInterval is how often the board and a slice's page refresh
	// themselves.
	refreshInterval = 5 * time.Second
)

// New builds a console from cfg. It does not contact the API server.
func New(cfg Config) (*Server, error) {
	if cfg.RestConfig == nil {
		return nil, errors.New("console: Config.RestConfig is required")
	}
	s := &Server{
		restConfig: rest.CopyConfig(cfg.RestConfig),
		loc:        cfg.Location,
		now:        cfg.Now,
		log:        cfg.Log,
		scheme:     scheme.New(),
		sessions:   newSessionStore(),
	}
	if s.loc == nil {
		s.loc = time.Local
	}
	if s.now == nil {
		s.now = time.Now
	}
	httpClient, err := rest.HTTPClientFor(s.restConfig)
	if err != nil {
		return nil, fmt.Errorf("console: HTTP client: %w", err)
	}
	// One REST mapper for every user: which resources exist is not a
	// secret, and discovering it per user would cost a round of requests.
	if s.mapper, err = apiutil.NewDynamicRESTMapper(s.restConfig, httpClient); err != nil {
		return nil, fmt.Errorf("console: REST mapper: %w", err)
	}
	if s.self, err = client.New(s.restConfig, client.Options{Scheme: s.scheme, Mapper: s.mapper, HTTPClient: httpClient}); err != nil {
		return nil, fmt.Errorf("console: client: %w", err)
	}
	if s.pages, err = parsePages(); err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	s.routes()
	return s, nil
}

// Handler serves the console.
func (s *Server) Handler() http.Handler { return securityHeaders(s.mux) }

func (s *Server) routes() {
	mux := http.NewServeMux()
	staticFS, err := fs.Sub(assets, "static")
	if err != nil {
		panic(err) // not reached: static/ is embedded
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFS)))
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	mux.Handle("POST /signout", s.authed(s.signout))
	mux.Handle("GET /{$}", s.authed(s.board))
	mux.Handle("GET /book", s.authed(s.bookPage))
	mux.Handle("POST /book", s.authed(s.book))
	mux.Handle("GET /capacity", s.authed(s.capacityIndex))
	mux.Handle("GET /capacity/{core}", s.authed(s.capacity))
	mux.Handle("GET /slices/{ns}/{name}", s.authed(s.slicePage))
	mux.Handle("POST /slices/{ns}/{name}/extend", s.authed(s.extend))
	mux.Handle("GET /slices/{ns}/{name}/cancel", s.authed(s.cancelPage))
	mux.Handle("POST /slices/{ns}/{name}/cancel", s.authed(s.cancel))
	mux.Handle("GET /slices/{ns}/{name}/reports/{report}/{format}", s.authed(s.downloadReport))
	s.mux = mux
}

// securityHeaders sets what every response carries: only this origin's
// scripts, styles and forms; never framed; never cached, since pages hold
// a user's data and a CSRF token.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// sessionHandler is a handler that runs for a signed-in user.
type sessionHandler func(w http.ResponseWriter, r *http.Request, sess *session)

// authed runs h for a signed-in user only; anyone else is sent to the
// sign-in page. A POST must also come from this origin and carry the
// session's CSRF token, and is checked before anything else is done. The
// token is reviewed again when due, so that a revoked one stops working.
func (s *Server) authed(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := s.now()
		sess := s.sessions.get(r, now)
		if sess == nil {
			http.Redirect(w, r, "/signin", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if why := crossOrigin(r); why != "" {
				s.refuse(w, r, sess, why)
				return
			}
			if err := r.ParseForm(); err != nil {
				unreadableForm(w, err)
				return
			}
			if !validToken(sess.csrf, r.PostForm.Get("csrf")) {
				s.refuse(w, r, sess, "The form's security token is missing or does not match this session. Reload the page and try again.")
				return
			}
		}
		if !s.reviewIfDue(w, r, sess, now) {
			return
		}
		h(w, r, sess)
	})
}

// unreadableForm answers a POST whose form cannot be read: larger than
// maxFormBytes (a booking form is far smaller), or not form encoding.
// Nothing was done, and the answer says why.
func unreadableForm(w http.ResponseWriter, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		http.Error(w, fmt.Sprintf("The form is larger than %d KiB, so nothing was done: shorten what was typed and send it again.", maxFormBytes>>10), http.StatusRequestEntityTooLarge)
		return
	}
	http.Error(w, "The form could not be read, so nothing was done: "+err.Error(), http.StatusBadRequest)
}

// refuse answers a request that failed the origin or CSRF check.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, sess *session, why string) {
	u := user{}
	if sess != nil {
		u, _ = sess.identity()
	}
	s.log.Info("refused a request", "reason", why, "user", u.Name, "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
	s.renderError(w, r, sess, http.StatusForbidden, "Refused", why)
}

// crossOrigin says why a POST does not come from a page of this console,
// or "" when it does: its Origin, or else its Referer, must name this
// scheme and host. Browsers send Origin with every POST; a request with
// neither is not from a form here.
func crossOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	from := r.Header.Get("Origin")
	what := "Origin"
	if from == "" {
		from, what = r.Header.Get("Referer"), "Referer"
	}
	if from == "" {
		return "The request carries neither an Origin nor a Referer header: only forms of this console may change anything."
	}
	u, err := url.Parse(from)
	if err != nil || u.Scheme != scheme || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Sprintf("The request comes from another site (%s %s): only forms of this console may change anything.", what, from)
	}
	return ""
}

// apiContext bounds the API calls a page makes.
func apiContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), apiTimeout)
}

package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Session lifetime. A board on the wall of an operating room refreshes
// itself and so stays signed in, up to sessionLifetime; a forgotten tab
// ends after sessionIdle. The token is reviewed again every reviewInterval
// so that a revoked token or a deleted service account ends the session.
const (
	sessionLifetime = 12 * time.Hour
	sessionIdle     = time.Hour
	reviewInterval  = time.Minute
	// maxSessions bounds the memory sessions take; the oldest goes first.
	maxSessions = 10000
	// namespaceCacheTTL is how long the namespaces a user may list are
	// remembered between board refreshes. Every read still runs as the
	// user, so RBAC decides; the cache only says where to look.
	namespaceCacheTTL = 30 * time.Second
)

// Cookie names. The session cookie carries only a random identifier; what
// it stands for stays on the server.
const (
	sessionCookie = "medslice_session"
	signinCookie  = "medslice_signin"
)

// user is who a bearer token authenticates as, from the TokenReview.
type user struct {
	Name   string
	UID    string
	Groups []string
}

func (u user) equal(o user) bool {
	return u.Name == o.Name && u.UID == o.UID && slices.Equal(u.Groups, o.Groups)
}

// session is one signed-in browser.
type session struct {
	key     string // SHA-256 of the cookie value: the map key
	csrf    string // per-session token every POST form carries
	created time.Time

	mu       sync.Mutex
	user     user
	token    string        // the bearer token, kept to review it again
	client   client.Client // impersonates user
	lastSeen time.Time
	reviewed time.Time
	flash    string
	// listable caches the namespaces where the user could list slices.
	listable   []string
	listableAt time.Time
}

func (s *session) identity() (user, client.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user, s.client
}

// popFlash returns the one-time message for the next page and clears it.
func (s *session) popFlash() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flash
	s.flash = ""
	return f
}

func (s *session) setFlash(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flash = msg
}

func (s *session) cachedListable(now time.Time) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listableAt.IsZero() || now.Sub(s.listableAt) > namespaceCacheTTL {
		return nil, false
	}
	return slices.Clone(s.listable), true
}

func (s *session) setListable(ns []string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listable, s.listableAt = ns, now
}

// sessionStore holds the sessions in memory: a restart signs everyone out,
// which is the safe direction.
type sessionStore struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessionStore() *sessionStore { return &sessionStore{m: map[string]*session{}} }

// randomToken is 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// keyOf hashes a cookie value, so that the map is never looked up with
// the secret itself and a dump of it holds no usable identifier.
func keyOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create starts a session and returns the cookie value that names it.
func (st *sessionStore) create(u user, token string, c client.Client, now time.Time) (string, *session) {
	id := randomToken()
	s := &session{key: keyOf(id), csrf: randomToken(), created: now, user: u, token: token, client: c, lastSeen: now, reviewed: now}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweepLocked(now)
	for len(st.m) >= maxSessions {
		var oldest *session
		for _, o := range st.m {
			if oldest == nil || o.created.Before(oldest.created) {
				oldest = o
			}
		}
		delete(st.m, oldest.key)
	}
	st.m[s.key] = s
	return id, s
}

// get finds the live session the request's cookie names, or nil.
func (st *sessionStore) get(r *http.Request, now time.Time) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	key := keyOf(c.Value)
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.m[key]
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if expired(s, now) {
		delete(st.m, key)
		return nil
	}
	s.lastSeen = now
	return s
}

func (st *sessionStore) delete(s *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, s.key)
}

func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.m)
}

func (st *sessionStore) sweepLocked(now time.Time) {
	for k, s := range st.m {
		s.mu.Lock()
		gone := expired(s, now)
		s.mu.Unlock()
		if gone {
			delete(st.m, k)
		}
	}
}

// expired needs s.mu held.
func expired(s *session, now time.Time) bool {
	return now.Sub(s.created) >= sessionLifetime || now.Sub(s.lastSeen) >= sessionIdle
}

// setCookie writes a cookie the browser sends only to this origin's pages,
// never to scripts, never from another site, and only over TLS when the
// console is served over TLS.
func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	setCookie(w, r, name, "", -time.Second)
}

// validToken compares a submitted CSRF token with the expected one in
// constant time; an empty expected token matches nothing.
func validToken(want, got string) bool {
	if want == "" || len(got) != len(want) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

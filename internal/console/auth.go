package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Sign-in: the user pastes a Kubernetes bearer token; the console asks the
// API server who it is (TokenReview, authentication.k8s.io/v1) and from
// then on acts as that user by impersonation. Kubernetes RBAC is the only
// authority: the console never decides on its own what a user may do.

const (
	// maxTokenBytes bounds a pasted token; service account tokens are
	// around 1 KiB, OIDC ID tokens a few.
	maxTokenBytes = 16 << 10
	// signinTTL bounds how long a sign-in form stays usable.
	signinTTL = 15 * time.Minute
	// userQPS and userBurst are a signed-in user's client-side rate limit:
	// a board over many namespaces lists each of them.
	userQPS   = 50
	userBurst = 100
)

// errNotAuthenticated is a token the API server does not accept.
var errNotAuthenticated = errors.New("token not authenticated")

// review asks the API server who token authenticates as.
func (s *Server) review(ctx context.Context, token string) (user, error) {
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if err := s.self.Create(ctx, tr); err != nil {
		return user{}, fmt.Errorf("TokenReview: %w", err)
	}
	u := tr.Status.User
	if !tr.Status.Authenticated || u.Username == "" || u.Username == "system:anonymous" {
		if tr.Status.Error != "" {
			return user{}, fmt.Errorf("%w: %s", errNotAuthenticated, tr.Status.Error)
		}
		return user{}, errNotAuthenticated
	}
	return user{Name: u.Username, UID: u.UID, Groups: u.Groups}, nil
}

// clientFor is a client that acts as u: every request it makes carries
// Impersonate-User, -Uid and -Group, so the API server authorises it as u.
// The user's extra attributes are not impersonated: they would need a
// further permission for every key, and RBAC does not read them.
func (s *Server) clientFor(u user) (client.Client, error) {
	cfg := rest.CopyConfig(s.restConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: u.Name, UID: u.UID, Groups: u.Groups}
	cfg.QPS, cfg.Burst = userQPS, userBurst
	return client.New(cfg, client.Options{Scheme: s.scheme, Mapper: s.mapper})
}

// reviewIfDue reviews the session's token again when reviewInterval has
// passed. A token no longer accepted ends the session; an API server that
// cannot be asked refuses the request rather than trust an old answer.
func (s *Server) reviewIfDue(w http.ResponseWriter, r *http.Request, sess *session, now time.Time) bool {
	sess.mu.Lock()
	due, token, old := now.Sub(sess.reviewed) >= reviewInterval, sess.token, sess.user
	sess.mu.Unlock()
	if !due {
		return true
	}
	ctx, cancel := apiContext(r)
	defer cancel()
	u, err := s.review(ctx, token)
	switch {
	case errors.Is(err, errNotAuthenticated):
		s.log.Info("session ended: token no longer accepted", "user", old.Name, "detail", err.Error())
		s.sessions.delete(sess)
		clearCookie(w, r, sessionCookie)
		http.Redirect(w, r, "/signin?ended=1", http.StatusSeeOther)
		return false
	case err != nil:
		s.log.Error(err, "reviewing a session's token", "user", old.Name)
		s.renderError(w, r, nil, http.StatusServiceUnavailable, "Kubernetes cannot be reached",
			"The console could not check your sign-in with the Kubernetes API server. Try again in a moment.")
		return false
	}
	var c client.Client
	if !u.equal(old) {
		if c, err = s.clientFor(u); err != nil {
			s.log.Error(err, "building a client", "user", u.Name)
			s.renderError(w, r, nil, http.StatusInternalServerError, "Internal error", "The console could not act for you. Try again in a moment.")
			return false
		}
	}
	sess.mu.Lock()
	sess.reviewed = now
	if c != nil {
		sess.user, sess.client, sess.listable, sess.listableAt = u, c, nil, time.Time{}
	}
	sess.mu.Unlock()
	return true
}

type signinView struct {
	Token string // the sign-in form's own CSRF token
	Error string
	Ended bool
}

// signinPage shows the sign-in form. The form carries a token that must
// match a cookie set here, so that another site cannot sign a browser in
// under an identity of its choosing.
func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	token := randomToken()
	setCookie(w, r, signinCookie, token, signinTTL)
	s.render(w, r, nil, http.StatusOK, "signin", "Sign in", signinView{Token: token, Ended: r.URL.Query().Get("ended") != ""})
}

func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if why := crossOrigin(r); why != "" {
		s.refuse(w, r, nil, why)
		return
	}
	if err := r.ParseForm(); err != nil {
		unreadableForm(w, err)
		return
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || !validToken(c.Value, r.PostForm.Get("csrf")) {
		s.refuse(w, r, nil, "The sign-in form has expired or did not come from this console. Reload the sign-in page and try again.")
		return
	}
	again := func(status int, msg string) {
		token := randomToken()
		setCookie(w, r, signinCookie, token, signinTTL)
		s.render(w, r, nil, status, "signin", "Sign in", signinView{Token: token, Error: msg})
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	token = strings.TrimPrefix(token, "Bearer ")
	switch {
	case token == "":
		again(http.StatusUnprocessableEntity, "Paste your Kubernetes token.")
		return
	case len(token) > maxTokenBytes || strings.ContainsAny(token, " \t\r\n"):
		again(http.StatusUnprocessableEntity, "That is not a Kubernetes bearer token: paste the token alone, on one line.")
		return
	}
	ctx, cancel := apiContext(r)
	defer cancel()
	u, err := s.review(ctx, token)
	switch {
	case errors.Is(err, errNotAuthenticated):
		s.log.Info("sign-in refused", "detail", err.Error(), "remote", r.RemoteAddr)
		again(http.StatusUnauthorized, "Kubernetes does not accept this token. It may have expired or been revoked; ask for a new one.")
		return
	case err != nil:
		s.log.Error(err, "sign-in: TokenReview failed")
		again(http.StatusServiceUnavailable, "The console could not reach the Kubernetes API server to check the token. Try again in a moment.")
		return
	}
	cl, err := s.clientFor(u)
	if err != nil {
		s.log.Error(err, "building a client", "user", u.Name)
		again(http.StatusInternalServerError, "The console could not act for you. Try again in a moment.")
		return
	}
	if old := s.sessions.get(r, s.now()); old != nil {
		s.sessions.delete(old) // a new sign-in never inherits a session
	}
	id, _ := s.sessions.create(u, token, cl, s.now())
	setCookie(w, r, sessionCookie, id, sessionLifetime)
	clearCookie(w, r, signinCookie)
	s.log.Info("signed in", "user", u.Name, "groups", u.Groups)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, sess *session) {
	u, _ := sess.identity()
	s.sessions.delete(sess)
	clearCookie(w, r, sessionCookie)
	s.log.Info("signed out", "user", u.Name)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

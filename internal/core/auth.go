package core

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// PCFScope is the OAuth2 scope of Npcf_PolicyAuthorization (TS 29.514
// securitySchemes, as TS 29.510 §6.3 names scopes after the service). The
// NEF's AsSessionWithQoS API (TS 29.122) declares no scopes: a token for the
// NEF is requested without one.
const PCFScope = "npcf-policyauthorization"

// AuthKind says which credential a core, or its token endpoint, refused.
type AuthKind string

const (
	// AuthCredentials: the operator's own credentials are missing or
	// unreadable; nothing was sent.
	AuthCredentials AuthKind = "Credentials"
	// AuthTokenRefused: the OAuth2 token endpoint refused the client
	// (invalid_client, unauthorized_client, invalid_scope, ...).
	AuthTokenRefused AuthKind = "TokenRefused"
	// AuthServerCertificate: the core's TLS certificate is not trusted.
	AuthServerCertificate AuthKind = "ServerCertificate"
	// AuthClientCertificate: the core refused the TLS handshake, which with
	// mutual TLS means it did not accept the client certificate (or wanted
	// one and got none).
	AuthClientCertificate AuthKind = "ClientCertificate"
	// AuthAccessDenied: the API answered 401, or 403 with a
	// WWW-Authenticate challenge (RFC 6750 §3).
	AuthAccessDenied AuthKind = "AccessDenied"
)

// AuthFailure is a refusal of this client's credentials. Retrying with the
// same credentials cannot succeed: a person must fix them, so callers report
// it and wait for the credentials to change rather than retry in a loop.
type AuthFailure struct {
	Kind AuthKind
	// Detail says what was refused and, where known, what the server said.
	Detail string
	// Err is the underlying error, if any.
	Err error
}

func (a *AuthFailure) Error() string { return a.Detail }

// Unwrap returns the underlying error.
func (a *AuthFailure) Unwrap() error { return a.Err }

// AsAuthFailure returns the AuthFailure in err's chain, if any.
func AsAuthFailure(err error) (*AuthFailure, bool) {
	var af *AuthFailure
	ok := errors.As(err, &af)
	return af, ok
}

// OAuth2Credentials are OAuth2 client credentials (RFC 6749 §4.4, TS 33.501
// §13.4.1 with the token endpoint of TS 29.510 §5.4.2.2).
type OAuth2Credentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	// Scopes requested; PCFScope for a PCF, none for a NEF.
	Scopes []string
}

// Credentials are what a client presents to a core. The zero value
// presents nothing.
type Credentials struct {
	// OAuth2, when set, puts a bearer token on every request.
	OAuth2 *OAuth2Credentials
	// TLS configures https:// endpoints and the token endpoint: the
	// client certificate and the CAs trusted for the core's certificate.
	TLS *tls.Config
}

// NewAuthenticatedHTTPClient returns an http.Client like NewHTTPClient that
// presents cred. Tokens are fetched on the first request, cached and
// fetched anew shortly before they expire; a 401 from the core drops the
// cached token and retries once with a fresh one, so a core that restarted
// and forgot its tokens is not refused until the old token expires.
//
// Credentials are fixed for the client's life: to rotate them, build a new
// client (coreconn does when a Secret changes).
func NewAuthenticatedHTTPClient(timeout time.Duration, cred Credentials) *http.Client {
	var rt http.RoundTripper = NewTransport(cred.TLS)
	if o := cred.OAuth2; o != nil {
		rt = newBearerTransport(rt, *o, cred.TLS, timeout)
	}
	return &http.Client{Transport: rt, CheckRedirect: noRedirects, Timeout: timeout}
}

// TLSConfig returns the settings for mutual TLS towards a core: TLS 1.2 at
// least (TS 33.210 §6.2 profiles 1.2 and 1.3; Go negotiates 1.3 when the
// core offers it), the client certificate (may be nil) and the CAs trusted
// for the core's certificate (nil: the system's).
func TLSConfig(cert *tls.Certificate, roots *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return cfg
}

// bearerTransport adds an OAuth2 access token to every request.
type bearerTransport struct {
	base   http.RoundTripper
	creds  OAuth2Credentials
	tokens *tokenCache
}

func newBearerTransport(base http.RoundTripper, o OAuth2Credentials, tlsCfg *tls.Config, timeout time.Duration) *bearerTransport {
	cc := &clientcredentials.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		TokenURL:     o.TokenURL,
		Scopes:       o.Scopes,
		// RFC 6749 §2.3.1: HTTP Basic is what every server must accept;
		// fixing it also spares the library's second try with another
		// style on every refusal.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	// The token endpoint is an ordinary HTTPS server (HTTP/2 by ALPN where
	// offered, else HTTP/1.1) reached with the same client certificate and
	// CAs as the core or, in development, a plain HTTP/1.1 one.
	tokenTransport := NewTransport(tlsCfg)
	tokenTransport.cleartext = &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		IdleConnTimeout: 90 * time.Second,
	}
	tokenHTTP := &http.Client{Timeout: timeout, Transport: tokenTransport, CheckRedirect: noRedirects}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, tokenHTTP)
	return &bearerTransport{
		base:  base,
		creds: o,
		tokens: &tokenCache{
			now:   time.Now,
			fetch: func() (*oauth2.Token, error) { return cc.Token(ctx) },
		},
	}
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.tokens.get()
	if err != nil {
		drainRequest(req)
		return nil, t.tokenError(err)
	}
	resp, err := t.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The core does not accept a token that was valid when fetched: it
	// restarted and forgot it, or revoked it. Try once with a fresh one
	// when the body can be sent again.
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return resp, nil
	}
	t.tokens.invalidate(tok)
	fresh, err := t.tokens.get()
	if err != nil {
		return resp, nil // the 401 says more than the refresh failure
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRecordedBody))
	resp.Body.Close()
	return t.send(retry, fresh)
}

func (t *bearerTransport) send(req *http.Request, tok *oauth2.Token) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return t.base.RoundTrip(r)
}

func (t *bearerTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// tokenError classifies a failed token request: a refusal (4xx) is an
// AuthFailure; an endpoint that is down, overloaded or failing (5xx) is
// an ordinary, retryable error.
func (t *bearerTransport) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		status := re.Response.StatusCode
		said := re.ErrorCode
		if re.ErrorDescription != "" {
			said += ": " + re.ErrorDescription
		}
		if said == "" {
			said = strings.TrimSpace(string(re.Body))
			if len(said) > 200 {
				said = said[:200] + "..."
			}
		}
		if status >= 500 || status == http.StatusTooManyRequests {
			return fmt.Errorf("token endpoint %s answered %d %s", t.creds.TokenURL, status, said)
		}
		return &AuthFailure{
			Kind:   AuthTokenRefused,
			Detail: fmt.Sprintf("token endpoint %s refused client %q: %d %s", t.creds.TokenURL, t.creds.ClientID, status, said),
			Err:    err,
		}
	}
	if af, ok := AsAuthFailure(classifyTransportError(err)); ok {
		return &AuthFailure{Kind: af.Kind, Detail: "token endpoint " + t.creds.TokenURL + ": " + af.Detail, Err: err}
	}
	return fmt.Errorf("token endpoint %s: %w", t.creds.TokenURL, err)
}

// drainRequest closes a request's body that will not be sent, as a
// RoundTripper must.
func drainRequest(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// tokenCache holds the current access token and fetches a new one when it
// is about to expire. One fetch at a time: concurrent requests wait for it
// rather than each asking the token endpoint.
type tokenCache struct {
	now   func() time.Time
	fetch func() (*oauth2.Token, error)

	mu        sync.Mutex
	tok       *oauth2.Token
	refreshAt time.Time
}

// maxEarlyRefresh is how long before expiry a token is replaced at most;
// short-lived tokens are replaced when a quarter of their life is left.
const maxEarlyRefresh = 10 * time.Second

func (c *tokenCache) get() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.tok != nil && now.Before(c.refreshAt) {
		return c.tok, nil
	}
	tok, err := c.fetch()
	if err != nil {
		return nil, err
	}
	c.tok = tok
	if tok.Expiry.IsZero() {
		c.refreshAt = now.Add(100 * 365 * 24 * time.Hour) // no expiry given: until refused
	} else {
		early := min(maxEarlyRefresh, tok.Expiry.Sub(now)/4)
		c.refreshAt = tok.Expiry.Add(-early)
	}
	return tok, nil
}

// invalidate drops tok if it is still the cached one.
func (c *tokenCache) invalidate(tok *oauth2.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == tok {
		c.tok = nil
	}
}

// classifyTransportError turns a TLS failure that no retry can fix into an
// AuthFailure: the core's certificate is not trusted, or the core refused
// the handshake (with mutual TLS: the client certificate). Other errors
// are returned unchanged.
func classifyTransportError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := AsAuthFailure(err); ok {
		return err
	}
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &verify):
		return &AuthFailure{Kind: AuthServerCertificate, Detail: "the core's TLS certificate is not trusted: " + verify.Err.Error(), Err: err}
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return &AuthFailure{Kind: AuthServerCertificate, Detail: "the core's TLS certificate is not trusted: " + err.Error(), Err: err}
	}
	// A TLS alert from the peer arrives as a *net.OpError "remote error";
	// with TLS 1.3 a refused client certificate is only seen on the first
	// read after the handshake.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && strings.HasPrefix(op.Err.Error(), "tls: ") {
		return &AuthFailure{Kind: AuthClientCertificate, Detail: "the core refused the TLS handshake (" + op.Err.Error() + ")", Err: err}
	}
	return err
}

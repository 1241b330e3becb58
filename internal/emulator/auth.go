package emulator

import (
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Authentication of the NEF and PCF APIs, off unless configured, so that
// the operator's OAuth2 client credentials and mutual TLS can be tested
// against something that refuses what a real core would refuse:
//
//   - OAuth2 (TS 33.501 §13.4.1, the token endpoint of TS 29.510 §5.4.2.2):
//     POST /oauth2/token with grant_type=client_credentials and the client
//     authenticated by HTTP Basic or client_id/client_secret in the form
//     (RFC 6749 §2.3.1) answers an AccessTokenRsp; the NEF and PCF APIs
//     then demand "Authorization: Bearer <token>" (RFC 6750), the PCF with
//     scope npcf-policyauthorization (TS 29.514 securitySchemes). Tokens
//     are opaque random strings held in memory, not the JWS of TS 29.510:
//     only the emulator reads them. They survive an admin reset (a core
//     restart forgets sessions; the NRF that issued the tokens does not
//     restart with it). nfInstanceId and the other AccessTokenReq
//     attributes are accepted and ignored.
//   - Mutual TLS: NEF and PCF calls must arrive over TLS with a client
//     certificate verified against the configured CAs (TLSFiles); the
//     handshake itself refuses a certificate from another CA, and calls on
//     the cleartext listener are answered 403.
//
// Refused calls get 401 or 403 with the API's ProblemDetails and, for
// OAuth2, a WWW-Authenticate challenge. The admin API (/admin/v1/...) and
// /healthz stay open on every listener: they are the tests' control
// channel, not part of the emulated core.

// DefaultTokenLifetime is an access token's lifetime unless configured.
const DefaultTokenLifetime = 10 * time.Minute

// scopePCF is the scope the PCF API demands (TS 29.514 securitySchemes).
// TS 29.122 declares no scope for AsSessionWithQoS: any valid token will do.
const scopePCF = "npcf-policyauthorization"

// knownScopes are the scopes the token endpoint grants.
var knownScopes = []string{scopePCF}

// AuthConfig makes the emulator demand credentials on the NEF and PCF APIs.
type AuthConfig struct {
	// Clients, when set, turns OAuth2 on. It returns the registered
	// clients (client ID to its valid secrets: two during a rotation) and
	// is called at every token request, so that a file behind it can be
	// changed at runtime to rotate secrets.
	Clients func() (map[string][]string, error)
	// TokenLifetime is how long an access token is valid
	// (DefaultTokenLifetime when zero). Short lifetimes exercise refresh.
	TokenLifetime time.Duration
	// RequireClientCert refuses NEF and PCF calls that did not arrive over
	// TLS with a verified client certificate.
	RequireClientCert bool
}

// AuthStats is what GET /admin/v1/auth answers: what the emulator's
// authentication accepted and refused, for tests to tell which credentials
// were used.
type AuthStats struct {
	Emulator  string `json:"emulator"`
	OAuth2    bool   `json:"oauth2"`
	MutualTLS bool   `json:"mutualTLS"`
	// TokensIssued and TokensRefused count token requests.
	TokensIssued  int64 `json:"tokensIssued"`
	TokensRefused int64 `json:"tokensRefused"`
	// CallsAccepted and CallsRefused count NEF and PCF calls.
	CallsAccepted int64 `json:"callsAccepted"`
	CallsRefused  int64 `json:"callsRefused"`
	// LastClientID is the client whose token the last accepted call bore.
	LastClientID string `json:"lastClientID,omitempty"`
	// LastClientCertificate is the certificate the last accepted call
	// arrived with over TLS.
	LastClientCertificate *CertificateInfo `json:"lastClientCertificate,omitempty"`
}

// CertificateInfo identifies a client certificate.
type CertificateInfo struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	// Serial is the serial number in lower-case hex.
	Serial string `json:"serial"`
}

// accessToken is an issued token.
type accessToken struct {
	clientID string
	scopes   []string
	expires  time.Time
}

// authState holds the issued tokens and the counters.
type authState struct {
	mu     sync.Mutex
	tokens map[string]accessToken
	stats  AuthStats
}

func (c AuthConfig) oauth2() bool { return c.Clients != nil }

func (c AuthConfig) tokenLifetime() time.Duration {
	if c.TokenLifetime <= 0 {
		return DefaultTokenLifetime
	}
	return c.TokenLifetime
}

func (s *Server) authRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/oauth2/token", s.tokenEndpoint)
	mux.HandleFunc("/admin/v1/auth", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			adminError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; allowed: GET", r.Method, r.URL.Path))
			return
		}
		s.auth.mu.Lock()
		st := s.auth.stats
		s.auth.mu.Unlock()
		st.Emulator = emulatorNote
		st.OAuth2 = s.cfg.Auth.oauth2()
		st.MutualTLS = s.cfg.Auth.RequireClientCert
		w.Header().Set("Content-Type", contentTypeJSON)
		_ = json.NewEncoder(w).Encode(st)
	})
}

// tokenErr is TS 29.510 AccessTokenErr (RFC 6749 §5.2).
type tokenErr struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// tokenRsp is TS 29.510 AccessTokenRsp.
type tokenRsp struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// tokenEndpoint is POST /oauth2/token (TS 29.510 §6.3.5.2.2).
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, code, format string, args ...any) {
		s.auth.mu.Lock()
		s.auth.stats.TokensRefused++
		s.auth.mu.Unlock()
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="medslice-core-emulator"`)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, contentTypeJSON, tokenErr{Error: code, Description: fmt.Sprintf(format, args...)})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if !s.cfg.Auth.oauth2() {
		refuse(http.StatusNotFound, "invalid_request", "OAuth2 is off on this emulator: start it with --oauth2-clients-file or --oauth2-client")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		refuse(http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded, got %q", r.Header.Get("Content-Type"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "invalid_request", "unreadable form: %v", err)
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		refuse(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials, got %q", gt)
		return
	}
	id, secret, ok := basicCredentials(r)
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		refuse(http.StatusUnauthorized, "invalid_client", "no client credentials: send them with HTTP Basic authentication or as client_id and client_secret")
		return
	}
	clients, err := s.cfg.Auth.Clients()
	if err != nil {
		s.log.Error("reading OAuth2 clients", "err", err)
		writeJSON(w, http.StatusInternalServerError, contentTypeProblem, map[string]any{
			"title": "Internal Server Error", "status": http.StatusInternalServerError, "detail": "reading the registered clients: " + err.Error(),
		})
		return
	}
	if !secretMatches(clients[id], secret) {
		// One answer for an unknown client and a wrong secret, as a
		// server should not tell which.
		refuse(http.StatusUnauthorized, "invalid_client", "client authentication failed: unknown client %q or wrong client secret", id)
		return
	}
	var scopes []string
	for sc := range strings.FieldsSeq(r.PostForm.Get("scope")) {
		if !slices.Contains(knownScopes, sc) {
			refuse(http.StatusBadRequest, "invalid_scope", "scope %q is not offered here; known scopes: %s", sc, strings.Join(knownScopes, " "))
			return
		}
		scopes = append(scopes, sc)
	}
	now := s.now()
	life := s.cfg.Auth.tokenLifetime()
	tok := newID() + newID()
	s.auth.mu.Lock()
	if s.auth.tokens == nil {
		s.auth.tokens = map[string]accessToken{}
	}
	for t, at := range s.auth.tokens {
		if !now.Before(at.expires) {
			delete(s.auth.tokens, t)
		}
	}
	s.auth.tokens[tok] = accessToken{clientID: id, scopes: scopes, expires: now.Add(life)}
	s.auth.stats.TokensIssued++
	s.auth.mu.Unlock()
	s.log.Debug("access token issued", "client", id, "scopes", scopes, "lifetime", life)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, contentTypeJSON, tokenRsp{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(life.Round(time.Second) / time.Second), Scope: strings.Join(scopes, " "),
	})
}

// secretMatches compares secret with every valid one in constant time.
func secretMatches(valid []string, secret string) bool {
	ok := 0
	for _, v := range valid {
		ok |= subtle.ConstantTimeCompare([]byte(secret), []byte(v))
	}
	return ok == 1
}

// basicCredentials reads HTTP Basic client credentials, which RFC 6749
// §2.3.1 form-encodes before they are put in the header.
func basicCredentials(r *http.Request) (id, secret string, ok bool) {
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(u)
	secret, err2 := url.QueryUnescape(p)
	if err1 != nil || err2 != nil {
		return u, p, true
	}
	return id, secret, true
}

// authorize checks a NEF or PCF call's credentials; when they are missing
// or refused it writes the answer and returns false.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, api API) bool {
	a := s.cfg.Auth
	if !a.oauth2() && !a.RequireClientCert {
		return true
	}
	refuse := func(status int, challenge, format string, args ...any) bool {
		s.auth.mu.Lock()
		s.auth.stats.CallsRefused++
		s.auth.mu.Unlock()
		if challenge != "" {
			w.Header().Set("WWW-Authenticate", challenge)
		}
		p := newProblem(status, "", format, args...)
		s.log.Info("call refused", "api", api, "method", r.Method, "path", r.URL.Path, "status", status, "detail", p.detail)
		writeProblem(w, api, p)
		return false
	}
	var clientID string
	if a.oauth2() {
		const realm = `Bearer realm="medslice-core-emulator"`
		auth := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(auth, " ")
		if auth == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return refuse(http.StatusUnauthorized, realm,
				"no access token: get one from POST /oauth2/token (grant_type=client_credentials) and send it as Authorization: Bearer <token>")
		}
		s.auth.mu.Lock()
		at, ok := s.auth.tokens[tok]
		s.auth.mu.Unlock()
		switch {
		case !ok:
			return refuse(http.StatusUnauthorized, realm+`, error="invalid_token", error_description="unknown access token"`,
				"the access token is not one this core issued")
		case !s.now().Before(at.expires):
			return refuse(http.StatusUnauthorized, realm+`, error="invalid_token", error_description="the access token expired"`,
				"the access token expired at %s: get a new one", at.expires.UTC().Format(time.RFC3339))
		case api == APIPCF && !slices.Contains(at.scopes, scopePCF):
			return refuse(http.StatusForbidden, realm+`, error="insufficient_scope", scope="`+scopePCF+`"`,
				"the access token of client %q lacks scope %s, which the PCF's Npcf_PolicyAuthorization API needs", at.clientID, scopePCF)
		}
		clientID = at.clientID
	}
	var cert *CertificateInfo
	if a.RequireClientCert {
		// The handshake verified the certificate against the client CAs
		// (TLSFiles); a connection without one got no further.
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			return refuse(http.StatusForbidden, "",
				"this core requires mutual TLS: call its https:// listener with a client certificate issued by one of its client CAs")
		}
		cert = certificateInfo(r.TLS.PeerCertificates[0])
	}
	s.auth.mu.Lock()
	s.auth.stats.CallsAccepted++
	if clientID != "" {
		s.auth.stats.LastClientID = clientID
	}
	if cert != nil {
		s.auth.stats.LastClientCertificate = cert
	}
	s.auth.mu.Unlock()
	return true
}

func certificateInfo(c *x509.Certificate) *CertificateInfo {
	return &CertificateInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: fmt.Sprintf("%x", c.SerialNumber)}
}

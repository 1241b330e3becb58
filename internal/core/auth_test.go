package core

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/medslice/medslice/internal/testpki"
)

// authCore is a PCF that demands a bearer token issued by its own token
// endpoint (/oauth2/token) and answers a ping (GET of an unknown app
// session) with the 404 ProblemDetails a PCF sends.
type authCore struct {
	clientID, secret string
	lifetime         time.Duration
	// tokenStatus, when set, is the token endpoint's answer instead.
	tokenStatus atomic.Int32

	mu      sync.Mutex
	tokens  map[string]time.Time
	issued  int
	scopes  []string
	bearers []string
}

func newAuthCore() *authCore {
	return &authCore{clientID: "medslice", secret: "s3cret", lifetime: time.Hour, tokens: map[string]time.Time{}}
}

func (c *authCore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth2/token" {
		c.token(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	tok := strings.TrimPrefix(auth, "Bearer ")
	c.mu.Lock()
	exp, ok := c.tokens[tok]
	c.bearers = append(c.bearers, tok)
	c.mu.Unlock()
	if !ok || time.Now().After(exp) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeProblem(w, http.StatusUnauthorized, "", "no valid access token")
		return
	}
	writeProblem(w, http.StatusNotFound, "APPLICATION_SESSION_CONTEXT_NOT_FOUND", "no such app session")
}

func (c *authCore) token(w http.ResponseWriter, r *http.Request) {
	if s := c.tokenStatus.Load(); s != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s))
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "temporarily_unavailable"})
		return
	}
	id, secret, _ := r.BasicAuth()
	_ = r.ParseForm()
	if r.PostForm.Get("grant_type") != "client_credentials" || id != c.clientID || secret != c.secret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": "unknown client or wrong secret"})
		return
	}
	c.mu.Lock()
	c.issued++
	tok := fmt.Sprintf("token-%d", c.issued)
	c.tokens[tok] = time.Now().Add(c.lifetime)
	c.scopes = append(c.scopes, r.PostForm.Get("scope"))
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(c.lifetime / time.Second),
	})
}

func (c *authCore) forgetTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = map[string]time.Time{}
}

func (c *authCore) counts() (issued int, bearers []string, scopes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.issued, append([]string(nil), c.bearers...), append([]string(nil), c.scopes...)
}

func pcfWith(t *testing.T, endpoint string, cred Credentials) *PCFClient {
	t.Helper()
	c, err := NewPCFClient(endpoint, NewAuthenticatedHTTPClient(testTimeout, cred))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func oauth2For(srv *httptest.Server, id, secret string) *OAuth2Credentials {
	return &OAuth2Credentials{TokenURL: srv.URL + "/oauth2/token", ClientID: id, ClientSecret: secret, Scopes: []string{PCFScope}}
}

// TestOAuth2TokenFetchedOnceAndSent protects the basic contract: one token
// for many calls, sent as a bearer token, asked for with the PCF's scope.
func TestOAuth2TokenFetchedOnceAndSent(t *testing.T) {
	ac := newAuthCore()
	srv := newH2CServer(t, ac)
	pcf := pcfWith(t, srv.URL, Credentials{OAuth2: oauth2For(srv, "medslice", "s3cret")})
	for range 5 {
		if err := pcf.Ping(context.Background()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
	issued, bearers, scopes := ac.counts()
	if issued != 1 {
		t.Errorf("tokens issued = %d, want 1 for 5 calls", issued)
	}
	for _, b := range bearers {
		if b != "token-1" {
			t.Errorf("call bore %q, want token-1", b)
		}
	}
	if len(scopes) != 1 || scopes[0] != PCFScope {
		t.Errorf("scopes asked = %q, want [%q]", scopes, PCFScope)
	}
}

// TestOAuth2RefreshOnExpiry protects refresh: a token about to expire is
// replaced before a call, without the call failing.
func TestOAuth2RefreshOnExpiry(t *testing.T) {
	ac := newAuthCore()
	ac.lifetime = 2 * time.Second // refreshed when half a second is left
	srv := newH2CServer(t, ac)
	pcf := pcfWith(t, srv.URL, Credentials{OAuth2: oauth2For(srv, "medslice", "s3cret")})
	deadline := time.Now().Add(20 * time.Second)
	calls := 0
	for {
		if err := pcf.Ping(context.Background()); err != nil {
			t.Fatalf("Ping %d: %v", calls, err)
		}
		calls++
		if issued, _, _ := ac.counts(); issued >= 3 {
			t.Logf("3 tokens issued over %d calls, none refused", calls)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refresh within 20s (%d calls)", calls)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTokenCache protects the refresh schedule: a quarter of a short
// token's life, at most 10s, before it expires; one fetch for many gets.
func TestTokenCache(t *testing.T) {
	now := time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC)
	fetches := 0
	tc := &tokenCache{
		now: func() time.Time { return now },
		fetch: func() (*oauth2.Token, error) {
			fetches++
			return &oauth2.Token{AccessToken: fmt.Sprint(fetches), Expiry: now.Add(4 * time.Second)}, nil
		},
	}
	get := func() string {
		tok, err := tc.get()
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	if got := get(); got != "1" {
		t.Fatalf("first token %q", got)
	}
	now = now.Add(2900 * time.Millisecond)
	if got := get(); got != "1" {
		t.Errorf("at 2.9s of 4s: token %q, want the cached 1", got)
	}
	now = now.Add(200 * time.Millisecond)
	if got := get(); got != "2" {
		t.Errorf("at 3.1s of 4s: token %q, want a fresh 2", got)
	}
	tok, _ := tc.get()
	tc.invalidate(tok)
	if got := get(); got != "3" {
		t.Errorf("after invalidate: token %q, want a fresh 3", got)
	}
}

// TestOAuth2RetryAfterCoreForgotToken protects recovery when the core no
// longer knows a cached token (it restarted): one 401, a fresh token, the
// call succeeds.
func TestOAuth2RetryAfterCoreForgotToken(t *testing.T) {
	ac := newAuthCore()
	srv := newH2CServer(t, ac)
	pcf := pcfWith(t, srv.URL, Credentials{OAuth2: oauth2For(srv, "medslice", "s3cret")})
	if err := pcf.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	ac.forgetTokens()
	if err := pcf.Ping(context.Background()); err != nil {
		t.Fatalf("Ping after the core forgot its tokens: %v", err)
	}
	if issued, _, _ := ac.counts(); issued != 2 {
		t.Errorf("tokens issued = %d, want 2", issued)
	}
}

// TestOAuth2Refused protects the classification a CoreNetwork's message
// rests on: a refusal of the client is an AuthFailure naming the endpoint,
// the client and what the server said, and is not retried; an endpoint
// that is down is an ordinary, retryable error.
func TestOAuth2Refused(t *testing.T) {
	ac := newAuthCore()
	srv := newH2CServer(t, ac)

	err := pcfWith(t, srv.URL, Credentials{OAuth2: oauth2For(srv, "medslice", "wrong")}).Ping(context.Background())
	af, ok := AsAuthFailure(err)
	if !ok || af.Kind != AuthTokenRefused {
		t.Fatalf("wrong secret: %v, want an AuthFailure of kind %s", err, AuthTokenRefused)
	}
	for _, want := range []string{srv.URL + "/oauth2/token", `"medslice"`, "401", "invalid_client", "unknown client or wrong secret"} {
		if !strings.Contains(af.Detail, want) {
			t.Errorf("detail %q lacks %q", af.Detail, want)
		}
	}
	if IsRetryable(err) {
		t.Error("a refused client is retryable")
	}

	ac.tokenStatus.Store(http.StatusServiceUnavailable)
	err = pcfWith(t, srv.URL, Credentials{OAuth2: oauth2For(srv, "medslice", "s3cret")}).Ping(context.Background())
	if _, ok := AsAuthFailure(err); ok || err == nil {
		t.Fatalf("token endpoint 503: %v, want an ordinary error", err)
	}
	if !IsRetryable(err) {
		t.Errorf("token endpoint 503 is not retryable: %v", err)
	}
}

// TestAccessDenied protects what counts as refused credentials among the
// core's answers: 401, and 403 with a challenge; not a plain 403.
func TestAccessDenied(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		challenge string
		wantAuth  bool
	}{
		{"401 without credentials", http.StatusUnauthorized, `Bearer realm="core"`, true},
		{"403 insufficient scope", http.StatusForbidden, `Bearer error="insufficient_scope"`, true},
		{"403 of the API itself", http.StatusForbidden, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tc.challenge != "" {
					w.Header().Set("WWW-Authenticate", tc.challenge)
				}
				writeProblem(w, tc.status, "", "refused")
			}))
			err := pcfWith(t, srv.URL, Credentials{}).Ping(context.Background())
			af, ok := AsAuthFailure(err)
			if ok != tc.wantAuth {
				t.Fatalf("err %v: AuthFailure %v, want %v", err, ok, tc.wantAuth)
			}
			if ok && (af.Kind != AuthAccessDenied || !strings.Contains(af.Detail, fmt.Sprint(tc.status))) {
				t.Errorf("AuthFailure %+v", af)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.StatusCode != tc.status {
				t.Errorf("err %v does not carry the core's status %d", err, tc.status)
			}
		})
	}
}

// tlsCore serves the fake PCF over TLS with a certificate from serverCA,
// demanding client certificates from clientCA when it is not nil.
func tlsCore(t *testing.T, serverCA, clientCA *testpki.CA) *httptest.Server {
	t.Helper()
	pair, err := serverCA.Server(nil, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			t.Errorf("%s over %s, want HTTP/2", r.URL.Path, r.Proto)
		}
		writeProblem(w, http.StatusNotFound, "APPLICATION_SESSION_CONTEXT_NOT_FOUND", "no such app session")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		srv.TLS.ClientCAs = testpki.Pool(clientCA)
	}
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func mustCA(t *testing.T, name string) *testpki.CA {
	t.Helper()
	ca, err := testpki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func clientCert(t *testing.T, ca *testpki.CA) *tls.Certificate {
	t.Helper()
	pair, err := ca.Client("medslice-operator", testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return &cert
}

// TestMutualTLS protects the handshake outcomes a CoreNetwork reports:
// accepted with the right certificate and CA; the core's certificate
// untrusted; the client certificate refused or missing.
func TestMutualTLS(t *testing.T) {
	coreCA, clientCA, otherCA := mustCA(t, "core CA"), mustCA(t, "client CA"), mustCA(t, "other CA")
	srv := tlsCore(t, coreCA, clientCA)
	for _, tc := range []struct {
		name     string
		cred     Credentials
		wantKind AuthKind // empty: success
		wantText string
	}{
		{"accepted", Credentials{TLS: TLSConfig(clientCert(t, clientCA), testpki.Pool(coreCA))}, "", ""},
		{"core certificate from an untrusted CA", Credentials{TLS: TLSConfig(clientCert(t, clientCA), testpki.Pool(otherCA))},
			AuthServerCertificate, "certificate signed by unknown authority"},
		{"client certificate from another CA", Credentials{TLS: TLSConfig(clientCert(t, otherCA), testpki.Pool(coreCA))},
			AuthClientCertificate, "asked for a client certificate issued by CN=client CA,O=medslice tests and this client's certificate (CN=medslice-operator,O=medslice tests, issued by CN=other CA,O=medslice tests) does not qualify"},
		{"no client certificate", Credentials{TLS: TLSConfig(nil, testpki.Pool(coreCA))},
			AuthClientCertificate, "asked for a client certificate issued by CN=client CA,O=medslice tests and this client has none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := pcfWith(t, srv.URL, tc.cred).Ping(context.Background())
			if tc.wantKind == "" {
				if err != nil {
					t.Fatalf("Ping: %v", err)
				}
				return
			}
			af, ok := AsAuthFailure(err)
			if !ok || af.Kind != tc.wantKind {
				t.Fatalf("err %v, want an AuthFailure of kind %s", err, tc.wantKind)
			}
			if !strings.Contains(af.Detail, tc.wantText) {
				t.Errorf("detail %q lacks %q", af.Detail, tc.wantText)
			}
			if IsRetryable(err) {
				t.Error("a TLS refusal is retryable")
			}
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// TestOAuth2OverMutualTLS protects the combination: the token endpoint is
// reached with the same client certificate and CAs as the core.
func TestOAuth2OverMutualTLS(t *testing.T) {
	coreCA, clientCA := mustCA(t, "core CA"), mustCA(t, "client CA")
	ac := newAuthCore()
	pair, err := coreCA.Server(nil, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(ac)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: testpki.Pool(clientCA)}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pcf := pcfWith(t, srv.URL, Credentials{
		OAuth2: oauth2For(srv, "medslice", "s3cret"),
		TLS:    TLSConfig(clientCert(t, clientCA), testpki.Pool(coreCA)),
	})
	if err := pcf.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if issued, _, _ := ac.counts(); issued != 1 {
		t.Errorf("tokens issued = %d, want 1", issued)
	}
}

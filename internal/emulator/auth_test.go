package emulator

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/testpki"
)

// clientBook is a registry of OAuth2 clients a test can change at runtime.
type clientBook struct {
	mu      sync.Mutex
	clients map[string][]string
}

func (b *clientBook) get() (map[string][]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string][]string{}
	for k, v := range b.clients {
		out[k] = append([]string(nil), v...)
	}
	return out, nil
}

func (b *clientBook) set(id string, secrets ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients[id] = secrets
}

func withOAuth2(book *clientBook, lifetime time.Duration) envOption {
	return func(cfg *Config) {
		cfg.Auth.Clients = book.get
		cfg.Auth.TokenLifetime = lifetime
	}
}

// tokenRequest posts a token request; basic selects HTTP Basic client
// authentication, else the form carries the credentials.
func tokenRequest(t *testing.T, e *env, form url.Values, id, secret string, basic bool) answer {
	t.Helper()
	if !basic && id != "" {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
	}
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return do(t, noRedirectClient, req)
}

func do(t *testing.T, c *http.Client, req *http.Request) answer {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b, proto: resp.ProtoMajor}
}

func grant(scope string) url.Values {
	v := url.Values{"grant_type": {"client_credentials"}, "nfInstanceId": {"3fa85f64-5717-4562-b3fc-2c963f66afa6"}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return v
}

// bearerGet GETs url with token as bearer (none when empty).
func bearerGet(t *testing.T, c *http.Client, u, token string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if c == nil {
		c = noRedirectClient
	}
	return do(t, c, req)
}

// TestTokenEndpoint protects the token endpoint's contract: TS 29.510
// AccessTokenRsp for a registered client authenticated either way, and an
// AccessTokenErr naming what is wrong otherwise.
func TestTokenEndpoint(t *testing.T) {
	book := &clientBook{clients: map[string][]string{"medslice": {"s3cret:with/odd+chars"}}}
	e := newEnv(t, withOAuth2(book, 90*time.Second))
	const secret = "s3cret:with/odd+chars"

	for _, basic := range []bool{true, false} {
		a := tokenRequest(t, e, grant(scopePCF), "medslice", secret, basic)
		wantStatus(t, a, http.StatusOK)
		rsp := decode[tokenRsp](t, a)
		if rsp.AccessToken == "" || rsp.TokenType != "Bearer" || rsp.ExpiresIn != 90 || rsp.Scope != scopePCF {
			t.Errorf("basic=%v: AccessTokenRsp %+v", basic, rsp)
		}
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
	}

	for _, tc := range []struct {
		name       string
		form       url.Values
		id, secret string
		ctype      string
		wantStatus int
		wantError  string
	}{
		{"wrong secret", grant(""), "medslice", "nope", "", http.StatusUnauthorized, "invalid_client"},
		{"unknown client", grant(""), "intruder", secret, "", http.StatusUnauthorized, "invalid_client"},
		{"no credentials", grant(""), "", "", "", http.StatusUnauthorized, "invalid_client"},
		{"other grant", url.Values{"grant_type": {"password"}}, "medslice", secret, "", http.StatusBadRequest, "unsupported_grant_type"},
		{"unknown scope", grant("nudm-sdm"), "medslice", secret, "", http.StatusBadRequest, "invalid_scope"},
		{"JSON body", grant(""), "medslice", secret, "application/json", http.StatusBadRequest, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a answer
			if tc.ctype != "" {
				a = call(t, nil, http.MethodPost, e.ts.URL+"/oauth2/token", tc.ctype, `{"grant_type":"client_credentials"}`)
			} else {
				a = tokenRequest(t, e, tc.form, tc.id, tc.secret, true)
			}
			wantStatus(t, a, tc.wantStatus)
			te := decode[tokenErr](t, a)
			if te.Error != tc.wantError || te.Description == "" {
				t.Errorf("AccessTokenErr %+v, want error %s with a description", te, tc.wantError)
			}
			if tc.wantStatus == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

// TestBearerTokensEnforced protects the APIs' side: no token, an unknown
// one, an expired one and one without the PCF's scope are each refused
// with a ProblemDetails and a challenge; the admin API stays open.
func TestBearerTokensEnforced(t *testing.T) {
	book := &clientBook{clients: map[string][]string{"medslice": {"s3cret"}}}
	e := newEnv(t, withOAuth2(book, time.Minute))
	token := func(scope string) string {
		a := tokenRequest(t, e, grant(scope), "medslice", "s3cret", true)
		wantStatus(t, a, http.StatusOK)
		return decode[tokenRsp](t, a).AccessToken
	}
	pcfTok, nefTok := token(scopePCF), token("")
	unknownApp := e.pcfURL() + "/no-such-session"

	for _, tc := range []struct {
		name, url, token string
		wantStatus       int
		wantChallenge    string
	}{
		{"PCF without token", unknownApp, "", http.StatusUnauthorized, `Bearer realm=`},
		{"PCF with an unknown token", unknownApp, "forged", http.StatusUnauthorized, `error="invalid_token"`},
		{"PCF with a token without its scope", unknownApp, nefTok, http.StatusForbidden, `error="insufficient_scope"`},
		{"PCF with its scope", unknownApp, pcfTok, http.StatusNotFound, ""},
		{"NEF without token", e.nefURL("hospital"), "", http.StatusUnauthorized, `Bearer realm=`},
		{"NEF with any valid token", e.nefURL("hospital"), nefTok, http.StatusOK, ""},
		{"admin API without token", e.ts.URL + "/admin/v1/sessions", "", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bearerGet(t, nil, tc.url, tc.token)
			wantStatus(t, a, tc.wantStatus)
			if tc.wantChallenge == "" {
				return
			}
			if ch := a.header.Get("WWW-Authenticate"); !strings.Contains(ch, tc.wantChallenge) {
				t.Errorf("WWW-Authenticate %q lacks %q", ch, tc.wantChallenge)
			}
			if pd := problemOf(t, a); pd.Status != int32(tc.wantStatus) || pd.Detail == "" {
				t.Errorf("ProblemDetails %+v", pd)
			}
		})
	}

	e.clock.Advance(time.Minute)
	a := bearerGet(t, nil, unknownApp, pcfTok)
	wantStatus(t, a, http.StatusUnauthorized)
	if ch := a.header.Get("WWW-Authenticate"); !strings.Contains(ch, "expired") {
		t.Errorf("expired token: WWW-Authenticate %q does not say it expired", ch)
	}
}

// TestClientSecretRotation protects rotation on the core's side: during a
// rotation both secrets are accepted, afterwards only the new one, and
// tokens already issued stay valid until they expire.
func TestClientSecretRotation(t *testing.T) {
	book := &clientBook{clients: map[string][]string{"medslice": {"old"}}}
	e := newEnv(t, withOAuth2(book, time.Hour))
	a := tokenRequest(t, e, grant(""), "medslice", "old", true)
	wantStatus(t, a, http.StatusOK)
	oldTok := decode[tokenRsp](t, a).AccessToken

	book.set("medslice", "old", "new")
	wantStatus(t, tokenRequest(t, e, grant(""), "medslice", "old", true), http.StatusOK)
	wantStatus(t, tokenRequest(t, e, grant(""), "medslice", "new", true), http.StatusOK)

	book.set("medslice", "new")
	wantStatus(t, tokenRequest(t, e, grant(""), "medslice", "old", true), http.StatusUnauthorized)
	wantStatus(t, tokenRequest(t, e, grant(""), "medslice", "new", true), http.StatusOK)
	wantStatus(t, bearerGet(t, nil, e.nefURL("hospital"), oldTok), http.StatusOK)

	st := decode[AuthStats](t, bearerGet(t, nil, e.ts.URL+"/admin/v1/auth", ""))
	if st.TokensIssued != 4 || st.TokensRefused != 1 || st.LastClientID != "medslice" || !st.OAuth2 {
		t.Errorf("auth stats %+v", st)
	}
}

// tlsEnv serves the emulator demanding mutual TLS, with its TLS files in a
// directory the test can rewrite.
type tlsEnv struct {
	*env
	tlsURL           string
	dir              string
	coreCA, clientCA *testpki.CA
	certFile, caFile string
}

func newTLSEnv(t *testing.T) *tlsEnv {
	t.Helper()
	e := newEnv(t, func(cfg *Config) { cfg.Auth.RequireClientCert = true })
	te := &tlsEnv{env: e, dir: t.TempDir()}
	var err error
	if te.coreCA, err = testpki.NewCA("core CA"); err != nil {
		t.Fatal(err)
	}
	if te.clientCA, err = testpki.NewCA("client CA"); err != nil {
		t.Fatal(err)
	}
	te.writeServerCert(t, te.coreCA)
	te.caFile = te.write(t, "client-ca.crt", te.clientCA.CertPEM)
	cfg, err := TLSFiles{CertFile: te.certFile, KeyFile: te.dir + "/server.key", ClientCAFile: te.caFile}.TLSConfig(discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	te.tlsURL = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.srv.ServeTLS(ctx, ln, cfg); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return te
}

func (te *tlsEnv) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p, err := testpki.WriteFile(te.dir, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeServerCert writes a server certificate from ca and returns its serial.
func (te *tlsEnv) writeServerCert(t *testing.T, ca *testpki.CA) string {
	t.Helper()
	pair, err := ca.Server(nil, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The key first: a handshake between the two writes fails to load the
	// pair and keeps serving the previous one.
	te.write(t, "server.key", pair.KeyPEM)
	te.certFile = te.write(t, "server.crt", pair.CertPEM)
	return pair.Serial
}

// client returns an HTTP client presenting a certificate of clientCA (none
// when clientCA is nil) and trusting roots; each has its own connections.
func (te *tlsEnv) client(t *testing.T, clientCA *testpki.CA, roots ...*testpki.CA) (*http.Client, *string) {
	t.Helper()
	cfg := &tls.Config{RootCAs: testpki.Pool(roots...), MinVersion: tls.VersionTLS12}
	if clientCA != nil {
		pair, err := clientCA.Client("medslice-operator", testpki.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cert, err := pair.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	var serverSerial string
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		serverSerial = cs.PeerCertificates[0].SerialNumber.Text(16)
		return nil
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, &serverSerial
}

// TestMutualTLSEnforced protects mutual TLS: a client certificate of the
// client CA is accepted (and reported by the admin API); one of another CA
// or none fails the handshake; a call on the cleartext listener gets 403.
func TestMutualTLSEnforced(t *testing.T) {
	te := newTLSEnv(t)
	u := te.tlsURL + "/3gpp-as-session-with-qos/v1/hospital/subscriptions"

	good, _ := te.client(t, te.clientCA, te.coreCA)
	a := bearerGet(t, good, u, "")
	wantStatus(t, a, http.StatusOK)
	if a.proto != 2 {
		t.Errorf("HTTP/%d over TLS, want HTTP/2 by ALPN", a.proto)
	}
	st := decode[AuthStats](t, bearerGet(t, nil, te.ts.URL+"/admin/v1/auth", ""))
	if c := st.LastClientCertificate; c == nil || !strings.Contains(c.Subject, "medslice-operator") || !strings.Contains(c.Issuer, "client CA") {
		t.Errorf("last client certificate %+v", st.LastClientCertificate)
	}

	other, err := testpki.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	for name, ca := range map[string]*testpki.CA{"certificate of another CA": other, "no certificate": nil} {
		c, _ := te.client(t, ca, te.coreCA)
		if _, err := c.Get(u); err == nil {
			t.Errorf("%s: call accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}

	a = call(t, nil, http.MethodGet, te.nefURL("hospital"), "", nil)
	wantStatus(t, a, http.StatusForbidden)
	if pd := problemOf(t, a); !strings.Contains(pd.Detail, "requires mutual TLS") {
		t.Errorf("cleartext call: %+v", pd)
	}
}

// TestTLSFilesRotation protects rotation on the core's side without a
// restart: a new server certificate and a new client CA file are used from
// the next handshake on.
func TestTLSFilesRotation(t *testing.T) {
	te := newTLSEnv(t)
	u := te.tlsURL + "/3gpp-as-session-with-qos/v1/hospital/subscriptions"

	// Server certificate from a new CA; clients trusting both see it.
	newCoreCA, err := testpki.NewCA("core CA 2")
	if err != nil {
		t.Fatal(err)
	}
	serial := te.writeServerCert(t, newCoreCA)
	c, seen := te.client(t, te.clientCA, te.coreCA, newCoreCA)
	wantStatus(t, bearerGet(t, c, u, ""), http.StatusOK)
	if *seen != serial {
		t.Errorf("server certificate serial %s after rotation, want %s", *seen, serial)
	}

	// Client CA replaced: certificates of the old one are refused from
	// the next handshake, those of the new one accepted.
	newClientCA, err := testpki.NewCA("client CA 2")
	if err != nil {
		t.Fatal(err)
	}
	te.write(t, "client-ca.crt", newClientCA.CertPEM)
	old, _ := te.client(t, te.clientCA, newCoreCA)
	if _, err := old.Get(u); err == nil {
		t.Error("a certificate of the dropped client CA is still accepted")
	}
	fresh, _ := te.client(t, newClientCA, newCoreCA)
	wantStatus(t, bearerGet(t, fresh, u, ""), http.StatusOK)
}

// TestAuthStatsJSON pins the admin answer's field names, which tests and
// people read.
func TestAuthStatsJSON(t *testing.T) {
	b, err := json.Marshal(AuthStats{LastClientCertificate: &CertificateInfo{Serial: "ab"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"tokensIssued"`, `"callsRefused"`, `"lastClientCertificate"`, `"serial":"ab"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("%s lacks %s", b, k)
		}
	}
}

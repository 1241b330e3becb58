package coreconn

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/emulator"
	"github.com/medslice/medslice/internal/scheme"
	"github.com/medslice/medslice/internal/testpki"
)

const (
	namespace   = "medslice-system"
	testTimeout = 5 * time.Second
)

// authEmulator is a core emulator that demands OAuth2 tokens and mutual
// TLS, served in-process on a cleartext and a TLS listener.
type authEmulator struct {
	url, tlsURL string
	dir         string
	coreCA      *testpki.CA
	clientCA    *testpki.CA

	mu      sync.Mutex
	clients map[string][]string
}

func startAuthEmulator(t *testing.T, oauth2, mtls bool) *authEmulator {
	t.Helper()
	e := &authEmulator{dir: t.TempDir(), clients: map[string][]string{"medslice": {"s3cret"}}}
	e.coreCA, e.clientCA = mustCA(t, "core CA"), mustCA(t, "client CA")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := emulator.Config{Logger: logger, Auth: emulator.AuthConfig{RequireClientCert: mtls}}
	if oauth2 {
		cfg.Auth.Clients = func() (map[string][]string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			out := map[string][]string{}
			for k, v := range e.clients {
				out[k] = append([]string(nil), v...)
			}
			return out, nil
		}
	}
	srv, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	done := make(chan struct{}, 2)
	go func() { _ = srv.Serve(ctx, ln, time.Second); done <- struct{}{} }()

	pair, err := e.coreCA.Server(nil, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	files := emulator.TLSFiles{
		CertFile: e.write(t, "server.crt", pair.CertPEM),
		KeyFile:  e.write(t, "server.key", pair.KeyPEM),
	}
	if mtls {
		files.ClientCAFile = e.write(t, "client-ca.crt", e.clientCA.CertPEM)
	}
	tlsCfg, err := files.TLSConfig(logger)
	if err != nil {
		t.Fatal(err)
	}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.tlsURL = "https://" + tln.Addr().String()
	go func() { _ = srv.ServeTLS(ctx, tln, tlsCfg); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return e
}

func (e *authEmulator) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p, err := testpki.WriteFile(e.dir, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *authEmulator) setClientSecrets(secrets ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clients["medslice"] = secrets
}

func (e *authEmulator) stats(t *testing.T) emulator.AuthStats {
	t.Helper()
	resp, err := http.Get(e.url + "/admin/v1/auth")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st emulator.AuthStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func mustCA(t *testing.T, name string) *testpki.CA {
	t.Helper()
	ca, err := testpki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func clientPair(t *testing.T, ca *testpki.CA, o testpki.Options) testpki.Pair {
	t.Helper()
	p, err := ca.Client("medslice-operator", o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func oauth2Secret(name, tokenURL, id, secret string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data: map[string][]byte{
			KeyTokenURL: []byte(tokenURL), KeyClientID: []byte(id), KeyClientSecret: []byte(secret),
		},
	}
}

func tlsSecret(name string, p testpki.Pair, ca []byte) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: p.CertPEM, corev1.TLSPrivateKeyKey: p.KeyPEM},
	}
	if ca != nil {
		s.Data[KeyCACert] = ca
	}
	return s
}

func pcfCore(endpoint string, auth v1alpha1.CoreAuth) *v1alpha1.CoreNetwork {
	return &v1alpha1.CoreNetwork{
		ObjectMeta: metav1.ObjectMeta{Name: "campus", UID: "uid-1", Generation: 1},
		Spec: v1alpha1.CoreNetworkSpec{
			API: v1alpha1.CoreAPIPCF, Endpoint: endpoint, NotificationBaseURL: "http://127.0.0.1:1", Auth: auth,
		},
	}
}

func newPool(objs ...client.Object) (*Pool, client.Client) {
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(objs...).Build()
	return &Pool{Timeout: testTimeout, Secrets: c, Namespace: namespace}, c
}

func ref(name string) *v1alpha1.SecretKeyRef { return &v1alpha1.SecretKeyRef{Name: name} }

// wantAuthFailure checks that err is an AuthFailure of kind whose message
// holds every one of wants.
func wantAuthFailure(t *testing.T, err error, kind core.AuthKind, wants ...string) {
	t.Helper()
	af, ok := core.AsAuthFailure(err)
	if !ok || af.Kind != kind {
		t.Fatalf("err = %v, want an AuthFailure of kind %s", err, kind)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err.Error(), w)
		}
	}
	t.Logf("%s: %v", kind, err)
}

// TestCredentialsFromSecrets protects the messages a CoreNetwork shows for
// credentials the operator cannot use: each names the Secret and the key
// to fix, and nothing is sent to the core.
func TestCredentialsFromSecrets(t *testing.T) {
	ca := mustCA(t, "client CA")
	good := clientPair(t, ca, testpki.Options{})
	expired := clientPair(t, ca, testpki.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	other := clientPair(t, ca, testpki.Options{})
	for _, tc := range []struct {
		name    string
		secrets []client.Object
		auth    v1alpha1.CoreAuth
		wants   []string
	}{
		{
			name:  "OAuth2 Secret missing",
			auth:  v1alpha1.CoreAuth{OAuth2: ref("campus-oauth2")},
			wants: []string{"Secret medslice-system/campus-oauth2 named by spec.auth.oauth2 does not exist", "tokenURL, clientID and clientSecret"},
		},
		{
			name:    "OAuth2 Secret lacks keys",
			secrets: []client.Object{oauth2Secret("campus-oauth2", "https://nrf.example/oauth2/token", "medslice", "")},
			auth:    v1alpha1.CoreAuth{OAuth2: ref("campus-oauth2")},
			wants:   []string{"Secret medslice-system/campus-oauth2 lacks key clientSecret"},
		},
		{
			name:    "tokenURL not a URL",
			secrets: []client.Object{oauth2Secret("campus-oauth2", "nrf.example", "medslice", "x")},
			auth:    v1alpha1.CoreAuth{OAuth2: ref("campus-oauth2")},
			wants:   []string{`key tokenURL of Secret medslice-system/campus-oauth2 is "nrf.example"`},
		},
		{
			name:  "TLS Secret missing",
			auth:  v1alpha1.CoreAuth{TLS: ref("campus-tls")},
			wants: []string{"Secret medslice-system/campus-tls named by spec.auth.tls does not exist", "kubernetes.io/tls"},
		},
		{
			name: "TLS Secret lacks tls.key",
			secrets: []client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "campus-tls"},
				Data: map[string][]byte{corev1.TLSCertKey: good.CertPEM}}},
			auth:  v1alpha1.CoreAuth{TLS: ref("campus-tls")},
			wants: []string{"Secret medslice-system/campus-tls lacks key tls.key"},
		},
		{
			name:    "tls.crt not PEM",
			secrets: []client.Object{tlsSecret("campus-tls", testpki.Pair{CertPEM: []byte("not a certificate"), KeyPEM: good.KeyPEM}, nil)},
			auth:    v1alpha1.CoreAuth{TLS: ref("campus-tls")},
			wants:   []string{"key tls.crt of Secret medslice-system/campus-tls holds no PEM certificate"},
		},
		{
			name:    "key of another certificate",
			secrets: []client.Object{tlsSecret("campus-tls", testpki.Pair{CertPEM: good.CertPEM, KeyPEM: other.KeyPEM}, nil)},
			auth:    v1alpha1.CoreAuth{TLS: ref("campus-tls")},
			wants:   []string{"keys tls.crt and tls.key of Secret medslice-system/campus-tls are not a usable certificate and key", "private key does not match"},
		},
		{
			name:    "expired certificate",
			secrets: []client.Object{tlsSecret("campus-tls", expired, nil)},
			auth:    v1alpha1.CoreAuth{TLS: ref("campus-tls")},
			wants:   []string{"the certificate in tls.crt of Secret medslice-system/campus-tls (medslice-operator) expired at"},
		},
		{
			name:    "ca.crt not PEM",
			secrets: []client.Object{tlsSecret("campus-tls", good, []byte("garbage"))},
			auth:    v1alpha1.CoreAuth{TLS: ref("campus-tls")},
			wants:   []string{"key ca.crt of Secret medslice-system/campus-tls holds no PEM certificate"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool, _ := newPool(tc.secrets...)
			// Nothing listens at this endpoint: a call would fail otherwise.
			cn := pcfCore("https://127.0.0.1:1", tc.auth)
			_, err := pool.ClientFor(context.Background(), cn)
			wantAuthFailure(t, err, core.AuthCredentials, tc.wants...)
			wantAuthFailure(t, pool.Check(context.Background(), cn), core.AuthCredentials, tc.wants...)
		})
	}
}

// TestOAuth2RefusedThenFixed protects the whole loop of a wrong client
// secret: the check says what to fix, slices are refused the client (and
// so do not hammer the token endpoint), and fixing the Secret gives a
// working client on the next call, without a restart.
func TestOAuth2RefusedThenFixed(t *testing.T) {
	emu := startAuthEmulator(t, true, false)
	sec := oauth2Secret("campus-oauth2", emu.url+"/oauth2/token", "medslice", "wrong")
	pool, c := newPool(sec)
	cn := pcfCore(emu.url, v1alpha1.CoreAuth{OAuth2: ref("campus-oauth2")})
	ctx := context.Background()

	wantAuthFailure(t, pool.Check(ctx, cn), core.AuthTokenRefused,
		"refused client \"medslice\"", "invalid_client", "check clientID and clientSecret in Secret medslice-system/campus-oauth2",
		`scope "npcf-policyauthorization"`)
	before := emu.stats(t).TokensRefused
	for range 3 {
		_, err := pool.ClientFor(ctx, cn)
		wantAuthFailure(t, err, core.AuthTokenRefused, "Secret medslice-system/campus-oauth2")
	}
	if after := emu.stats(t).TokensRefused; after != before {
		t.Errorf("ClientFor asked the token endpoint %d more times while the credentials stood refused", after-before)
	}

	sec.Data[KeyClientSecret] = []byte("s3cret\n") // trailing newline, as --from-file leaves it
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	cl, err := pool.ClientFor(ctx, cn)
	if err != nil {
		t.Fatalf("ClientFor after the fix: %v", err)
	}
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("Ping after the fix: %v", err)
	}
	if err := pool.Check(ctx, cn); err != nil {
		t.Fatalf("Check after the fix: %v", err)
	}
	if id := emu.stats(t).LastClientID; id != "medslice" {
		t.Errorf("emulator's last client %q, want medslice", id)
	}
}

// TestRefusalDuringCallsIsSticky protects the guard: a call that finds the
// credentials refused (the core rotated its side first) stops the pool
// handing out the client, and a Check that succeeds again releases it.
func TestRefusalDuringCallsIsSticky(t *testing.T) {
	emu := startAuthEmulator(t, true, false)
	pool, _ := newPool(oauth2Secret("campus-oauth2", emu.url+"/oauth2/token", "medslice", "s3cret"))
	cn := pcfCore(emu.url, v1alpha1.CoreAuth{OAuth2: ref("campus-oauth2")})
	ctx := context.Background()
	// The core rotated the client's secret before the operator's Secret
	// was: the first call asks for a token and is refused.
	emu.setClientSecrets("rotated")
	cl, err := pool.ClientFor(ctx, cn)
	if err != nil {
		t.Fatal(err)
	}
	err = cl.Ping(ctx)
	wantAuthFailure(t, err, core.AuthTokenRefused, "Secret medslice-system/campus-oauth2")
	if core.IsRetryable(err) {
		t.Error("refused credentials are retryable")
	}
	if _, err := pool.ClientFor(ctx, cn); err == nil {
		t.Fatal("ClientFor handed out a client whose credentials the core refused")
	}
	emu.setClientSecrets("rotated", "s3cret") // the core accepts both during its rotation
	if err := pool.Check(ctx, cn); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := pool.ClientFor(ctx, cn); err != nil {
		t.Fatalf("ClientFor after a successful check: %v", err)
	}
}

// TestNoCredentialsForAnAuthenticatedCore protects the message of a core
// that demands a token from a CoreNetwork without spec.auth.
func TestNoCredentialsForAnAuthenticatedCore(t *testing.T) {
	emu := startAuthEmulator(t, true, false)
	pool, _ := newPool()
	wantAuthFailure(t, pool.Check(context.Background(), pcfCore(emu.url, v1alpha1.CoreAuth{})), core.AuthAccessDenied,
		"401", "set spec.auth.oauth2 to a Secret with keys tokenURL, clientID and clientSecret")
}

// TestMutualTLSAndRotation protects mutual TLS from a kubernetes.io/tls
// Secret, the messages when the core's CA or the client certificate is
// wrong, and rotation: a new certificate from a new CA in the Secret is
// what the core sees on the next call.
func TestMutualTLSAndRotation(t *testing.T) {
	emu := startAuthEmulator(t, true, true)
	first := clientPair(t, emu.clientCA, testpki.Options{})
	oauth := oauth2Secret("campus-oauth2", emu.tlsURL+"/oauth2/token", "medslice", "s3cret")
	tlsSec := tlsSecret("campus-tls", first, emu.coreCA.CertPEM)
	pool, c := newPool(oauth, tlsSec)
	cn := pcfCore(emu.tlsURL, v1alpha1.CoreAuth{OAuth2: ref("campus-oauth2"), TLS: ref("campus-tls")})
	ctx := context.Background()

	if err := pool.Check(ctx, cn); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := emu.stats(t).LastClientCertificate; got == nil || got.Serial != first.Serial {
		t.Fatalf("emulator saw certificate %+v, want serial %s", got, first.Serial)
	}

	// The core's certificate from a CA the Secret does not trust.
	tlsSec.Data[KeyCACert] = mustCA(t, "stranger").CertPEM
	if err := c.Update(ctx, tlsSec); err != nil {
		t.Fatal(err)
	}
	wantAuthFailure(t, pool.Check(ctx, cn), core.AuthServerCertificate,
		"not trusted", "put the CA that signed the core's certificate in key ca.crt of Secret medslice-system/campus-tls")

	// A client certificate the core does not accept.
	stranger := clientPair(t, mustCA(t, "stranger"), testpki.Options{})
	tlsSec = tlsSecret("campus-tls", stranger, emu.coreCA.CertPEM)
	tlsSec.ResourceVersion = ""
	if err := c.Delete(ctx, tlsSec); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, tlsSec); err != nil {
		t.Fatal(err)
	}
	wantAuthFailure(t, pool.Check(ctx, cn), core.AuthClientCertificate,
		"asked for a client certificate issued by CN=client CA", "does not qualify",
		"tls.crt of Secret medslice-system/campus-tls")

	// Rotation: the core trusts the old and the new CA; the Secret gets
	// a certificate of the new one.
	newCA := mustCA(t, "client CA 2")
	emu.write(t, "client-ca.crt", testpki.Bundle(emu.clientCA, newCA))
	second := clientPair(t, newCA, testpki.Options{})
	tlsSec.Data = tlsSecret("", second, emu.coreCA.CertPEM).Data
	if err := c.Update(ctx, tlsSec); err != nil {
		t.Fatal(err)
	}
	cl, err := pool.ClientFor(ctx, cn)
	if err != nil {
		// The refusal above stands until a check or a Secret change; the
		// Secret changed, so a new client is handed out.
		t.Fatalf("ClientFor after rotation: %v", err)
	}
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("Ping after rotation: %v", err)
	}
	if got := emu.stats(t).LastClientCertificate; got == nil || got.Serial != second.Serial {
		t.Fatalf("after rotation the emulator saw certificate %+v, want the new serial %s", got, second.Serial)
	}
	// The old CA goes; the operator already uses the new certificate.
	emu.write(t, "client-ca.crt", newCA.CertPEM)
	if err := pool.Check(ctx, cn); err != nil {
		t.Fatalf("Check after the old CA was dropped: %v", err)
	}
}

// TestMutualTLSRequiredOnCleartext protects what an emulator that demands
// mutual TLS says to a call on its cleartext listener.
func TestMutualTLSRequiredOnCleartext(t *testing.T) {
	emu := startAuthEmulator(t, false, true)
	pool, _ := newPool()
	err := pool.Check(context.Background(), pcfCore(emu.url, v1alpha1.CoreAuth{}))
	if err == nil || !strings.Contains(err.Error(), "requires mutual TLS") {
		t.Fatalf("err = %v, want the core's 403 saying it requires mutual TLS", err)
	}
}

package tlsfiles

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/testpki"
)

// fixture is a server whose TLS files live in a directory the test rewrites.
type fixture struct {
	dir              string
	files            Files
	serverCA         *testpki.CA
	clientCA         *testpki.CA
	url              string
	mu               sync.Mutex
	refused, reloads int
	reloadErrors     []error
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), serverCA: mustCA(t, "server CA"), clientCA: mustCA(t, "client CA")}
	f.writeServerCert(t, f.serverCA)
	f.write(t, "client-ca.crt", f.clientCA.CertPEM)
	f.files = Files{CertFile: f.dir + "/tls.crt", KeyFile: f.dir + "/tls.key", ClientCAFile: f.dir + "/client-ca.crt"}
	cfg, err := f.files.ServerConfig(Options{
		OnRefused:     func(error) { f.mu.Lock(); f.refused++; f.mu.Unlock() },
		OnReload:      func() { f.mu.Lock(); f.reloads++; f.mu.Unlock() },
		OnReloadError: func(err error) { f.mu.Lock(); f.reloadErrors = append(f.reloadErrors, err); f.mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = cfg
	srv.EnableHTTP2 = true
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func mustCA(t *testing.T, name string) *testpki.CA {
	t.Helper()
	ca, err := testpki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func (f *fixture) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if _, err := testpki.WriteFile(f.dir, name, data); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) writeServerCert(t *testing.T, ca *testpki.CA) {
	t.Helper()
	p, err := ca.Server(nil, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, "tls.key", p.KeyPEM)
	f.write(t, "tls.crt", p.CertPEM)
}

func (f *fixture) counts() (refused, reloads, reloadErrors int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refused, f.reloads, len(f.reloadErrors)
}

// get calls the server with a fresh connection, presenting a certificate
// of clientCA named cn (none when clientCA is nil) and trusting roots.
func (f *fixture) get(t *testing.T, clientCA *testpki.CA, cn string, roots ...*testpki.CA) (string, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: testpki.Pool(roots...)}
	if clientCA != nil {
		p, err := clientCA.Client(cn, testpki.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(f.url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestServerConfigVerifiesAndCounts protects mutual TLS with every refusal
// seen: a certificate of a client CA is accepted, none or another CA's is
// refused and reported.
func TestServerConfigVerifiesAndCounts(t *testing.T) {
	f := newFixture(t)
	if got, err := f.get(t, f.clientCA, "core", f.serverCA); err != nil || got != "core" {
		t.Fatalf("client CA's certificate: %q, %v", got, err)
	}
	if _, err := f.get(t, nil, "", f.serverCA); err == nil {
		t.Error("no certificate accepted")
	}
	if _, err := f.get(t, mustCA(t, "other CA"), "intruder", f.serverCA); err == nil {
		t.Error("another CA's certificate accepted")
	}
	if refused, _, _ := f.counts(); refused != 2 {
		t.Errorf("refusals reported: %d, want 2", refused)
	}
}

// TestServerConfigReloads protects rotation without a restart: a new server
// certificate and a new client CA file take effect at the next handshake;
// a broken file keeps the previous credentials and is reported.
func TestServerConfigReloads(t *testing.T) {
	f := newFixture(t)
	newServerCA, newClientCA := mustCA(t, "server CA 2"), mustCA(t, "client CA 2")
	f.writeServerCert(t, newServerCA)
	f.write(t, "client-ca.crt", testpki.Bundle(f.clientCA, newClientCA))
	if _, err := f.get(t, f.clientCA, "core", f.serverCA); err == nil {
		t.Error("the old server certificate is still served")
	}
	for _, ca := range []*testpki.CA{f.clientCA, newClientCA} {
		if _, err := f.get(t, ca, "core", newServerCA); err != nil {
			t.Errorf("client certificate during the CA rotation: %v", err)
		}
	}
	f.write(t, "client-ca.crt", newClientCA.CertPEM)
	if _, err := f.get(t, f.clientCA, "core", newServerCA); err == nil {
		t.Error("the dropped client CA is still trusted")
	}

	f.write(t, "client-ca.crt", []byte("half-written"))
	if _, err := f.get(t, newClientCA, "core", newServerCA); err != nil {
		t.Errorf("a broken client CA file broke the server: %v", err)
	}
	_, reloads, reloadErrors := f.counts()
	if reloads < 2 || reloadErrors != 1 {
		t.Errorf("reloads %d, reload errors %d; want at least 2 and exactly 1", reloads, reloadErrors)
	}
}

// TestClientConfigReloadsCertificate protects the client side: the
// certificate presented follows its files.
func TestClientConfigReloadsCertificate(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	write := func(cn string) {
		p, err := f.clientCA.Client(cn, testpki.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := testpki.WriteFile(dir, "client.key", p.KeyPEM); err != nil {
			t.Fatal(err)
		}
		if _, err := testpki.WriteFile(dir, "client.crt", p.CertPEM); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	if _, err := testpki.WriteFile(dir, "ca.crt", f.serverCA.CertPEM); err != nil {
		t.Fatal(err)
	}
	cfg, err := ClientFiles{CertFile: dir + "/client.crt", KeyFile: dir + "/client.key", CAFile: dir + "/ca.crt"}.ClientConfig(Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		tr := &http.Transport{TLSClientConfig: cfg.Clone()}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(f.url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(); got != "first" {
		t.Fatalf("presented %q, want first", got)
	}
	write("second")
	if got := get(); got != "second" {
		t.Fatalf("after rotation presented %q, want second", got)
	}
	if _, err := (ClientFiles{CAFile: dir + "/client.key"}).ClientConfig(Options{}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
}

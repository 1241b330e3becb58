//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/emulator"
	"github.com/medslice/medslice/internal/testenv"
	"github.com/medslice/medslice/internal/testpki"
)

const (
	authNamespace  = "auth-e2e"
	authOAuth2Name = "emulator-oauth2"
	authTLSName    = "emulator-tls"
	// tokenLifetime is short so that the operator refreshes its tokens
	// several times during the test.
	tokenLifetime = 4 * time.Second
)

// authStack is a stack of its own whose emulator demands OAuth2 bearer
// tokens and mutual TLS.
type authStack struct {
	*devstack.Stack
	dir      string
	tlsURL   string
	coreCA   *testpki.CA
	clientCA *testpki.CA
	// receiverCA signed the operator's notification receiver certificate;
	// calloutCA the certificate the core presents to it.
	receiverCA, calloutCA *testpki.CA
	notifyURL             string
}

// TestAuthenticatedCore runs the operator against an emulator that demands
// OAuth2 client credentials and mutual TLS: cores without credentials say
// AuthFailed and nothing is provisioned; with the Secrets the slices
// converge with one session per device; a wrong client secret is reported
// and provisions nothing; client secret and client certificate are rotated
// on both sides while calls keep succeeding, without restarting the
// operator. The callbacks go the other way over mutual TLS too: the
// operator's receiver accepts the core's certificate and refuses, and
// counts, a caller without one.
func TestAuthenticatedCore(t *testing.T) {
	ctx := context.Background()
	as := startAuthStack(t)
	op := as.Operator()
	if err := as.Client.Create(ctx, nsObject(authNamespace)); err != nil {
		t.Fatal(err)
	}

	// 1. The stack's cores have no credentials.
	for _, name := range []string{devstack.CoreNEF, devstack.CorePCF} {
		as.waitCore(t, name, metav1.ConditionFalse, v1alpha1.ReasonAuthFailed, "401", "set spec.auth.oauth2")
	}
	var slices []*v1alpha1.MedicalSlice
	for i, coreName := range []string{devstack.CoreNEF, devstack.CorePCF, devstack.CoreNEF, devstack.CorePCF} {
		s := newSlice(fmt.Sprintf("auth-%d", i), coreName, "surgery-urllc", 100+i*5, 2)
		s.Namespace = authNamespace
		if err := as.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		slices = append(slices, s)
	}
	for _, s := range slices {
		as.waitProvisioned(t, s, metav1.ConditionFalse, "set spec.auth.oauth2")
	}
	if n := len(as.sessions(t)); n != 0 {
		t.Fatalf("the core holds %d sessions for cores without credentials", n)
	}
	t.Logf("without credentials: both cores AuthFailed, %d slices waiting, 0 sessions", len(slices))

	// 2. Secrets and spec.auth: the cores now reach the TLS listener.
	first := as.clientPair(t, as.clientCA)
	oauth := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: devstack.OperatorNamespace, Name: authOAuth2Name},
		StringData: map[string]string{"tokenURL": as.tlsURL + "/oauth2/token", "clientID": "medslice", "clientSecret": "first-secret"},
	}
	tlsSec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: devstack.OperatorNamespace, Name: authTLSName},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: first.CertPEM, corev1.TLSPrivateKeyKey: first.KeyPEM, "ca.crt": as.coreCA.CertPEM},
	}
	for _, sec := range []*corev1.Secret{oauth, tlsSec} {
		if err := as.Client.Create(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{devstack.CoreNEF, devstack.CorePCF} {
		var cn v1alpha1.CoreNetwork
		if err := as.Client.Get(ctx, client.ObjectKey{Name: name}, &cn); err != nil {
			t.Fatal(err)
		}
		cn.Spec.Endpoint = as.tlsURL
		cn.Spec.NotificationBaseURL = as.notifyURL
		cn.Spec.Auth = v1alpha1.CoreAuth{OAuth2: &v1alpha1.SecretKeyRef{Name: authOAuth2Name}, TLS: &v1alpha1.SecretKeyRef{Name: authTLSName}}
		if err := as.Client.Update(ctx, &cn); err != nil {
			t.Fatal(err)
		}
	}
	took := eventually(t, settleTimeout, "slices converged on the authenticated core", func() (bool, string) { return as.converged(t) })
	st := as.stats(t)
	if st.LastClientCertificate == nil || st.LastClientCertificate.Serial != first.Serial {
		t.Errorf("the core saw client certificate %+v, want serial %s", st.LastClientCertificate, first.Serial)
	}
	t.Logf("with OAuth2 and mutual TLS: %d slices, %d sessions (one per device), converged %s after spec.auth was set; tokens issued %d",
		len(slices), len(as.sessions(t)), took.Round(time.Millisecond), st.TokensIssued)

	// Callbacks: the core's notifications arrive over mutual TLS; a caller
	// without the core's certificate is refused at the handshake, one with
	// it but a forged token by the receiver, and both are counted.
	eventually(t, settleTimeout, "notifications accepted over mutual TLS", func() (bool, string) {
		n := as.metric(t, `medslice_notifications_total{outcome="accepted"}`)
		return n > 0, fmt.Sprintf("%v accepted", n)
	})
	refusedBefore := as.metric(t, `medslice_notifications_total{outcome="unauthorized"}`)
	forged := as.notifyURL + "/notify/v1/" + authNamespace + "/auth-0/" + string(slices[0].UID) + "/dev-0/forged-token"
	if status, err := as.postNotification(t, nil, forged); err == nil {
		t.Errorf("a notification without a client certificate was answered %d", status)
	}
	if status, err := as.postNotification(t, as.calloutCA, forged); err != nil || status != http.StatusNotFound {
		t.Errorf("a forged token with the core's certificate: %d, %v; want 404", status, err)
	}
	eventually(t, settleTimeout, "refused notifications counted", func() (bool, string) {
		n := as.metric(t, `medslice_notifications_total{outcome="unauthorized"}`) - refusedBefore
		return n == 2, fmt.Sprintf("%v counted, want 2", n)
	})
	t.Logf("callbacks over mutual TLS: %v accepted; a caller without the core's certificate and a forged token refused and counted",
		as.metric(t, `medslice_notifications_total{outcome="accepted"}`))

	// 3. A wrong client secret: the cores say why; a new slice is not provisioned.
	oauth = as.getSecret(t, authOAuth2Name)
	oauth.Data["clientSecret"] = []byte("wrong-secret")
	if err := as.Client.Update(ctx, oauth); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, name := range []string{devstack.CoreNEF, devstack.CorePCF} {
		as.waitCore(t, name, metav1.ConditionFalse, v1alpha1.ReasonAuthFailed,
			"invalid_client", "check clientID and clientSecret in Secret medslice-system/"+authOAuth2Name)
	}
	noticed := time.Since(start)
	late := newSlice("auth-late", devstack.CorePCF, "surgery-urllc", 150, 2)
	late.Namespace = authNamespace
	if err := as.Client.Create(ctx, late); err != nil {
		t.Fatal(err)
	}
	as.waitProvisioned(t, late, metav1.ConditionFalse, "invalid_client")
	if n := byCorrelation(as.sessions(t))[string(late.UID)+"/dev-0"]; n != 0 {
		t.Fatalf("a slice created while the client secret is wrong has %d sessions", n)
	}
	t.Logf("wrong client secret: both cores AuthFailed %s after the Secret changed; the new slice waits with no session", noticed.Round(time.Millisecond))

	// 4. Fixed: everything converges again, the late slice included.
	oauth = as.getSecret(t, authOAuth2Name)
	oauth.Data["clientSecret"] = []byte("first-secret")
	if err := as.Client.Update(ctx, oauth); err != nil {
		t.Fatal(err)
	}
	took = eventually(t, settleTimeout, "converged after the client secret was fixed", func() (bool, string) { return as.converged(t) })
	t.Logf("client secret fixed: converged %s later", took.Round(time.Millisecond))

	// 5. Rotation of the client secret and the client certificate on both
	// sides, the core first accepting old and new. Calls must keep
	// succeeding: the refusal counters stay where they are.
	newClientCA, err := testpki.NewCA("hospital client CA 2")
	if err != nil {
		t.Fatal(err)
	}
	second := as.clientPair(t, newClientCA)
	updateSecret := func(name string, change func(*corev1.Secret)) {
		sec := as.getSecret(t, name)
		change(sec)
		if err := as.Client.Update(ctx, sec); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		what string
		do   func()
	}{
		{"core accepts the old and the new client secret", func() { as.writeClients(t, "first-secret", "second-secret") }},
		{"operator's Secret gets the new client secret", func() {
			updateSecret(authOAuth2Name, func(sec *corev1.Secret) { sec.Data["clientSecret"] = []byte("second-secret") })
		}},
		{"core drops the old client secret", func() { as.writeClients(t, "second-secret") }},
		{"core trusts the old and the new client CA", func() { as.write(t, "client-ca.crt", testpki.Bundle(as.clientCA, newClientCA)) }},
		{"operator's TLS Secret gets a certificate of the new CA", func() {
			updateSecret(authTLSName, func(sec *corev1.Secret) {
				sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey] = second.CertPEM, second.KeyPEM
			})
		}},
		{"core drops the old client CA", func() { as.write(t, "client-ca.crt", newClientCA.CertPEM) }},
	}
	before := as.stats(t)
	for i, step := range steps {
		step.do()
		// A slice created after each step must be provisioned with what
		// the step left in place.
		s := newSlice(fmt.Sprintf("rotation-%d", i), []string{devstack.CoreNEF, devstack.CorePCF}[i%2], "surgery-urllc", 200+i*5, 1)
		s.Namespace = authNamespace
		if err := as.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		took := eventually(t, settleTimeout, "converged after: "+step.what, func() (bool, string) { return as.converged(t) })
		for _, name := range []string{devstack.CoreNEF, devstack.CorePCF} {
			as.waitCore(t, name, metav1.ConditionTrue, v1alpha1.ReasonAPIAnswered)
		}
		t.Logf("rotation step %d (%s): new slice provisioned, all converged within %s", i+1, step.what, took.Round(time.Millisecond))
	}
	after := as.stats(t)
	if after.TokensRefused != before.TokensRefused || after.CallsRefused != before.CallsRefused {
		t.Errorf("during rotation the core refused %d token requests and %d calls, want none",
			after.TokensRefused-before.TokensRefused, after.CallsRefused-before.CallsRefused)
	}
	if c := after.LastClientCertificate; c == nil || c.Serial != second.Serial {
		t.Errorf("after rotation the core saw client certificate %+v, want the new serial %s", c, second.Serial)
	}
	select {
	case <-op.Done():
		t.Fatal("the operator exited during the test")
	default:
	}
	if as.Operator() != op {
		t.Fatal("the operator was restarted")
	}
	t.Logf("rotation: %d tokens issued and %d calls accepted meanwhile (token lifetime %s), 0 refused, same operator process",
		after.TokensIssued-before.TokensIssued, after.CallsAccepted-before.CallsAccepted, tokenLifetime)
}

func startAuthStack(t *testing.T) *authStack {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	as := &authStack{dir: filepath.Join(state, "pki")}
	if err := os.MkdirAll(as.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if as.coreCA, err = testpki.NewCA("emulated core CA"); err != nil {
		t.Fatal(err)
	}
	if as.clientCA, err = testpki.NewCA("hospital client CA"); err != nil {
		t.Fatal(err)
	}
	if as.receiverCA, err = testpki.NewCA("hospital receiver CA"); err != nil {
		t.Fatal(err)
	}
	if as.calloutCA, err = testpki.NewCA("emulated core callout CA"); err != nil {
		t.Fatal(err)
	}
	receiver, err := as.receiverCA.Server([]string{"localhost", "127.0.0.1"}, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	callout := as.clientPair(t, as.calloutCA)
	as.write(t, "receiver.crt", receiver.CertPEM)
	as.write(t, "receiver.key", receiver.KeyPEM)
	as.write(t, "receiver-ca.crt", as.receiverCA.CertPEM)
	as.write(t, "callout.crt", callout.CertPEM)
	as.write(t, "callout.key", callout.KeyPEM)
	as.write(t, "callout-ca.crt", as.calloutCA.CertPEM)
	server, err := as.coreCA.Server([]string{"localhost", "127.0.0.1"}, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as.write(t, "server.crt", server.CertPEM)
	as.write(t, "server.key", server.KeyPEM)
	as.write(t, "client-ca.crt", as.clientCA.CertPEM)
	as.writeClients(t, "first-secret")
	tlsAddr := freeAddr(t)
	as.tlsURL = "https://" + tlsAddr
	as.Stack, err = devstack.Start(context.Background(), devstack.Options{
		Root: root, BinDir: filepath.Join(root, "bin"), StateDir: state, Log: os.Stdout,
		EmulatorArgs: []string{
			"--tls-listen", tlsAddr,
			"--tls-cert", filepath.Join(as.dir, "server.crt"),
			"--tls-key", filepath.Join(as.dir, "server.key"),
			"--tls-client-ca", filepath.Join(as.dir, "client-ca.crt"),
			"--oauth2-clients-file", filepath.Join(as.dir, "clients"),
			"--oauth2-token-lifetime", tokenLifetime.String(),
			"--notify-tls-cert", filepath.Join(as.dir, "callout.crt"),
			"--notify-tls-key", filepath.Join(as.dir, "callout.key"),
			"--notify-ca", filepath.Join(as.dir, "receiver-ca.crt"),
		},
		OperatorArgs: []string{
			"--notify-tls-cert", filepath.Join(as.dir, "receiver.crt"),
			"--notify-tls-key", filepath.Join(as.dir, "receiver.key"),
			"--notify-client-ca", filepath.Join(as.dir, "callout-ca.crt"),
		},
	})
	if err != nil {
		t.Fatalf("starting the stack: %v", err)
	}
	as.notifyURL = strings.Replace(as.NotifyURL, "http://", "https://", 1)
	t.Cleanup(func() {
		as.Stop()
		if t.Failed() {
			// t.TempDir is removed after the test: copy the logs out.
			keep, err := os.MkdirTemp("", "medslice-e2e-auth-")
			if err == nil {
				for _, name := range []string{"medslice-operator.log", "medslice-core-emulator.log"} {
					if b, err := os.ReadFile(filepath.Join(state, name)); err == nil {
						_ = os.WriteFile(filepath.Join(keep, name), b, 0o644)
					}
				}
				t.Logf("logs kept in %s", keep)
			}
		}
	})
	return as
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (as *authStack) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if _, err := testpki.WriteFile(as.dir, name, data); err != nil {
		t.Fatal(err)
	}
}

func (as *authStack) writeClients(t *testing.T, secrets ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# OAuth2 clients of the emulated core\n")
	for _, s := range secrets {
		b.WriteString("medslice:" + s + "\n")
	}
	as.write(t, "clients", []byte(b.String()))
}

func (as *authStack) clientPair(t *testing.T, ca *testpki.CA) testpki.Pair {
	t.Helper()
	p, err := ca.Client("medslice-operator", testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// metric reads one sample of the operator's metrics, 0 when absent.
func (as *authStack) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(as.MetricsURL)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// postNotification posts a NEF notification to url over TLS, presenting a
// certificate of clientCA (none when nil).
func (as *authStack) postNotification(t *testing.T, clientCA *testpki.CA, url string) (int, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: testpki.Pool(as.receiverCA)}
	if clientCA != nil {
		c, err := as.clientPair(t, clientCA).TLSCertificate()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	body := `{"transaction":"t","eventReports":[{"event":"SESSION_TERMINATION"}]}`
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func (as *authStack) getSecret(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	var sec corev1.Secret
	if err := as.Client.Get(context.Background(), client.ObjectKey{Namespace: devstack.OperatorNamespace, Name: name}, &sec); err != nil {
		t.Fatal(err)
	}
	return &sec
}

func (as *authStack) getJSON(t *testing.T, path string, out any) {
	t.Helper()
	resp, err := http.Get(as.EmulatorURL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

func (as *authStack) sessions(t *testing.T) []emulatorSession {
	var out []emulatorSession
	as.getJSON(t, "/admin/v1/sessions", &out)
	return out
}

func (as *authStack) stats(t *testing.T) emulator.AuthStats {
	var st emulator.AuthStats
	as.getJSON(t, "/admin/v1/auth", &st)
	return st
}

// converged: every slice of the namespace provisioned, exactly one
// session per device on the core, nothing else.
func (as *authStack) converged(t *testing.T) (bool, string) {
	var list v1alpha1.MedicalSliceList
	if err := as.Client.List(context.Background(), &list, client.InNamespace(authNamespace)); err != nil {
		return false, err.Error()
	}
	want := map[string]bool{}
	for _, s := range list.Items {
		if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionProvisioned); c == nil || c.Status != metav1.ConditionTrue {
			msg := "no condition"
			if c != nil {
				msg = c.Reason + ": " + c.Message
			}
			return false, s.Name + " not provisioned: " + msg
		}
		for _, d := range s.Spec.Devices {
			want[string(s.UID)+"/"+d.Name] = true
		}
	}
	got := byCorrelation(as.sessions(t))
	var orphans, missing, dups int
	for k, n := range got {
		if !want[k] {
			orphans += n
		} else {
			dups += n - 1
		}
	}
	for k := range want {
		if got[k] == 0 {
			missing++
		}
	}
	return orphans == 0 && missing == 0 && dups == 0, fmt.Sprintf("orphans=%d missing=%d duplicates=%d", orphans, missing, dups)
}

func (as *authStack) waitCore(t *testing.T, name string, status metav1.ConditionStatus, reason string, texts ...string) {
	t.Helper()
	eventually(t, settleTimeout, fmt.Sprintf("CoreNetwork %s Reachable %s %s", name, status, reason), func() (bool, string) {
		var cn v1alpha1.CoreNetwork
		if err := as.Client.Get(context.Background(), client.ObjectKey{Name: name}, &cn); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(cn.Status.Conditions, v1alpha1.ConditionReachable)
		if c == nil {
			return false, "no Reachable condition"
		}
		desc := fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
		if c.Status != status || c.Reason != reason || c.ObservedGeneration != cn.Generation {
			return false, desc
		}
		for _, s := range texts {
			if !strings.Contains(c.Message, s) {
				return false, desc
			}
		}
		return true, ""
	})
}

func (as *authStack) waitProvisioned(t *testing.T, s *v1alpha1.MedicalSlice, status metav1.ConditionStatus, text string) {
	t.Helper()
	eventually(t, settleTimeout, s.Name+" Provisioned "+string(status), func() (bool, string) {
		var got v1alpha1.MedicalSlice
		if err := as.Client.Get(context.Background(), client.ObjectKeyFromObject(s), &got); err != nil {
			return false, err.Error()
		}
		*s = got
		c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionProvisioned)
		if c == nil {
			return false, "no Provisioned condition"
		}
		return c.Status == status && strings.Contains(c.Message, text), c.Reason + ": " + c.Message
	})
}

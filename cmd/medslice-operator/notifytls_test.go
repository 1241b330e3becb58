package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/internal/metrics"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/testpki"
)

// TestNotificationReceiverOverMutualTLS protects callbacks with client
// certificates: a notification with the core CA's certificate and its
// session's token is accepted; without a certificate, with another CA's,
// or with a wrong token it is refused, and every refusal is counted as
// unauthorized.
func TestNotificationReceiverOverMutualTLS(t *testing.T) {
	dir := t.TempDir()
	receiverCA, coreCA, otherCA := mustCA(t, "receiver CA"), mustCA(t, "core CA"), mustCA(t, "other CA")
	server, err := receiverCA.Server(nil, testpki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p, err := testpki.WriteFile(dir, name, data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	flags := notifyTLSFlags{cert: write("tls.crt", server.CertPEM), key: write("tls.key", server.KeyPEM), clientCA: write("core-ca.crt", coreCA.CertPEM)}

	signer, err := notify.NewSigner([]byte("notification-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	delivered := make(chan notify.Event, 4)
	receiver := &notify.Receiver{
		Signer: signer, Now: time.Now, Log: logr.Discard(),
		Deliver: func(ev notify.Event) { delivered <- ev },
		Observe: func(o notify.Outcome) { metrics.Notifications.WithLabelValues(string(o)).Inc() },
	}
	mux := http.NewServeMux()
	mux.Handle(notify.PathPrefix, receiver)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	run, err := flags.runnable(addr, mux)
	if err != nil {
		t.Fatal(err)
	}
	if run.(interface{ NeedLeaderElection() bool }).NeedLeaderElection() {
		t.Error("the receiver waits for leadership; every replica must receive")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	uri := signer.URI("https://"+addr, notify.Ref{Slice: types.NamespacedName{Namespace: "or-3", Name: "surgery"}, UID: "uid-1", Device: "arm"})
	body := []byte(`{"transaction":"t","eventReports":[{"event":"SUCCESSFUL_RESOURCES_ALLOCATION"}]}`)
	post := func(clientCA *testpki.CA, url string) (int, error) {
		cfg := &tls.Config{RootCAs: testpki.Pool(receiverCA)}
		if clientCA != nil {
			p, err := clientCA.Client("core", testpki.Options{})
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
		var resp *http.Response
		// The server may still be starting.
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			resp, err = (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(url, "application/json", bytes.NewReader(body))
			var op *net.OpError
			if err == nil || !errors.As(err, &op) || op.Op != "dial" || time.Since(start) > 10*time.Second {
				break
			}
		}
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}

	unauthorized := func() float64 {
		return testutil.ToFloat64(metrics.Notifications.WithLabelValues(string(notify.OutcomeUnauthorized)))
	}
	if status, err := post(coreCA, uri); err != nil || status != http.StatusNoContent {
		t.Fatalf("the core's notification: %d, %v; want 204", status, err)
	}
	select {
	case ev := <-delivered:
		if ev.Ref.Device != "arm" {
			t.Errorf("delivered %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("accepted notification not delivered")
	}

	before := unauthorized()
	for name, ca := range map[string]*testpki.CA{"no certificate": nil, "another CA's certificate": otherCA} {
		if status, err := post(ca, uri); err == nil {
			t.Errorf("%s: answered %d, want the handshake refused", name, status)
		}
	}
	if status, err := post(coreCA, uri[:len(uri)-3]+"AAA"); err != nil || status != http.StatusNotFound {
		t.Errorf("forged token with the core's certificate: %d, %v; want 404", status, err)
	}
	if got := unauthorized() - before; got != 3 {
		t.Errorf("unauthorized notifications counted: %v, want 3", got)
	}
	if len(delivered) != 0 {
		t.Errorf("a refused notification was delivered")
	}
}

func mustCA(t *testing.T, name string) *testpki.CA {
	t.Helper()
	ca, err := testpki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/medslice/medslice/internal/metrics"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/tlsfiles"
)

// notifyTLSFlags make the notification receiver serve TLS and, with a
// client CA, demand a client certificate of the core's CA on top of the
// per-session token every notification URI carries (DESIGN §3).
type notifyTLSFlags struct {
	cert, key, clientCA string
}

func (f *notifyTLSFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "notify-tls-cert", "", "PEM certificate of the notification receiver: it then serves TLS (HTTP/2 by ALPN, HTTP/1.1) and notificationBaseURL must be https://; re-read when the file changes")
	fs.StringVar(&f.key, "notify-tls-key", "", "PEM private key of --notify-tls-cert")
	fs.StringVar(&f.clientCA, "notify-client-ca", "", "PEM CAs of the cores: notifications must then come with a client certificate they issued (handshakes refused otherwise, counted as medslice_notifications_total{outcome=\"unauthorized\"}); needs --notify-tls-cert")
}

func (f *notifyTLSFlags) enabled() bool { return f.cert != "" || f.key != "" || f.clientCA != "" }

// runnable serves h on addr over TLS on every replica.
func (f *notifyTLSFlags) runnable(addr string, h http.Handler) (manager.Runnable, error) {
	if f.cert == "" || f.key == "" {
		return nil, errors.New("--notify-tls-cert and --notify-tls-key go together, and --notify-client-ca needs them")
	}
	log := ctrl.Log.WithName("notify")
	cfg, err := tlsfiles.Files{CertFile: f.cert, KeyFile: f.key, ClientCAFile: f.clientCA}.ServerConfig(tlsfiles.Options{
		OnRefused: func(err error) {
			metrics.Notifications.WithLabelValues(string(notify.OutcomeUnauthorized)).Inc()
			log.V(1).Info("notification refused at the TLS handshake", "reason", err.Error())
		},
		OnReload:      func() { log.Info("TLS files reloaded", "cert", f.cert, "clientCA", f.clientCA) },
		OnReloadError: func(err error) { log.Error(err, "TLS files changed but cannot be loaded; serving the previous ones") },
	})
	if err != nil {
		return nil, fmt.Errorf("--notify-tls-cert/--notify-tls-key/--notify-client-ca: %w", err)
	}
	return &tlsServer{addr: addr, handler: h, cfg: cfg}, nil
}

// logrWriter writes the lines of a standard logger to a logr logger.
type logrWriter struct{ log logr.Logger }

func (w logrWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}

// tlsServer is an HTTPS server the manager runs on every replica, leader or
// not, as it runs the cleartext receiver.
type tlsServer struct {
	addr    string
	handler http.Handler
	cfg     *tls.Config
}

// NeedLeaderElection is false: every replica receives notifications.
func (s *tlsServer) NeedLeaderElection() bool { return false }

func (s *tlsServer) Start(ctx context.Context) error {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	srv := &http.Server{
		Handler: s.handler, TLSConfig: s.cfg, Protocols: &p, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		// Refused handshakes are logged (and counted) by OnRefused; the
		// server's own lines go to the debug log, not to stderr.
		ErrorLog: stdlog.New(logrWriter{ctrl.Log.WithName("notify").V(1)}, "", 0),
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	ctrl.Log.WithName("notify").Info("listening over TLS", "addr", ln.Addr().String())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

package emulator

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/medslice/medslice/internal/tlsfiles"
)

// TLSFiles are the emulator's TLS server credentials as files. They are
// re-read when they change (checked at each handshake), so that tests can
// rotate the server certificate and the client CAs under a running
// emulator; a file caught half-written keeps the previous credentials.
type TLSFiles struct {
	// CertFile and KeyFile are the server certificate (chain) and its key,
	// PEM-encoded.
	CertFile, KeyFile string
	// ClientCAFile, when set, holds the PEM CAs whose client certificates
	// are accepted; the handshake then demands one (mutual TLS). Several
	// CAs may be listed, e.g. the old and the new during a rotation.
	ClientCAFile string
}

// TLSConfig returns a server tls.Config that serves f's current
// credentials at every handshake: TLS 1.2 at least, HTTP/2 by ALPN and
// HTTP/1.1. It fails when the files cannot be read now.
func (f TLSFiles) TLSConfig(logger *slog.Logger) (*tls.Config, error) {
	if logger == nil {
		logger = slog.Default()
	}
	return tlsfiles.Files{CertFile: f.CertFile, KeyFile: f.KeyFile, ClientCAFile: f.ClientCAFile}.ServerConfig(tlsfiles.Options{
		OnRefused: func(err error) { logger.Info("TLS handshake refused", "err", err) },
		OnReload:  func() { logger.Info("TLS files reloaded", "cert", f.CertFile, "clientCA", f.ClientCAFile) },
		OnReloadError: func(err error) {
			logger.Warn("TLS files changed but cannot be loaded; serving the previous ones", "err", err)
		},
	})
}

// ServeTLS serves the same APIs as Serve on ln over TLS (HTTP/2 by ALPN,
// HTTP/1.1) until ctx ends. It runs beside Serve, which owns the expiry
// scan and the notification workers.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener, cfg *tls.Config) error {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	hs := &http.Server{
		Handler:           s.handler,
		Protocols:         &p,
		TLSConfig:         cfg,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutting down TLS: %w", err)
		}
		return nil
	}
}

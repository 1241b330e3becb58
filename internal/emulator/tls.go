package emulator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
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
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("TLS needs a certificate and a key file")
	}
	if logger == nil {
		logger = slog.Default()
	}
	rl := &tlsReloader{files: f, log: logger}
	if _, err := rl.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return rl.current(), nil
		},
	}, nil
}

// tlsReloader keeps the config built from the files and rebuilds it when a
// file is replaced (a rename, as careful writers do) or rewritten (its size
// or modification time changes).
type tlsReloader struct {
	files TLSFiles
	log   *slog.Logger

	mu    sync.Mutex
	stamp []os.FileInfo
	cfg   *tls.Config
}

// stampOf is the files' identity now; nil entries for missing files.
func (rl *tlsReloader) stampOf() []os.FileInfo {
	var out []os.FileInfo
	for _, p := range []string{rl.files.CertFile, rl.files.KeyFile, rl.files.ClientCAFile} {
		if p == "" {
			continue
		}
		st, _ := os.Stat(p)
		out = append(out, st)
	}
	return out
}

func sameStamp(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		switch {
		case a[i] == nil || b[i] == nil:
			if a[i] != b[i] {
				return false
			}
		case !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()):
			return false
		}
	}
	return true
}

func (rl *tlsReloader) load() (*tls.Config, error) {
	stamp := rl.stampOf()
	cert, err := tls.LoadX509KeyPair(rl.files.CertFile, rl.files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", rl.files.CertFile, rl.files.KeyFile, err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if p := rl.files.ClientCAFile; p != "" {
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("client CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA file %s holds no PEM certificate", p)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	rl.mu.Lock()
	rl.stamp, rl.cfg = stamp, cfg
	rl.mu.Unlock()
	return cfg, nil
}

func (rl *tlsReloader) current() *tls.Config {
	stamp := rl.stampOf()
	rl.mu.Lock()
	cfg, same := rl.cfg, sameStamp(rl.stamp, stamp)
	rl.mu.Unlock()
	if same {
		return cfg
	}
	next, err := rl.load()
	if err != nil {
		rl.log.Warn("TLS files changed but cannot be loaded; serving the previous ones", "err", err)
		rl.mu.Lock()
		rl.stamp = stamp // do not retry at every handshake until they change again
		rl.mu.Unlock()
		return cfg
	}
	rl.log.Info("TLS files reloaded", "cert", rl.files.CertFile, "clientCA", rl.files.ClientCAFile)
	return next
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
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
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

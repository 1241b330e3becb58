// Package tlsfiles serves TLS credentials kept in files (a mounted Secret, a
// test's temporary directory) and picks up a replaced or rewritten file at
// the next handshake, so that certificates and client CAs rotate without a
// restart. A file caught half-written keeps the previous credentials.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
)

// Files are a server's TLS credentials.
type Files struct {
	// CertFile and KeyFile are the certificate (chain) and its key, PEM.
	CertFile, KeyFile string
	// ClientCAFile, when set, holds the PEM CAs whose client certificates
	// are accepted; every handshake then demands one (mutual TLS).
	ClientCAFile string
}

// Options tune a server config. Zero values do nothing.
type Options struct {
	// OnRefused is told of every handshake refused for its client
	// certificate (none, or not issued by a client CA), e.g. to count it.
	OnRefused func(error)
	// OnReloadError is told when changed files cannot be loaded and the
	// previous credentials stay in use.
	OnReloadError func(error)
	// OnReload is told when changed files were loaded.
	OnReload func()
}

// ServerConfig returns a server tls.Config serving f's current
// credentials at every handshake: TLS 1.2 at least, HTTP/2 by ALPN and
// HTTP/1.1. It fails when the files cannot be read now.
func (f Files) ServerConfig(o Options) (*tls.Config, error) {
	if f.CertFile == "" || f.KeyFile == "" {
		return nil, errors.New("TLS needs a certificate file and a key file")
	}
	rl := &reloader{files: f, opts: o}
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

// ClientAuthRequired reports whether f demands client certificates.
func (f Files) ClientAuthRequired() bool { return f.ClientCAFile != "" }

// reloader keeps the config built from the files and rebuilds it when a
// file is replaced (a rename, as careful writers do) or rewritten (its size
// or modification time changes).
type reloader struct {
	files Files
	opts  Options

	mu    sync.Mutex
	stamp []os.FileInfo
	cfg   *tls.Config
}

func (rl *reloader) paths() []string {
	out := []string{rl.files.CertFile, rl.files.KeyFile}
	if rl.files.ClientCAFile != "" {
		out = append(out, rl.files.ClientCAFile)
	}
	return out
}

// stampOf is the files' identity now; nil entries for missing files.
func (rl *reloader) stampOf() []os.FileInfo {
	var out []os.FileInfo
	for _, p := range rl.paths() {
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

func (rl *reloader) load() (*tls.Config, error) {
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
		// The certificate is requested (naming the client CAs) and
		// verified here rather than by crypto/tls, so that every refusal,
		// a missing certificate included, is seen and can be counted.
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequestClientCert
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			err := verifyClient(pool, cs.PeerCertificates)
			if err != nil && rl.opts.OnRefused != nil {
				rl.opts.OnRefused(err)
			}
			return err
		}
	}
	rl.mu.Lock()
	rl.stamp, rl.cfg = stamp, cfg
	rl.mu.Unlock()
	return cfg, nil
}

// verifyClient checks a client's certificate chain against the client CAs.
func verifyClient(pool *x509.CertPool, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("no client certificate: this server demands one issued by its client CAs")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("client certificate %s refused: %w", chain[0].Subject, err)
	}
	return nil
}

func (rl *reloader) current() *tls.Config {
	stamp := rl.stampOf()
	rl.mu.Lock()
	cfg, same := rl.cfg, sameStamp(rl.stamp, stamp)
	rl.mu.Unlock()
	if same {
		return cfg
	}
	next, err := rl.load()
	if err != nil {
		rl.mu.Lock()
		rl.stamp = stamp // not again at every handshake, only at the next change
		rl.mu.Unlock()
		if rl.opts.OnReloadError != nil {
			rl.opts.OnReloadError(err)
		}
		return cfg
	}
	if rl.opts.OnReload != nil {
		rl.opts.OnReload()
	}
	return next
}

// ClientFiles are a client's TLS credentials: an optional client
// certificate, re-read when its files change, and the CAs trusted for the
// server's certificate (the system's when CAFile is empty).
type ClientFiles struct {
	CertFile, KeyFile string
	CAFile            string
}

// ClientConfig returns a client tls.Config for c, TLS 1.2 at least. It
// fails when the files cannot be read now.
func (c ClientFiles) ClientConfig(o Options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", c.CAFile)
		}
	}
	if c.CertFile == "" && c.KeyFile == "" {
		return cfg, nil
	}
	rl := &reloader{files: Files{CertFile: c.CertFile, KeyFile: c.KeyFile}, opts: o}
	if _, err := rl.load(); err != nil {
		return nil, err
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &rl.current().Certificates[0], nil
	}
	return cfg, nil
}

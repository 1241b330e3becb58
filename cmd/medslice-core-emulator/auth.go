package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/medslice/medslice/internal/emulator"
	"github.com/medslice/medslice/internal/tlsfiles"
)

// authFlags turn on the emulator's OAuth2 and mutual TLS (internal/emulator
// auth.go, tls.go).
type authFlags struct {
	tlsListen, tlsCert, tlsKey, clientCA string
	notifyCert, notifyKey, notifyCA      string
	clientsFile                          string
	clients                              clientList
	tokenLifetime                        time.Duration
}

func authFlagsOn(fs *flag.FlagSet) *authFlags {
	f := &authFlags{}
	fs.StringVar(&f.tlsListen, "tls-listen", "", "also serve every API over TLS on this address (HTTP/2 by ALPN, HTTP/1.1); needs --tls-cert and --tls-key")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM server certificate for --tls-listen; re-read when the file changes")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert; re-read when the file changes")
	fs.StringVar(&f.clientCA, "tls-client-ca", "", "PEM CAs whose client certificates are accepted: mutual TLS is then demanded on the TLS listener, and NEF and PCF calls on the cleartext one are refused with 403; re-read when the file changes")
	fs.StringVar(&f.notifyCert, "notify-tls-cert", "", "PEM client certificate presented to notification receivers that demand one (https:// notification URIs); re-read when the file changes")
	fs.StringVar(&f.notifyKey, "notify-tls-key", "", "PEM private key of --notify-tls-cert")
	fs.StringVar(&f.notifyCA, "notify-ca", "", "PEM CAs trusted for notification receivers' certificates (default: the system's)")
	fs.StringVar(&f.clientsFile, "oauth2-clients-file", "", "require OAuth2 bearer tokens on the NEF and PCF APIs, issued by POST /oauth2/token to the clients in this file: one \"clientID:clientSecret\" per line (a client listed twice has two valid secrets, for rotation), # for comments; re-read at every token request, so secrets can be rotated at runtime")
	fs.Var(&f.clients, "oauth2-client", "require OAuth2 bearer tokens, like --oauth2-clients-file, for this \"clientID:clientSecret\" (repeatable)")
	fs.DurationVar(&f.tokenLifetime, "oauth2-token-lifetime", emulator.DefaultTokenLifetime, "lifetime of the access tokens; short ones exercise the clients' refresh")
	return f
}

// config checks the flags and returns what the emulator is configured
// with, and the TLS listener's files (zero when there is no TLS listener).
func (f *authFlags) config() (emulator.AuthConfig, emulator.TLSFiles, error) {
	var ac emulator.AuthConfig
	var tf emulator.TLSFiles
	if f.tlsListen != "" {
		if f.tlsCert == "" || f.tlsKey == "" {
			return ac, tf, errors.New("--tls-listen needs --tls-cert and --tls-key")
		}
		tf = emulator.TLSFiles{CertFile: f.tlsCert, KeyFile: f.tlsKey, ClientCAFile: f.clientCA}
	} else if f.tlsCert != "" || f.tlsKey != "" || f.clientCA != "" {
		return ac, tf, errors.New("--tls-cert, --tls-key and --tls-client-ca need --tls-listen")
	}
	ac.RequireClientCert = f.clientCA != ""
	if f.tokenLifetime <= 0 {
		return ac, tf, errors.New("--oauth2-token-lifetime must be positive")
	}
	ac.TokenLifetime = f.tokenLifetime
	if f.clientsFile == "" && len(f.clients) == 0 {
		return ac, tf, nil
	}
	if f.clientsFile != "" {
		if _, err := readClients(f.clientsFile); err != nil {
			return ac, tf, fmt.Errorf("--oauth2-clients-file: %w", err)
		}
	}
	file, fixed := f.clientsFile, f.clients
	ac.Clients = func() (map[string][]string, error) {
		out := map[string][]string{}
		for _, c := range fixed {
			out[c.id] = append(out[c.id], c.secret)
		}
		if file == "" {
			return out, nil
		}
		fromFile, err := readClients(file)
		if err != nil {
			return nil, err
		}
		for id, secrets := range fromFile {
			out[id] = append(out[id], secrets...)
		}
		return out, nil
	}
	return ac, tf, nil
}

// notifyTLS is the TLS configuration of the notifications the emulator
// sends, nil when no flag asks for one.
func (f *authFlags) notifyTLS() (*tls.Config, error) {
	if f.notifyCert == "" && f.notifyKey == "" && f.notifyCA == "" {
		return nil, nil
	}
	if (f.notifyCert == "") != (f.notifyKey == "") {
		return nil, errors.New("--notify-tls-cert and --notify-tls-key go together")
	}
	cfg, err := tlsfiles.ClientFiles{CertFile: f.notifyCert, KeyFile: f.notifyKey, CAFile: f.notifyCA}.ClientConfig(tlsfiles.Options{})
	if err != nil {
		return nil, fmt.Errorf("--notify-tls-cert/--notify-tls-key/--notify-ca: %w", err)
	}
	return cfg, nil
}

// readClients reads "clientID:clientSecret" lines. A client listed twice
// has both secrets, so that a rotation can accept the old and the new one
// until every client has moved.
func readClients(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, ":")
		if !ok || id == "" || secret == "" {
			return nil, fmt.Errorf("%s line %d: want clientID:clientSecret", path, n)
		}
		out[id] = append(out[id], secret)
	}
	return out, sc.Err()
}

type client struct{ id, secret string }

type clientList []client

func (l *clientList) String() string {
	ids := make([]string, 0, len(*l))
	for _, c := range *l {
		ids = append(ids, c.id+":***")
	}
	return strings.Join(ids, ",")
}

func (l *clientList) Set(v string) error {
	id, secret, ok := strings.Cut(v, ":")
	if !ok || id == "" || secret == "" {
		return fmt.Errorf("want clientID:clientSecret, got %q", v)
	}
	*l = append(*l, client{id, secret})
	return nil
}

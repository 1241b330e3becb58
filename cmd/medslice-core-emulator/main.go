// Command medslice-core-emulator runs a test double of a 5G core: NEF
// AsSessionWithQoS and PCF Npcf_PolicyAuthorization over HTTP/2 cleartext and
// HTTP/1.1 (and over TLS with --tls-listen), with an admin API. Optionally it
// demands OAuth2 client credentials and mutual TLS (auth.go). It is not a 5G
// core. See internal/emulator.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/medslice/medslice/internal/emulator"
)

func main() {
	if err := run(); err != nil {
		slog.Error("core emulator failed", "err", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8090", "address to serve NEF, PCF and admin APIs on (\":0\" picks a free port)")
	apiRoot := flag.String("api-root", "", "the {apiRoot} advertised in Location headers and notifications (default: http:// and the bound address)")
	gbrUl := flag.String("gbr-ul", "10 Gbps", "uplink GBR the core can guarantee in total, a TS 29.571 BitRate (\"0 bps\" = unlimited)")
	gbrDl := flag.String("gbr-dl", "10 Gbps", "downlink GBR the core can guarantee in total, a TS 29.571 BitRate (\"0 bps\" = unlimited)")
	maxSessions := flag.Int("max-sessions", 10000, "sessions the core holds at most (0 = unlimited)")
	ttl := flag.Duration("default-session-ttl", emulator.DefaultSessionTTL, "lifetime of a session that carries no usage threshold duration")
	expiry := flag.Duration("expiry-interval", emulator.DefaultExpiryInterval, "how often to end sessions whose time has come")
	seed := flag.Uint64("seed", 1, "seed of the fault injection's random numbers")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	up := userPlaneFlags(flag.CommandLine)
	af := authFlagsOn(flag.CommandLine)
	var qosMon qosMonitoringPeriod
	flag.Var(&qosMon, "qos-monitoring-period", "period of the QoS monitoring reports (packet delay of the emulated user plane) for sessions that ask for periodic ones, a duration; 0: none (default: the period each session asks for, 1s when it names none)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	ul, err := emulator.ParseBitRate(*gbrUl)
	if err != nil {
		return fmt.Errorf("--gbr-ul: %w", err)
	}
	dl, err := emulator.ParseBitRate(*gbrDl)
	if err != nil {
		return fmt.Errorf("--gbr-dl: %w", err)
	}
	if *maxSessions < 0 {
		return errors.New("--max-sessions must not be negative")
	}
	if *ttl <= 0 {
		return errors.New("--default-session-ttl must be positive")
	}

	upCfg, err := up.config()
	if err != nil {
		return err
	}
	authCfg, tlsFiles, err := af.config()
	if err != nil {
		return err
	}
	notifyTLS, err := af.notifyTLS()
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if af.tlsListen != "" {
		if tlsCfg, err = tlsFiles.TLSConfig(log); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key/--tls-client-ca: %w", err)
		}
	}
	if qosMon.config() > 0 && !upCfg.Enabled {
		return errors.New("--qos-monitoring-period needs --userplane: reports state the emulated user plane's delay")
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	root := *apiRoot
	if root == "" {
		root = emulator.APIRootFor(ln.Addr())
	}
	srv, err := emulator.New(emulator.Config{
		APIRoot:             root,
		Capacity:            emulator.Capacity{GBRUplink: ul, GBRDownlink: dl, MaxSessions: *maxSessions},
		DefaultSessionTTL:   *ttl,
		Seed:                *seed,
		Logger:              log,
		UserPlane:           upCfg,
		QoSMonitoringPeriod: qosMon.config(),
		Auth:                authCfg,
		Notify:              emulator.NotifyConfig{TLS: notifyTLS},
	})
	if err != nil {
		_ = ln.Close()
		return err
	}

	log.Warn("this is medslice-core-emulator, a test double of a 5G core, not a 5G core")
	log.Info("core emulator listening", "addr", ln.Addr().String(), "apiRoot", root,
		"gbrUl", ul.String(), "gbrDl", dl.String(), "maxSessions", *maxSessions, "defaultSessionTTL", *ttl)

	if fwd := srv.UserPlane(); fwd != nil {
		log.Info("QoS monitoring reports for the sessions that ask for periodic ones", "period", qosMon.describe())
		for _, r := range fwd.Routes() {
			log.Info("user plane route: send to network to reach the UE's target", "ue", r.UE, "network", r.Network, "target", r.Target)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if tlsCfg != nil {
		tln, err := net.Listen("tcp", af.tlsListen)
		if err != nil {
			return fmt.Errorf("--tls-listen: %w", err)
		}
		log.Info("core emulator listening over TLS", "addr", tln.Addr().String(), "mutualTLS", authCfg.RequireClientCert)
		go func() {
			if err := srv.ServeTLS(ctx, tln, tlsCfg); err != nil {
				log.Error("TLS listener failed", "err", err)
				stop()
			}
		}()
	}
	if authCfg.Clients != nil {
		log.Info("OAuth2 required on the NEF and PCF APIs", "tokenEndpoint", "/oauth2/token", "tokenLifetime", authCfg.TokenLifetime)
	}
	start := time.Now()
	if err := srv.Serve(ctx, ln, *expiry); err != nil {
		return err
	}
	log.Info("core emulator stopped", "uptime", time.Since(start).Round(time.Second))
	return nil
}

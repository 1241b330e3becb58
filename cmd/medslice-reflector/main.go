// Command medslice-reflector is the device-side STAMP Session-Reflector
// (RFC 8762, unauthenticated, stateless) that medslice's probes measure a
// slice against.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// run parses args, serves until ctx is done and logs to logOut. Errors are
// logged before they are returned.
func run(ctx context.Context, args []string, logOut io.Writer) error {
	fs := flag.NewFlagSet("medslice-reflector", flag.ContinueOnError)
	fs.SetOutput(logOut)
	listen := fs.String("listen", fmt.Sprintf(":%d", stamp.DefaultPort), "UDP address to reflect on; port 0 picks a free port")
	synced := fs.Bool("clock-synchronized", false, "set the S bit: this host's clock is disciplined to UTC (NTP/PTP), so senders may compute one-way delays")
	clockErr := fs.Duration("clock-error", 0, "clock error estimate sent with every timestamp (RFC 4656 §4.1.2); 0 sends the smallest value")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Error("cannot listen", "listen", *listen, "err", err)
		return err
	}
	defer conn.Close()

	r := &stamp.Reflector{ErrorEstimate: stamp.NewErrorEstimate(*clockErr, *synced), Logger: log}
	// The bound address, not the flag, so that port 0 is usable.
	log.Info("STAMP reflector listening", "addr", conn.LocalAddr().String(), "errorEstimate", r.ErrorEstimate.String())
	start := time.Now()
	err = r.Serve(ctx, conn)
	st := r.Stats()
	log.Info("STAMP reflector stopped", "uptime", time.Since(start).Round(time.Millisecond), "reflected", st.Reflected,
		"malformed", st.Malformed, "readErrors", st.ReadErrors, "writeErrors", st.WriteErrors)
	if err != nil {
		log.Error("reflector failed", "err", err)
	}
	return err
}

//go:build !linux

package stamp

import (
	"log/slog"
	"net"
)

// newReflectorConn uses the generic path: reading the TTL and the local
// address needs per-platform control messages, wired up for Linux only,
// where the reflector is deployed.
func newReflectorConn(conn net.PacketConn, log *slog.Logger) reflectorConn {
	log.Info("STAMP reflector cannot read the received TTL on this platform; reporting 255", "addr", conn.LocalAddr())
	return &genericConn{conn: conn}
}

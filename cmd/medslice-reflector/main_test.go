package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

// testDeadline bounds every wait; it is only reached when something is broken.
const testDeadline = 10 * time.Second

var listeningLine = regexp.MustCompile(`msg="STAMP reflector listening" addr=(\S+)`)

// The command must print the address it bound, reflect packets on it and
// stop cleanly when its context ends (as on SIGINT/SIGTERM).
func TestRun(t *testing.T) {
	logR, logW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--clock-synchronized"}, logW)
		logW.Close()
	}()

	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logR)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(testDeadline):
		t.Fatal("no listening line logged")
	}

	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := (&stamp.SenderPacket{Seq: 3}).MarshalBinary()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(testDeadline)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 128)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply from %s: %v", addr, err)
	}
	var reply stamp.ReflectorPacket
	if err := reply.UnmarshalBinary(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if reply.SenderSeq != 3 || !reply.ErrorEstimate.Synchronized {
		t.Errorf("reply seq %d synchronised %t, want 3 and true", reply.SenderSeq, reply.ErrorEstimate.Synchronized)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel = %v, want nil", err)
		}
	case <-time.After(testDeadline):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--listen", "not an address"}, io.Discard); err == nil {
		t.Error("run accepted an unusable listen address")
	}
	if err := run(context.Background(), []string{"--no-such-flag"}, io.Discard); err == nil {
		t.Error("run accepted an unknown flag")
	}
}

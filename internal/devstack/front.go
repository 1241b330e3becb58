package devstack

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// front stands in for the Kubernetes Service in front of the operator's
// replicas: it accepts TCP connections on one address and relays each to
// the next replica, in turn, that accepts one. A replica that is down is
// skipped, as a Service skips a pod that is not ready; when none accepts,
// the connection is closed at once, which a client sees as a reset.
type front struct {
	ln      net.Listener
	targets []string // host:port of each replica
	mu      sync.Mutex
	next    int
	conns   map[net.Conn]bool
	done    chan struct{}
}

// startFront listens on a free port and relays to addr(replica) of every
// replica; it returns the front's URL.
func (s *Stack) startFront(addr func(*Replica) string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	f := &front{ln: ln, conns: map[net.Conn]bool{}, done: make(chan struct{})}
	for _, r := range s.replicas {
		f.targets = append(f.targets, strings.TrimPrefix(addr(r), "http://"))
	}
	s.fronts = append(s.fronts, f)
	go f.serve()
	url := "http://" + ln.Addr().String()
	s.logf("front %s for the replicas at %s", url, strings.Join(f.targets, ", "))
	return url, nil
}

func (f *front) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			select {
			case <-f.done:
				return
			default:
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go f.relay(c)
	}
}

func (f *front) relay(c net.Conn) {
	up, err := f.dial()
	if err != nil {
		c.Close()
		return
	}
	if !f.track(c, up) {
		return
	}
	defer f.untrack(c, up)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so that the other direction can finish its answer.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// dial connects to the next replica that accepts, starting after the one
// the previous connection went to.
func (f *front) dial() (net.Conn, error) {
	f.mu.Lock()
	start := f.next
	f.next = (f.next + 1) % len(f.targets)
	f.mu.Unlock()
	var errs []string
	for i := range f.targets {
		t := f.targets[(start+i)%len(f.targets)]
		c, err := net.DialTimeout("tcp", t, time.Second)
		if err == nil {
			return c, nil
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("no replica accepts: %s", strings.Join(errs, "; "))
}

func (f *front) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.done:
		for _, c := range cs {
			c.Close()
		}
		return false
	default:
	}
	for _, c := range cs {
		f.conns[c] = true
	}
	return true
}

func (f *front) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(f.conns, c)
	}
}

func (f *front) close() {
	f.mu.Lock()
	select {
	case <-f.done:
	default:
		close(f.done)
	}
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.ln.Close()
}

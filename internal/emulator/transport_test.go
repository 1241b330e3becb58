package emulator

import (
	"net/http"
	"testing"
	"time"
)

// TestServerSpeaksH2CAndHTTP1 protects the transport: SBI clients use
// HTTP/2 with prior knowledge over cleartext (TS 29.500 §5.2.2), curl and
// older tools HTTP/1.1, on the same port.
func TestServerSpeaksH2CAndHTTP1(t *testing.T) {
	e := newEnv(t)
	var h2c, h1 http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	h1.SetHTTP1(true)
	for name, tc := range map[string]struct {
		protocols *http.Protocols
		wantMajor int
	}{
		"h2c prior knowledge": {&h2c, 2},
		"HTTP/1.1":            {&h1, 1},
	} {
		t.Run(name, func(t *testing.T) {
			c := &http.Client{Timeout: notifyWait, Transport: &http.Transport{Protocols: tc.protocols}}
			a := call(t, c, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF("http://127.0.0.1:9/n/"+name))
			wantStatus(t, a, http.StatusCreated)
			if a.proto != tc.wantMajor {
				t.Errorf("ProtoMajor = %d, want %d", a.proto, tc.wantMajor)
			}
		})
	}
}

// TestNotificationTransport protects delivery to both kinds of receiver:
// h2c to one that speaks it (as medslice's operator does), HTTP/1.1 to one
// that does not.
func TestNotificationTransport(t *testing.T) {
	for name, tc := range map[string]struct {
		h2c       bool
		wantMajor int
	}{
		"h2c receiver":      {true, 2},
		"HTTP/1.1 receiver": {false, 1},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			rcv := newSink(t, tc.h2c, nil)
			for i := range 3 {
				s := validNEF(rcv.notifyURI("uid", "dev"))
				s.UeIpv4Addr = "10.45.0." + itoa(i+1)
				wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, s), http.StatusCreated)
				if got := rcv.next(t); got.proto != tc.wantMajor {
					t.Errorf("notification %d over HTTP/%d, want HTTP/%d", i, got.proto, tc.wantMajor)
				}
			}
		})
	}
}

// TestNotificationRetries protects delivery when the receiver hiccups: a
// 503 is retried, a 4xx other than 408/429 is not, and the number of
// attempts is bounded.
func TestNotificationRetries(t *testing.T) {
	for name, tc := range map[string]struct {
		status        func(n int) int
		wantDelivered bool
		wantAttempts  int
	}{
		"503 twice then 204":  {status: func(n int) int { return map[bool]int{true: 503, false: 204}[n <= 2] }, wantDelivered: true, wantAttempts: 3},
		"429 then 204":        {status: func(n int) int { return map[bool]int{true: 429, false: 204}[n == 1] }, wantDelivered: true, wantAttempts: 2},
		"403 is final":        {status: func(int) int { return http.StatusForbidden }, wantAttempts: 1},
		"always 500: bounded": {status: func(int) int { return http.StatusInternalServerError }, wantAttempts: 4},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			rcv := newSink(t, true, tc.status)
			wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, validNEF(rcv.notifyURI("u", "d"))), http.StatusCreated)
			e.waitIdle(t)
			if tc.wantDelivered {
				rcv.next(t)
			}
			rcv.empty(t)
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			if rcv.n != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", rcv.n, tc.wantAttempts)
			}
		})
	}
}

// TestNotificationQueueBounded protects the emulator from a receiver that
// never answers: the queue is bounded, overflow is dropped, and creates
// never wait for notifications.
func TestNotificationQueueBounded(t *testing.T) {
	const (
		queue   = 8
		creates = 100
		// Were creates to wait for a queue slot, each slot would free only
		// after a 1s delivery timeout per worker: about 20s for 100 creates.
		createsWithin = 10 * time.Second
	)
	e := newEnv(t, func(c *Config) { c.Notify.Queue = queue })
	block := make(chan struct{})
	slow := newSink(t, true, func(int) int { <-block; return 204 })
	t.Cleanup(func() { close(block) }) // runs before the sink closes
	start := time.Now()
	for i := range creates {
		s := validNEF(slow.notifyURI("u", "d"))
		s.UeIpv4Addr = "10.46.0." + itoa(i+1)
		wantStatus(t, call(t, nil, http.MethodPost, e.nefURL("af-1"), contentTypeJSON, s), http.StatusCreated)
	}
	if d := time.Since(start); d > createsWithin {
		t.Errorf("%d creates took %s: they must not wait for notifications", creates, d)
	}
	if e.srv.notifier.dropped.Load() == 0 {
		t.Errorf("nothing dropped with a full queue")
	}
}

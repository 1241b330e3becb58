package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// NotifyConfig tunes notification delivery. Zero values take the defaults.
type NotifyConfig struct {
	// Workers deliver notifications concurrently (default 4).
	Workers int
	// Queue bounds the notifications waiting for a worker (default 1024);
	// beyond it new ones are dropped and logged, as an overloaded core would.
	Queue int
	// Timeout bounds one delivery attempt (default 2s).
	Timeout time.Duration
	// Retries after a failed attempt (default 3), with Backoff doubling
	// between them (default 200ms).
	Retries int
	Backoff time.Duration
	// TLS configures https:// notification URIs: the CAs trusted for the
	// receiver's certificate and the client certificate presented to a
	// receiver that demands one. Nil: the system's CAs, no certificate.
	TLS *tls.Config
}

func (c NotifyConfig) withDefaults() NotifyConfig {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Queue <= 0 {
		c.Queue = 1024
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Retries < 0 {
		c.Retries = 0
	} else if c.Retries == 0 {
		c.Retries = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = 200 * time.Millisecond
	}
	return c
}

// notification is one callback to deliver.
type notification struct {
	url     string
	body    []byte
	gen     uint64 // store generation; a reset makes older ones moot
	session string
	what    string
	// once, live and done serve periodic reports (qosmon.go): a report is
	// tried once, since the next one supersedes it; it is dropped when
	// live says its session has ended; done is called when it is settled.
	once bool
	live func() bool
	done func()
}

// notifier delivers notifications asynchronously: a small worker pool over a
// bounded queue, a short timeout and a few retries. It speaks HTTP/2 as SBI
// consumers and producers do (TS 29.500 §5.2.2) — cleartext h2c for http://
// — and falls back to HTTP/1.1 for a receiver that does not speak it.
type notifier struct {
	cfg    NotifyConfig
	log    *slog.Logger
	h2     *http.Client
	h1     *http.Client
	queue  chan notification
	gen    atomic.Uint64
	h1Only sync.Map // host → true once HTTP/2 failed and HTTP/1.1 worked

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	delivered, failed, dropped atomic.Int64
	// pending counts notifications queued or being delivered.
	pending atomic.Int64
}

func newNotifier(cfg NotifyConfig, log *slog.Logger) *notifier {
	cfg = cfg.withDefaults()
	var p2, p1 http.Protocols
	p2.SetHTTP2(true)
	p2.SetUnencryptedHTTP2(true)
	p1.SetHTTP1(true)
	n := &notifier{
		cfg:   cfg,
		log:   log,
		h2:    &http.Client{Transport: &http.Transport{Protocols: &p2, Proxy: http.ProxyFromEnvironment, TLSClientConfig: cfg.TLS.Clone()}},
		h1:    &http.Client{Transport: &http.Transport{Protocols: &p1, Proxy: http.ProxyFromEnvironment, TLSClientConfig: cfg.TLS.Clone()}},
		queue: make(chan notification, cfg.Queue),
	}
	// Callbacks are answered, not followed: a redirect is a failure here.
	for _, c := range []*http.Client{n.h1, n.h2} {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		n.wg.Add(1)
		go n.work()
	}
	return n
}

// enqueue schedules a notification without waiting; a full queue drops it.
func (n *notifier) enqueue(target string, body any, session, what string) {
	b, err := json.Marshal(body)
	if err != nil {
		n.log.Error("encoding a notification", "session", session, "event", what, "err", err)
		return
	}
	if n.ctx.Err() != nil {
		return
	}
	n.pending.Add(1)
	select {
	case n.queue <- notification{url: target, body: b, gen: n.gen.Load(), session: session, what: what}:
	default:
		n.pending.Add(-1)
		n.dropped.Add(1)
		n.log.Warn("notification queue full, dropping", "session", session, "event", what, "url", target)
	}
}

// forget makes every queued or retrying notification moot, as a core
// restart loses them.
func (n *notifier) forget() { n.gen.Add(1) }

func (n *notifier) close() {
	n.cancel()
	n.wg.Wait()
	n.h1.CloseIdleConnections()
	n.h2.CloseIdleConnections()
}

func (n *notifier) work() {
	defer n.wg.Done()
	for {
		select {
		case <-n.ctx.Done():
			return
		case job := <-n.queue:
			n.deliver(job)
		}
	}
}

// deliver tries a notification until it is acknowledged (2xx), refused for
// good (4xx other than 408 and 429), or out of retries.
func (n *notifier) deliver(job notification) {
	defer n.pending.Add(-1)
	if job.done != nil {
		defer job.done()
	}
	retries := n.cfg.Retries
	if job.once {
		retries = 0
	}
	backoff := n.cfg.Backoff
	var err error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-n.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff *= 2
		}
		if job.gen != n.gen.Load() || (job.live != nil && !job.live()) {
			return
		}
		var retry bool
		retry, err = n.post(job)
		if err == nil {
			n.delivered.Add(1)
			n.log.Debug("notification delivered", "session", job.session, "event", job.what, "url", job.url)
			return
		}
		if !retry {
			break
		}
	}
	n.failed.Add(1)
	level := slog.LevelWarn
	if job.once {
		level = slog.LevelDebug // a report; the next one follows a period later
	}
	n.log.Log(n.ctx, level, "notification not delivered", "session", job.session, "event", job.what, "url", job.url, "err", err)
}

// post makes one attempt and tells whether a failure is worth retrying.
func (n *notifier) post(job notification) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Timeout)
	defer cancel()
	u, err := url.Parse(job.url)
	if err != nil {
		return false, fmt.Errorf("bad notification URL: %w", err)
	}
	send := func(c *http.Client) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.url, bytes.NewReader(job.body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", contentTypeJSON)
		req.Header.Set(emulatorHeader, emulatorHeaderValue)
		return c.Do(req)
	}
	var resp *http.Response
	if _, h1 := n.h1Only.Load(u.Host); h1 {
		resp, err = send(n.h1)
	} else {
		resp, err = send(n.h2)
		if err != nil && ctx.Err() == nil {
			// Most likely a receiver without HTTP/2; a request that failed
			// at that stage was not processed, so sending it again is safe.
			if resp1, err1 := send(n.h1); err1 == nil {
				n.h1Only.Store(u.Host, true)
				resp, err = resp1, nil
			}
		}
	}
	if err != nil {
		return !errors.Is(err, context.Canceled), err
	}
	defer resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return false, fmt.Errorf("receiver answered %s", resp.Status)
	}
}

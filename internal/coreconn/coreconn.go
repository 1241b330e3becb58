// Package coreconn keeps one core client per CoreNetwork, built with the
// credentials of the Secrets it names, rebuilt when the CoreNetwork or a
// Secret changes, and instruments every call with metrics.
package coreconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/metrics"
)

// Pool hands out clients for CoreNetworks.
//
// A client is built from the CoreNetwork and the Secrets its spec.auth
// names, and rebuilt when either changes (its generation or a Secret's
// resourceVersion), so that rotated credentials take effect on the next
// call without a restart. When a call finds the credentials refused (see
// core.AuthFailure), ClientFor refuses to hand out that client until the
// credentials change or Check finds the core accepting them again: slices
// then wait with a message that says what to fix, and the core is not
// asked again and again with credentials it refuses.
type Pool struct {
	// Timeout bounds every request to a core.
	Timeout time.Duration
	// Secrets reads the Secrets that spec.auth names (a cached client of
	// the operator namespace). Needed only for cores with spec.auth.
	Secrets client.Reader
	// Namespace holds those Secrets: the operator's own namespace, since
	// CoreNetworks are cluster-scoped.
	Namespace string
	// Now is the clock for certificate validity checks; time.Now when nil.
	Now func() time.Time

	mu      sync.Mutex
	clients map[string]*entry
}

type entry struct {
	key     string
	creds   credentials
	hc      *http.Client
	checked core.Client // instrumented: what Check pings with
	client  core.Client // instrumented and guarded: what ClientFor hands out
	// authErr is the last refusal of these credentials, nil when none.
	authErr error
}

// ConfigError is a CoreNetwork whose spec cannot give a client (an
// endpoint or API the core package refuses). Only an edit fixes it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfigError reports whether err is a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

// ClientFor returns the client for cn, building it when cn or its Secrets
// are new or changed. It returns the credentials' refusal (a
// *core.AuthFailure that says what to fix) while they stand refused.
func (p *Pool) ClientFor(ctx context.Context, cn *v1alpha1.CoreNetwork) (core.Client, error) {
	e, err := p.entryFor(ctx, cn)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.authErr != nil {
		return nil, e.authErr
	}
	return e.client, nil
}

// Check pings the core with cn's current configuration and credentials,
// even while they stand refused, and records the outcome: a success clears
// a refusal, an AuthFailure sets it. Its error is a *ConfigError, a
// *core.AuthFailure saying what to fix, or why the core did not answer.
func (p *Pool) Check(ctx context.Context, cn *v1alpha1.CoreNetwork) error {
	e, err := p.entryFor(ctx, cn)
	if err != nil {
		return err
	}
	err = e.checked.Ping(ctx)
	if _, auth := core.AsAuthFailure(err); auth || err == nil {
		err = explain(cn, e.creds, err)
		p.mu.Lock()
		e.authErr = err
		p.mu.Unlock()
	}
	return err
}

// entryFor returns the entry for cn's current generation and Secrets.
func (p *Pool) entryFor(ctx context.Context, cn *v1alpha1.CoreNetwork) (*entry, error) {
	cr, err := p.resolve(ctx, cn)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%d/%s", cn.UID, cn.Generation, cr.version)
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.clients[cn.Name]; ok && e.key == key {
		return e, nil
	}
	hc := core.NewAuthenticatedHTTPClient(p.timeout(), cr.Credentials)
	c, err := build(cn, hc)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	c = Instrument(c, cn.Name)
	e := &entry{key: key, creds: cr, hc: hc, checked: c}
	e.client = &guarded{next: c, refused: func(err error) error {
		err = explain(cn, cr, err)
		p.mu.Lock()
		e.authErr = err
		p.mu.Unlock()
		return err
	}}
	if old, ok := p.clients[cn.Name]; ok {
		// Calls in flight finish on the old connections; idle ones made
		// with the old credentials go now.
		old.hc.CloseIdleConnections()
	}
	if p.clients == nil {
		p.clients = map[string]*entry{}
	}
	p.clients[cn.Name] = e
	return e, nil
}

func (p *Pool) timeout() time.Duration {
	if p.Timeout == 0 {
		return core.DefaultTimeout
	}
	return p.Timeout
}

func (p *Pool) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func build(cn *v1alpha1.CoreNetwork, hc *http.Client) (core.Client, error) {
	switch cn.Spec.API {
	case v1alpha1.CoreAPINEF:
		return core.NewNEFClient(cn.Spec.Endpoint, cn.Spec.AFID, hc)
	case v1alpha1.CoreAPIPCF:
		return core.NewPCFClient(cn.Spec.Endpoint, hc)
	default:
		return nil, fmt.Errorf("unknown core API %q: use NEF or PCF", cn.Spec.API)
	}
}

// guarded reports every refusal of the credentials to the pool, which then
// stops handing out the client, and returns it explained.
type guarded struct {
	next    core.Client
	refused func(error) error
}

var _ core.Client = (*guarded)(nil)

func (g *guarded) check(err error) error {
	if _, ok := core.AsAuthFailure(err); ok {
		return g.refused(err)
	}
	return err
}

func (g *guarded) Create(ctx context.Context, s core.SessionSpec) (core.Session, error) {
	out, err := g.next.Create(ctx, s)
	return out, g.check(err)
}

func (g *guarded) Get(ctx context.Context, id string) (core.Session, error) {
	out, err := g.next.Get(ctx, id)
	return out, g.check(err)
}

func (g *guarded) Update(ctx context.Context, id string, s core.SessionSpec) (core.Session, error) {
	out, err := g.next.Update(ctx, id, s)
	return out, g.check(err)
}

func (g *guarded) Delete(ctx context.Context, id string) error {
	return g.check(g.next.Delete(ctx, id))
}

func (g *guarded) List(ctx context.Context) ([]core.Session, error) {
	out, err := g.next.List(ctx)
	return out, g.check(err)
}

func (g *guarded) Ping(ctx context.Context) error {
	return g.check(g.next.Ping(ctx))
}

// Instrument wraps c so that every call is counted and timed.
func Instrument(c core.Client, coreName string) core.Client {
	return &instrumented{next: c, core: coreName}
}

type instrumented struct {
	next core.Client
	core string
}

var _ core.Client = (*instrumented)(nil)

func (i *instrumented) observe(op string, start time.Time, err error) {
	result := "success"
	var ce *core.Error
	_, authFailed := core.AsAuthFailure(err)
	switch {
	case err == nil:
	case authFailed:
		result = "auth_failed"
	case errors.Is(err, core.ErrNotFound):
		result = "not_found"
	case errors.As(err, &ce) && ce.StatusCode == 0:
		result = "unreachable"
	case errors.As(err, &ce):
		result = fmt.Sprintf("%dxx", ce.StatusCode/100)
	default:
		result = "error"
	}
	metrics.CoreRequests.WithLabelValues(i.core, op, result).Inc()
	metrics.CoreRequestDuration.WithLabelValues(i.core, op, result).Observe(time.Since(start).Seconds())
}

func (i *instrumented) Create(ctx context.Context, s core.SessionSpec) (core.Session, error) {
	start := time.Now()
	out, err := i.next.Create(ctx, s)
	i.observe("create", start, err)
	return out, err
}

func (i *instrumented) Get(ctx context.Context, id string) (core.Session, error) {
	start := time.Now()
	out, err := i.next.Get(ctx, id)
	i.observe("get", start, err)
	return out, err
}

func (i *instrumented) Update(ctx context.Context, id string, s core.SessionSpec) (core.Session, error) {
	start := time.Now()
	out, err := i.next.Update(ctx, id, s)
	i.observe("update", start, err)
	return out, err
}

func (i *instrumented) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := i.next.Delete(ctx, id)
	i.observe("delete", start, err)
	return err
}

func (i *instrumented) List(ctx context.Context) ([]core.Session, error) {
	start := time.Now()
	out, err := i.next.List(ctx)
	if !errors.Is(err, core.ErrNotSupported) {
		i.observe("list", start, err)
	}
	return out, err
}

func (i *instrumented) Ping(ctx context.Context) error {
	start := time.Now()
	err := i.next.Ping(ctx)
	i.observe("ping", start, err)
	return err
}
